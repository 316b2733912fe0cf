// BGPPeer: further BGP sessions, as Calico's projectcalico.org/v3 kind: with a router (a ToR, a
// route reflector outside the cluster) by peerIP, or with other nodes by peerSelector; for every
// node, one node, or the nodes a selector picks (see docs/bgp.md). Its defaults, validation and
// `tabbyctl get` columns are in bgp_peer.cc.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "base/ip.h"
#include "model/describe.h"
#include "model/types.h"

namespace tabby::model {

// Calico's `password: {secretKeyRef: {name, key}}`. tabbyd reads the secret from a file on its
// host: <--secrets-dir>/<name>/<key> (the layout of a Kubernetes secret mounted as a volume).
struct SecretKeyRef {
  std::string name;
  std::string key;
  friend bool operator==(const SecretKeyRef&, const SecretKeyRef&) = default;
};

struct BgpPassword {
  std::optional<SecretKeyRef> secret_key_ref;
  friend bool operator==(const BgpPassword&, const BgpPassword&) = default;
};

struct BGPPeerSpec {
  // Which nodes have this peering: `node` (one by name) or `nodeSelector`; neither: every node.
  std::string node;
  std::string node_selector;
  // The peer: a router by address ("192.0.2.254", "192.0.2.254:1179", "[2001:db8::fe]:1179")
  // with its AS number, or the nodes that peerSelector picks (their AS from their Node).
  std::string peer_ip;
  int64_t as_number = 0;
  std::string peer_selector;
  int64_t local_as_number = 0;  // 0: the node's AS
  std::optional<BgpPassword> password;
  friend bool operator==(const BGPPeerSpec&, const BGPPeerSpec&) = default;
};

// A peerIP taken apart: the address, and the port when one is given (0: BGP's 179).
struct PeerIp {
  IpAddress address;
  uint16_t port = 0;
};
absl::StatusOr<PeerIp> ParsePeerIp(std::string_view text);

}  // namespace tabby::model

namespace tabby::model::internal {

template <typename V, Is<SecretKeyRef> T>
void Describe(V& v, T& s) {
  v.Required("name", s.name);
  v.Required("key", s.key);
}

template <typename V, Is<BgpPassword> T>
void Describe(V& v, T& s) {
  v.Field("secretKeyRef", s.secret_key_ref);
}

template <typename V, Is<BGPPeerSpec> T>
void Describe(V& v, T& s) {
  v.Field("node", s.node);
  v.Field("nodeSelector", s.node_selector);
  v.Field("peerIP", s.peer_ip);
  v.Field("asNumber", s.as_number, AsNumberCodec{});
  v.Field("peerSelector", s.peer_selector);
  v.Field("localASNumber", s.local_as_number, AsNumberCodec{});
  v.Field("password", s.password);
}

}  // namespace tabby::model::internal
