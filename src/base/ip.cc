#include "base/ip.h"

#include <arpa/inet.h>
#include <fmt/format.h>

#include <charconv>
#include <cstring>

namespace tabby {

absl::StatusOr<IpAddress> IpAddress::Parse(std::string_view text) {
  std::string copy(text);
  IpAddress ip;
  if (inet_pton(AF_INET, copy.c_str(), ip.bytes_.data()) == 1) {
    ip.family_ = Family::kV4;
    return ip;
  }
  if (inet_pton(AF_INET6, copy.c_str(), ip.bytes_.data()) == 1) {
    ip.family_ = Family::kV6;
    return ip;
  }
  return absl::InvalidArgumentError(fmt::format("\"{}\" is not an IP address", text));
}

IpAddress IpAddress::V4(uint32_t host_order) {
  IpAddress ip;
  uint32_t net = htonl(host_order);
  std::memcpy(ip.bytes_.data(), &net, 4);
  return ip;
}

IpAddress IpAddress::FromBytes(Family family, const uint8_t* bytes) {
  IpAddress ip;
  ip.family_ = family;
  std::memcpy(ip.bytes_.data(), bytes, family == Family::kV4 ? 4 : 16);
  return ip;
}

uint32_t IpAddress::v4_host_order() const {
  uint32_t net;
  std::memcpy(&net, bytes_.data(), 4);
  return ntohl(net);
}

std::string IpAddress::ToString() const {
  char buf[INET6_ADDRSTRLEN];
  inet_ntop(is_v4() ? AF_INET : AF_INET6, bytes_.data(), buf, sizeof(buf));
  return buf;
}

IpAddress IpAddress::Plus(uint64_t offset) const {
  IpAddress out = *this;
  int i = byte_length() - 1;
  unsigned carry = 0;
  while (i >= 0 && (offset != 0 || carry != 0)) {
    unsigned sum = out.bytes_[i] + static_cast<unsigned>(offset & 0xff) + carry;
    out.bytes_[i] = static_cast<uint8_t>(sum & 0xff);
    carry = sum >> 8;
    offset >>= 8;
    --i;
  }
  return out;
}

uint64_t IpAddress::DistanceFrom(const IpAddress& base) const {
  // Subtract the low 8 bytes (borrowing across them); callers stay within 2^64.
  uint64_t result = 0;
  int borrow = 0;
  uint64_t scale = 1;
  for (int i = byte_length() - 1, n = 0; i >= 0 && n < 8; --i, ++n) {
    int diff = static_cast<int>(bytes_[i]) - static_cast<int>(base.bytes_[i]) - borrow;
    borrow = diff < 0 ? 1 : 0;
    if (diff < 0) diff += 256;
    result += static_cast<uint64_t>(diff) * scale;
    scale <<= 8;
  }
  return result;
}

IpNetwork::IpNetwork(IpAddress address, int prefix_length)
    : address_(address), prefix_length_(prefix_length) {}

absl::StatusOr<IpNetwork> IpNetwork::Parse(std::string_view text, bool strict) {
  size_t slash = text.find('/');
  auto address = IpAddress::Parse(text.substr(0, slash));
  if (!address.ok()) {
    return absl::InvalidArgumentError(fmt::format("\"{}\" is not a CIDR", text));
  }
  int length = address->bit_length();
  if (slash != std::string_view::npos) {
    std::string_view digits = text.substr(slash + 1);
    auto [end, err] = std::from_chars(digits.data(), digits.data() + digits.size(), length);
    if (digits.empty() || err != std::errc() || end != digits.data() + digits.size() ||
        length < 0 || length > address->bit_length()) {
      return absl::InvalidArgumentError(
          fmt::format("\"{}\" has an invalid prefix length (0..{})", text, address->bit_length()));
    }
  }
  IpNetwork network(*address, length);
  if (strict && network.Masked().address() != *address) {
    return absl::InvalidArgumentError(fmt::format("\"{}\" has host bits set; did you mean {}?",
                                                  text, network.Masked().ToString()));
  }
  return network;
}

IpNetwork IpNetwork::Masked() const {
  IpNetwork out = *this;
  uint8_t bytes[16];
  std::memcpy(bytes, address_.bytes(), 16);
  for (int bit = prefix_length_; bit < address_.bit_length(); ++bit) {
    bytes[bit / 8] &= static_cast<uint8_t>(~(0x80u >> (bit % 8)));
  }
  out.address_ = IpAddress::FromBytes(address_.family(), bytes);
  return out;
}

bool IpNetwork::Contains(const IpAddress& address) const {
  if (address.family() != family()) return false;
  return IpNetwork(address, prefix_length_).Masked().address() == Masked().address();
}

bool IpNetwork::Contains(const IpNetwork& other) const {
  return other.family() == family() && other.prefix_length_ >= prefix_length_ &&
         Contains(other.address_);
}

bool IpNetwork::Overlaps(const IpNetwork& other) const {
  return Contains(other) || other.Contains(*this);
}

uint64_t IpNetwork::Size() const {
  int host_bits = address_.bit_length() - prefix_length_;
  if (host_bits >= 63) return uint64_t{1} << 63;
  return uint64_t{1} << host_bits;
}

std::string IpNetwork::ToString() const {
  return fmt::format("{}/{}", address_.ToString(), prefix_length_);
}

}  // namespace tabby
