// Kubernetes NetworkPolicy conformance, in the shape of upstream's test/e2e/network/netpol: three
// namespaces x, y, z (labels ns=<name>, and kubernetes.io/metadata.name=<name> by defaulting), each
// with pods a, b, c (label pod=<name>) serving TCP and UDP on ports 80 and 81. Every case applies
// policies with `tabbyctl apply` exactly as a user would write them for Kubernetes, then compares
// three 9x9 matrices per port: the one the case expects, the one measured with real packets
// between the network namespaces, and the one `tabbyctl policy matrix` computes without packets.
//
// Pods declare the named ports of upstream's suite (serve-80-tcp, serve-81-udp, ...) and one more,
// "web", which is TCP 80 on pods a and b but TCP 81 on pods c, so a named port visibly resolves
// per destination pod. SCTP is checked against `policy matrix` only: the test kernel has no SCTP.
//
// Every case runs twice: on one host (OneHost/...), and with the nine pods spread over three
// hosts that route to each other over BGP (ThreeHosts/...: x/a, y/a, z/a on host1, the b pods
// on host2, the c pods on host3), where each host programs only its own pods' rules with the
// remote pods in its sets.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "integration/host_fixture.h"

namespace tabby::test {
namespace {

struct Pod {
  std::string ns;
  std::string name;
  std::string id() const { return ns + "/" + name; }
};

struct Port {
  std::string protocol;  // "tcp", "udp", "sctp"
  int number = 0;
  std::string id() const { return fmt::format("{}/{}", protocol, number); }
  bool operator==(const Port&) const = default;
};

const Port kTcp80{"tcp", 80}, kTcp81{"tcp", 81}, kUdp80{"udp", 80}, kUdp81{"udp", 81};
const Port kSctp80{"sctp", 80}, kSctp81{"sctp", 81};

// Whether the case expects `from` to reach `to` on `port`. A pod always reaches itself (the
// harness does not ask): its own address never leaves its network namespace.
using Expectation = std::function<bool(const Pod& from, const Pod& to, const Port& port)>;

bool AllAllowed(const Pod&, const Pod&, const Port&) { return true; }

const std::vector<Pod>& AllPods() {
  static const std::vector<Pod> pods = [] {
    std::vector<Pod> out;
    for (const char* ns : {"x", "y", "z"}) {
      for (const char* name : {"a", "b", "c"}) out.push_back({ns, name});
    }
    return out;
  }();
  return pods;
}

// How the matrices below key a cell.
std::string CellKey(const std::string& from, const std::string& to, const std::string& port) {
  return fmt::format("{} {} {}", from, to, port);
}

class NetpolConformance : public HostFixture, public ::testing::WithParamInterface<int> {
 protected:
  NetpolConformance() { hosts_ = GetParam(); }

  void SetUp() override {
    HostFixture::SetUp();
    if (HasFatalFailure() || IsSkipped()) return;
    for (const char* ns : {"x", "y", "z"}) SetNamespaceLabels(ns, fmt::format("ns: {}", ns));
    for (const Pod& pod : AllPods()) {
      std::string web = pod.name == "c" ? "81" : "80";
      AddWorkload(pod.id(), "pod=" + pod.name,
                  {.ports = "serve-80-tcp:TCP:80,serve-81-tcp:TCP:81,serve-80-udp:UDP:80,"
                            "serve-81-udp:UDP:81,web:TCP:" +
                            web,
                   .namespace_name = pod.ns,
                   .pod = pod.name,
                   .host = (pod.name[0] - 'a') % hosts_});
      if (HasFailure()) return;
    }
    if (hosts_ > 1) {
      // The hosts learn each other's blocks over BGP within seconds of their first pods: wait
      // until every pair of hosts routes to each other (x/a, x/b, x/c are one per host).
      ASSERT_TRUE(WaitFor(
          [&] {
            for (const char* from : {"x/a", "x/b", "x/c"}) {
              for (const char* to : {"x/a", "x/b", "x/c"}) {
                if (from != to && !Reach(from, to)) return false;
              }
            }
            return true;
          },
          std::chrono::seconds(60)));
    }
    // With no policy, everything reaches everything (checked here once for every case).
    ExpectMatrix(AllAllowed);
  }

  // Applies a Namespace with these labels (YAML flow mapping body, e.g. "ns: x, team: t").
  void SetNamespaceLabels(const std::string& ns, const std::string& labels) {
    Apply(fmt::format(R"(apiVersion: v1
kind: Namespace
metadata:
  name: {}
  labels: {{{}}}
)",
                      ns, labels));
  }

  // A networking.k8s.io/v1 NetworkPolicy document with this spec (YAML, not indented).
  static std::string Knp(const std::string& ns, const std::string& name, const std::string& spec) {
    std::string doc = fmt::format(
        "---\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\n"
        "metadata: {{name: {}, namespace: {}}}\nspec:\n",
        name, ns);
    std::istringstream lines(spec);
    for (std::string line; std::getline(lines, line);) doc += "  " + line + "\n";
    return doc;
  }

  void RelabelPod(const std::string& id, const std::vector<std::string>& changes) {
    const TestWorkload& w = workloads_.at(id);
    std::vector<std::string> args = {"label", "workloadendpoint", w.endpoint,
                                     "-n",    w.namespace_name,   "--overwrite"};
    args.insert(args.end(), changes.begin(), changes.end());
    CommandResult relabel = Ctl(args);
    ASSERT_TRUE(relabel.ok()) << relabel.Describe();
    WaitProgrammed();
  }

  void DeletePolicy(const std::string& ns, const std::string& name) {
    CommandResult deleted = Ctl({"delete", "knp", name, "-n", ns});
    ASSERT_TRUE(deleted.ok()) << deleted.Describe();
    WaitProgrammed();
  }

  const TestWorkload& W(const Pod& pod) { return workloads_.at(pod.id()); }

  // Each Measure() sends UDP from 18 ports of its own (9 targets x 2 ports), from here up.
  static constexpr int kUdpSourcePortBase = 20000;
  int measurements_ = 0;

  // The matrix measured with real packets: every pod probes every pod on TCP and UDP 80 and 81,
  // all pods at once. Key: "from to port".
  std::map<std::string, bool> Measure() {
    std::vector<std::string> targets;
    for (const Pod& to : AllPods()) targets.push_back(to.id() + "=" + W(to).ipv4);
    std::vector<std::unique_ptr<ChildProcess>> probes;
    for (const Pod& from : AllPods()) {
      // UDP from ports no earlier matrix of this test used: a flow conntrack remembers from
      // before a policy change would be let through as established (as Kubernetes allows), and
      // a reused random source port would make that a flake.
      std::vector<std::string> argv = {TABBY_PROBE,
                                       "matrix",
                                       "--tcp",
                                       "80,81",
                                       "--udp",
                                       "80,81",
                                       "--timeout-ms",
                                       "1500",
                                       "--udp-source-port-base",
                                       std::to_string(kUdpSourcePortBase + 100 * measurements_)};
      argv.insert(argv.end(), targets.begin(), targets.end());
      auto probe = W(from).netns->Start(argv);
      EXPECT_TRUE(probe.ok()) << probe.status();
      if (!probe.ok()) return {};
      probes.push_back(std::move(*probe));
    }
    ++measurements_;
    std::map<std::string, bool> measured;
    for (size_t i = 0; i < probes.size(); ++i) {
      std::optional<int> exit = probes[i]->Wait(std::chrono::seconds(30));
      EXPECT_EQ(exit, 0) << probes[i]->Describe();
      std::istringstream lines(probes[i]->out());
      std::string to, port, verdict;
      while (lines >> to >> port >> verdict) {
        measured[CellKey(AllPods()[i].id(), to, port)] = verdict == "ok";
      }
    }
    return measured;
  }

  // The matrix `tabbyctl policy matrix -o json` computes for `port`. Key: "from to port".
  std::map<std::string, bool> Analyse(const Port& port) {
    CommandResult result = Ctl({"policy", "matrix", "-o", "json", "--protocol", port.protocol,
                                "--port", std::to_string(port.number)});
    EXPECT_TRUE(result.ok()) << result.Describe();
    nlohmann::json matrix = nlohmann::json::parse(result.out, nullptr, false);
    EXPECT_FALSE(matrix.is_discarded()) << result.out;
    std::map<std::string, bool> analysed;
    if (matrix.is_discarded()) return analysed;
    const auto& names = matrix["workloads"];
    for (size_t row = 0; row < names.size(); ++row) {
      for (size_t column = 0; column < names.size(); ++column) {
        analysed[CellKey(names[row], names[column], port.id())] =
            matrix["allowed"][row][column].get<bool>();
      }
    }
    return analysed;
  }

  // Upstream's truth-table layout: rows are sources, columns destinations; "." allowed, "X"
  // denied, "?" missing.
  static std::string Table(const std::string& title, const Port& port,
                           const std::function<std::optional<bool>(const Pod&, const Pod&)>& cell) {
    std::string out = fmt::format("{} {}\n     ", title, port.id());
    for (const Pod& to : AllPods()) out += fmt::format("{:<4}", to.id());
    out += "\n";
    for (const Pod& from : AllPods()) {
      out += fmt::format("{:<5}", from.id());
      for (const Pod& to : AllPods()) {
        std::optional<bool> allowed = cell(from, to);
        out += fmt::format("{:<4}", !allowed ? "?" : *allowed ? "." : "X");
      }
      out += "\n";
    }
    return out;
  }

  // The heart of every case: expected == measured (TCP and UDP) == analysed (also SCTP).
  void ExpectMatrix(const Expectation& expected) {
    std::map<std::string, bool> measured = Measure();
    for (const Port& port : {kTcp80, kTcp81, kUdp80, kUdp81, kSctp80, kSctp81}) {
      const bool probed = port.protocol != "sctp";
      std::map<std::string, bool> analysed = Analyse(port);
      bool mismatch = false;
      auto lookup = [&](const std::map<std::string, bool>& m, const Pod& from,
                        const Pod& to) -> std::optional<bool> {
        auto it = m.find(CellKey(from.id(), to.id(), port.id()));
        if (it == m.end()) return std::nullopt;
        return it->second;
      };
      auto want = [&](const Pod& from, const Pod& to) -> std::optional<bool> {
        return from.id() == to.id() || expected(from, to, port);
      };
      for (const Pod& from : AllPods()) {
        for (const Pod& to : AllPods()) {
          std::optional<bool> expect = want(from, to);
          if (lookup(analysed, from, to) != expect) mismatch = true;
          if (probed && lookup(measured, from, to) != expect) mismatch = true;
        }
      }
      if (!mismatch) continue;
      std::string report = Table("expected", port, want) +
                           Table("policy matrix", port, [&](const Pod& f, const Pod& t) {
                             return lookup(analysed, f, t);
                           });
      if (probed) {
        report += Table("measured", port,
                        [&](const Pod& f, const Pod& t) { return lookup(measured, f, t); });
      }
      ADD_FAILURE() << "reachability differs on " << port.id() << "\n" << report;
    }
  }
};

// --- isolation and its defaults -------------------------------------------------------------

TEST_P(NetpolConformance, DefaultDenyIngress) {
  Apply(Knp("x", "default-deny-ingress", R"(podSelector: {}
policyTypes: [Ingress]
)"));
  ExpectMatrix([](const Pod&, const Pod& to, const Port&) { return to.ns != "x"; });
}

TEST_P(NetpolConformance, DefaultDenyEgress) {
  Apply(Knp("x", "default-deny-egress", R"(podSelector: {}
policyTypes: [Egress]
)"));
  ExpectMatrix([](const Pod& from, const Pod&, const Port&) { return from.ns != "x"; });
}

TEST_P(NetpolConformance, DefaultDenyAllThenDeletedOpensAgain) {
  Apply(Knp("x", "default-deny-all", R"(podSelector: {}
policyTypes: [Ingress, Egress]
)"));
  ExpectMatrix(
      [](const Pod& from, const Pod& to, const Port&) { return from.ns != "x" && to.ns != "x"; });
  DeletePolicy("x", "default-deny-all");
  ExpectMatrix(AllAllowed);
}

// policyTypes absent: Ingress, plus Egress when the policy has egress rules. A policy with only
// egress rules therefore also isolates its pods for ingress.
TEST_P(NetpolConformance, PolicyTypesDefaulting) {
  Apply(Knp("x", "egress-to-y", R"(podSelector: {matchLabels: {pod: a}}
egress:
- to:
  - namespaceSelector: {matchLabels: {ns: y}}
)"));
  ExpectMatrix([](const Pod& from, const Pod& to, const Port&) {
    if (to.id() == "x/a") return false;           // isolated for ingress, nothing allowed
    if (from.id() == "x/a") return to.ns == "y";  // egress only to y
    return true;
  });
}

// An empty rule allows everything; the union with a deny-all policy is everything.
TEST_P(NetpolConformance, AllowAllIngressUnitesWithDenyAll) {
  Apply(Knp("x", "default-deny-ingress", R"(podSelector: {}
policyTypes: [Ingress]
)") + Knp("x", "allow-all-ingress", R"(podSelector: {}
ingress:
- {}
)"));
  ExpectMatrix(AllAllowed);
}

// Absent and empty lists differ: `ingress: []` allows nothing, `from: []` allows every source,
// `to: []` with ports allows every destination on those ports.
TEST_P(NetpolConformance, EmptyAndAbsentLists) {
  Apply(Knp("x", "empty-ingress", R"(podSelector: {matchLabels: {pod: a}}
ingress: []
)") + Knp("x", "empty-from", R"(podSelector: {matchLabels: {pod: b}}
ingress:
- from: []
)") + Knp("x", "empty-to", R"(podSelector: {matchLabels: {pod: c}}
policyTypes: [Egress]
egress:
- to: []
  ports: [{port: 81}]
)"));
  ExpectMatrix([](const Pod& from, const Pod& to, const Port& port) {
    if (to.id() == "x/a") return false;
    if (from.id() == "x/c") return port == kTcp81;
    return true;
  });
}

// --- peers -----------------------------------------------------------------------------------

TEST_P(NetpolConformance, PodSelectorPeerIsScopedToThePolicyNamespace) {
  Apply(Knp("x", "allow-from-b", R"(podSelector: {matchLabels: {pod: a}}
ingress:
- from:
  - podSelector: {matchLabels: {pod: b}}
)"));
  ExpectMatrix([](const Pod& from, const Pod& to, const Port&) {
    return to.id() != "x/a" || from.id() == "x/b";
  });
}

TEST_P(NetpolConformance, NamespaceSelectorPeer) {
  Apply(Knp("x", "allow-from-y", R"(podSelector: {matchLabels: {pod: a}}
ingress:
- from:
  - namespaceSelector: {matchLabels: {ns: y}}
)"));
  ExpectMatrix([](const Pod& from, const Pod& to, const Port&) {
    return to.id() != "x/a" || from.ns == "y";
  });
}

// namespaceSelector and podSelector in one peer: both must hold.
TEST_P(NetpolConformance, PodAndNamespaceSelectorInOnePeerAreAnded) {
  Apply(Knp("x", "allow-y-b", R"(podSelector: {matchLabels: {pod: a}}
ingress:
- from:
  - namespaceSelector: {matchLabels: {ns: y}}
    podSelector: {matchLabels: {pod: b}}
)"));
  ExpectMatrix([](const Pod& from, const Pod& to, const Port&) {
    return to.id() != "x/a" || from.id() == "y/b";
  });
}

// The same selectors as two peers: either may hold.
TEST_P(NetpolConformance, SeparatePeersAreOred) {
  Apply(Knp("x", "allow-y-or-b", R"(podSelector: {matchLabels: {pod: a}}
ingress:
- from:
  - namespaceSelector: {matchLabels: {ns: y}}
  - podSelector: {matchLabels: {pod: b}}
)"));
  ExpectMatrix([](const Pod& from, const Pod& to, const Port&) {
    return to.id() != "x/a" || from.ns == "y" || from.id() == "x/b";
  });
}

TEST_P(NetpolConformance, MatchExpressions) {
  Apply(Knp("x", "expressions", R"(podSelector:
  matchExpressions:
  - {key: pod, operator: In, values: [a, b]}
ingress:
- from:
  - namespaceSelector:
      matchExpressions:
      - {key: ns, operator: NotIn, values: [y]}
      - {key: ns, operator: Exists}
      - {key: quarantine, operator: DoesNotExist}
    podSelector:
      matchExpressions:
      - {key: pod, operator: NotIn, values: [a]}
      - {key: tier, operator: NotIn, values: [db]}
)"));
  // No pod has a tier label: NotIn holds for all of them until one gets tier=db.
  auto expected = [](std::string quarantined, std::string db) {
    return [quarantined, db](const Pod& from, const Pod& to, const Port&) {
      if (to.ns != "x" || to.name == "c") return true;
      return from.ns != "y" && from.ns != quarantined && from.name != "a" && from.id() != db;
    };
  };
  ExpectMatrix(expected("", ""));
  // A namespace's new label takes effect on live pods, and so does a pod's.
  SetNamespaceLabels("z", "ns: z, quarantine: 'true'");
  RelabelPod("x/b", {"tier=db"});
  ExpectMatrix(expected("z", "x/b"));
}

TEST_P(NetpolConformance, IpBlockWithExcept) {
  Apply(Knp("x", "egress-ipblock",
            fmt::format(R"(podSelector: {{matchLabels: {{pod: a}}}}
policyTypes: [Egress]
egress:
- to:
  - ipBlock:
      cidr: 10.70.0.0/24
      except: [{}/32]
)",
                        W({"y", "b"}).ipv4)) +
        Knp("z", "ingress-ipblock",
            fmt::format(R"(podSelector: {{matchLabels: {{pod: c}}}}
ingress:
- from:
  - ipBlock: {{cidr: {}/32}}
)",
                        W({"x", "b"}).ipv4)));
  ExpectMatrix([](const Pod& from, const Pod& to, const Port&) {
    if (from.id() == "x/a" && to.id() == "y/b") return false;
    if (to.id() == "z/c") return from.id() == "x/b";
    return true;
  });
}

// --- ports -----------------------------------------------------------------------------------

TEST_P(NetpolConformance, NumericPortDefaultsToTcp) {
  Apply(Knp("x", "allow-81", R"(podSelector: {matchLabels: {pod: a}}
ingress:
- ports: [{port: 81}]
)"));
  ExpectMatrix([](const Pod&, const Pod& to, const Port& port) {
    return to.id() != "x/a" || port == kTcp81;
  });
}

// A port entry without a port matches its whole protocol; with one, only that port.
TEST_P(NetpolConformance, UdpAndSctpPorts) {
  Apply(Knp("x", "allow-udp-sctp80", R"(podSelector: {matchLabels: {pod: a}}
ingress:
- ports: [{protocol: UDP}, {protocol: SCTP, port: 80}]
)") + Knp("x", "allow-sctp", R"(podSelector: {matchLabels: {pod: b}}
ingress:
- ports: [{protocol: SCTP}]
)"));
  ExpectMatrix([](const Pod&, const Pod& to, const Port& port) {
    if (to.id() == "x/a") return port.protocol == "udp" || port == kSctp80;
    if (to.id() == "x/b") return port.protocol == "sctp";
    return true;
  });
}

TEST_P(NetpolConformance, NamedPortsResolvePerDestinationPod) {
  Apply(Knp("x", "allow-named", R"(podSelector: {}
ingress:
- ports: [{port: serve-81-udp, protocol: UDP}, {port: web}]
)"));
  ExpectMatrix([](const Pod&, const Pod& to, const Port& port) {
    if (to.ns != "x") return true;
    if (port == kUdp81) return true;
    return port == (to.name == "c" ? kTcp81 : kTcp80);  // "web"
  });
}

// Egress named ports resolve against the destination pod too.
TEST_P(NetpolConformance, NamedPortsInEgress) {
  Apply(Knp("y", "egress-web", R"(podSelector: {matchLabels: {pod: b}}
policyTypes: [Egress]
egress:
- to:
  - namespaceSelector: {}
  ports: [{port: web}]
)"));
  ExpectMatrix([](const Pod& from, const Pod& to, const Port& port) {
    return from.id() != "y/b" || port == (to.name == "c" ? kTcp81 : kTcp80);
  });
}

TEST_P(NetpolConformance, EndPortRanges) {
  Apply(Knp("x", "ranges", R"(podSelector: {matchLabels: {pod: a}}
ingress:
- from: [{namespaceSelector: {matchLabels: {ns: y}}}]
  ports: [{port: 80, endPort: 81}]
- from: [{namespaceSelector: {matchLabels: {ns: z}}}]
  ports: [{port: 79, endPort: 80, protocol: UDP}]
)"));
  ExpectMatrix([](const Pod& from, const Pod& to, const Port& port) {
    if (to.id() != "x/a") return true;
    if (from.ns == "y") return port.protocol == "tcp";
    if (from.ns == "z") return port == kUdp80;  // 81 is just past the range
    return false;
  });
}

// --- both directions, unions, updates and label changes --------------------------------------

// Egress at the source and ingress at the destination must both allow. Replies to an allowed
// connection are allowed although the reverse direction is denied: y's pods may send nothing
// (egress isolated, no rules), yet they answer the a pods' connections.
TEST_P(NetpolConformance, EgressAndIngressMustBothAllowAndRepliesPass) {
  Apply(Knp("x", "x-egress-to-y", R"(podSelector: {}
policyTypes: [Egress]
egress:
- to: [{namespaceSelector: {matchLabels: {ns: y}}}]
)") + Knp("y", "y-ingress-from-a", R"(podSelector: {}
policyTypes: [Ingress, Egress]
ingress:
- from: [{namespaceSelector: {}, podSelector: {matchLabels: {pod: a}}}]
)"));
  ExpectMatrix([](const Pod& from, const Pod& to, const Port&) {
    if (from.ns == "y") return false;
    if (from.ns == "x" && to.ns != "y") return false;
    if (to.ns == "y") return from.name == "a";
    return true;
  });
}

TEST_P(NetpolConformance, PoliciesSelectingOnePodAllowTheirUnion) {
  Apply(Knp("x", "from-b-on-80", R"(podSelector: {matchLabels: {pod: a}}
ingress:
- from: [{podSelector: {matchLabels: {pod: b}}}]
  ports: [{port: 80}]
)") + Knp("x", "from-z-on-81", R"(podSelector: {matchLabels: {pod: a}}
ingress:
- from: [{namespaceSelector: {matchLabels: {ns: z}}}]
  ports: [{port: 81}]
)"));
  ExpectMatrix([](const Pod& from, const Pod& to, const Port& port) {
    if (to.id() != "x/a") return true;
    return (from.id() == "x/b" && port == kTcp80) || (from.ns == "z" && port == kTcp81);
  });
}

TEST_P(NetpolConformance, PolicyUpdateTakesEffect) {
  auto allow_from = [](const char* pod) {
    return Knp("x", "allow-from",
               fmt::format(R"(podSelector: {{matchLabels: {{pod: a}}}}
ingress:
- from: [{{podSelector: {{matchLabels: {{pod: {}}}}}}}]
)",
                           pod));
  };
  Apply(allow_from("b"));
  ExpectMatrix([](const Pod& from, const Pod& to, const Port&) {
    return to.id() != "x/a" || from.id() == "x/b";
  });
  Apply(allow_from("c"));
  ExpectMatrix([](const Pod& from, const Pod& to, const Port&) {
    return to.id() != "x/a" || from.id() == "x/c";
  });
}

// Pod label changes move pods in and out of peers, and in and out of isolation.
TEST_P(NetpolConformance, PodLabelChangesTakeEffect) {
  Apply(Knp("x", "allow-from-b", R"(podSelector: {matchLabels: {pod: a}}
ingress:
- from: [{podSelector: {matchLabels: {pod: b}}}]
)"));
  RelabelPod("x/c", {"pod=b"});
  ExpectMatrix([](const Pod& from, const Pod& to, const Port&) {
    return to.id() != "x/a" || from.id() == "x/b" || from.id() == "x/c";
  });
  RelabelPod("x/a", {"pod=d"});  // no longer selected: open again
  ExpectMatrix(AllAllowed);
}

TEST_P(NetpolConformance, NamespaceLabelChangesTakeEffect) {
  Apply(Knp("x", "allow-from-team", R"(podSelector: {}
ingress:
- from: [{namespaceSelector: {matchLabels: {team: blue}}}]
)"));
  ExpectMatrix([](const Pod&, const Pod& to, const Port&) { return to.ns != "x"; });
  SetNamespaceLabels("y", "ns: y, team: blue");
  ExpectMatrix(
      [](const Pod& from, const Pod& to, const Port&) { return to.ns != "x" || from.ns == "y"; });
  SetNamespaceLabels("y", "ns: y");
  SetNamespaceLabels("z", "ns: z, team: blue");
  ExpectMatrix(
      [](const Pod& from, const Pod& to, const Port&) { return to.ns != "x" || from.ns == "z"; });
}

// --- coexistence with tabby's own policies ---------------------------------------------------

// Kubernetes policies have order 1000: a tabby policy with a lower order decides first, so its
// Deny wins over the Kubernetes policy's Allow; packets it does not match go on to the latter.
TEST_P(NetpolConformance, TabbyPoliciesWithLowerOrderComeFirst) {
  Apply(Knp("x", "allow-all", "podSelector: {}\ningress: [{}]\n") + R"(---
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: quarantine-z}
spec:
  order: 100
  selector: all()
  namespaceSelector: ns == 'x'
  types: [Ingress]
  ingress:
  - action: Deny
    source: {namespaceSelector: ns == 'z'}
)");
  ExpectMatrix(
      [](const Pod& from, const Pod& to, const Port&) { return to.ns != "x" || from.ns != "z"; });
}

// Kubernetes requires that the node reach its own pods whatever the policy (kubelet probes).
TEST_P(NetpolConformance, TheHostReachesIsolatedPods) {
  // A real host has an address of its own; a lone test host gets one on its loopback (gone with
  // the host's network namespace); fabric hosts have theirs.
  if (hosts_ == 1) {
    ASSERT_TRUE(Host(0).RunOk({"ip", "addr", "add", "192.0.2.1/32", "dev", "lo"}).ok());
  }
  Apply(Knp("x", "default-deny-all", R"(podSelector: {}
policyTypes: [Ingress, Egress]
)"));
  ExpectMatrix(
      [](const Pod& from, const Pod& to, const Port&) { return from.ns != "x" && to.ns != "x"; });
  CommandResult probe =
      Host(W({"x", "a"}).host)
          .Run({TABBY_PROBE, "connect", "--tcp", W({"x", "a"}).ipv4, "80", "--timeout-ms", "1500"});
  EXPECT_TRUE(probe.ok()) << probe.Describe();
}

INSTANTIATE_TEST_SUITE_P(Hosts, NetpolConformance, ::testing::Values(1, 3),
                         [](const ::testing::TestParamInfo<int>& info) {
                           return info.param == 1 ? std::string("OneHost")
                                                  : std::string("ThreeHosts");
                         });

}  // namespace
}  // namespace tabby::test
