// End to end on one host, with the real binaries: tabbyd in a host network namespace, workloads
// in their own namespaces wired by tabby-cni, policy written with tabbyctl, real packets from
// tabby-probe. Each test builds its own host, datastore and agent, and removes them.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>

#include "host_fixture.h"

namespace tabby::test {
namespace {

using nlohmann::json;
using std::chrono::milliseconds;
using std::chrono::seconds;

class EndToEnd : public HostFixture {
 protected:
  // Workloads a (app=client) and b (app=server), and a policy that lets only clients reach b.
  void AddClientAndServer() {
    AddWorkload("a", "app=client");
    AddWorkload("b", "app=server");
    Apply(R"(
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: clients-only}
spec:
  selector: app == 'server'
  ingress:
  - action: Allow
    source: {selector: app == 'client'}
)");
  }
};

TEST_F(EndToEnd, OpenByDefaultTcpUdpIcmp) {
  AddWorkload("a", "app=a");
  AddWorkload("b", "app=b");
  EXPECT_NE(workloads_["a"].ipv4, workloads_["b"].ipv4);
  EXPECT_TRUE(Reach("a", "b"));
  EXPECT_TRUE(Reach("b", "a", 81, "--udp"));
  EXPECT_TRUE(Ping("a", "b"));
}

TEST_F(EndToEnd, IngressPolicyAllowsOnlyWhatItSays) {
  AddWorkload("a", "app=client");
  AddWorkload("b", "app=server");
  AddWorkload("c", "app=other");
  Apply(R"(
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: server-ingress}
spec:
  selector: app == 'server'
  ingress:
  - action: Allow
    protocol: TCP
    source: {selector: app == 'client'}
    destination: {ports: [80]}
  - action: Allow
    protocol: UDP
    source: {selector: app == 'client'}
    destination: {ports: ["81"]}
  - action: Allow
    protocol: ICMP
    source: {selector: app == 'client'}
)");
  EXPECT_TRUE(Reach("a", "b", 80));
  EXPECT_FALSE(Reach("a", "b", 81));  // TCP 81 not allowed
  EXPECT_TRUE(Reach("a", "b", 81, "--udp"));
  EXPECT_FALSE(Reach("a", "b", 80, "--udp"));
  EXPECT_TRUE(Ping("a", "b"));
  EXPECT_FALSE(Reach("c", "b", 80));
  EXPECT_FALSE(Ping("c", "b"));
  // b is isolated for ingress only: it can still reach others.
  EXPECT_TRUE(Reach("b", "c", 80));
}

TEST_F(EndToEnd, EgressAtTheSourceAndIngressAtTheDestinationMustAgree) {
  AddWorkload("a", "app=client");
  AddWorkload("b", "app=server");
  Apply(R"(
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: client-egress}
spec:
  selector: app == 'client'
  types: [Egress]
  egress:
  - action: Allow
    protocol: TCP
    destination: {ports: [81]}
)");
  EXPECT_FALSE(Reach("a", "b", 80));  // the destination would allow; the source does not
  EXPECT_TRUE(Reach("a", "b", 81));
  Apply(R"(
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: server-ingress}
spec:
  selector: app == 'server'
  ingress:
  - action: Allow
    protocol: TCP
    destination: {ports: [80]}
)");
  EXPECT_FALSE(Reach("a", "b", 81));  // now the destination does not allow 81
  EXPECT_FALSE(Reach("a", "b", 80));
}

TEST_F(EndToEnd, OrderDenyBeforeAllowAndPassToProfile) {
  AddWorkload("a", "app=client");
  AddWorkload("b", "app=server");
  Apply(R"(
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: allow-all}
spec:
  order: 200
  selector: app == 'server'
  ingress: [{action: Allow}]
---
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: deny-81}
spec:
  order: 100
  selector: app == 'server'
  ingress:
  - action: Deny
    protocol: TCP
    destination: {ports: [81]}
)");
  EXPECT_TRUE(Reach("a", "b", 80));
  EXPECT_FALSE(Reach("a", "b", 81));
  // Pass skips the remaining policies and goes to the profiles; b has none, so the default
  // (allow) decides.
  Apply(R"(
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: deny-81}
spec:
  order: 100
  selector: app == 'server'
  ingress:
  - action: Pass
    protocol: TCP
    destination: {ports: [81]}
---
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: allow-all}
spec:
  order: 200
  selector: app == 'server'
  ingress: [{action: Deny}]
)");
  EXPECT_TRUE(Reach("a", "b", 81));   // passed over the deny
  EXPECT_FALSE(Reach("a", "b", 80));  // denied by allow-all (now a deny)
}

TEST_F(EndToEnd, NamedPortsAndPortRanges) {
  AddWorkload("a", "app=client");
  AddWorkload("b", "app=server", {.ports = "web:TCP:81,dns:UDP:80"});
  Apply(R"(
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: named}
spec:
  selector: app == 'server'
  ingress:
  - action: Allow
    protocol: TCP
    destination: {ports: [web]}
  - action: Allow
    protocol: UDP
    destination: {ports: [dns]}
  - action: Allow
    protocol: TCP
    destination: {ports: ["9000:9010"]}
)");
  EXPECT_TRUE(Reach("a", "b", 81));
  EXPECT_FALSE(Reach("a", "b", 80));
  EXPECT_TRUE(Reach("a", "b", 80, "--udp"));
  EXPECT_FALSE(Reach("a", "b", 81, "--udp"));
  EXPECT_TRUE(Reach("a", "b", 9000));
}

TEST_F(EndToEnd, LabelChangesTakeEffect) {
  AddWorkload("a", "role=friend");
  AddWorkload("b", "app=server");
  Apply(R"(
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: friends}
spec:
  selector: app == 'server'
  ingress:
  - action: Allow
    source: {selector: role == 'friend'}
)");
  EXPECT_TRUE(Reach("a", "b"));
  CommandResult relabel = Ctl({"label", "workloadendpoint", workloads_["a"].endpoint, "-n", "e2e",
                               "role=stranger", "--overwrite"});
  ASSERT_TRUE(relabel.ok()) << relabel.Describe();
  WaitProgrammed();
  EXPECT_FALSE(Reach("a", "b"));
  relabel = Ctl({"label", "workloadendpoint", workloads_["b"].endpoint, "-n", "e2e", "app-"});
  ASSERT_TRUE(relabel.ok()) << relabel.Describe();
  WaitProgrammed();
  EXPECT_TRUE(Reach("a", "b"));  // no longer selected: open again
}

TEST_F(EndToEnd, NewAndDeletedWorkloads) {
  AddClientAndServer();
  // A workload that arrives later is in the policy's set as soon as ADD returns.
  AddWorkload("c", "app=client");
  EXPECT_TRUE(Reach("c", "b"));
  std::string old_address = workloads_["a"].ipv4;
  RemoveWorkload("a");
  // Its address is free again and no endpoint remains for it.
  CommandResult endpoints = Ctl({"get", "workloadendpoints", "-n", "e2e", "-o", "json"});
  ASSERT_TRUE(endpoints.ok());
  EXPECT_EQ(endpoints.out.find(old_address), std::string::npos);
  AddWorkload("d", "app=stranger");
  EXPECT_FALSE(Reach("d", "b"));
}

// The CNI spec identifies an attachment by container id + interface: a DEL without the CNI_ARGS
// that ADD had must remove the veth, its route and the endpoint, so that the next workload given
// the address does not inherit the old one's identity (here: its access to a database).
TEST_F(EndToEnd, DelWithoutCniArgsLeavesNoStaleIdentityBehind) {
  AddWorkload("db", "app=db");
  AddWorkload("admin", "role=admin");
  Apply(R"(
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: db-admins-only}
spec:
  selector: app == 'db'
  ingress:
  - action: Allow
    protocol: TCP
    source: {selector: role == 'admin'}
    destination: {ports: [80]}
)");
  ASSERT_TRUE(Reach("admin", "db"));
  TestWorkload& admin = workloads_["admin"];
  const std::string address = admin.ipv4;
  CommandResult wep = Ctl({"get", "workloadendpoint", admin.endpoint, "-n", "e2e", "-o", "json"});
  ASSERT_TRUE(wep.ok()) << wep.Describe();
  const std::string host_ifname = json::parse(wep.out)["spec"]["interfaceName"];
  const std::string endpoint = admin.endpoint;
  admin.server->Stop();
  CommandResult deleted = CniWithArgs("DEL", admin, "", false);
  ASSERT_TRUE(deleted.ok()) << deleted.Describe() << deleted.out;
  workloads_.erase("admin");
  EXPECT_FALSE(host_->Run({"ip", "link", "show", host_ifname}).ok()) << "veth left behind";
  EXPECT_EQ(host_->Run({"ip", "route", "show", address}).out, "") << "route left behind";
  EXPECT_FALSE(Ctl({"get", "workloadendpoint", endpoint, "-n", "e2e"}).ok());
  // The next workload is given the same address, and only its own identity.
  AddWorkload("guest", "role=guest");
  EXPECT_EQ(workloads_["guest"].ipv4, address);
  EXPECT_FALSE(Reach("guest", "db"));
  CommandResult check = Ctl({"ipam", "check"});
  EXPECT_TRUE(check.ok()) << check.Describe() << check.out;
}

// One agent per node: a second would interleave its transactions with the first's.
TEST_F(EndToEnd, ASecondAgentForTheNodeRefusesToStart) {
  WaitProgrammed();
  CommandResult second = host_->Run({TABBYD, "--datastore", url_, "--node", kNode, "--state-dir",
                                     dir_->File("state"), "--log-level", "warn"});
  EXPECT_EQ(second.exit_code, 1) << second.Describe();
  const std::string said = second.out + second.err;  // spdlog writes to stdout
  EXPECT_NE(said.find(fmt::format("is locked by another process (pid {})", agent()->pid())),
            std::string::npos)
      << said;
  EXPECT_TRUE(agent()->Running());
}

TEST_F(EndToEnd, SpoofedSourceIsDropped) {
  AddWorkload("a", "app=a");
  AddWorkload("b", "app=b");
  // a adds b's address... no: an address nobody owns, and tries to use it as its source.
  ASSERT_TRUE(
      workloads_["a"].netns->RunOk({"ip", "addr", "add", "10.70.0.250/32", "dev", "eth0"}).ok());
  CommandResult spoofed =
      workloads_["a"].netns->Run({TABBY_PROBE, "connect", "--tcp", workloads_["b"].ipv4, "80",
                                  "--timeout-ms", "400", "--source", "10.70.0.250"});
  EXPECT_FALSE(spoofed.ok());
  EXPECT_TRUE(Reach("a", "b"));
  CommandResult counters =
      host_->Run({"nft", "list", "counter", "inet", "tabby", "drop-spoofed-source"});
  ASSERT_TRUE(counters.ok()) << counters.Describe();
  EXPECT_EQ(counters.out.find("packets 0 "), std::string::npos) << counters.out;
}

TEST_F(EndToEnd, AgentRestartDoesNotBreakAnEstablishedStream) {
  AddClientAndServer();
  auto stream = workloads_["a"].netns->Start(
      {TABBY_PROBE, "stream", workloads_["b"].ipv4, "5001", "--seconds", "6"});
  ASSERT_TRUE(stream.ok()) << stream.status();
  agent()->Stop();
  StartAgent();
  WaitProgrammed();
  // A change while the stream flows, too.
  Apply(R"(
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: unrelated}
spec:
  selector: app == 'nobody'
  ingress: [{action: Deny}]
)");
  agent()->Stop();
  StartAgent();
  WaitProgrammed();
  std::optional<int> exit_code = (*stream)->Wait(seconds(30));
  ASSERT_TRUE(exit_code.has_value()) << (*stream)->Describe();
  EXPECT_EQ(*exit_code, 0) << (*stream)->Describe();
  EXPECT_TRUE(Reach("a", "b"));
}

// An emptied, replaced or rolled-back datastore is not a reason to remove every workload's rules:
// the agent refuses it, says so, and keeps the dataplane until it is told to adopt it.
TEST_F(EndToEnd, AnEmptiedReplacedOrRolledBackDatastoreLeavesTheDataplaneAsItIs) {
  namespace fs = std::filesystem;
  const std::string db = dir_->File("tabby.db");
  // The database is its file and its write-ahead log (recent commits live there).
  auto copy_database = [](const std::string& from, const std::string& to) {
    for (const char* suffix : {"", "-wal"}) {
      fs::remove(to + suffix);
      if (fs::exists(from + suffix)) fs::copy_file(from + suffix, to + suffix);
    }
    fs::remove(to + "-shm");
  };
  AddClientAndServer();
  agent()->Stop();
  copy_database(db, dir_->File("backup.db"));
  StartAgent();
  Apply(
      "apiVersion: projectcalico.org/v3\nkind: GlobalNetworkPolicy\nmetadata: {name: later}\n"
      "spec: {selector: app == 'nobody', ingress: [{action: Deny}]}\n");
  ASSERT_TRUE(Reach("a", "b"));

  // Truncated while the agent is down: it reports the file as emptied and keeps retrying.
  agent()->Stop();
  fs::resize_file(db, 0);
  StartAgent();
  EXPECT_TRUE(agent()->WaitForOutput("is empty (0 bytes): it was truncated", seconds(20)))
      << agent()->Describe();
  EXPECT_TRUE(Reach("a", "b"));
  EXPECT_TRUE(agent()->Running());

  // Replaced by a new, empty cluster: refused, loudly, with the dataplane kept.
  agent()->Stop();
  for (const char* suffix : {"", "-wal", "-shm"}) fs::remove(db + suffix);
  CommandResult init = Ctl({"datastore", "init"});
  ASSERT_TRUE(init.ok()) << init.Describe();
  StartAgent();
  EXPECT_TRUE(
      agent()->WaitForOutput("but this host's dataplane was programmed from cluster", seconds(20)))
      << agent()->Describe();
  EXPECT_NE(agent()->out().find("refusing to reprogram it, the dataplane stays as it is"),
            std::string::npos);
  EXPECT_TRUE(Reach("a", "b"));

  // Restored from a backup older than what was programmed: refused too.
  agent()->Stop();
  copy_database(dir_->File("backup.db"), db);
  StartAgent();
  EXPECT_TRUE(agent()->WaitForOutput("behind revision", seconds(20))) << agent()->Describe();
  EXPECT_TRUE(Reach("a", "b"));

  // Adopted on purpose: programmed. Then a new, empty cluster adopted: nothing reaches b.
  agent()->Stop();
  StartAgent({"--adopt-datastore"});
  WaitProgrammed();
  EXPECT_TRUE(Reach("a", "b"));
  agent()->Stop();
  for (const char* suffix : {"", "-wal", "-shm"}) fs::remove(db + suffix);
  ASSERT_TRUE(Ctl({"datastore", "init"}).ok());
  StartAgent({"--adopt-datastore"});
  WaitProgrammed();
  EXPECT_FALSE(Reach("a", "b"));
}

// Tampering with what the agent programs is seen through netlink notifications and repaired at
// once, not at the next periodic verify (300 s here): a deleted table, a flushed workload route,
// the gateway's route on lo.
TEST_F(EndToEnd, TamperingIsRepairedAtOnce) {
  AddClientAndServer();
  AddWorkload("c", "app=other");
  ASSERT_FALSE(Reach("c", "b"));
  const std::string status_file = dir_->File("state/status.json");
  auto status_value = [&](const char* key) {
    std::ifstream in(status_file);
    json status = json::parse(in, nullptr, false);
    return status.is_discarded() ? int64_t{0} : status.value(key, int64_t{0});
  };

  ASSERT_TRUE(host_->RunOk({"nft", "delete", "table", "inet", "tabby"}).ok());
  EXPECT_TRUE(WaitFor([&] { return status_value("nftRepairs") >= 1; }, seconds(10)))
      << agent()->Describe();
  EXPECT_TRUE(host_->Run({"nft", "list", "table", "inet", "tabby"}).ok());
  EXPECT_FALSE(Reach("c", "b"));
  EXPECT_TRUE(Reach("a", "b"));
  EXPECT_TRUE(agent()->WaitForOutput(
      "repaired the nftables table (changed by another process: nftables written by pid",
      seconds(10)))
      << agent()->Describe();

  ASSERT_TRUE(host_->RunOk({"ip", "route", "del", workloads_["b"].ipv4}).ok());
  ASSERT_TRUE(host_->RunOk({"ip", "route", "del", "169.254.1.1", "dev", "lo"}).ok());
  EXPECT_TRUE(WaitFor([&] { return status_value("routeRepairs") >= 1; }, seconds(10)))
      << agent()->Describe();
  EXPECT_TRUE(WaitFor(
      [&] {
        return host_->Run({"ip", "route", "show", workloads_["b"].ipv4}).out != "" &&
               host_->Run({"ip", "route", "show", "169.254.1.1"}).out != "";
      },
      seconds(10)));
  EXPECT_TRUE(Reach("a", "b"));
  // Its own writes are not tampering: a policy change repairs nothing.
  const int64_t repairs = status_value("nftRepairs");
  Apply(
      "apiVersion: projectcalico.org/v3\nkind: GlobalNetworkPolicy\nmetadata: {name: other}\n"
      "spec: {selector: app == 'nobody', ingress: [{action: Deny}]}\n");
  EXPECT_EQ(status_value("nftRepairs"), repairs);
}

TEST_F(EndToEnd, FailClosedWhileTheAgentIsDown) {
  AddWorkload("a", "app=a");
  agent()->Stop();
  // A workload wired while no agent runs: its interface is unknown to the firewall.
  ASSERT_NO_FATAL_FAILURE(AddWorkload("b", "app=b", {.wait_for_agent = false}));
  EXPECT_FALSE(Reach("a", "b"));
  EXPECT_FALSE(Reach("b", "a"));
  StartAgent();
  WaitProgrammed();
  EXPECT_TRUE(Reach("a", "b"));
}

TEST_F(EndToEnd, ConcurrentAddsFromManyProcessesNeverShareAnAddress) {
  constexpr int kWorkloads = 24;
  std::vector<std::unique_ptr<ScopedNetns>> namespaces;
  std::vector<std::unique_ptr<ChildProcess>> plugins;
  std::string conf = dir_->File("netconf-concurrent.json");
  std::ofstream(conf) << cluster_->NetConf(0, false, 0);
  for (int i = 0; i < kWorkloads; ++i) {
    auto netns = ScopedNetns::Create();
    ASSERT_TRUE(netns.ok()) << netns.status();
    namespaces.push_back(std::make_unique<ScopedNetns>(std::move(*netns)));
  }
  // All plugin processes start before any finishes.
  for (int i = 0; i < kWorkloads; ++i) {
    CommandOptions options;
    options.netns_path = host_->path();
    options.env = {"CNI_COMMAND=ADD", fmt::format("CNI_CONTAINERID=many-{}", i),
                   "CNI_NETNS=" + namespaces[i]->path(), "CNI_IFNAME=eth0",
                   fmt::format("CNI_ARGS=K8S_POD_NAMESPACE=e2e;K8S_POD_NAME=many{}", i)};
    options.stdin_path = conf;
    auto plugin = ChildProcess::Start({TABBY_CNI}, options);
    ASSERT_TRUE(plugin.ok()) << plugin.status();
    plugins.push_back(std::move(*plugin));
  }
  std::set<std::string> addresses;
  for (auto& plugin : plugins) {
    std::optional<int> exit_code = plugin->Wait(seconds(60));
    ASSERT_TRUE(exit_code.has_value() && *exit_code == 0) << plugin->Describe();
    json result = json::parse(plugin->out(), nullptr, false);
    ASSERT_FALSE(result.is_discarded()) << plugin->out();
    addresses.insert(result["ips"][0]["address"].get<std::string>());
  }
  EXPECT_EQ(addresses.size(), static_cast<size_t>(kWorkloads));
  // And the host routes every one to its own veth.
  CommandResult routes = host_->Run({"ip", "-o", "route", "show", "proto", "197"});
  ASSERT_TRUE(routes.ok()) << routes.Describe();
  for (const auto& address : addresses) {
    std::string bare = address.substr(0, address.find('/'));
    EXPECT_NE(routes.out.find(bare + " dev tabby"), std::string::npos) << bare << routes.out;
  }
}

TEST_F(EndToEnd, CniCheckAndDelAgainstTheRealKernel) {
  TestWorkload& a = AddWorkload("a", "app=a");
  CommandResult checked = Cni("CHECK", a, "", false);
  EXPECT_TRUE(checked.ok()) << checked.Describe() << checked.out;
  // The veth disappears behind the plugin's back: CHECK reports it with a code.
  CommandResult wep = Ctl({"get", "workloadendpoint", a.endpoint, "-n", "e2e", "-o", "json"});
  ASSERT_TRUE(wep.ok()) << wep.Describe();
  std::string host_ifname = json::parse(wep.out)["spec"]["interfaceName"];
  ASSERT_FALSE(host_ifname.empty()) << wep.out;
  // The host end names its owner, so that a late DEL of an older sandbox never takes it.
  CommandResult link = host_->Run({"ip", "link", "show", host_ifname});
  EXPECT_NE(link.out.find("alias tabby container ctr-"), std::string::npos) << link.out;
  ASSERT_TRUE(host_->RunOk({"ip", "link", "del", host_ifname}).ok());
  checked = Cni("CHECK", a, "", false);
  EXPECT_FALSE(checked.ok());
  json error = json::parse(checked.out, nullptr, false);
  ASSERT_FALSE(error.is_discarded()) << checked.out;
  EXPECT_EQ(error["code"], 100) << checked.out;
  // DEL still cleans up what is left, and a second DEL is fine.
  EXPECT_TRUE(Cni("DEL", a, "", false).ok());
  EXPECT_TRUE(Cni("DEL", a, "", false).ok());
  CommandResult endpoints = Ctl({"get", "workloadendpoints", "-A", "-o", "json"});
  EXPECT_EQ(endpoints.out.find(a.ipv4), std::string::npos) << endpoints.out;
}

// Block IPAM on the host: the agent registers its Node, keeps one blackhole route per block the
// host owns (the workloads' /32s are more specific), and drops it when the block goes away.
TEST_F(EndToEnd, EachOwnedBlockHasABlackholeRouteAndEachWorkloadItsOwn) {
  CommandResult nodes = Ctl({"get", "nodes"});
  ASSERT_TRUE(nodes.ok()) << nodes.Describe();
  EXPECT_NE(nodes.out.find(kNode), std::string::npos) << nodes.out;

  TestWorkload& a = AddWorkload("a", "app=a", {.ipv6 = true});
  AddWorkload("b", "app=b");
  EXPECT_TRUE(Reach("a", "b"));
  auto routes = [&](const std::string& family) {
    CommandResult shown = host_->Run({"ip", family, "route", "show", "proto", "197"});
    EXPECT_TRUE(shown.ok()) << shown.Describe();
    return shown.out;
  };
  auto has = [](const std::string& text, const std::string& line) {
    return text.find(line) != std::string::npos;
  };
  ASSERT_TRUE(WaitFor([&] { return has(routes("-4"), "blackhole 10.70.0.0/26"); })) << routes("-4");
  ASSERT_TRUE(WaitFor([&] { return has(routes("-6"), "blackhole fd70::/122"); })) << routes("-6");
  // Longest prefix: a workload's address goes to its veth, a free address of the block nowhere.
  CommandResult to_a = host_->Run({"ip", "route", "get", a.ipv4});
  EXPECT_TRUE(to_a.ok() && has(to_a.out, "dev tabby")) << to_a.Describe() << to_a.out;
  CommandResult to_free = host_->Run({"ip", "route", "get", "10.70.0.60"});
  EXPECT_FALSE(to_free.ok() && has(to_free.out, "dev")) << to_free.out;

  // The workloads go, the pool is deleted (its empty blocks with it), the routes follow.
  RemoveWorkload("a");
  RemoveWorkload("b");
  CommandResult deleted = Ctl({"delete", "ippool", "pool4", "pool6"});
  ASSERT_TRUE(deleted.ok()) << deleted.Describe();
  EXPECT_TRUE(WaitFor([&] { return !has(routes("-4"), "blackhole"); })) << routes("-4");
  EXPECT_TRUE(WaitFor([&] { return !has(routes("-6"), "blackhole"); })) << routes("-6");
}

TEST_F(EndToEnd, DefaultDenyForUnselectedWorkloads) {
  AddWorkload("a", "app=a");
  AddWorkload("b", "app=b");
  EXPECT_TRUE(Reach("a", "b"));
  Apply(R"(
apiVersion: tabby.dev/v1
kind: ClusterConfiguration
metadata: {name: default}
spec: {defaultEndpointPolicy: Deny}
)");
  EXPECT_FALSE(Reach("a", "b"));
}

TEST_F(EndToEnd, Ipv6) {
  AddWorkload("a", "app=client", {.ipv6 = true});
  AddWorkload("b", "app=server", {.ipv6 = true});
  AddWorkload("c", "app=other", {.ipv6 = true});
  ASSERT_FALSE(workloads_["b"].ipv6.empty());
  EXPECT_TRUE(WaitFor([&] { return Reach("a", "b", 80, "--tcp", true); }, seconds(10)));
  Apply(R"(
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: v6}
spec:
  selector: app == 'server'
  ingress:
  - action: Allow
    source: {selector: app == 'client'}
)");
  EXPECT_TRUE(Reach("a", "b", 80, "--tcp", true));
  EXPECT_FALSE(Reach("c", "b", 80, "--tcp", true));
  EXPECT_TRUE(Reach("a", "b", 80, "--udp", true));
}

}  // namespace
}  // namespace tabby::test
