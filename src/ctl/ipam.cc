// tabbyctl ipam show | check | release | configure.
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <map>
#include <ostream>

#include "base/clock.h"
#include "base/status_macros.h"
#include "ctl/commands.h"
#include "ctl/table.h"
#include "datastore/resource_store.h"
#include "ipam/block_allocator.h"
#include "ipam/maintenance.h"

namespace tabby::ctl {
namespace {

std::string Percent(uint64_t part, uint64_t whole) {
  return whole == 0 ? "0%" : fmt::format("{:.1f}%", 100.0 * static_cast<double>(part) / whole);
}

std::string Attributes(const std::map<std::string, std::string>& attributes) {
  std::vector<std::string> parts;
  for (const auto& [k, v] : attributes) parts.push_back(fmt::format("{}={}", k, v));
  return fmt::format("{}", fmt::join(parts, ","));
}

int ShowAddress(datastore::Datastore& store, const std::string& text, Streams io) {
  auto address = IpAddress::Parse(text);
  if (!address.ok())
    return PrintError(io.err, fmt::format("--ip: {}", MessageOf(address.status())));
  auto blocks = ipam::ListBlocks(store);
  if (!blocks.ok()) return PrintError(io.err, MessageOf(blocks.status()));
  for (const auto& [block, revision] : *blocks) {
    if (!block.cidr.Contains(*address)) continue;
    auto it = block.allocations.find(block.OrdinalOf(*address));
    if (it == block.allocations.end()) {
      io.out << fmt::format("IP {} is not assigned (block {}, host {})\n", text,
                            block.cidr.ToString(),
                            block.affinity.empty() ? "<none>" : block.affinity);
      return 0;
    }
    const ipam::Allocation& a = it->second;
    io.out << fmt::format(
        "IP {} is in use\n  handle: {}\n  attributes: {}\n  block: {} (host {})\n", text, a.handle,
        Attributes(a.attributes), block.cidr.ToString(),
        block.affinity.empty() ? "<none>" : block.affinity);
    datastore::ResourceStore resources(store);
    auto endpoints = resources.List(model::Kind::kWorkloadEndpoint);
    if (endpoints.ok()) {
      for (const auto& e : *endpoints) {
        auto handle = e.metadata.annotations.find(ipam::kHandleAnnotation);
        if (handle != e.metadata.annotations.end() && handle->second == a.handle) {
          io.out << fmt::format("  workload endpoint: {}/{}\n", e.metadata.namespace_name,
                                e.metadata.name);
        }
      }
    }
    return 0;
  }
  io.out << fmt::format("IP {} is not in any IPAM block\n", text);
  return 0;
}

}  // namespace

int RunIpamShow(const IpamShowOptions& options, const DatastoreOpener& open, Streams io) {
  auto store = open();
  if (!store.ok()) return PrintError(io.err, MessageOf(store.status()));
  if (!options.ip.empty()) return ShowAddress(**store, options.ip, io);

  datastore::ResourceStore resources(**store);
  auto pools = resources.List(model::Kind::kIPPool);
  auto blocks = ipam::ListBlocks(**store);
  auto config = ipam::ReadConfig(**store);
  if (!pools.ok()) return PrintError(io.err, MessageOf(pools.status()));
  if (!blocks.ok()) return PrintError(io.err, MessageOf(blocks.status()));
  if (!config.ok()) return PrintError(io.err, MessageOf(config.status()));

  Table table{{"GROUPING", "CIDR", "IPS TOTAL", "IPS IN USE", "IPS FREE", "BLOCKS"}, {}};
  for (const auto& pool : *pools) {
    auto cidr = IpNetwork::Parse(pool.ip_pool().cidr, true);
    if (!cidr.ok()) continue;
    uint64_t used = 0, claimed = 0;
    for (const auto& [block, revision] : *blocks) {
      if (!cidr->Contains(block.cidr)) continue;
      ++claimed;
      used += block.allocations.size();
    }
    uint64_t total = cidr->Size();
    table.rows.push_back({fmt::format("IP Pool {}{}", pool.metadata.name,
                                      pool.ip_pool().disabled ? " (disabled)" : ""),
                          cidr->ToString(), std::to_string(total),
                          fmt::format("{} ({})", used, Percent(used, total)),
                          fmt::format("{} ({})", total - used, Percent(total - used, total)),
                          std::to_string(claimed)});
    if (!options.show_blocks) continue;
    for (const auto& [block, revision] : *blocks) {
      if (!cidr->Contains(block.cidr)) continue;
      uint64_t in_use = block.allocations.size();
      table.rows.push_back(
          {fmt::format("  Block (host {})", block.affinity.empty() ? "<none>" : block.affinity),
           block.cidr.ToString(), std::to_string(block.size()),
           fmt::format("{} ({})", in_use, Percent(in_use, block.size())),
           fmt::format("{} ({})", block.size() - in_use,
                       Percent(block.size() - in_use, block.size())),
           ""});
    }
  }
  io.out << RenderTable(table);
  io.out << fmt::format("IPAM configuration: strictAffinity={} maxBlocksPerHost={}\n",
                        config->strict_affinity ? "true" : "false",
                        config->max_blocks_per_host == 0
                            ? std::string("unlimited")
                            : std::to_string(config->max_blocks_per_host));
  return 0;
}

namespace {

void PrintReport(const ipam::IpamCheckReport& report, absl::Duration grace, std::ostream& out) {
  out << fmt::format(
      "Checked {} allocations ({} unreferenced but younger than the {} grace period)\n",
      report.allocations, report.in_grace, absl::FormatDuration(grace));
  for (const auto& leak : report.leaked) {
    out << fmt::format(
        "leaked address {} (block {}, handle {}, {}): no workload endpoint names it\n",
        leak.address.ToString(), leak.block.ToString(), leak.allocation.handle,
        Attributes(leak.allocation.attributes));
  }
  for (const auto& handle : report.orphan_handles) {
    out << fmt::format("orphan handle {}: holds no address\n", handle.handle);
  }
  for (const auto& block : report.orphan_blocks) {
    out << fmt::format("orphan block {} ({} addresses in use): {}\n", block.cidr.ToString(),
                       block.allocated, block.reason);
  }
  for (const auto& block : report.surplus_blocks) {
    out << fmt::format("surplus block {}: {}\n", block.cidr.ToString(), block.reason);
  }
  for (const auto& affinity : report.dangling_affinities) {
    out << fmt::format("dangling affinity of node {} for block {}: the block is not its\n",
                       affinity.node, affinity.cidr.ToString());
  }
  for (const auto& problem : report.endpoint_problems) {
    out << fmt::format("address {} of workload endpoint {}: {}\n", problem.address.ToString(),
                       fmt::join(problem.endpoints, ", "), problem.reason);
  }
  if (report.live_unrecorded > 0) {
    out << fmt::format(
        "warning: {} live addresses are missing from their handle records (kept as they are)\n",
        report.live_unrecorded);
  }
  out << (report.clean()
              ? "No problems found.\n"
              : fmt::format("Found {} leaked addresses, {} orphan handles, {} orphan "
                            "blocks, {} surplus blocks, {} dangling affinities, {} "
                            "endpoint address problems.\n",
                            report.leaked.size(), report.orphan_handles.size(),
                            report.orphan_blocks.size(), report.surplus_blocks.size(),
                            report.dangling_affinities.size(), report.endpoint_problems.size()));
}

}  // namespace

int RunIpamCheck(const IpamRepairOptions& options, const DatastoreOpener& open, Streams io) {
  auto store = open();
  if (!store.ok()) return PrintError(io.err, MessageOf(store.status()));
  if (options.repair && !options.ip.empty()) {
    // One address, by hand (e.g. one that `ipam check` cannot judge): no check first.
    auto address = IpAddress::Parse(options.ip);
    if (!address.ok()) {
      return PrintError(io.err, fmt::format("--ip: {}", MessageOf(address.status())));
    }
    // An address a workload endpoint holds is live: releasing it would hand the endpoint's
    // identity to the next workload given the address.
    datastore::ResourceStore resources(**store);
    auto endpoints = resources.List(model::Kind::kWorkloadEndpoint);
    if (!endpoints.ok()) return PrintError(io.err, MessageOf(endpoints.status()));
    std::vector<std::string> holders;
    for (const auto& endpoint : *endpoints) {
      for (const auto& text : endpoint.workload_endpoint().ip_networks) {
        auto network = IpNetwork::Parse(text);
        if (network.ok() && network->address() == *address) {
          holders.push_back(
              fmt::format("{}/{}", endpoint.metadata.namespace_name, endpoint.metadata.name));
        }
      }
    }
    if (!holders.empty() && !options.force) {
      return PrintError(io.err,
                        fmt::format("{} is in use by workload endpoint {}: releasing it would give "
                                    "that workload's identity to the next one given the address; "
                                    "delete the endpoint first, or pass --force",
                                    options.ip, fmt::join(holders, ", ")));
    }
    if (options.dry_run) {
      io.out << fmt::format("Dry run: would release {}\n", options.ip);
      return 0;
    }
    ipam::BlockAllocator allocator(**store, SystemClock::Get());
    absl::Status released = allocator.ReleaseAddress(*address);
    if (!released.ok()) return PrintError(io.err, MessageOf(released));
    io.out << fmt::format("Released {}\n", options.ip);
    return 0;
  }
  auto report = ipam::CheckIpam(**store, SystemClock::Get(), {options.grace, options.node});
  if (!report.ok()) return PrintError(io.err, MessageOf(report.status()));
  PrintReport(*report, options.grace, io.out);
  // Exit status: 0 when nothing is wrong (check) or everything found was repaired (release); 1
  // when problems remain, so scripts and monitoring can act on it.
  const int remaining = report->endpoint_problems.empty() ? 0 : 1;
  if (!options.repair) return report->clean() ? 0 : 1;
  if (options.dry_run) {
    io.out << "Dry run: nothing was changed.\n";
    return remaining;
  }
  if (!report->repairable()) return remaining;
  auto summary = ipam::RepairIpam(**store, *report);
  if (!summary.ok()) return PrintError(io.err, MessageOf(summary.status()));
  io.out << fmt::format(
      "Released {} addresses, {} blocks and {} affinities; deleted {} handles; skipped {} that "
      "changed since the check.\n",
      summary->released_addresses, summary->released_blocks, summary->released_affinities,
      summary->deleted_handles, summary->skipped);
  if (remaining != 0) {
    io.out << "Endpoint address problems are not repaired: delete the stale endpoint.\n";
  }
  return remaining;
}

int RunIpamConfigure(const IpamConfigureOptions& options, const DatastoreOpener& open, Streams io) {
  auto store = open();
  if (!store.ok()) return PrintError(io.err, MessageOf(store.status()));
  if (options.max_blocks_per_host && *options.max_blocks_per_host < 0) {
    return PrintError(io.err, "--max-blocks-per-host must be 0 (unlimited) or more");
  }
  for (int attempt = 0; attempt < 10; ++attempt) {
    auto kv = (*store)->Get(ipam::kConfigKey);
    if (!kv.ok()) return PrintError(io.err, MessageOf(kv.status()));
    ipam::IpamConfig config;
    if (*kv) {
      auto decoded = ipam::DecodeConfig((*kv)->value);
      if (!decoded.ok()) return PrintError(io.err, MessageOf(decoded.status()));
      config = *decoded;
    }
    if (options.strict_affinity) config.strict_affinity = *options.strict_affinity;
    if (options.max_blocks_per_host) config.max_blocks_per_host = *options.max_blocks_per_host;
    auto written =
        (*store)->Txn({{ipam::kConfigKey, *kv ? (*kv)->mod_revision : 0}},
                      {datastore::TxnOp::Put(ipam::kConfigKey, ipam::EncodeConfig(config))});
    if (written.ok()) {
      io.out << fmt::format("IPAM configuration: strictAffinity={} maxBlocksPerHost={}\n",
                            config.strict_affinity ? "true" : "false", config.max_blocks_per_host);
      return 0;
    }
    if (written.status().code() != absl::StatusCode::kAborted) {
      return PrintError(io.err, MessageOf(written.status()));
    }
  }
  return PrintError(io.err, "the IPAM configuration kept changing; try again");
}

}  // namespace tabby::ctl
