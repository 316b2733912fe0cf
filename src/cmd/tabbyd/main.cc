// tabbyd: the host agent. One per host; programs this host's routes and firewall from the
// datastore and keeps them converged. Exits on SIGTERM/SIGINT, leaving the dataplane in place.
#include <signal.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <thread>

#include "absl/time/clock.h"
#include "agent/agent.h"
#include "base/status_macros.h"
#include "dataplane/netlink.h"
#include "dataplane/nft_client.h"
#include "datastore/datastore.h"
#include "model/validate.h"

namespace {

absl::StatusOr<std::string> ResolveNode(const std::string& flag) {
  if (!flag.empty()) return tabby::model::ResolveNodeName(flag, "--node", "");
  if (const char* env = std::getenv("TABBY_NODE"); env != nullptr && *env != '\0') {
    return tabby::model::ResolveNodeName(env, "$TABBY_NODE", "");
  }
  char hostname[256] = {};
  gethostname(hostname, sizeof(hostname) - 1);
  return tabby::model::ResolveNodeName("", "", hostname);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"tabbyd: the tabby host agent (routes and policy for this host's workloads)"};
  std::string datastore_flag, node_flag, state_dir = "/run/tabby", log_level = "info";
  double verify_seconds = 300;
  app.add_option(
      "--datastore", datastore_flag,
      "datastore URL (default: $TABBY_DATASTORE, else sqlite:///var/lib/tabby/tabby.db)");
  std::string etcd_ca, etcd_cert, etcd_key;
  app.add_option("--etcd-ca", etcd_ca,
                 "PEM file of the CA that signed the etcd servers' certificates (etcds:// only)");
  app.add_option("--etcd-cert", etcd_cert, "PEM client certificate for etcd (etcds:// only)");
  app.add_option("--etcd-key", etcd_key, "PEM key of --etcd-cert (etcds:// only)");
  std::string bird_mode = "off", bird_config, bird_socket;
  app.add_option("--bird", bird_mode,
                 "BGP through BIRD 2: off, run (tabbyd starts and supervises BIRD) or external "
                 "(tabbyd writes --bird-config and reloads the BIRD at --bird-socket)")
      ->capture_default_str();
  app.add_option("--bird-config", bird_config,
                 "BIRD configuration file tabbyd writes (default: <state-dir>/bird.conf)");
  app.add_option("--bird-socket", bird_socket,
                 "BIRD's control socket (default: <state-dir>/bird.ctl)");
  int vxlan_mtu = 0;
  app.add_option("--vxlan-mtu", vxlan_mtu,
                 "MTU of the VXLAN devices (IP pools with vxlanMode Always or CrossSubnet); 0: "
                 "the underlay interface's less 50 (IPv4) or 70 (IPv6)")
      ->check(CLI::Range(0, 65535))
      ->capture_default_str();
  std::string secrets_dir = "/etc/tabby/secrets";
  app.add_option("--secrets-dir", secrets_dir,
                 "where BGP passwords are read: a BGPPeer's password.secretKeyRef {name, key} is "
                 "the file <secrets-dir>/<name>/<key>")
      ->capture_default_str();
  std::string node_ip_flag;
  app.add_option("--node-ip", node_ip_flag,
                 "this host's underlay addresses with their subnets' prefix lengths, at most one "
                 "per family, e.g. 192.0.2.1/24,2001:db8::1/64 (default: the first global "
                 "address of the interface holding each family's default route)");
  app.add_option("--node", node_flag,
                 "this host's node name (default: $TABBY_NODE, else the host name, lower-cased)");
  app.add_option("--state-dir", state_dir, "where status.json is written")->capture_default_str();
  app.add_option("--log-level", log_level, "trace, debug, info, warn, error")
      ->capture_default_str();
  app.add_option("--verify-interval", verify_seconds,
                 "seconds between checks that the kernel still holds what was programmed")
      ->capture_default_str();
  double ipam_gc_seconds = 300, ipam_grace_seconds = 600;
  app.add_option("--ipam-gc-interval", ipam_gc_seconds,
                 "seconds between checks of this node's IPAM records for leaks and surplus "
                 "empty blocks (0: never)")
      ->capture_default_str();
  app.add_option("--ipam-gc-grace", ipam_grace_seconds,
                 "seconds an address must have been allocated without a workload endpoint before "
                 "it counts as leaked")
      ->capture_default_str();
  bool adopt_datastore = false;
  app.add_flag("--adopt-datastore", adopt_datastore,
               "program from the datastore even if it holds another cluster than, or is at an "
               "older revision than, what this host was last programmed from (use once, after "
               "replacing or restoring the datastore on purpose)");
  CLI11_PARSE(app, argc, argv);

  spdlog::set_level(spdlog::level::from_str(log_level));
  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ %v");

  // Signals are taken by a thread with sigwait, so no handler touches shared state.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  std::atomic<bool> stop{false};
  std::thread waiter([&] {
    int received = 0;
    sigwait(&signals, &received);
    spdlog::info("tabbyd: signal {} received, stopping (the dataplane stays programmed)", received);
    stop.store(true);
  });
  waiter.detach();

  // Everything the flags decide is checked before anything is opened or written.
  auto node = ResolveNode(node_flag);
  if (!node.ok()) {
    spdlog::critical("tabbyd: {}", tabby::MessageOf(node.status()));
    return 1;
  }
  auto bird = tabby::bgp::ParseBirdMode(bird_mode);
  if (!bird.ok()) {
    spdlog::critical("tabbyd: {}", tabby::MessageOf(bird.status()));
    return 1;
  }
  std::optional<tabby::agent::NodeAddresses> node_addresses;
  if (!node_ip_flag.empty()) {
    auto parsed = tabby::agent::ParseNodeIps(node_ip_flag);
    if (!parsed.ok()) {
      spdlog::critical("tabbyd: {}", tabby::MessageOf(parsed.status()));
      return 1;
    }
    node_addresses = *parsed;
  }
  auto resolved = tabby::datastore::WithEtcdTlsFiles(tabby::datastore::ResolveUrl(datastore_flag),
                                                     etcd_ca, etcd_cert, etcd_key);
  if (!resolved.ok()) {
    spdlog::critical("tabbyd: {}", tabby::MessageOf(resolved.status()));
    return 1;
  }
  const std::string url = *resolved;
  // Only the default datastore is created here, on this host's first start; any other must be
  // created on purpose (tabbyctl datastore init), so that a mistyped URL is an error. A datastore
  // that cannot be opened (missing, emptied, corrupt, unreachable) leaves the dataplane as it is
  // and is retried with backoff, so the host converges when it is back.
  std::unique_ptr<tabby::datastore::Datastore> store;
  absl::Duration backoff = absl::Milliseconds(200);
  while (!stop.load()) {
    auto opened =
        tabby::datastore::Open(url, {.create = url == tabby::datastore::kDefaultDatastoreUrl});
    if (opened.ok()) {
      store = std::move(*opened);
      break;
    }
    if (opened.status().code() == absl::StatusCode::kInvalidArgument ||
        opened.status().code() == absl::StatusCode::kUnimplemented) {
      spdlog::critical("tabbyd: {}", tabby::MessageOf(opened.status()));
      return 1;
    }
    spdlog::error(
        "tabbyd: cannot open the datastore: {}; the dataplane stays as it is; retrying "
        "in {}",
        tabby::MessageOf(opened.status()), absl::FormatDuration(backoff));
    for (absl::Time until = absl::Now() + backoff; !stop.load() && absl::Now() < until;) {
      absl::SleepFor(absl::Milliseconds(50));
    }
    backoff = std::min(backoff * 2, absl::Seconds(30));
  }
  if (!store) return 0;  // stopped while waiting
  auto netlink = tabby::dataplane::Netlink::Open();
  if (!netlink.ok()) {
    spdlog::critical("tabbyd: {}", tabby::MessageOf(netlink.status()));
    return 1;
  }
  auto nft = tabby::dataplane::MakeLibNftablesClient();
  tabby::agent::AgentOptions options;
  options.node = *node;
  options.state_dir = state_dir;
  options.verify_interval = absl::Seconds(verify_seconds);
  options.ipam_gc_interval = absl::Seconds(ipam_gc_seconds);
  options.ipam_gc_grace = absl::Seconds(ipam_grace_seconds);
  options.adopt_datastore = adopt_datastore;
  options.datastore_url = url;
  options.node_addresses = node_addresses;
  options.bird = {.mode = *bird,
                  .config_path = bird_config.empty() ? state_dir + "/bird.conf" : bird_config,
                  .socket_path = bird_socket.empty() ? state_dir + "/bird.ctl" : bird_socket,
                  .pid_path = state_dir + "/bird.pid"};
  options.secrets_dir = secrets_dir;
  options.vxlan_mtu = vxlan_mtu;
  spdlog::info("tabbyd: node {} datastore {} state {}", options.node, url, state_dir);
  tabby::agent::Agent agent(options, *store, *nft, **netlink, tabby::SystemClock::Get());
  absl::Status status = agent.Run(stop);
  if (!status.ok()) {
    spdlog::critical("tabbyd: {}", tabby::MessageOf(status));
    return 1;
  }
  return 0;
}
