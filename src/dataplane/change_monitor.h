// Tells the agent, within milliseconds, that someone else changed what it programs, so that
// tampering (`nft delete table inet tabby`, `ip route flush ...`) is repaired at once instead of
// at the next periodic verify. Two netlink multicast subscriptions in the current network
// namespace:
//   - nftables (NFNLGRP_NFTABLES): every committed transaction ends with a NEWGEN message naming
//     the process that committed it; a commit by anyone but this process counts;
//   - routes of the main table (RTNLGRP_IPV4_ROUTE, RTNLGRP_IPV6_ROUTE): a change requested by
//     anyone but this process's own netlink sockets counts (the kernel's own, port 0, too).
// An overrun receive buffer (ENOBUFS) counts as a change of both: events were lost.
//
// It only says "look again"; the agent's Sync decides whether anything differs. Not thread-safe.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <set>
#include <vector>

#include "absl/status/statusor.h"
#include "base/unique_fd.h"

namespace tabby::dataplane {

class ChangeMonitor {
 public:
  // `own_route_ports`: netlink port ids of this process's route sockets (Netlink::port_id()),
  // whose changes are its own. `own_nft_pids`: the process and the threads that commit nftables
  // transactions (the kernel names the committing thread).
  static absl::StatusOr<std::unique_ptr<ChangeMonitor>> Open(std::set<uint32_t> own_route_ports,
                                                             std::set<pid_t> own_nft_pids);

  // Readable when there may be changes to drain.
  std::vector<int> fds() const { return {nft_.get(), route_.get()}; }

  struct Changes {
    bool nftables = false;
    bool routes = false;
    std::set<pid_t> nft_writers;  // processes whose commits were seen (0: unknown)
  };
  // Reads everything pending, without blocking.
  Changes Drain();

 private:
  ChangeMonitor(UniqueFd nft, UniqueFd route, std::set<uint32_t> own_route_ports,
                std::set<pid_t> own_nft_pids)
      : nft_(std::move(nft)),
        route_(std::move(route)),
        own_route_ports_(std::move(own_route_ports)),
        own_nft_pids_(std::move(own_nft_pids)) {}

  UniqueFd nft_;
  UniqueFd route_;
  std::set<uint32_t> own_route_ports_;
  std::set<pid_t> own_nft_pids_;
};

}  // namespace tabby::dataplane
