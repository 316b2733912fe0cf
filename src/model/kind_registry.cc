#include "model/kind_registry.h"

#include <fmt/format.h>

#include <array>
#include <cstdio>
#include <cstdlib>

namespace tabby::model {

// Defined in kinds/<kind>.cc.
extern const KindInfo kClusterConfigurationKind, kNamespaceKind, kNodeKind, kIPPoolKind,
    kProfileKind, kGlobalNetworkPolicyKind, kNetworkPolicyKind, kKubernetesNetworkPolicyKind,
    kWorkloadEndpointKind, kHostEndpointKind, kBGPConfigurationKind, kBGPPeerKind;

namespace {

// In apply order: namespaces and pools before policies, policies before endpoints.
constexpr std::array kKinds = {
    &kClusterConfigurationKind,
    &kNamespaceKind,
    &kNodeKind,
    &kIPPoolKind,
    &kProfileKind,
    &kGlobalNetworkPolicyKind,
    &kNetworkPolicyKind,
    &kKubernetesNetworkPolicyKind,
    &kWorkloadEndpointKind,
    // After the policies: a host endpoint closes its interface to all that no policy opens.
    &kHostEndpointKind,
    // BGP follows nodes and pools; nothing depends on it.
    &kBGPConfigurationKind,
    &kBGPPeerKind,
};

}  // namespace

std::span<const KindInfo* const> KindRegistry() { return kKinds; }

const KindInfo& KindInfoOf(Kind kind) {
  for (const KindInfo* info : kKinds) {
    if (info->kind == kind) return *info;
  }
  fmt::print(stderr, "tabby: Kind {} is not registered in model/kind_registry.cc\n",
             static_cast<int>(kind));
  std::abort();
}

}  // namespace tabby::model
