#include "dataplane/nat_outgoing.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>

#include "base/status_macros.h"

namespace tabby::dataplane {
namespace {

// `elements = { a, b };` of the pools of one family that pass `keep`, or "" when none (nft has
// no empty element list).
template <typename Keep>
std::string Elements(const std::vector<NatPool>& pools, bool v4, Keep keep) {
  std::vector<std::string> items;
  for (const NatPool& pool : pools) {
    if (pool.cidr.is_v4() == v4 && keep(pool)) items.push_back(pool.cidr.Masked().ToString());
  }
  std::sort(items.begin(), items.end());
  items.erase(std::unique(items.begin(), items.end()), items.end());
  if (items.empty()) return "";
  return fmt::format(" elements = {{ {} }};", fmt::join(items, ", "));
}

}  // namespace

std::string RenderNatOutgoing(const std::vector<NatPool>& pools) {
  // `add` then `delete` makes the deletion succeed whether or not the table exists.
  std::string script = fmt::format("add table inet {0}\ndelete table inet {0}\n", kNatTableName);
  const bool any = std::any_of(pools.begin(), pools.end(),
                               [](const NatPool& pool) { return pool.nat_outgoing; });
  if (!any) return script;
  auto all = [](const NatPool&) { return true; };
  auto masq = [](const NatPool& pool) { return pool.nat_outgoing; };
  script += fmt::format("table inet {} {{\n", kNatTableName);
  for (bool v4 : {true, false}) {
    const char* type = v4 ? "ipv4_addr" : "ipv6_addr";
    const int family = v4 ? 4 : 6;
    script += fmt::format("  set pools{} {{ type {}; flags interval;{} }}\n", family, type,
                          Elements(pools, v4, all));
    script += fmt::format("  set masq{} {{ type {}; flags interval;{} }}\n", family, type,
                          Elements(pools, v4, masq));
  }
  script +=
      "  chain postrouting {\n"
      "    type nat hook postrouting priority srcnat; policy accept;\n"
      "    ip saddr @masq4 ip daddr != @pools4 masquerade\n"
      "    ip6 saddr @masq6 ip6 daddr != @pools6 masquerade\n"
      "  }\n"
      "}\n";
  return script;
}

absl::Status NatOutgoing::Sync(const std::vector<NatPool>& pools, bool force) {
  if (!force && applied_ && *applied_ == pools) return absl::OkStatus();
  absl::Status done = nft_.Run(RenderNatOutgoing(pools));
  if (!done.ok()) {
    return Annotate(done, "cannot program natOutgoing");
  }
  applied_ = pools;
  return absl::OkStatus();
}

}  // namespace tabby::dataplane
