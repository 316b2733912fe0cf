// Stable, non-cryptographic hashing for names derived from content (nftables set and chain
// names, interface names). Stable across processes and releases: changing it renames kernel
// objects, so an upgraded agent would rebuild instead of adopting.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace tabby {

// 64-bit FNV-1a.
uint64_t StableHash64(std::string_view data);

// Lower-case hex of StableHash64, `digits` long (1..16).
std::string StableHashHex(std::string_view data, int digits = 16);

}  // namespace tabby
