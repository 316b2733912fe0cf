// Workload address allocation. The CNI plugin talks to this interface only, so the allocator
// behind it can change (block_allocator.h: blocks with host affinity) without touching the plugin.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "base/ip.h"

namespace tabby::ipam {

struct AllocationRequest {
  // Identifies what holds the addresses: one handle per workload interface. Allocating again
  // with the same handle returns the same addresses (a retried CNI ADD gets what it had).
  std::string handle;
  std::string node;
  std::map<std::string, std::string> attributes;  // namespace, workload, container id, ...
  // Recorded on the handle only (not on every allocation in its block): what owns the
  // addresses, e.g. the CNI plugin's WorkloadEndpoint and host interface.
  std::map<std::string, std::string> handle_attributes;
  bool ipv4 = true;
  bool ipv6 = false;
  // Pools to draw from, by name; empty = every enabled pool of the family usable on the node.
  std::vector<std::string> ipv4_pools;
  std::vector<std::string> ipv6_pools;
};

// What one handle holds.
struct HeldAddresses {
  std::vector<IpAddress> addresses;               // empty: the handle holds nothing
  std::map<std::string, std::string> attributes;  // AllocationRequest::handle_attributes
};

class Allocator {
 public:
  virtual ~Allocator() = default;
  // One address per requested family, all or nothing. kResourceExhausted (naming the pools) when
  // no address is free; kNotFound when no pool is usable.
  virtual absl::StatusOr<std::vector<IpAddress>> Allocate(const AllocationRequest& request) = 0;
  // Releases everything `handle` holds. Idempotent: releasing an unknown handle is OK.
  virtual absl::Status ReleaseHandle(const std::string& handle) = 0;
  // Releases one address. Idempotent.
  virtual absl::Status ReleaseAddress(const IpAddress& address) = 0;
  // What `handle` holds (empty if nothing).
  virtual absl::StatusOr<HeldAddresses> Lookup(const std::string& handle) = 0;
  absl::StatusOr<std::vector<IpAddress>> AddressesOf(const std::string& handle) {
    auto held = Lookup(handle);
    if (!held.ok()) return held.status();
    return std::move(held->addresses);
  }
};

}  // namespace tabby::ipam
