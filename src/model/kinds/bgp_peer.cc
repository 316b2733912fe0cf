#include "model/kinds/bgp_peer.h"

#include <fmt/format.h>

#include <array>
#include <charconv>

#include "base/status_macros.h"
#include "model/check.h"
#include "model/kind_registry.h"
#include "model/table_cells.h"
#include "model/yaml_json.h"

namespace tabby::model {

absl::StatusOr<PeerIp> ParsePeerIp(std::string_view text) {
  auto invalid = [&](std::string_view why) {
    return absl::InvalidArgumentError(
        fmt::format("invalid peerIP {}: {} (write an address, IPv4:port or [IPv6]:port)",
                    internal::Quote(text), why));
  };
  std::string_view address = text;
  std::string_view port;
  if (text.starts_with('[')) {
    const size_t close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':') {
      return invalid("a bracketed IPv6 address is followed by :port");
    }
    address = text.substr(1, close - 1);
    port = text.substr(close + 2);
  } else if (const size_t colon = text.find(':');
             colon != std::string_view::npos &&
             text.find(':', colon + 1) == std::string_view::npos) {
    address = text.substr(0, colon);  // one colon: IPv4:port
    port = text.substr(colon + 1);
  }
  absl::StatusOr<IpAddress> parsed = IpAddress::Parse(address);
  if (!parsed.ok() || address.find('/') != std::string_view::npos) {
    return invalid("not an IP address");
  }
  if (text.starts_with('[') && parsed->is_v4()) return invalid("brackets are for IPv6 addresses");
  PeerIp out{*parsed, 0};
  if (!port.empty() || address.size() != text.size()) {
    unsigned value = 0;
    auto [end, error] = std::from_chars(port.data(), port.data() + port.size(), value);
    if (error != std::errc() || end != port.data() + port.size() || value == 0 || value > 65535) {
      return invalid("the port is a number 1-65535");
    }
    out.port = static_cast<uint16_t>(value);
  }
  return out;
}

namespace {

using internal::Checker;
using internal::Quote;
using internal::SelectorUse;

// Kubernetes' rule for a secret's data key: [-._a-zA-Z0-9]+, not "." or "..", at most 253.
bool IsSecretKey(std::string_view key) {
  if (key.empty() || key.size() > internal::kMaxNameLength || key == "." || key == "..") {
    return false;
  }
  for (char ch : key) {
    if (!internal::IsAlnum(ch) && ch != '-' && ch != '.' && ch != '_') return false;
  }
  return true;
}

void DefaultBGPPeer(Resource& r) {
  BGPPeerSpec& s = r.bgp_peer();
  if (absl::StatusOr<PeerIp> peer = ParsePeerIp(s.peer_ip); peer.ok()) {
    s.peer_ip = peer->port == 0 ? peer->address.ToString()
                : peer->address.is_v4()
                    ? fmt::format("{}:{}", peer->address.ToString(), peer->port)
                    : fmt::format("[{}]:{}", peer->address.ToString(), peer->port);
  }
}

bool CheckBGPPeer(Checker& c, const Resource& r) {
  const BGPPeerSpec& s = r.bgp_peer();
  if (!s.node.empty() && !s.node_selector.empty()) {
    return c.Fail("spec.nodeSelector", "set node or nodeSelector, not both");
  }
  if (!s.node.empty() && !internal::IsDnsSubdomain(s.node)) {
    return c.Fail("spec.node", fmt::format("invalid node name {}: a node's name is a DNS-1123 "
                                           "subdomain",
                                           Quote(s.node)));
  }
  if (!s.node_selector.empty() &&
      !CheckSelector(c, "spec.nodeSelector", s.node_selector, SelectorUse::kPoolNodes)) {
    return false;
  }
  if (!s.peer_ip.empty() && !s.peer_selector.empty()) {
    return c.Fail("spec.peerSelector",
                  "set peerIP (a router) or peerSelector (other nodes), not both");
  }
  if (s.peer_ip.empty() && s.peer_selector.empty()) {
    return c.Fail("spec.peerIP",
                  "required field is missing: set peerIP (a router, with "
                  "asNumber) or peerSelector (other nodes)");
  }
  if (!s.peer_ip.empty()) {
    if (absl::StatusOr<PeerIp> peer = ParsePeerIp(s.peer_ip); !peer.ok()) {
      return c.Fail("spec.peerIP", std::string(MessageOf(peer.status())));
    }
    if (s.as_number == 0) {
      return c.Fail("spec.asNumber",
                    "required field is missing: the AS number of the peer at "
                    "peerIP");
    }
  } else {
    if (!CheckSelector(c, "spec.peerSelector", s.peer_selector, SelectorUse::kPoolNodes)) {
      return false;
    }
    if (s.as_number != 0) {
      return c.Fail("spec.asNumber",
                    "a peerSelector peering takes each node's own AS number: remove asNumber");
    }
  }
  if (!CheckAsNumber(c, "spec.asNumber", s.as_number) ||
      !CheckAsNumber(c, "spec.localASNumber", s.local_as_number)) {
    return false;
  }
  if (s.password) {
    if (!s.password->secret_key_ref) {
      return c.Fail("spec.password.secretKeyRef",
                    "required field is missing: the secret that holds the password");
    }
    const SecretKeyRef& ref = *s.password->secret_key_ref;
    if (!internal::IsDnsSubdomain(ref.name)) {
      return c.Fail("spec.password.secretKeyRef.name",
                    fmt::format("invalid secret name {}: a DNS-1123 subdomain", Quote(ref.name)));
    }
    if (!IsSecretKey(ref.key)) {
      return c.Fail(
          "spec.password.secretKeyRef.key",
          fmt::format("invalid secret key {}: letters, digits, '-', '.' and '_'", Quote(ref.key)));
    }
  }
  return true;
}

constexpr auto kBGPPeerColumns = std::to_array<Column>({
    {"PEERIP", Column::kAlways,
     [](const Resource& r) -> std::string {
       const BGPPeerSpec& s = r.bgp_peer();
       return s.peer_ip.empty() ? fmt::format("(nodes: {})", s.peer_selector) : s.peer_ip;
     }},
    {"NODE", Column::kAlways,
     [](const Resource& r) -> std::string {
       const BGPPeerSpec& s = r.bgp_peer();
       if (!s.node.empty()) return s.node;
       if (!s.node_selector.empty()) return fmt::format("(selector: {})", s.node_selector);
       return "(global)";
     }},
    {"ASN", Column::kAlways,
     [](const Resource& r) -> std::string {
       const int64_t as = r.bgp_peer().as_number;
       return as != 0 ? fmt::format("{}", as) : "(node's)";
     }},
});

}  // namespace

extern constexpr KindInfo kBGPPeerKind{
    .kind = Kind::kBGPPeer,
    .name = "BGPPeer",
    .aliases = {"bgppeers", "bgpp", "bgpps", "bp", "bps"},
    .wire_name = "BGPPeer",
    .empty_spec = EmptySpec<BGPPeerSpec>,
    .apply_defaults = DefaultBGPPeer,
    .check = CheckBGPPeer,
    .columns = kBGPPeerColumns,
};

}  // namespace tabby::model
