// IPPool: a range of addresses that IPAM hands out in blocks (see docs/ipam.md).
// Its defaults, validation and `tabbyctl get` columns are in ip_pool.cc.
#pragma once

#include <string>
#include <vector>

#include "model/describe.h"
#include "model/types.h"

namespace tabby::model {

struct IPPoolSpec {
  std::string cidr;
  int block_size = 0;      // 0 = default: 26 (IPv4), 122 (IPv6)
  std::string ipip_mode;   // Never (only value supported)
  std::string vxlan_mode;  // Never | Always | CrossSubnet
  bool nat_outgoing = false;
  bool disabled = false;
  bool disable_bgp_export = false;
  std::string node_selector;              // empty = all()
  std::vector<std::string> allowed_uses;  // Workload, Tunnel, LoadBalancer
  std::string assignment_mode;            // Automatic | Manual
  friend bool operator==(const IPPoolSpec&, const IPPoolSpec&) = default;
};

}  // namespace tabby::model

namespace tabby::model::internal {

template <typename V, Is<IPPoolSpec> T>
void Describe(V& v, T& s) {
  v.Field("cidr", s.cidr);
  v.Field("blockSize", s.block_size);
  v.Field("ipipMode", s.ipip_mode);
  v.Field("vxlanMode", s.vxlan_mode);
  v.Field("natOutgoing", s.nat_outgoing);
  v.Field("disabled", s.disabled);
  v.Field("disableBGPExport", s.disable_bgp_export);
  v.Field("nodeSelector", s.node_selector);
  v.Field("allowedUses", s.allowed_uses);
  v.Field("assignmentMode", s.assignment_mode);
}

}  // namespace tabby::model::internal
