#include "base/hash.h"

#include <fmt/format.h>

namespace tabby {

uint64_t StableHash64(std::string_view data) {
  uint64_t hash = 0xcbf29ce484222325ULL;
  for (unsigned char c : data) {
    hash ^= c;
    hash *= 0x100000001b3ULL;
  }
  return hash;
}

std::string StableHashHex(std::string_view data, int digits) {
  std::string hex = fmt::format("{:016x}", StableHash64(data));
  if (digits < 1) digits = 1;
  if (digits > 16) digits = 16;
  return hex.substr(0, digits);
}

}  // namespace tabby
