// Small IPAM helpers for tests of any component that allocates (ipam, cni, ctl).
#pragma once

#include <gtest/gtest.h>

#include <map>
#include <string>

#include "datastore/datastore.h"
#include "ipam/allocator.h"
#include "ipam/block.h"
#include "ipam/maintenance.h"
#include "model/resources.h"

namespace tabby::ipam::testing {

// An IPPool resource as a user would write it.
inline model::Resource PoolResource(const std::string& name, const std::string& cidr,
                                    int block_size = 0, bool disabled = false,
                                    const std::string& node_selector = "") {
  model::Resource pool = model::MakeResource(model::Kind::kIPPool, name);
  pool.ip_pool().cidr = cidr;
  pool.ip_pool().block_size = block_size;
  pool.ip_pool().disabled = disabled;
  pool.ip_pool().node_selector = node_selector;
  return pool;
}

// One address of the default families for `handle` on `node` (and an IPv6 one with `v6`).
inline AllocationRequest Request(const std::string& handle, const std::string& node,
                                 bool v6 = false) {
  AllocationRequest request;
  request.handle = handle;
  request.node = node;
  request.attributes = {{"namespace", "default"}, {"workload", handle}};
  request.ipv6 = v6;
  return request;
}

// Every stored block by its CIDR; a test failure if they cannot be read.
inline std::map<IpNetwork, Block> ReadBlocks(datastore::Datastore& store) {
  std::map<IpNetwork, Block> out;
  auto blocks = ListBlocks(store);
  EXPECT_TRUE(blocks.ok()) << blocks.status();
  if (!blocks.ok()) return out;
  for (auto& stored : *blocks) out.emplace(stored.block.cidr, std::move(stored.block));
  return out;
}

// Addresses allocated in all blocks.
inline size_t CountAllocations(datastore::Datastore& store) {
  size_t count = 0;
  for (const auto& [cidr, block] : ReadBlocks(store)) count += block.allocations.size();
  return count;
}

}  // namespace tabby::ipam::testing
