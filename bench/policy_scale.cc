// policy_scale: what one host's agent pays for a large Kubernetes cluster's policy.
//
// A synthetic cluster of W workloads in N namespaces with P Kubernetes NetworkPolicies (5 per
// namespace, shaped like real ones: default deny, same-app with a named port, cross-namespace AND
// peers with port ranges, egress with matchExpressions and ipBlock/except, monitoring), 100
// workloads per host. The calculator runs for one host, as tabbyd does. Measured per
// configuration:
// - full computation: every resource upserted into a fresh Calculator and flushed (what tabbyd
//   does at start), its time and the heap it holds afterwards;
// - one pod's label change reaching the dataplane: Upsert + Flush, and with --nft the nftables
//   transaction applying the delta in a private network namespace (real kernel), for a pod on
//   this host and for a pod on another host in a namespace this host has pods in (a label change
//   of a pod in any other namespace changes nothing here); p50 and p99 over --changes changes,
//   half remote (first) and half local. Every change moves the pod into or out of a policy's
//   selection and a peer set. Each round starts from the same cluster.
// Configurations run side by side, alternating round by round: "full" (10,000 workloads, 1,000
// namespaces, 5,000 policies by default) and "tenth" (a tenth of each, same 100 workloads per
// host), so the ratio full/tenth says how the cost grows with the cluster on a noisy machine.
//
// --shape global is the cluster of the scale issue instead: W workloads (labels app a0..a499,
// tier t0..t6) and P GlobalNetworkPolicies `app == 'aK'` (K < 20), each with one ingress rule
// from `app == 'aJ' && tier != 'tM'` to one port, so every local workload activates P/20
// policies and their peer sets. A local change moves a pod to another of the 20 apps (P/20
// policies and sets deactivated, P/20 activated); a remote change moves a pod between peer sets.
//
// Under callgrind (bench/policy_scale_callgrind.sh) the measured sections are the only ones
// collected, so instruction counts come out per phase.
#include <fmt/format.h>
#include <malloc.h>
#include <sched.h>
#include <valgrind/callgrind.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "base/status_macros.h"
#include "calc/calculator.h"
#include "dataplane/nft_client.h"
#include "dataplane/nft_dataplane.h"
#include "model/codec.h"
#include "model/validate.h"
#include "stats.h"

namespace tabby::bench {
namespace {

constexpr char kNode[] = "node-0";
constexpr int kWorkloadsPerHost = 100;
constexpr int kApps = 5;
constexpr int kTeams = 50;

struct Flags {
  int workloads = 10000;
  int namespaces = 1000;
  int rounds = 3;
  int changes = 200;
  bool nft = false;
  bool callgrind = false;  // one round of "full" only, phases toggled for callgrind
  std::string shape = "kubernetes";
  int policies = 10000;  // --shape global
};

constexpr int kGlobalApps = 500;      // app a0..a499
constexpr int kGlobalLocalApps = 20;  // the apps policies select: a0..a19
constexpr int kGlobalTiers = 7;       // tier t0..t6

struct Config {
  std::string name;
  int workloads = 0;
  int namespaces = 0;
  int policies = 0;
};

struct Cluster {
  std::vector<model::Resource> resources;       // namespaces, policies, workloads
  std::vector<size_t> local_pods, remote_pods;  // indexes into resources
};

std::string Address(int i) {
  return fmt::format("10.{}.{}.{}", 1 + i / 65536, i / 256 % 256, i % 256);
}

// Five policies per namespace: isolation plus what real applications open up.
std::string PoliciesOf(int ns) {
  std::string name = fmt::format("ns-{}", ns);
  std::string app = fmt::format("app-{}", ns % kApps);
  return fmt::format(R"(---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {{name: default-deny, namespace: {0}}}
spec:
  podSelector: {{}}
  policyTypes: [Ingress]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {{name: same-app, namespace: {0}}}
spec:
  podSelector: {{matchLabels: {{app: {1}}}}}
  ingress:
  - from: [{{podSelector: {{matchLabels: {{app: {1}}}}}}}]
    ports: [{{port: http}}]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {{name: frontend-from-team, namespace: {0}}}
spec:
  podSelector: {{matchLabels: {{tier: frontend}}}}
  ingress:
  - from:
    - namespaceSelector: {{matchLabels: {{team: team-{2}}}}}
      podSelector: {{matchLabels: {{role: client}}}}
    ports: [{{port: 8080, endPort: 8090}}, {{port: 443}}]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {{name: egress, namespace: {0}}}
spec:
  podSelector: {{matchLabels: {{role: client}}}}
  policyTypes: [Egress]
  egress:
  - to:
    - namespaceSelector:
        matchExpressions:
        - {{key: team, operator: In, values: [team-{2}, team-{3}]}}
    - ipBlock: {{cidr: 192.168.0.0/16, except: [192.168.{4}.0/24]}}
  - ports: [{{port: 53, protocol: UDP}}]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {{name: monitoring, namespace: {0}}}
spec:
  podSelector: {{}}
  ingress:
  - from: [{{namespaceSelector: {{matchLabels: {{kubernetes.io/metadata.name: ns-0}}}}}}]
    ports: [{{port: metrics}}]
)",
                     name, app, ns % kTeams, (ns + 1) % kTeams, ns % 256);
}

// Pod i of the cluster, on node-(i / kWorkloadsPerHost), in namespace `ns`, without labels.
model::Resource Workload(int i, const std::string& ns) {
  std::string pod = fmt::format("pod-{}", i);
  model::Resource r =
      model::MakeResource(model::Kind::kWorkloadEndpoint,
                          fmt::format("node-{}-k8s-{}-eth0", i / kWorkloadsPerHost, pod), ns);
  auto& spec = r.workload_endpoint();
  spec.node = fmt::format("node-{}", i / kWorkloadsPerHost);  // node-0: pods in 100 namespaces
  spec.orchestrator = "k8s";
  spec.pod = pod;
  spec.endpoint = "eth0";
  spec.interface_name = fmt::format("tabby{:010x}", i);
  spec.ip_networks = {Address(i) + "/32"};
  model::EndpointPort http{.name = "http",
                           .protocol = model::Protocol{model::Protocol::kTcp, "TCP"},
                           .port = static_cast<uint16_t>(8000 + i % 3)};
  model::EndpointPort metrics{
      .name = "metrics", .protocol = model::Protocol{model::Protocol::kTcp, "TCP"}, .port = 9090};
  spec.ports = {http, metrics};
  return r;
}

// Adds workload `r` to the cluster; `remote_relevant`: a change of its labels on another host
// changes something on this one (a pod elsewhere in a namespace this host has pods in).
absl::Status AddWorkload(model::Resource r, bool remote_relevant, Cluster& cluster) {
  model::ApplyDefaults(r);
  RETURN_IF_ERROR(model::Validate(r));
  if (r.workload_endpoint().node == kNode) {
    cluster.local_pods.push_back(cluster.resources.size());
  } else if (remote_relevant) {
    cluster.remote_pods.push_back(cluster.resources.size());
  }
  cluster.resources.push_back(std::move(r));
  return absl::OkStatus();
}

absl::StatusOr<Cluster> MakeCluster(const Config& config) {
  std::string yaml;
  for (int ns = 0; ns < config.namespaces; ++ns) {
    yaml += fmt::format(
        "---\napiVersion: v1\nkind: Namespace\nmetadata: {{name: ns-{}, labels: "
        "{{team: team-{}}}}}\n",
        ns, ns % kTeams);
    yaml += PoliciesOf(ns);
  }
  auto decoded = model::DecodeDocuments(yaml, "cluster.yaml");
  if (!decoded.ok()) return decoded.status();
  Cluster cluster;
  cluster.resources = std::move(*decoded);
  for (int i = 0; i < config.workloads; ++i) {
    std::string ns = fmt::format("ns-{}", i % config.namespaces);
    model::Resource r = Workload(i, ns);
    r.metadata.labels = {{"app", fmt::format("app-{}", i % kApps)},
                         {"tier", i % 3 == 0 ? "frontend" : "backend"},
                         {"role", i % 2 == 0 ? "client" : "server"},
                         {"pod", r.workload_endpoint().pod},
                         {"pod-app", fmt::format("app-{}", i % kApps)},
                         {"alt-app", fmt::format("app-{}", (i + 1) % kApps)}};
    RETURN_IF_ERROR(AddWorkload(std::move(r), i % config.namespaces < kWorkloadsPerHost, cluster));
  }
  return cluster;
}

// The cluster of --shape global (see the top of the file).
absl::StatusOr<Cluster> MakeGlobalCluster(const Config& config) {
  std::string yaml;
  for (int i = 0; i < config.policies; ++i) {
    yaml += fmt::format(R"(---
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {{name: gnp-{0}}}
spec:
  selector: app == 'a{1}'
  ingress:
  - action: Allow
    protocol: TCP
    source: {{selector: app == 'a{2}' && tier != 't{3}'}}
    destination: {{ports: [{4}]}}
)",
                        i, i % kGlobalLocalApps, i * 7919 % kGlobalApps, i % kGlobalTiers,
                        1000 + i % 1000);
  }
  auto decoded = model::DecodeDocuments(yaml, "cluster.yaml");
  if (!decoded.ok()) return decoded.status();
  Cluster cluster;
  cluster.resources = std::move(*decoded);
  for (int i = 0; i < config.workloads; ++i) {
    model::Resource r = Workload(i, "default");
    // Local pods (the first kWorkloadsPerHost) take the 20 selected apps in turn.
    int app = i < kWorkloadsPerHost ? i % kGlobalLocalApps : i % kGlobalApps;
    int alternate = i < kWorkloadsPerHost ? (app + 1) % kGlobalLocalApps : (app + 1) % kGlobalApps;
    r.metadata.labels = {{"app", fmt::format("a{}", app)},
                         {"tier", fmt::format("t{}", i % kGlobalTiers)},
                         {"pod-app", fmt::format("a{}", app)},
                         {"alt-app", fmt::format("a{}", alternate)}};
    RETURN_IF_ERROR(AddWorkload(std::move(r), true, cluster));
  }
  return cluster;
}

size_t HeapBytes() { return mallinfo2().uordblks; }

struct RoundResult {
  double full_ms = 0;
  double heap_mb = 0;
  double sync_ms = 0;  // the first nftables transaction, with --nft
  std::vector<double> local_ms, remote_ms;
  size_t sets = 0, programs = 0, endpoints = 0;
};

// Each section measured under callgrind is collected alone.
struct Collect {
  explicit Collect(bool on) : on(on) {
    if (on) CALLGRIND_TOGGLE_COLLECT;
  }
  ~Collect() {
    if (on) CALLGRIND_TOGGLE_COLLECT;
  }
  bool on;
};

absl::StatusOr<RoundResult> RunRound(const Flags& flags, const Cluster& cluster, uint32_t seed) {
  RoundResult result;
  std::unique_ptr<dataplane::NftClient> client;
  std::unique_ptr<dataplane::NftDataplane> nft;
  if (flags.nft) {
    // A fresh network namespace per round, so each round starts from an empty kernel table.
    if (unshare(CLONE_NEWNET) != 0) return absl::InternalError("unshare(CLONE_NEWNET) failed");
    client = dataplane::MakeLibNftablesClient();
    nft = std::make_unique<dataplane::NftDataplane>(*client);
  }
  size_t heap_before = HeapBytes();
  auto calc = std::make_unique<calc::Calculator>(kNode);
  auto start = std::chrono::steady_clock::now();
  {
    Collect collect(flags.callgrind);
    for (const model::Resource& r : cluster.resources) calc->Upsert(r);
    calc->Flush();
  }
  result.full_ms = MsSince(start);
  result.heap_mb = static_cast<double>(HeapBytes() - heap_before) / (1 << 20);
  result.sets = calc->state().ip_sets.size() + calc->state().port_sets.size();
  result.programs = calc->state().programs.size();
  result.endpoints = calc->state().endpoints.size();
  if (nft) {
    start = std::chrono::steady_clock::now();
    RETURN_IF_ERROR(nft->Sync(calc->state()));
    result.sync_ms = MsSince(start);
  }
  if (flags.callgrind) CALLGRIND_DUMP_STATS_AT("full computation");

  // Every round changes its own copy of the cluster. Remote pods first, while every local pod is
  // in its same-app policy (so each remote change moves a peer set this host uses), then local.
  std::vector<model::Resource> resources = cluster.resources;
  std::mt19937 random(seed);
  for (int i = 0; i < flags.changes; ++i) {
    const bool local = i >= flags.changes / 2;
    const auto& pool = local ? cluster.local_pods : cluster.remote_pods;
    if (pool.empty()) continue;  // a cluster of one host has no remote pods
    model::Resource& pod = resources[pool[random() % pool.size()]];
    // Toggles the pod between its own app and the next, so that every change moves it into or
    // out of policies' selection and peer sets.
    std::string& app = pod.metadata.labels["app"];
    app = app == pod.metadata.labels["pod-app"] ? pod.metadata.labels["alt-app"]
                                                : pod.metadata.labels["pod-app"];
    start = std::chrono::steady_clock::now();
    {
      Collect collect(flags.callgrind);
      calc->Upsert(pod);
      calc::Delta delta = calc->Flush();
      if (nft) RETURN_IF_ERROR(nft->Apply(delta, calc->state()));
    }
    (local ? result.local_ms : result.remote_ms).push_back(MsSince(start));
    if (flags.callgrind && i == 0) CALLGRIND_DUMP_STATS_AT("first label change");
  }
  if (flags.callgrind) CALLGRIND_DUMP_STATS_AT("label changes");
  return result;
}

int Main(int argc, char** argv) {
  Flags flags;
  CLI::App app{"Policy computation at Kubernetes scale, for one host's agent"};
  app.add_option("--workloads", flags.workloads, "workloads in the full configuration")
      ->capture_default_str();
  app.add_option("--namespaces", flags.namespaces, "namespaces (5 policies each)")
      ->capture_default_str();
  app.add_option("--rounds", flags.rounds, "rounds per configuration")->capture_default_str();
  app.add_option("--changes", flags.changes, "label changes per round")->capture_default_str();
  app.add_flag("--nft", flags.nft, "also program nftables in a private network namespace (root)");
  app.add_option("--shape", flags.shape,
                 "kubernetes: namespaced NetworkPolicies; global: GlobalNetworkPolicies, as in "
                 "the top comment")
      ->check(CLI::IsMember({"kubernetes", "global"}))
      ->capture_default_str();
  app.add_option("--policies", flags.policies, "policies in the full configuration (global)")
      ->capture_default_str();
  app.add_flag("--callgrind", flags.callgrind,
               "one round of the full configuration, for bench/policy_scale_callgrind.sh");
  CLI11_PARSE(app, argc, argv);

  const bool global = flags.shape == "global";
  std::vector<Config> configs = {
      {"tenth", flags.workloads / 10, flags.namespaces / 10, flags.policies / 10},
      {"full", flags.workloads, flags.namespaces, flags.policies}};
  if (flags.callgrind) {
    configs.erase(configs.begin());
    flags.rounds = 1;
  }
  std::vector<Cluster> clusters;
  for (const Config& config : configs) {
    auto cluster = global ? MakeGlobalCluster(config) : MakeCluster(config);
    if (!cluster.ok()) {
      fmt::print(stderr, "policy_scale: {}\n", MessageOf(cluster.status()));
      return 1;
    }
    clusters.push_back(std::move(*cluster));
  }
  std::vector<std::vector<RoundResult>> results(configs.size());
  for (int round = 0; round < flags.rounds; ++round) {
    for (size_t c = 0; c < configs.size(); ++c) {
      auto result = RunRound(flags, clusters[c], static_cast<uint32_t>(round));
      if (!result.ok()) {
        fmt::print(stderr, "policy_scale: {}\n", MessageOf(result.status()));
        return 1;
      }
      results[c].push_back(std::move(*result));
    }
  }

  fmt::print(
      "| configuration | workloads / namespaces / policies | sets / programs / local endpoints "
      "| full computation ms | heap MB |{} label change p50 / p99 ms, local pod | remote pod |\n",
      flags.nft ? " first nft sync ms |" : "");
  fmt::print("|---|---|---|---|---|{}---|---|\n", flags.nft ? "---|" : "");
  std::vector<double> full_median(configs.size()), local_p99(configs.size()),
      remote_p99(configs.size());
  for (size_t c = 0; c < configs.size(); ++c) {
    std::vector<double> full, heap, sync, local, remote;
    for (auto& r : results[c]) {
      full.push_back(r.full_ms);
      heap.push_back(r.heap_mb);
      sync.push_back(r.sync_ms);
      local.insert(local.end(), r.local_ms.begin(), r.local_ms.end());
      remote.insert(remote.end(), r.remote_ms.begin(), r.remote_ms.end());
    }
    const RoundResult& first = results[c].front();
    full_median[c] = Median(full);
    local_p99[c] = Quantile(local, 0.99);
    remote_p99[c] = Quantile(remote, 0.99);
    fmt::print(
        "| {} | {} / {} / {} | {} / {} / {} | {:.0f} | {:.1f} |{} {:.2f} / {:.2f} | {:.2f} / "
        "{:.2f} |\n",
        configs[c].name, configs[c].workloads, global ? 1 : configs[c].namespaces,
        global ? configs[c].policies : configs[c].namespaces * 5, first.sets, first.programs,
        first.endpoints, full_median[c], Median(heap),
        flags.nft ? fmt::format(" {:.0f} |", Median(sync)) : "", Quantile(local, 0.5), local_p99[c],
        Quantile(remote, 0.5), remote_p99[c]);
  }
  if (configs.size() == 2) {
    fmt::print(
        "\nratio full/tenth: full computation {:.1f}, label change p99 local {:.2f}, "
        "remote {:.2f}\n",
        full_median[1] / full_median[0], local_p99[1] / local_p99[0],
        remote_p99[1] / remote_p99[0]);
  }
  return 0;
}

}  // namespace
}  // namespace tabby::bench

int main(int argc, char** argv) { return tabby::bench::Main(argc, argv); }
