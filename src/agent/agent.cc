#include "agent/agent.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <poll.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cstdio>
#include <nlohmann/json.hpp>
#include <set>
#include <tuple>

#include "base/files.h"
#include "base/status_macros.h"
#include "datastore/cluster_identity.h"
#include "datastore/resource_store.h"
#include "ipam/block.h"
#include "ipam/maintenance.h"

namespace tabby::agent {
namespace {

// A burst of changes by others (a script flushing routes one by one) settles this long before
// the agent looks, and the agent looks again at most this often per kind: repairs land well
// within a second, and a process that keeps writing cannot keep the agent busy.
constexpr absl::Duration kTamperSettle = absl::Milliseconds(50);
constexpr absl::Duration kTamperSpacing = absl::Milliseconds(200);
// How often the status follows writes the agent does not watch (other hosts' IPAM, index claims):
// those can come at the cluster's rate of new workloads, and nobody waits on them urgently.
constexpr absl::Duration kProgressStatusInterval = absl::Milliseconds(200);

// Blocks until any of `fds` (-1 entries are skipped) is readable, or `timeout`. A backend
// without readiness fds is polled every `timeout` (poll with no fds sleeps).
void WaitForAny(const std::vector<int>& fds, absl::Duration timeout) {
  std::vector<pollfd> polled;
  for (int fd : fds) {
    if (fd >= 0) polled.push_back(pollfd{fd, POLLIN, 0});
  }
  (void)poll(polled.data(), polled.size(), static_cast<int>(absl::ToInt64Milliseconds(timeout)));
}

}  // namespace

Agent::Agent(AgentOptions options, datastore::Datastore& store, dataplane::NftClient& nft,
             dataplane::Netlink& netlink, Clock& clock)
    : options_(std::move(options)),
      store_(store),
      netlink_(netlink),
      nft_client_(nft),
      nft_(nft_client_),
      routes_(netlink),
      block_routes_(netlink),
      overlay_(netlink),
      nat_(nft),
      clock_(clock),
      last_ipam_gc_(clock.Now()),
      liveness_(store, options_.node, clock),
      bird_(options_.bird) {}

void Agent::NoteBgpResource(model::Kind kind, const std::string& name,
                            const model::Resource* resource) {
  // Keeps `resource` (through `part`, what BGP needs of it) in `map`, or forgets it.
  auto keep = [&](auto& map, auto part) {
    if (resource != nullptr) {
      map[name] = part(*resource);
    } else {
      map.erase(name);
    }
  };
  bgp::BgpResources& bgp = bgp_resources_;
  switch (kind) {
    case model::Kind::kNode:
      keep(bgp.nodes, [](const model::Resource& r) { return r; });  // its labels too
      break;
    case model::Kind::kBGPConfiguration:
      keep(bgp.configurations, [](const model::Resource& r) { return r.bgp_configuration(); });
      break;
    case model::Kind::kBGPPeer:
      keep(bgp.peers, [](const model::Resource& r) { return r.bgp_peer(); });
      break;
    case model::Kind::kIPPool:
      keep(bgp.pools, [](const model::Resource& r) { return r.ip_pool(); });
      break;
    default:
      return;  // neither BGP nor the overlay depends on it
  }
  bgp_dirty_ = true;
  overlay_dirty_ = true;
}

absl::StatusOr<std::string> Agent::ReadSecret(const model::SecretKeyRef& ref) const {
  const std::string path = fmt::format("{}/{}/{}", options_.secrets_dir, ref.name, ref.key);
  ASSIGN_OR_RETURN(std::string secret,
                   Annotate(ReadFile(path), fmt::format("secret {}/{}", ref.name, ref.key)));
  while (!secret.empty() && (secret.back() == '\n' || secret.back() == '\r')) secret.pop_back();
  for (char ch : secret) {
    if (ch == '"' || ch == '\\' || static_cast<unsigned char>(ch) < 0x20) {
      return absl::InvalidArgumentError(fmt::format(
          "secret {}/{} ({}) holds a quote, backslash or control character, which BIRD cannot "
          "take in a password",
          ref.name, ref.key, path));
    }
  }
  if (secret.empty()) {
    return absl::InvalidArgumentError(
        fmt::format("secret {}/{} ({}) is empty", ref.name, ref.key, path));
  }
  return secret;
}

void Agent::UpdateBgp() {
  if (options_.bird.mode == bgp::BirdOptions::Mode::kOff) return;
  const absl::Time now = clock_.Now();
  if (now < bgp_retry_at_) return;
  absl::Status status = absl::OkStatus();
  if (bgp_dirty_) {
    bgp::BgpPlan plan =
        bgp::PlanBgp(options_.node, bgp_resources_, own_blocks_,
                     [this](const model::SecretKeyRef& ref) { return ReadSecret(ref); });
    if (plan.problems != bgp_problems_) {
      for (const std::string& problem : plan.problems) spdlog::warn("agent: BGP: {}", problem);
      bgp_problems_ = std::move(plan.problems);
    }
    status = bird_.Apply(bgp::RenderBirdConfig(plan.bird));
    if (status.ok()) bgp_dirty_ = false;
  } else {
    status = bird_.Tick();
  }
  if (!status.ok()) {
    spdlog::warn("agent: BGP: {}; retrying in 5 s", MessageOf(status));
    bgp_retry_at_ = now + absl::Seconds(5);
  }
}

void Agent::KeepNodeAlive() {
  absl::Status alive = liveness_.Tick();
  if (!alive.ok() && !liveness_failing_) {
    spdlog::warn("agent: cannot keep node {} marked alive: {}", options_.node, MessageOf(alive));
  }
  liveness_failing_ = !alive.ok();
}

absl::Status Agent::RegisterNode() {
  NodeAddresses addresses = options_.node_addresses.value_or(NodeAddresses{});
  if (!addresses.ipv4 || !addresses.ipv6) {
    // What --node-ip leaves out is detected.
    absl::StatusOr<NodeAddresses> detected = DetectNodeAddresses(netlink_);
    if (detected.ok()) {
      if (!addresses.ipv4) addresses.ipv4 = detected->ipv4;
      if (!addresses.ipv6) addresses.ipv6 = detected->ipv6;
    } else {
      spdlog::warn("agent: cannot detect this node's addresses: {}", MessageOf(detected.status()));
    }
  }
  return agent::RegisterNode(store_, options_.node, addresses);
}

absl::Status Agent::SyncBlockRoutes() {
  // Affinity keys are <prefix><node>/<block id>; they change when a host claims or gives back a
  // block, not per workload.
  ASSIGN_OR_RETURN(auto affinities, store_.ListKeys(ipam::kAffinityPrefix));
  std::map<IpNetwork, std::string> owners;
  std::set<IpNetwork> blocks;
  for (const auto& kv : affinities.items) {
    std::optional<ipam::Affinity> affinity = ipam::ParseAffinityKey(kv.key);
    if (!affinity) continue;
    owners[affinity->block] = affinity->node;
    if (affinity->node == options_.node) blocks.insert(affinity->block);
  }
  if (blocks != own_blocks_) {
    own_blocks_ = blocks;
    bgp_dirty_ = true;
  }
  if (owners != block_owners_) {
    block_owners_ = std::move(owners);
    overlay_dirty_ = true;
  }
  return block_routes_.Sync(blocks);
}

void Agent::UpdateRouting() {
  UpdateOverlay();
  UpdateNatOutgoing();
  UpdateBgp();
}

void Agent::UpdateNatOutgoing(bool force) {
  std::vector<dataplane::NatPool> pools;
  for (const auto& [name, pool] : bgp_resources_.pools) {
    if (auto cidr = IpNetwork::Parse(pool.cidr); cidr.ok()) {
      pools.push_back({*cidr, pool.nat_outgoing});
    }
  }
  absl::Status synced = nat_.Sync(pools, force);
  if (!synced.ok() && !nat_failing_) spdlog::warn("agent: {}; retrying", MessageOf(synced));
  nat_failing_ = !synced.ok();  // warn once per outage; the next loop retries
}

void Agent::UpdateOverlay() {
  if (!overlay_dirty_) return;
  dataplane::OverlayInput in{.node = options_.node, .vxlan_mtu = options_.vxlan_mtu};
  for (const auto& [name, node] : bgp_resources_.nodes) {
    const model::NodeSpec& spec = node.node();
    dataplane::OverlayHost& host = in.hosts[name];
    if (spec.bgp) {
      if (auto v4 = IpNetwork::Parse(spec.bgp->ipv4_address); v4.ok()) host.ipv4 = *v4;
      if (auto v6 = IpNetwork::Parse(spec.bgp->ipv6_address); v6.ok()) host.ipv6 = *v6;
    }
    host.vtep_mac4 = spec.vxlan_tunnel_mac_addr.empty() ? dataplane::VtepMac(name, false)
                                                        : spec.vxlan_tunnel_mac_addr;
    host.vtep_mac6 = spec.vxlan_tunnel_mac_addr_v6.empty() ? dataplane::VtepMac(name, true)
                                                           : spec.vxlan_tunnel_mac_addr_v6;
  }
  for (const auto& [name, pool] : bgp_resources_.pools) {
    if (auto cidr = IpNetwork::Parse(pool.cidr); cidr.ok()) {
      in.pools.push_back({*cidr, pool.vxlan_mode});
    }
  }
  in.blocks = block_owners_;
  // The underlay interface of each family: the one whose subnet holds this host's address.
  if (auto self = in.hosts.find(options_.node); self != in.hosts.end()) {
    absl::StatusOr<std::vector<dataplane::Route>> routes = netlink_.ListRoutes();
    for (const auto& [address, interface, mtu] :
         {std::tuple{self->second.ipv4, &in.underlay_interface4, &in.underlay_mtu4},
          std::tuple{self->second.ipv6, &in.underlay_interface6, &in.underlay_mtu6}}) {
      if (!address || !routes.ok()) continue;
      for (const dataplane::Route& route : *routes) {
        if (route.destination == address->Masked() && !route.interface_name.empty()) {
          *interface = route.interface_name;
          if (auto link = netlink_.GetLink(route.interface_name); link.ok()) *mtu = link->mtu;
          break;
        }
      }
    }
  }
  dataplane::OverlayPlan plan = dataplane::PlanOverlay(in);
  if (plan.problems != overlay_problems_) {
    for (const std::string& problem : plan.problems) spdlog::warn("agent: VXLAN: {}", problem);
    overlay_problems_ = plan.problems;
  }
  absl::Status synced = overlay_.Sync(plan);
  const std::string mtu_file = options_.state_dir + "/mtu";
  if (synced.ok() && plan.workload_mtu) {
    synced = WriteFileAtomically(mtu_file, fmt::format("{}\n", *plan.workload_mtu));
  } else if (synced.ok()) {
    std::remove(mtu_file.c_str());
  }
  if (!synced.ok()) {
    // Once per distinct error, not once per retry (the loop retries every few hundred ms).
    const std::string error(MessageOf(synced));
    if (error != overlay_error_) spdlog::warn("agent: VXLAN: {}; retrying", error);
    overlay_error_ = error;
    return;  // stays dirty: the next loop tries again
  }
  if (!overlay_error_.empty()) spdlog::info("agent: VXLAN: programmed after earlier errors");
  overlay_error_.clear();
  overlay_dirty_ = false;
}

void Agent::MaybeCollectIpamGarbage() {
  if (options_.ipam_gc_interval <= absl::ZeroDuration() ||
      clock_.Now() - last_ipam_gc_ < options_.ipam_gc_interval) {
    return;
  }
  last_ipam_gc_ = clock_.Now();
  auto report = ipam::CheckIpam(store_, clock_, {options_.ipam_gc_grace, options_.node});
  if (!report.ok()) {
    spdlog::warn("agent: IPAM check: {}", MessageOf(report.status()));
    return;
  }
  for (const auto& problem : report->endpoint_problems) {
    spdlog::warn("agent: IPAM: address {} of workload endpoint {}: {} (see tabbyctl ipam check)",
                 problem.address.ToString(), fmt::join(problem.endpoints, ", "), problem.reason);
  }
  if (!report->repairable()) return;
  auto summary = ipam::RepairIpam(store_, *report);
  if (!summary.ok()) {
    spdlog::warn("agent: IPAM repair: {}", MessageOf(summary.status()));
    return;
  }
  spdlog::info(
      "agent: IPAM: released {} leaked addresses and {} blocks, deleted {} handles ({} skipped)",
      summary->released_addresses, summary->released_blocks, summary->deleted_handles,
      summary->skipped);
}

void Agent::LoadProgrammed() {
  auto text = ReadFile(options_.state_dir + "/status.json");
  if (!text.ok()) return;  // first start on this host (or since a reboot emptied /run)
  nlohmann::json status = nlohmann::json::parse(*text, nullptr, false);
  if (status.is_discarded() || !status.is_object()) return;
  if (status.value("node", "") != options_.node) return;
  programmed_cluster_ = status.value("clusterGUID", "");
  programmed_revision_ = status.value("revision", datastore::Revision{0});
}

absl::Status Agent::CheckDatastoreIdentity(const std::string& cluster_guid,
                                           datastore::Revision revision) {
  if (options_.adopt_datastore) {
    if (!programmed_cluster_.empty() &&
        (programmed_cluster_ != cluster_guid || revision < programmed_revision_)) {
      spdlog::warn(
          "agent: adopting datastore {} (cluster {} at revision {}) over what this host was "
          "programmed from (cluster {} at revision {}), as --adopt-datastore asks",
          options_.datastore_url, cluster_guid, revision, programmed_cluster_,
          programmed_revision_);
    }
    return absl::OkStatus();
  }
  if (programmed_cluster_.empty()) return absl::OkStatus();
  if (programmed_cluster_ != cluster_guid) {
    return absl::FailedPreconditionError(fmt::format(
        "datastore {} holds cluster {}, but this host's dataplane was programmed from cluster {} "
        "(revision {}): refusing to reprogram it, the dataplane stays as it is. If the datastore "
        "was replaced on purpose, restart tabbyd once with --adopt-datastore",
        options_.datastore_url, cluster_guid, programmed_cluster_, programmed_revision_));
  }
  if (revision < programmed_revision_) {
    return absl::FailedPreconditionError(fmt::format(
        "datastore {} is at revision {}, behind revision {} that this host's dataplane was "
        "programmed from (restored from an older backup, or rolled back?): refusing to "
        "reprogram it, the dataplane stays as it is. If this is on purpose, restart tabbyd once "
        "with --adopt-datastore",
        options_.datastore_url, revision, programmed_revision_));
  }
  return absl::OkStatus();
}

void Agent::WriteStatus(bool in_sync, const std::string& error) {
  calc::Calculator::Stats stats = calc_ ? calc_->stats() : calc::Calculator::Stats{};
  nlohmann::json status = {
      {"node", options_.node},
      {"pid", getpid()},  // which agent wrote it: a restarted agent's status replaces the old one
      {"clusterGUID", programmed_cluster_},
      {"revision", programmed_revision_},
      {"inSync", in_sync},
      {"time", absl::FormatTime(absl::RFC3339_sec, clock_.Now(), absl::UTCTimeZone())},
      {"endpoints", stats.endpoints},
      {"localEndpoints", stats.local_endpoints},
      {"policies", stats.policies},
      {"profiles", stats.profiles},
      {"activePrograms", stats.active_programs},
      {"activeIpSets", stats.active_ip_sets},
      {"activePortSets", stats.active_port_sets},
      {"events", events_},
      {"applies", applies_},
      {"applyFailures", apply_failures_},
      {"resyncs", resyncs_},
      {"nftTransactions", nft_.stats().transactions},
      {"nftOperations", nft_.stats().operations},
      {"nftFailures", nft_.stats().failures},
      {"routesAdded", routes_.routes_added()},
      {"nftRepairs", nft_repairs_},
      {"routeRepairs", route_repairs_},
      {"blockRoutesAdded", block_routes_.routes_added()},
      {"blockRoutesRemoved", block_routes_.routes_removed()},
      {"lastError", error},
  };
  last_status_ = clock_.Now();
  absl::Status written = WriteFileAtomically(
      options_.state_dir + "/status.json",
      status.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n");
  if (!written.ok()) spdlog::warn("agent: cannot write status: {}", MessageOf(written));
}

absl::Status Agent::Verify(bool nftables, bool routes, std::string_view why) {
  const uint64_t repairs = nft_repairs_ + route_repairs_;
  if (nftables) {
    const uint64_t transactions = nft_.stats().transactions;
    RETURN_IF_ERROR(nft_.Sync(calc_->state()));
    if (nft_.stats().transactions > transactions) {
      ++nft_repairs_;
      spdlog::warn("agent: repaired the nftables table ({})", why);
    }
  }
  if (routes) {
    const uint64_t before = routes_.routes_added() + block_routes_.routes_added();
    absl::Status routed = routes_.Sync(calc_->state());
    if (!routed.ok()) spdlog::warn("agent: workload routes: {}", MessageOf(routed));
    absl::Status blocks = SyncBlockRoutes();
    if (!blocks.ok()) spdlog::warn("agent: block routes: {}", MessageOf(blocks));
    overlay_dirty_ = true;
    UpdateOverlay();
    const uint64_t restored = routes_.routes_added() + block_routes_.routes_added() - before;
    if (restored > 0) {
      ++route_repairs_;
      spdlog::warn("agent: restored {} routes ({})", restored, why);
    }
  }
  if (nft_repairs_ + route_repairs_ > repairs) WriteStatus(true, "");
  return absl::OkStatus();
}

absl::Status Agent::RepairTampering() {
  if (!monitor_) return absl::OkStatus();
  dataplane::ChangeMonitor::Changes changes = monitor_->Drain();
  const absl::Time now = clock_.Now();
  if (changes.nftables && !nft_changed_since_) nft_changed_since_ = now;
  if (changes.routes && !routes_changed_since_) routes_changed_since_ = now;
  nft_writers_.insert(changes.nft_writers.begin(), changes.nft_writers.end());
  if (now - last_tamper_check_ < kTamperSpacing) return absl::OkStatus();
  auto due = [&](const std::optional<absl::Time>& since) {
    return since && now - *since >= kTamperSettle;
  };
  const bool nftables = due(nft_changed_since_), routes = due(routes_changed_since_);
  if (!nftables && !routes) return absl::OkStatus();
  std::string why = "changed by another process";
  if (nftables) {
    std::vector<std::string> pids;
    for (pid_t pid : nft_writers_) pids.push_back(pid == 0 ? "unknown" : std::to_string(pid));
    why += fmt::format(": nftables written by pid {}", fmt::join(pids, ", "));
    nft_writers_.clear();
    nft_changed_since_.reset();
  }
  if (routes) routes_changed_since_.reset();
  last_tamper_check_ = now;
  return Verify(nftables, routes, why);
}

absl::StatusOr<datastore::Revision> Agent::Resync() {
  ++resyncs_;
  absl::Status registered = RegisterNode();
  if (!registered.ok()) spdlog::warn("agent: {}", MessageOf(registered));
  KeepNodeAlive();
  ASSIGN_OR_RETURN(
      datastore::ClusterIdentity identity,
      Annotate(datastore::ReadClusterIdentity(store_), "datastore " + options_.datastore_url));
  datastore::ResourceStore resources(store_);
  // Each resource goes into the calculator as it is read, so the listing (100,000 workloads at
  // scale) is never held whole; the previous calculator goes first, so two are never held.
  calc_ = std::make_unique<calc::Calculator>(options_.node);
  bgp_resources_ = {};
  absl::StatusOr<datastore::Revision> listed = resources.ForEach([&](model::Resource&& resource) {
    NoteBgpResource(resource.kind, resource.metadata.name, &resource);
    calc_->Upsert(resource);
    return absl::OkStatus();
  });
  // Before anything is programmed: an emptied, replaced or rolled-back datastore must not
  // remove every workload's rules.
  absl::Status usable = listed.status();
  if (usable.ok()) usable = CheckDatastoreIdentity(identity.cluster_guid, *listed);
  if (!usable.ok()) {
    calc_.reset();  // what it read is not what the dataplane holds: report none of it
    return usable;
  }
  const datastore::Revision revision = *listed;
  calc_->Flush();
  absl::Status programmed = nft_.Sync(calc_->state());
  if (!programmed.ok()) {
    ++apply_failures_;
    return Annotate(programmed, "cannot program nftables");
  }
  absl::Status routed = routes_.Sync(calc_->state());
  if (!routed.ok()) spdlog::warn("agent: workload routes: {}", MessageOf(routed));
  absl::Status blocks = SyncBlockRoutes();
  if (!blocks.ok()) spdlog::warn("agent: block routes: {}", MessageOf(blocks));
  overlay_dirty_ = true;
  UpdateOverlay();
  UpdateNatOutgoing(/*force=*/true);
  bgp_retry_at_ = absl::InfinitePast();
  UpdateBgp();
  last_verify_ = clock_.Now();
  ++applies_;
  spdlog::info("agent: in sync at revision {}: {} local endpoints, {} active programs, {} sets",
               revision, calc_->stats().local_endpoints, calc_->stats().active_programs,
               calc_->stats().active_ip_sets + calc_->stats().active_port_sets);
  programmed_cluster_ = identity.cluster_guid;
  programmed_revision_ = revision;
  WriteStatus(true, "");
  return revision;
}

absl::Status Agent::FollowWatch(datastore::Revision from, const std::atomic<bool>& stop) {
  ASSIGN_OR_RETURN(auto watch, store_.WatchPrefix(datastore::kResourcePrefix, from));
  // Which host owns which block (this host's for its blackhole routes and BGP, everyone's for
  // the overlay's routes) changes when a host claims a block or gives one back: a second, narrow
  // watch on the affinities, so the agent never reads the per-allocation IPAM traffic.
  ASSIGN_OR_RETURN(auto block_watch, store_.WatchPrefix(ipam::kAffinityPrefix, from));
  datastore::Revision applied = from;
  std::vector<int> fds = {watch->ReadinessFd(), block_watch->ReadinessFd()};
  if (monitor_) {
    for (int fd : monitor_->fds()) fds.push_back(fd);
  }
  while (!stop.load()) {
    // While a change by another process waits to settle, look again soon.
    const bool tamper_pending = nft_changed_since_ || routes_changed_since_;
    WaitForAny(fds, tamper_pending ? kTamperSettle : absl::Milliseconds(200));
    RETURN_IF_ERROR(RepairTampering());
    KeepNodeAlive();
    ASSIGN_OR_RETURN(auto block_events, block_watch->Next(absl::ZeroDuration()));
    if (!block_events.empty()) {
      absl::Status blocks = SyncBlockRoutes();
      if (!blocks.ok()) spdlog::warn("agent: block routes: {}", MessageOf(blocks));
    }
    ASSIGN_OR_RETURN(auto events, watch->Next(absl::ZeroDuration()));
    // Both streams are complete up to here; later writes elsewhere (other hosts' IPAM, index
    // claims) need nothing from this agent, so it is current up to here too.
    const datastore::Revision progress = std::min(watch->Progress(), block_watch->Progress());
    if (events.empty()) {
      UpdateRouting();  // block changes, retries, BIRD's health
      if (progress > programmed_revision_ &&
          clock_.Now() - last_status_ >= kProgressStatusInterval) {
        programmed_revision_ = progress;
        WriteStatus(true, "");
      }
      MaybeCollectIpamGarbage();
      if (clock_.Now() - last_verify_ >= options_.verify_interval) {
        // The safety net for changes the monitor cannot see; no writes if nothing drifted.
        RETURN_IF_ERROR(Verify(true, true, "periodic verify"));
        last_verify_ = clock_.Now();
      }
      continue;
    }
    // Hot path, once per batch of events: O(work the events touch) in calc, one nftables
    // transaction, one status write.
    for (const auto& event : events) {
      ++events_;
      applied = std::max(applied, event.kv.mod_revision);
      auto decoded = datastore::ResourceStore::DecodeEvent(event);
      if (!decoded.ok()) {
        spdlog::error("agent: ignoring {} and treating it as deleted: {}", event.kv.key,
                      MessageOf(decoded.status()));
        if (auto id = datastore::ResourceStore::ParseKey(event.kv.key)) {
          calc_->Remove(id->kind, id->namespace_name, id->name);
        }
        continue;
      }
      if (decoded->resource) {
        calc_->Upsert(*decoded->resource);
      } else {
        calc_->Remove(decoded->id.kind, decoded->id.namespace_name, decoded->id.name);
      }
      NoteBgpResource(decoded->id.kind, decoded->id.name,
                      decoded->resource ? &*decoded->resource : nullptr);
    }
    // Only the local endpoints are needed to move routes: copying the whole state (sets of
    // thousands of peers) per batch would make every event cost O(cluster).
    std::map<std::string, calc::EndpointProgram> before = calc_->state().endpoints;
    calc::Delta delta = calc_->Flush();
    if (!delta.empty()) {
      absl::Status programmed = nft_.Apply(delta, calc_->state());
      if (!programmed.ok()) {
        ++apply_failures_;
        WriteStatus(false, std::string(MessageOf(programmed)));
        return Annotate(programmed, "cannot program nftables");
      }
      absl::Status routed = routes_.Apply(delta, before);
      if (!routed.ok()) spdlog::warn("agent: workload routes: {}", MessageOf(routed));
      ++applies_;
    }
    // Before the status says this revision is programmed: pools, nodes and peers it changed.
    UpdateRouting();
    programmed_revision_ = std::max(applied, progress);
    WriteStatus(true, "");
  }
  return absl::OkStatus();
}

absl::Status Agent::Run(const std::atomic<bool>& stop) {
  RETURN_IF_ERROR(MakeDirectories(options_.state_dir));
  // One agent per node: two would interleave their transactions (duplicated rules) and fight
  // over routes. The state directory is the node's, so its lock says who runs.
  auto lock = LockPidFile(options_.state_dir + "/tabbyd.lock");
  if (!lock.ok()) {
    return absl::FailedPreconditionError(
        fmt::format("another tabbyd is running for this node: {}; stop it first (an agent for "
                    "another node on this machine needs its own --state-dir)",
                    MessageOf(lock.status())));
  }
  LoadProgrammed();
  // Tampering is repaired as it happens; without the monitor (no CAP_NET_ADMIN for the
  // notification groups), only by the periodic verify.
  auto monitor = dataplane::ChangeMonitor::Open({netlink_.port_id()},
                                                {getpid(), static_cast<pid_t>(gettid())});
  if (monitor.ok()) {
    monitor_ = std::move(*monitor);
    nft_client_.set_monitor(monitor_.get());
  } else {
    spdlog::warn(
        "agent: cannot watch for changes by other processes ({}); they are repaired "
        "only every --verify-interval",
        MessageOf(monitor.status()));
  }
  absl::Duration backoff = options_.retry_interval;
  while (!stop.load()) {
    auto revision = Resync();
    absl::Status status = revision.status();
    if (revision.ok()) {
      backoff = options_.retry_interval;
      status = FollowWatch(*revision, stop);
      if (status.ok()) break;  // stopped
    }
    // Whatever failed, the kernel keeps what was programmed last; try again from a full list.
    // A datastore the agent refuses to program from (another cluster, gone back in time, never
    // initialized) needs a person: say so at error level every time.
    spdlog::log(status.code() == absl::StatusCode::kFailedPrecondition ? spdlog::level::err
                                                                       : spdlog::level::warn,
                "agent: {}; resyncing in {}", MessageOf(status), absl::FormatDuration(backoff));
    WriteStatus(false, std::string(MessageOf(status)));
    absl::Time until = clock_.Now() + backoff;
    while (!stop.load() && clock_.Now() < until) clock_.SleepFor(absl::Milliseconds(50));
    backoff = std::min(backoff * 2, absl::Seconds(30));
  }
  return absl::OkStatus();
}

}  // namespace tabby::agent
