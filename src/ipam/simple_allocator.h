// An allocator that records one datastore key per allocated address. Uniqueness comes from the
// datastore's create-if-absent: two concurrent allocations of the same address cannot both
// succeed, whichever process they run in. Finding a free address lists the pool's allocations,
// O(allocated); the block allocator replaces this for data-centre scale.
//
// Keys:
//   /tabby/v1/ipam/addresses/<address>   {"handle", "pool", "node", "attributes"}
//   /tabby/v1/ipam/handles/<handle>      {"addresses": [...]}
#pragma once

#include <string>

#include "datastore/datastore.h"
#include "ipam/allocator.h"

namespace tabby::ipam {

inline constexpr char kAddressPrefix[] = "/tabby/v1/ipam/addresses/";
inline constexpr char kHandlePrefix[] = "/tabby/v1/ipam/handles/";

class SimpleAllocator final : public Allocator {
 public:
  explicit SimpleAllocator(datastore::Datastore& store) : store_(store) {}

  absl::StatusOr<std::vector<IpAddress>> Allocate(const AllocationRequest& request) override;
  absl::Status ReleaseHandle(const std::string& handle) override;
  absl::Status ReleaseAddress(const IpAddress& address) override;
  absl::StatusOr<std::vector<IpAddress>> AddressesOf(const std::string& handle) override;

 private:
  struct Pool {
    std::string name;
    IpNetwork cidr;
  };
  absl::StatusOr<std::vector<Pool>> UsablePools(const AllocationRequest& request, bool v4);
  absl::StatusOr<IpAddress> AllocateFrom(const std::vector<Pool>& pools,
                                         const AllocationRequest& request);
  absl::Status RecordHandle(const std::string& handle, const std::vector<IpAddress>& addresses);

  datastore::Datastore& store_;
};

}  // namespace tabby::ipam
