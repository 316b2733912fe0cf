// What our nftables table holds, in the canonical text the renderer produces, so that desired
// and actual state compare with ==. Built from `nft -j list table` when the agent starts (to
// adopt what a previous run programmed) and kept up to date after every committed transaction.
#pragma once

#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace tabby::dataplane {

struct KernelChain {
  std::string hook;                 // "filter/forward/0/accept" for base chains, else empty
  std::vector<std::string> hashes;  // per rule, from its "tabby:<hash>" comment ("" if none)
  friend bool operator==(const KernelChain&, const KernelChain&) = default;
};

struct KernelTable {
  bool exists = false;
  std::map<std::string, KernelChain> chains;
  std::map<std::string, std::set<std::string>> sets;               // name -> canonical elements
  std::map<std::string, std::string> set_types;                    // name -> type signature
  std::map<std::string, std::map<std::string, std::string>> maps;  // name -> key -> verdict
  std::set<std::string> counters;
  friend bool operator==(const KernelTable&, const KernelTable&) = default;
};

// Parses `nft -j list table` output. Elements nft prints in a form we do not recognise are
// kept as "?<json>" so they never equal a desired element and get replaced.
absl::StatusOr<KernelTable> ParseKernelTable(const std::string& json);

// Canonical hook signature of a base chain as the renderer declares it, e.g. from
// "type filter hook forward priority filter + 10; policy accept;" -> "filter/forward/10/accept".
std::string HookSignature(const std::string& hook_clause);

}  // namespace tabby::dataplane
