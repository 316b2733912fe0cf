#include "model/types.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cctype>

#include "model/internal.h"

namespace tabby::model {
namespace {

struct ProtocolName {
  uint8_t number;
  std::string_view name;
};

constexpr std::array<ProtocolName, 6> kProtocolNames = {{
    {Protocol::kTcp, "TCP"},
    {Protocol::kUdp, "UDP"},
    {Protocol::kIcmp, "ICMP"},
    {Protocol::kIcmpV6, "ICMPv6"},
    {Protocol::kSctp, "SCTP"},
    {Protocol::kUdpLite, "UDPLite"},
}};

}  // namespace

namespace internal {

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

std::optional<Protocol> ProtocolFromName(std::string_view name) {
  for (const ProtocolName& entry : kProtocolNames) {
    if (EqualsIgnoreCase(name, entry.name)) return Protocol{entry.number, std::string(entry.name)};
  }
  return std::nullopt;
}

std::string_view ProtocolNameOf(uint8_t number) {
  for (const ProtocolName& entry : kProtocolNames) {
    if (entry.number == number) return entry.name;
  }
  return "";
}

std::string ProtocolText(const Protocol& protocol) {
  if (!protocol.name.empty()) return protocol.name;
  return fmt::format("{}", protocol.number);
}

std::string PortText(const PortSpec& port) {
  if (port.is_named()) return port.name;
  if (port.first == port.last) return fmt::format("{}", port.first);
  return fmt::format("{}:{}", port.first, port.last);
}

}  // namespace internal

std::string_view SelectorOperatorName(SelectorOperator op) {
  switch (op) {
    case SelectorOperator::kIn:
      return "In";
    case SelectorOperator::kNotIn:
      return "NotIn";
    case SelectorOperator::kExists:
      return "Exists";
    case SelectorOperator::kDoesNotExist:
      return "DoesNotExist";
  }
  return "Unknown";
}

std::string_view ActionName(Action action) {
  switch (action) {
    case Action::kAllow:
      return "Allow";
    case Action::kDeny:
      return "Deny";
    case Action::kLog:
      return "Log";
    case Action::kPass:
      return "Pass";
  }
  return "Unknown";
}

std::string_view PolicyTypeName(PolicyType type) {
  switch (type) {
    case PolicyType::kIngress:
      return "Ingress";
    case PolicyType::kEgress:
      return "Egress";
  }
  return "Unknown";
}

}  // namespace tabby::model
