// Internal to tabby_model: small helpers shared by the codec and the validator.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "model/types.h"

namespace tabby::model::internal {

// TCP, UDP, ICMP, ICMPv6, SCTP, UDPLite by name (any case), canonical name kept.
std::optional<Protocol> ProtocolFromName(std::string_view name);
// The canonical name of a protocol number, or "" if it has none.
std::string_view ProtocolNameOf(uint8_t number);
// How a protocol is written: its name, else its number.
std::string ProtocolText(const Protocol& protocol);
// "80", "1000:2000" or the port name.
std::string PortText(const PortSpec& port);

bool EqualsIgnoreCase(std::string_view a, std::string_view b);

}  // namespace tabby::model::internal
