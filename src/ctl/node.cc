// tabbyctl node delete: removing a host from the cluster for good, with what it leaves behind;
// tabbyctl node status: this host's BGP sessions.
#include <fmt/format.h>

#include <nlohmann/json.hpp>
#include <ostream>

#include "base/clock.h"
#include "base/status_macros.h"
#include "bgp/bird_status.h"
#include "ctl/commands.h"
#include "ctl/table.h"
#include "datastore/node_liveness.h"
#include "datastore/resource_store.h"
#include "ipam/maintenance.h"

namespace tabby::ctl {

int RunNodeDelete(const NodeDeleteOptions& options, const DatastoreOpener& open, Streams io) {
  auto opened = open();
  if (!opened.ok()) return PrintError(io.err, MessageOf(opened.status()));
  datastore::Datastore& store = **opened;
  datastore::ResourceStore resources(store);
  const std::string& name = options.name;

  auto node = resources.Get({model::Kind::kNode, "", name});
  if (!node.ok()) return PrintError(io.err, MessageOf(node.status()));
  auto live = datastore::ListLiveNodes(store);
  if (!live.ok()) return PrintError(io.err, MessageOf(live.status()));
  auto endpoints = resources.List(model::Kind::kWorkloadEndpoint);
  if (!endpoints.ok()) return PrintError(io.err, MessageOf(endpoints.status()));
  std::vector<model::Resource> mine;
  for (model::Resource& endpoint : *endpoints) {
    if (endpoint.workload_endpoint().node == name) mine.push_back(std::move(endpoint));
  }
  auto alive = live->find(name);
  if (!*node && mine.empty() && alive == live->end()) {
    return PrintError(io.err, fmt::format("node \"{}\" not found", name));
  }
  if (alive != live->end() && !options.force) {
    return PrintError(
        io.err,
        fmt::format("node \"{}\" is alive: its tabbyd (pid {}) has kept it so since {}. Stop "
                    "tabbyd on that host first (the node is gone {} s after), or pass --force",
                    name, alive->second.pid, alive->second.since,
                    absl::ToInt64Seconds(datastore::kNodeLivenessTtl)));
  }

  // Endpoints first (each gives back its address and interface claims), then the Node, then
  // what IPAM still holds for the node: its addresses, now unreferenced, and its blocks.
  int deleted_endpoints = 0;
  for (const model::Resource& endpoint : mine) {
    absl::Status deleted = resources.Delete(datastore::ResourceStore::IdOf(endpoint));
    if (!deleted.ok() && deleted.code() != absl::StatusCode::kNotFound) {
      return PrintError(io.err, MessageOf(deleted));
    }
    ++deleted_endpoints;
  }
  if (*node) {
    absl::Status deleted = resources.Delete({model::Kind::kNode, "", name});
    if (!deleted.ok() && deleted.code() != absl::StatusCode::kNotFound) {
      return PrintError(io.err, MessageOf(deleted));
    }
  }
  if (alive != live->end()) {
    auto deleted = store.Delete(datastore::kNodeLivenessPrefix + name);
    if (!deleted.ok() && deleted.status().code() != absl::StatusCode::kNotFound) {
      return PrintError(io.err, MessageOf(deleted.status()));
    }
  }
  auto report =
      ipam::CheckIpam(store, SystemClock::Get(), {.grace = absl::ZeroDuration(), .node = name});
  if (!report.ok()) return PrintError(io.err, MessageOf(report.status()));
  auto repaired = ipam::RepairIpam(store, *report);
  if (!repaired.ok()) return PrintError(io.err, MessageOf(repaired.status()));
  io.out << fmt::format(
      "Deleted node {}: {} workload endpoint(s), {} address(es) and {} block(s) released, {} "
      "block affinit{} dropped\n",
      name, deleted_endpoints, repaired->released_addresses, repaired->released_blocks,
      repaired->released_affinities, repaired->released_affinities == 1 ? "y" : "ies");
  return 0;
}

int RunNodeStatus(const NodeStatusOptions& options, Streams io) {
  if (options.output != "table" && options.output != "json") {
    return PrintError(
        io.err, fmt::format("invalid output format \"{}\": use table or json", options.output));
  }
  auto sessions = bgp::ReadBgpSessions(options.birdc, options.bird_socket);
  if (!sessions.ok()) {
    return PrintError(io.err, fmt::format("BIRD is not running here: {} (tabbyd runs it with "
                                          "--bird run; --bird-socket names another socket)",
                                          MessageOf(sessions.status())));
  }
  if (options.output == "json") {
    nlohmann::json out = nlohmann::json::array();
    for (const bgp::BgpSession& s : *sessions) {
      out.push_back({{"peerAddress", s.peer_address},
                     {"peerAS", s.peer_as},
                     {"localAS", s.local_as},
                     {"description", s.description},
                     {"protocol", s.protocol},
                     {"state", s.state},
                     {"since", s.since},
                     {"bgpState", s.bgp_state},
                     {"info", s.info},
                     {"lastError", s.last_error}});
    }
    io.out << out.dump(2) << "\n";
    return 0;
  }
  io.out << fmt::format("BIRD is running (socket {}).\n\n", options.bird_socket);
  if (sessions->empty()) {
    io.out << "No BGP sessions: no other node, BGPPeer or mesh gives this node one.\n";
    return 0;
  }
  Table table{.headers = {"PEER ADDRESS", "PEER AS", "PEER", "STATE", "SINCE", "INFO"}};
  for (const bgp::BgpSession& s : *sessions) {
    std::string info = s.bgp_state.empty() ? s.info : s.bgp_state;
    if (!s.last_error.empty()) info += " (" + s.last_error + ")";
    table.rows.push_back({s.peer_address, s.peer_as, s.description, s.state, s.since, info});
  }
  io.out << RenderTable(table);
  return 0;
}

}  // namespace tabby::ctl
