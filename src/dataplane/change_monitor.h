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
// This process's own commits go unheard (BeginOwnCommit / EndOwnCommit, which OwnCommitsUnheard
// calls around each commit): while any socket listens on the nftables group, the kernel builds a
// notification for every rule and set element a commit adds or deletes, and the agent would
// read and discard them all. When a workload activates 500 policies (85,000 set elements) that
// was a quarter of the agent's CPU. So the monitor leaves the group for the commit and tells
// a commit by anyone else in that window from the ruleset's generation, which every commit
// advances by exactly one.
//
// It only says "look again"; the agent's Sync decides whether anything differs. Not thread-safe.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <set>
#include <vector>

#include "absl/status/statusor.h"
#include "base/unique_fd.h"
#include "dataplane/nft_client.h"

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

  // Around `commits` commits of this process (0 for one that failed). If the generation cannot
  // be read the monitor stays subscribed and the commit's notifications are read as before.
  void BeginOwnCommit();
  void EndOwnCommit(uint32_t commits);

 private:
  ChangeMonitor(UniqueFd nft, UniqueFd route, UniqueFd generation,
                std::set<uint32_t> own_route_ports, std::set<pid_t> own_nft_pids)
      : nft_(std::move(nft)),
        route_(std::move(route)),
        generation_(std::move(generation)),
        own_route_ports_(std::move(own_route_ports)),
        own_nft_pids_(std::move(own_nft_pids)) {}

  // The ruleset generation (NFT_MSG_GETGEN), asked on its own socket.
  absl::StatusOr<uint32_t> Generation();

  UniqueFd nft_;
  UniqueFd route_;
  UniqueFd generation_;  // not subscribed: requests and their replies only
  uint32_t generation_seq_ = 0;
  std::optional<uint32_t> generation_before_;  // set while this process commits unheard
  bool unheard_commits_ = false;               // someone else committed while we did
  std::set<uint32_t> own_route_ports_;
  std::set<pid_t> own_nft_pids_;
};

// The agent's NftClient: commits through `inner`, unheard by the monitor once it is set.
class OwnCommitsUnheard final : public NftClient {
 public:
  explicit OwnCommitsUnheard(NftClient& inner) : inner_(inner) {}
  void set_monitor(ChangeMonitor* monitor) { monitor_ = monitor; }

  absl::Status Commit(const NftTransaction& transaction) override {
    if (monitor_ == nullptr) return inner_.Commit(transaction);
    monitor_->BeginOwnCommit();
    absl::Status committed = inner_.Commit(transaction);
    monitor_->EndOwnCommit(committed.ok() ? 1 : 0);
    return committed;
  }
  absl::Status Run(const std::string& script) override { return inner_.Run(script); }
  absl::StatusOr<std::optional<std::string>> ListTableJson(const std::string& family,
                                                           const std::string& name) override {
    return inner_.ListTableJson(family, name);
  }

 private:
  NftClient& inner_;
  ChangeMonitor* monitor_ = nullptr;
};

}  // namespace tabby::dataplane
