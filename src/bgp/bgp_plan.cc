#include "bgp/bgp_plan.h"

#include <fmt/format.h>

#include <optional>

#include "base/status_macros.h"
#include "selector/selector.h"

namespace tabby::bgp {
namespace {

using model::BGPConfigurationSpec;
using model::BGPPeerSpec;
using model::Resource;

std::optional<IpAddress> AddressOf(const std::string& cidr) {
  if (cidr.empty()) return std::nullopt;
  absl::StatusOr<IpNetwork> network = IpNetwork::Parse(cidr);
  if (!network.ok()) return std::nullopt;
  return network->address();
}

// The node's addresses, IPv4 first; none when it has no spec.bgp.
std::vector<IpAddress> AddressesOf(const Resource& node) {
  std::vector<IpAddress> out;
  if (const auto& bgp = node.node().bgp) {
    for (const std::string* cidr : {&bgp->ipv4_address, &bgp->ipv6_address}) {
      if (std::optional<IpAddress> address = AddressOf(*cidr)) out.push_back(*address);
    }
  }
  return out;
}

std::string ClusterIdOf(const Resource& node) {
  const auto& bgp = node.node().bgp;
  return bgp ? bgp->route_reflector_cluster_id : "";
}

bool Selects(const std::string& text, const Resource& node) {
  absl::StatusOr<selector::Selector> parsed = selector::Selector::Parse(text);
  return parsed.ok() && parsed->Matches(node.metadata.labels);  // validated on the way in
}

// Whether BGPPeer `peer` gives `node` its sessions.
bool AppliesTo(const BGPPeerSpec& peer, const Resource& node) {
  if (!peer.node.empty()) return peer.node == node.metadata.name;
  if (!peer.node_selector.empty()) return Selects(peer.node_selector, node);
  return true;  // global
}

class Planner {
 public:
  Planner(const std::string& node, const BgpResources& resources, const SecretReader& read_secret)
      : node_(node), resources_(resources), read_secret_(read_secret) {
    if (auto it = resources.configurations.find("default"); it != resources.configurations.end()) {
      default_config_ = &it->second;
    }
    if (auto it = resources.configurations.find("node." + node);
        it != resources.configurations.end()) {
      node_config_ = &it->second;
    }
    if (auto it = resources.nodes.find(node); it != resources.nodes.end()) self_ = &it->second;
  }

  BgpPlan Plan(const std::set<IpNetwork>& own_blocks) {
    BirdConfigInput& in = plan_.bird;
    in.node = node_;
    in.as_number = AsOf(self_);
    if (self_ != nullptr && self_->node().bgp) {
      in.ipv4_source = AddressOf(self_->node().bgp->ipv4_address);
      in.ipv6_source = AddressOf(self_->node().bgp->ipv6_address);
      in.route_reflector_cluster_id = self_->node().bgp->route_reflector_cluster_id;
    }
    in.router_id = in.ipv4_source ? in.ipv4_source->v4_host_order() : RouterIdFromName(node_);
    for (const BGPConfigurationSpec* config : {default_config_, node_config_}) {
      if (config == nullptr) continue;
      for (const auto* list : {&config->service_cluster_ips, &config->service_external_ips,
                               &config->service_load_balancer_ips}) {
        for (const model::ServiceCidr& prefix : *list) {
          if (auto cidr = IpNetwork::Parse(prefix.cidr); cidr.ok()) in.advertised.push_back(*cidr);
        }
      }
      if (!config->log_severity_screen.empty()) in.debug = config->log_severity_screen == "Debug";
    }
    for (const auto& [name, pool] : resources_.pools) {
      absl::StatusOr<IpNetwork> cidr = IpNetwork::Parse(pool.cidr);
      if (cidr.ok() && (pool.vxlan_mode == "Always" || pool.vxlan_mode == "CrossSubnet")) {
        in.tunnelled.push_back(*cidr);
      }
    }
    for (const IpNetwork& block : own_blocks) {
      if (!InUnexportedPool(block)) in.blocks.push_back(block);
    }

    const bool mesh = default_config_ == nullptr || !default_config_->node_to_node_mesh_enabled ||
                      *default_config_->node_to_node_mesh_enabled;
    if (mesh && !IsRouteReflector(self_)) {
      for (const auto& [name, other] : resources_.nodes) {
        if (name != node_ && !IsRouteReflector(&other)) {
          AddNode(fmt::format("node-to-node mesh: {}", name), other, 0, nullptr);
        }
      }
    }
    for (const auto& [name, peer] : resources_.peers) AddBgpPeer(name, peer);
    return std::move(plan_);
  }

 private:
  int64_t AsOf(const Resource* node) const {
    if (node != nullptr && node->node().bgp && node->node().bgp->as_number != 0) {
      return node->node().bgp->as_number;
    }
    if (default_config_ != nullptr && default_config_->as_number != 0) {
      return default_config_->as_number;
    }
    return model::kDefaultAsNumber;
  }

  static bool IsRouteReflector(const Resource* node) {
    return node != nullptr && !ClusterIdOf(*node).empty();
  }

  bool InUnexportedPool(const IpNetwork& block) const {
    for (const auto& [name, pool] : resources_.pools) {
      absl::StatusOr<IpNetwork> cidr = IpNetwork::Parse(pool.cidr);
      if (pool.disable_bgp_export && cidr.ok() && cidr->Contains(block.address())) return true;
    }
    return false;
  }

  bool IsOwnAddress(const IpAddress& address) const {
    const auto& source = address.is_v4() ? plan_.bird.ipv4_source : plan_.bird.ipv6_source;
    return source && *source == address;
  }

  bool HasSource(const IpAddress& address) const {
    return address.is_v4() ? plan_.bird.ipv4_source.has_value()
                           : plan_.bird.ipv6_source.has_value();
  }

  void AddBgpPeer(const std::string& name, const BGPPeerSpec& peer) {
    const bool applies_here = self_ != nullptr ? AppliesTo(peer, *self_)
                                               : peer.node.empty() && peer.node_selector.empty();
    if (!peer.peer_ip.empty()) {
      if (!applies_here) return;
      absl::StatusOr<model::PeerIp> ip = model::ParsePeerIp(peer.peer_ip);
      if (!ip.ok() || IsOwnAddress(ip->address)) return;
      BirdPeer bird{.description = fmt::format("BGPPeer {}", name),
                    .address = ip->address,
                    .port = ip->port,
                    .as_number = peer.as_number,
                    .local_as_number = peer.local_as_number};
      if (ReadPassword(name, peer, bird)) Add(std::move(bird), "");
      return;
    }
    // peerSelector: the nodes it picks, and (mutually) the nodes it applies to.
    const bool picked_here = self_ != nullptr && Selects(peer.peer_selector, *self_);
    for (const auto& [other_name, other] : resources_.nodes) {
      if (other_name == node_) continue;
      const bool forward = applies_here && Selects(peer.peer_selector, other);
      const bool reverse = picked_here && AppliesTo(peer, other);
      if (forward || reverse) {
        AddNode(fmt::format("BGPPeer {}: {}", name, other_name), other, peer.local_as_number, &peer,
                name);
      }
    }
  }

  // Sessions with `other` over each family both nodes have.
  void AddNode(const std::string& description, const Resource& other, int64_t local_as,
               const BGPPeerSpec* peer, const std::string& peer_name = "") {
    for (const IpAddress& address : AddressesOf(other)) {
      // Nodes peer over the families both have; one without IPv6 simply has no IPv6 sessions.
      if (IsOwnAddress(address) || !HasSource(address)) continue;
      BirdPeer bird{.description = description,
                    .address = address,
                    .as_number = AsOf(&other),
                    .local_as_number = local_as};
      if (peer != nullptr && !ReadPassword(peer_name, *peer, bird)) return;
      Add(std::move(bird), ClusterIdOf(other));
    }
  }

  bool ReadPassword(const std::string& name, const BGPPeerSpec& peer, BirdPeer& bird) {
    if (!peer.password || !peer.password->secret_key_ref) return true;
    const model::SecretKeyRef& ref = *peer.password->secret_key_ref;
    absl::StatusOr<std::string> secret = read_secret_(ref);
    if (!secret.ok()) {
      plan_.problems.push_back(fmt::format("BGPPeer {}: no session with {}: {}", name,
                                           bird.address.ToString(), MessageOf(secret.status())));
      return false;
    }
    bird.password = *std::move(secret);
    return true;
  }

  void Add(BirdPeer bird, const std::string& peer_cluster_id) {
    if (!seen_.insert(bird.address).second) return;
    const std::string& cluster_id = plan_.bird.route_reflector_cluster_id;
    const int64_t local_as = bird.local_as_number != 0 ? bird.local_as_number : AsOf(self_);
    bird.route_reflector_client =
        !cluster_id.empty() && bird.as_number == local_as && peer_cluster_id != cluster_id;
    if (!HasSource(bird.address)) {
      plan_.problems.push_back(
          fmt::format("{}: no session with {}: this node has no IPv{} address (Node spec.bgp)",
                      bird.description, bird.address.ToString(), bird.address.is_v4() ? 4 : 6));
      return;
    }
    plan_.bird.peers.push_back(std::move(bird));
  }

  const std::string& node_;
  const BgpResources& resources_;
  const SecretReader& read_secret_;
  const BGPConfigurationSpec* default_config_ = nullptr;
  const BGPConfigurationSpec* node_config_ = nullptr;
  const Resource* self_ = nullptr;
  std::set<IpAddress> seen_;
  BgpPlan plan_;
};

}  // namespace

BgpPlan PlanBgp(const std::string& node, const BgpResources& resources,
                const std::set<IpNetwork>& own_blocks, const SecretReader& read_secret) {
  return Planner(node, resources, read_secret).Plan(own_blocks);
}

}  // namespace tabby::bgp
