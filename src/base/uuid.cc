#include "base/uuid.h"

#include <fmt/format.h>

#include <cstdint>
#include <random>

namespace tabby {

std::string RandomUuid() {
  std::random_device device;
  std::uniform_int_distribution<uint32_t> dist;
  uint32_t a = dist(device), b = dist(device), c = dist(device), d = dist(device);
  return fmt::format("{:08x}-{:04x}-{:04x}-{:04x}-{:04x}{:08x}", a, b >> 16, (b & 0x0fff) | 0x4000,
                     (c >> 16 & 0x3fff) | 0x8000, c & 0xffff, d);
}

}  // namespace tabby
