// Which BGP sessions a node has and what it announces, decided from the cluster's resources as
// Calico's confd decides them (shared/reference/calico.md §1.6, §1.7, §6.3). A pure function of
// its inputs: the agent keeps the resources, and renders BIRD's configuration from the plan.
//
//   - The node-to-node mesh (BGPConfiguration "default" nodeToNodeMeshEnabled, on unless false):
//     every node peers with every other over each family both have, except route reflectors
//     (nodes with a routeReflectorClusterID), which are never in the mesh.
//   - BGPPeers that apply to this node (no node and no nodeSelector: every node; `node`: that
//     one; `nodeSelector`: the nodes whose labels match): with the router at peerIP, or with the
//     other nodes that peerSelector picks. A peerSelector peering is mutual: a node that the
//     peerSelector picks also peers with the nodes the BGPPeer applies to.
//   - The first session to an address wins (mesh, then BGPPeers by name): an address is one
//     session in BIRD.
//   - A route reflector makes every iBGP peer that is not in its own cluster a client.
//   - The node announces its blocks (less those of pools with disableBGPExport) and the service
//     prefixes of BGPConfiguration "default" and "node.<name>".
#pragma once

#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "base/ip.h"
#include "bgp/bird_config.h"
#include "model/resources.h"

namespace tabby::bgp {

// What of the cluster BGP depends on, by name.
struct BgpResources {
  std::map<std::string, model::Resource> nodes;  // Node resources (labels select them)
  std::map<std::string, model::BGPConfigurationSpec> configurations;
  std::map<std::string, model::BGPPeerSpec> peers;
  std::map<std::string, model::IPPoolSpec> pools;
};

// Reads a BGP password from where `ref` points (tabbyd: <secrets dir>/<name>/<key>).
using SecretReader = std::function<absl::StatusOr<std::string>(const model::SecretKeyRef& ref)>;

struct BgpPlan {
  BirdConfigInput bird;
  // Peerings left out and why (a password that cannot be read, a peer of a family this node
  // lacks): logged by the agent, one line each.
  std::vector<std::string> problems;
};

BgpPlan PlanBgp(const std::string& node, const BgpResources& resources,
                const std::set<IpNetwork>& own_blocks, const SecretReader& read_secret);

}  // namespace tabby::bgp
