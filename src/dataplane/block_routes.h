// Keeps a blackhole route (type blackhole, proto 197) for each address block this host owns.
// Workload addresses have more specific /32 (/128) routes via their veths, so the block route only
// catches addresses of the block that no local workload holds: they are dropped here instead of
// following the default route back into the fabric (a loop). It is also the one route per block
// that the host announces (BGP, later), which is what keeps a spine's table small.
//
// Only blackhole routes with tabby's protocol (kRouteProtocol) are touched.
#pragma once

#include <cstdint>
#include <set>

#include "absl/status/status.h"
#include "base/ip.h"
#include "dataplane/netlink.h"

namespace tabby::dataplane {

class BlockRoutes {
 public:
  explicit BlockRoutes(Netlink& netlink) : netlink_(netlink) {}

  // Makes the host's blackhole routes exactly `blocks`. Cost: one route dump plus one netlink
  // request per difference.
  absl::Status Sync(const std::set<IpNetwork>& blocks);

  uint64_t routes_added() const { return added_; }
  uint64_t routes_removed() const { return removed_; }

 private:
  Netlink& netlink_;
  uint64_t added_ = 0;
  uint64_t removed_ = 0;
};

}  // namespace tabby::dataplane
