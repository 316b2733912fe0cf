#include "model/kinds/ip_pool.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <set>

#include "base/ip.h"
#include "base/status_macros.h"
#include "model/check.h"
#include "model/kind_registry.h"
#include "model/table_cells.h"
#include "model/yaml_json.h"

namespace tabby::model {
namespace {

using internal::Checker;
using internal::PathIndex;
using internal::Quote;
using internal::SelectorUse;

void DefaultIPPool(Resource& r) {
  IPPoolSpec& s = r.ip_pool();
  internal::CanonicalizeCidr(s.cidr, /*strict=*/true);
  if (s.block_size == 0) {
    if (auto cidr = IpNetwork::Parse(s.cidr); cidr.ok()) s.block_size = cidr->is_v4() ? 26 : 122;
  }
  if (s.ipip_mode.empty()) s.ipip_mode = "Never";
  if (s.vxlan_mode.empty()) s.vxlan_mode = "Never";
  if (s.node_selector.empty()) s.node_selector = "all()";
  if (s.allowed_uses.empty()) s.allowed_uses = {"Workload", "Tunnel"};
  if (s.assignment_mode.empty()) s.assignment_mode = "Automatic";
}

bool CheckIPPool(Checker& c, const Resource& r) {
  const IPPoolSpec& s = r.ip_pool();
  if (s.cidr.empty()) return c.Fail("spec.cidr", "required field is missing");
  std::optional<IpNetwork> loose = CheckCidr(c, "spec.cidr", s.cidr, /*strict=*/false);
  if (!loose) return false;
  absl::StatusOr<IpNetwork> strict = IpNetwork::Parse(s.cidr, /*strict=*/true);
  if (!strict.ok()) {
    return c.Fail("spec.cidr", fmt::format("IP pool CIDR must be strictly masked: {}",
                                           MessageOf(strict.status())));
  }
  const IpNetwork& cidr = *strict;
  static constexpr std::string_view kLinkLocalV4 = "169.254.0.0/16";
  static constexpr std::string_view kLinkLocalV6 = "fe80::/10";
  std::string_view link_local = cidr.is_v4() ? kLinkLocalV4 : kLinkLocalV6;
  if (absl::StatusOr<IpNetwork> reserved = IpNetwork::Parse(link_local);
      reserved.ok() && cidr.Overlaps(*reserved)) {
    return c.Fail("spec.cidr", fmt::format("IP pool {} overlaps the IPv{} link-local range {}",
                                           s.cidr, cidr.is_v4() ? 4 : 6, link_local));
  }
  int min_block = cidr.is_v4() ? 20 : 116;
  int max_block = cidr.is_v4() ? 32 : 128;
  if (s.block_size < min_block || s.block_size > max_block) {
    return c.Fail("spec.blockSize",
                  fmt::format("invalid blockSize {}: IPv{} pools need {}-{}", s.block_size,
                              cidr.is_v4() ? 4 : 6, min_block, max_block));
  }
  if (!s.disabled && cidr.prefix_length() > s.block_size) {
    return c.Fail("spec.cidr", fmt::format("IP pool {} is smaller than one block (/{}): use a "
                                           "prefix of at most /{} or a larger blockSize",
                                           s.cidr, s.block_size, s.block_size));
  }
  if (s.ipip_mode == "Always" || s.ipip_mode == "CrossSubnet") {
    return c.Fail("spec.ipipMode",
                  "IPIP is not supported: set ipipMode to Never and use vxlanMode instead");
  }
  if (!s.ipip_mode.empty() && s.ipip_mode != "Never") {
    return c.Fail("spec.ipipMode",
                  fmt::format("invalid ipipMode {}: only Never is supported", Quote(s.ipip_mode)));
  }
  if (!s.vxlan_mode.empty() && s.vxlan_mode != "Never" && s.vxlan_mode != "Always" &&
      s.vxlan_mode != "CrossSubnet") {
    return c.Fail("spec.vxlanMode", fmt::format("invalid vxlanMode {}: use Never, Always or "
                                                "CrossSubnet",
                                                Quote(s.vxlan_mode)));
  }
  if (!CheckSelector(c, "spec.nodeSelector", s.node_selector, SelectorUse::kPoolNodes)) {
    return false;
  }
  bool load_balancer = std::find(s.allowed_uses.begin(), s.allowed_uses.end(), "LoadBalancer") !=
                       s.allowed_uses.end();
  std::set<std::string_view> seen_uses;
  for (size_t i = 0; i < s.allowed_uses.size(); ++i) {
    const std::string& use = s.allowed_uses[i];
    std::string path = PathIndex("spec.allowedUses", i);
    if (use != "Workload" && use != "Tunnel" && use != "LoadBalancer") {
      return c.Fail(
          path, fmt::format("invalid use {}: use Workload, Tunnel or LoadBalancer", Quote(use)));
    }
    if (!seen_uses.insert(use).second) {
      return c.Fail(path, fmt::format("{} is listed more than once", use));
    }
    if (load_balancer && use != "LoadBalancer") {
      return c.Fail(path, fmt::format("LoadBalancer cannot be combined with {}", use));
    }
  }
  if (load_balancer) {
    if (s.vxlan_mode == "Always" || s.vxlan_mode == "CrossSubnet") {
      return c.Fail("spec.vxlanMode", "a LoadBalancer pool cannot use VXLAN");
    }
    if (!s.node_selector.empty() && s.node_selector != "all()") {
      return c.Fail("spec.nodeSelector", "a LoadBalancer pool must have nodeSelector all()");
    }
    if (s.disable_bgp_export) {
      return c.Fail("spec.disableBGPExport", "a LoadBalancer pool cannot disable BGP export");
    }
  }
  if (!s.assignment_mode.empty() && s.assignment_mode != "Automatic" &&
      s.assignment_mode != "Manual") {
    return c.Fail("spec.assignmentMode", fmt::format("invalid assignmentMode {}: use Automatic "
                                                     "or Manual",
                                                     Quote(s.assignment_mode)));
  }
  return true;
}

std::string BoolText(bool value) { return value ? "true" : "false"; }

constexpr auto kIPPoolColumns = std::to_array<Column>({
    {"CIDR", Column::kAlways, [](const Resource& r) { return Cell(r.ip_pool().cidr); }},
    {"SELECTOR", Column::kAlways,
     [](const Resource& r) { return SelectorText(r.ip_pool().node_selector); }},
    {"NAT", Column::kWideOnly,
     [](const Resource& r) { return BoolText(r.ip_pool().nat_outgoing); }},
    {"IPIPMODE", Column::kWideOnly, [](const Resource& r) { return Cell(r.ip_pool().ipip_mode); }},
    {"VXLANMODE", Column::kWideOnly,
     [](const Resource& r) { return Cell(r.ip_pool().vxlan_mode); }},
    {"DISABLED", Column::kWideOnly,
     [](const Resource& r) { return BoolText(r.ip_pool().disabled); }},
    {"DISABLEBGPEXPORT", Column::kWideOnly,
     [](const Resource& r) { return BoolText(r.ip_pool().disable_bgp_export); }},
    {"ASSIGNMENTMODE", Column::kWideOnly,
     [](const Resource& r) { return Cell(r.ip_pool().assignment_mode); }},
});

}  // namespace

extern constexpr KindInfo kIPPoolKind{
    .kind = Kind::kIPPool,
    .name = "IPPool",
    .aliases = {"ippools", "ipp", "ipps", "pool", "pools"},
    .wire_name = "IPPool",
    .empty_spec = EmptySpec<IPPoolSpec>,
    .apply_defaults = DefaultIPPool,
    .check = CheckIPPool,
    .columns = kIPPoolColumns,
};

}  // namespace tabby::model
