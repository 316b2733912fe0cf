// natOutgoing (per IP pool): traffic from a pool with `natOutgoing: true` to a destination
// outside every pool leaves the host masqueraded as the host's own address; traffic between
// workloads (any pool to any pool) keeps its source. Calico's rule (shared/reference/calico.md
// §6.6), in a table of its own, `inet tabby-nat`, separate from the firewall's:
//
//   set pools4 / pools6  every pool's CIDR          (interval sets)
//   set masq4 / masq6    the natOutgoing pools' CIDRs
//   chain postrouting    type nat hook postrouting priority srcnat
//     ip saddr @masq4 ip daddr != @pools4 masquerade
//     ip6 saddr @masq6 ip6 daddr != @pools6 masquerade
//
// Pools change rarely, so the table is rewritten whole (one atomic transaction) when they do,
// and deleted when no pool asks for NAT.
#pragma once

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "base/ip.h"
#include "dataplane/nft_client.h"

namespace tabby::dataplane {

inline constexpr char kNatTableName[] = "tabby-nat";

struct NatPool {
  IpNetwork cidr;
  bool nat_outgoing = false;
  friend bool operator==(const NatPool&, const NatPool&) = default;
};

// The nft script that makes the table exactly what `pools` call for (deleting it when none has
// natOutgoing). Pure, for tests.
std::string RenderNatOutgoing(const std::vector<NatPool>& pools);

class NatOutgoing {
 public:
  explicit NatOutgoing(NftClient& nft) : nft_(nft) {}
  // Rewrites the table when `pools` differ from what was applied last (or `force`).
  absl::Status Sync(const std::vector<NatPool>& pools, bool force = false);

 private:
  NftClient& nft_;
  std::optional<std::vector<NatPool>> applied_;
};

}  // namespace tabby::dataplane
