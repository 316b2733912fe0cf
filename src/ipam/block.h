// The records of block-based IPAM, as stored in the datastore.
//
// An IP pool is carved into blocks (/26 for IPv4 and /122 for IPv6 by default). A host claims
// whole blocks (its "affinity") and allocates its workloads' addresses from them, so that it can
// announce one route per block instead of one per workload. Every allocation is recorded twice,
// in one transaction: in its block (ordinal -> handle) and in its handle (address -> block), so
// the two never disagree and a release needs no search.
//
// Keys:
//   /tabby/v1/ipam/blocks/<block id>                 a Block: its allocations and its host
//   /tabby/v1/ipam/affinities/<node>/<block id>      {"pool": ...}: the blocks a host owns
//   /tabby/v1/ipam/handles/<handle>                  a HandleRecord: what one interface holds
//   /tabby/v1/ipam/config                            IpamConfig: strictAffinity, maxBlocksPerHost
//   /tabby/v1/ipam/pools/<pool>                      touched by every claim of a block of the
//                                                    pool, so that a pool change can tell that
//                                                    none happened while it checked (pool_guard.h)
// A block id is its CIDR with '/' replaced by '-': "10.65.0.64-26", "fd00:65::-122".
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "base/ip.h"
#include "datastore/datastore.h"

namespace tabby::ipam {

inline constexpr char kBlockPrefix[] = "/tabby/v1/ipam/blocks/";
inline constexpr char kAffinityPrefix[] = "/tabby/v1/ipam/affinities/";
inline constexpr char kHandlePrefix[] = "/tabby/v1/ipam/handles/";
inline constexpr char kConfigKey[] = "/tabby/v1/ipam/config";
inline constexpr char kPoolClaimsPrefix[] = "/tabby/v1/ipam/pools/";

// The WorkloadEndpoint annotation naming the IPAM handle that holds its addresses; leak checks
// use it to tell a live workload's addresses from leaked ones.
inline constexpr char kHandleAnnotation[] = "tabby.dev/ipam-handle";

// Handle attributes the CNI plugin records (HandleRecord::attributes): the endpoint using the
// addresses, as "<namespace>/<name>", and its host interface.
inline constexpr char kHandleEndpointAttribute[] = "endpoint";
inline constexpr char kHandleInterfaceAttribute[] = "interface";

struct Allocation {
  std::string handle;
  std::map<std::string, std::string> attributes;  // node, namespace, workload, containerID, ...
  int64_t allocated_at_ms = 0;                    // wall clock, for leak checks' grace period
  friend bool operator==(const Allocation&, const Allocation&) = default;
};

struct Block {
  IpNetwork cidr;
  std::string pool;
  std::string affinity;                        // the node that owns it; empty once released
  std::map<uint64_t, Allocation> allocations;  // by ordinal (offset from the block's address)

  uint64_t size() const { return cidr.Size(); }
  bool full() const { return allocations.size() >= size(); }
  std::optional<uint64_t> FirstFree() const;
  IpAddress AddressAt(uint64_t ordinal) const { return cidr.address().Plus(ordinal); }
  uint64_t OrdinalOf(const IpAddress& address) const {
    return address.DistanceFrom(cidr.address());
  }
  friend bool operator==(const Block&, const Block&) = default;
};

struct HandleRecord {
  std::map<IpAddress, IpNetwork> addresses;  // address -> its block
  // What holds the addresses, as the allocating request said (AllocationRequest::
  // handle_attributes): the CNI plugin records the WorkloadEndpoint and host interface, so that a
  // DEL that knows only the container id and interface finds them.
  std::map<std::string, std::string> attributes;
  friend bool operator==(const HandleRecord&, const HandleRecord&) = default;
};

struct IpamConfig {
  // Allocate only from the host's own blocks: never borrow from another host's block.
  bool strict_affinity = false;
  // Blocks a host may claim per address family; 0 = unlimited.
  int max_blocks_per_host = 0;
  friend bool operator==(const IpamConfig&, const IpamConfig&) = default;
};

std::string BlockId(const IpNetwork& cidr);
absl::StatusOr<IpNetwork> ParseBlockId(std::string_view id);
std::string BlockKey(const IpNetwork& cidr);
std::string AffinityPrefix(const std::string& node);
std::string AffinityKey(const std::string& node, const IpNetwork& cidr);
// An affinity key taken apart (<kAffinityPrefix><node>/<block id>); nullopt if it is not one.
struct Affinity {
  std::string node;
  IpNetwork block;
};
std::optional<Affinity> ParseAffinityKey(std::string_view key);
std::string HandleKey(const std::string& handle);
std::string PoolClaimsKey(const std::string& pool);

std::string EncodeBlock(const Block& block);
absl::StatusOr<Block> DecodeBlock(std::string_view value);
std::string EncodeHandle(const HandleRecord& record);
absl::StatusOr<HandleRecord> DecodeHandle(std::string_view value);
std::string EncodeConfig(const IpamConfig& config);
absl::StatusOr<IpamConfig> DecodeConfig(std::string_view value);

// The stored configuration, or the defaults if none is stored.
absl::StatusOr<IpamConfig> ReadConfig(datastore::Datastore& store);

}  // namespace tabby::ipam
