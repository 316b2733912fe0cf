// tabbyd: the host agent. One per host; programs this host's routes and firewall from the
// datastore and keeps them converged. Exits on SIGTERM/SIGINT, leaving the dataplane in place.
#include <signal.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <cstdlib>
#include <thread>

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
  std::string url = tabby::datastore::ResolveUrl(datastore_flag);
  auto store = tabby::datastore::Open(url);
  if (!store.ok()) {
    spdlog::critical("tabbyd: cannot open datastore {}: {}", url, tabby::MessageOf(store.status()));
    return 1;
  }
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
  spdlog::info("tabbyd: node {} datastore {} state {}", options.node, url, state_dir);
  tabby::agent::Agent agent(options, **store, *nft, **netlink, tabby::SystemClock::Get());
  absl::Status status = agent.Run(stop);
  if (!status.ok()) {
    spdlog::critical("tabbyd: {}", tabby::MessageOf(status));
    return 1;
  }
  return 0;
}
