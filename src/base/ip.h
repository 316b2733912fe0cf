// IPv4/IPv6 addresses and prefixes as values. Parsing is strict (inet_pton), formatting is the
// canonical text form, so the text of an address can be used as a key.
#pragma once

#include <array>
#include <compare>
#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace tabby {

class IpAddress {
 public:
  enum class Family : uint8_t { kV4 = 4, kV6 = 6 };

  IpAddress() = default;  // 0.0.0.0
  static absl::StatusOr<IpAddress> Parse(std::string_view text);
  static IpAddress V4(uint32_t host_order);
  static IpAddress FromBytes(Family family, const uint8_t* bytes);

  Family family() const { return family_; }
  bool is_v4() const { return family_ == Family::kV4; }
  bool is_v6() const { return family_ == Family::kV6; }
  int bit_length() const { return is_v4() ? 32 : 128; }
  // Network-order bytes; 4 meaningful for IPv4, 16 for IPv6.
  const uint8_t* bytes() const { return bytes_.data(); }
  int byte_length() const { return is_v4() ? 4 : 16; }
  uint32_t v4_host_order() const;

  std::string ToString() const;

  // The address `offset` after this one (wrapping within the family). Used by allocators.
  IpAddress Plus(uint64_t offset) const;
  // (this - base) for addresses within 2^64 of each other in the same family.
  uint64_t DistanceFrom(const IpAddress& base) const;

  friend auto operator<=>(const IpAddress&, const IpAddress&) = default;

 private:
  Family family_ = Family::kV4;
  std::array<uint8_t, 16> bytes_{};
};

// An address prefix, e.g. 10.0.0.0/16 or fd00::/64.
class IpNetwork {
 public:
  IpNetwork() = default;
  IpNetwork(IpAddress address, int prefix_length);

  // Accepts "addr/len" or a bare address (a host prefix). With `strict`, host bits must be zero.
  static absl::StatusOr<IpNetwork> Parse(std::string_view text, bool strict = false);
  static IpNetwork Host(const IpAddress& address) {
    return IpNetwork(address, address.bit_length());
  }

  const IpAddress& address() const { return address_; }
  int prefix_length() const { return prefix_length_; }
  IpAddress::Family family() const { return address_.family(); }
  bool is_v4() const { return address_.is_v4(); }
  bool is_host() const { return prefix_length_ == address_.bit_length(); }

  // The network with host bits cleared.
  IpNetwork Masked() const;
  bool Contains(const IpAddress& address) const;
  bool Contains(const IpNetwork& other) const;
  bool Overlaps(const IpNetwork& other) const;
  // Number of addresses, saturating at 2^63.
  uint64_t Size() const;

  std::string ToString() const;

  friend auto operator<=>(const IpNetwork&, const IpNetwork&) = default;

 private:
  IpAddress address_;
  int prefix_length_ = 0;
};

}  // namespace tabby
