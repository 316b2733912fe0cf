#include "model/resources.h"

#include <gtest/gtest.h>

#include <variant>

namespace tabby::model {
namespace {

TEST(Kinds, NamesRoundTrip) {
  for (Kind kind : AllKinds()) {
    ASSERT_TRUE(KindFromName(KindName(kind)).has_value()) << KindName(kind);
    EXPECT_EQ(*KindFromName(KindName(kind)), kind);
  }
}

TEST(Kinds, AliasesLikeCalicoctl) {
  struct Alias {
    const char* name;
    Kind kind;
  };
  for (const Alias& alias : std::initializer_list<Alias>{
           {"ippool", Kind::kIPPool},
           {"IPPools", Kind::kIPPool},
           {"ipp", Kind::kIPPool},
           {"ipps", Kind::kIPPool},
           {"pool", Kind::kIPPool},
           {"POOLS", Kind::kIPPool},
           {"networkpolicy", Kind::kNetworkPolicy},
           {"networkpolicies", Kind::kNetworkPolicy},
           {"policy", Kind::kNetworkPolicy},
           {"policies", Kind::kNetworkPolicy},
           {"np", Kind::kNetworkPolicy},
           {"pol", Kind::kNetworkPolicy},
           {"globalnetworkpolicy", Kind::kGlobalNetworkPolicy},
           {"GlobalNetworkPolicies", Kind::kGlobalNetworkPolicy},
           {"gnp", Kind::kGlobalNetworkPolicy},
           {"profile", Kind::kProfile},
           {"profiles", Kind::kProfile},
           {"pro", Kind::kProfile},
           {"workloadendpoint", Kind::kWorkloadEndpoint},
           {"workloadendpoints", Kind::kWorkloadEndpoint},
           {"wep", Kind::kWorkloadEndpoint},
           {"weps", Kind::kWorkloadEndpoint},
           {"node", Kind::kNode},
           {"nodes", Kind::kNode},
           {"no", Kind::kNode},
           {"clusterconfiguration", Kind::kClusterConfiguration},
           {"clusterconfigurations", Kind::kClusterConfiguration},
           {"clusterconfig", Kind::kClusterConfiguration},
           {"namespace", Kind::kNamespace},
           {"Namespaces", Kind::kNamespace},
           {"ns", Kind::kNamespace},
           {"kubernetesnetworkpolicy", Kind::kKubernetesNetworkPolicy},
           {"KubernetesNetworkPolicies", Kind::kKubernetesNetworkPolicy},
           {"knp", Kind::kKubernetesNetworkPolicy},
           {"networkpolicies.networking.k8s.io", Kind::kKubernetesNetworkPolicy},
           {"networkpolicy.networking.k8s.io", Kind::kKubernetesNetworkPolicy},
       }) {
    std::optional<Kind> kind = KindFromName(alias.name);
    ASSERT_TRUE(kind.has_value()) << alias.name;
    EXPECT_EQ(*kind, alias.kind) << alias.name;
  }
  EXPECT_FALSE(KindFromName("").has_value());
  EXPECT_EQ(KindFromName("hep"), Kind::kHostEndpoint);
  EXPECT_FALSE(KindFromName("felixconfiguration").has_value());
  EXPECT_FALSE(KindFromName("ippoolx").has_value());
}

TEST(Kinds, ApplyOrderAndScope) {
  EXPECT_EQ(
      AllKinds(),
      (std::vector<Kind>{Kind::kClusterConfiguration, Kind::kNamespace, Kind::kNode, Kind::kIPPool,
                         Kind::kProfile, Kind::kGlobalNetworkPolicy, Kind::kNetworkPolicy,
                         Kind::kKubernetesNetworkPolicy, Kind::kWorkloadEndpoint,
                         Kind::kHostEndpoint, Kind::kBGPConfiguration, Kind::kBGPPeer}));
  EXPECT_TRUE(IsNamespaced(Kind::kNetworkPolicy));
  EXPECT_TRUE(IsNamespaced(Kind::kWorkloadEndpoint));
  EXPECT_FALSE(IsNamespaced(Kind::kGlobalNetworkPolicy));
  EXPECT_FALSE(IsNamespaced(Kind::kIPPool));
  EXPECT_FALSE(IsNamespaced(Kind::kNode));
  EXPECT_FALSE(IsNamespaced(Kind::kBGPConfiguration));
  EXPECT_FALSE(IsNamespaced(Kind::kBGPPeer));
}

TEST(Names, ActionsAndTypes) {
  EXPECT_EQ(ActionName(Action::kAllow), "Allow");
  EXPECT_EQ(ActionName(Action::kDeny), "Deny");
  EXPECT_EQ(ActionName(Action::kLog), "Log");
  EXPECT_EQ(ActionName(Action::kPass), "Pass");
  EXPECT_EQ(PolicyTypeName(PolicyType::kIngress), "Ingress");
  EXPECT_EQ(PolicyTypeName(PolicyType::kEgress), "Egress");
}

TEST(MakeResource, SpecMatchesKind) {
  EXPECT_TRUE(std::holds_alternative<IPPoolSpec>(MakeResource(Kind::kIPPool, "p").spec));
  EXPECT_TRUE(std::holds_alternative<PolicySpec>(MakeResource(Kind::kNetworkPolicy, "p").spec));
  EXPECT_TRUE(
      std::holds_alternative<PolicySpec>(MakeResource(Kind::kGlobalNetworkPolicy, "p").spec));
  EXPECT_TRUE(std::holds_alternative<ProfileSpec>(MakeResource(Kind::kProfile, "p").spec));
  EXPECT_TRUE(std::holds_alternative<WorkloadEndpointSpec>(
      MakeResource(Kind::kWorkloadEndpoint, "w", "ns").spec));
  EXPECT_TRUE(std::holds_alternative<NodeSpec>(MakeResource(Kind::kNode, "n").spec));
  EXPECT_TRUE(std::holds_alternative<ClusterConfigurationSpec>(
      MakeResource(Kind::kClusterConfiguration, "default").spec));
  EXPECT_TRUE(std::holds_alternative<NamespaceSpec>(MakeResource(Kind::kNamespace, "n").spec));
  EXPECT_TRUE(std::holds_alternative<KubernetesNetworkPolicySpec>(
      MakeResource(Kind::kKubernetesNetworkPolicy, "p", "ns").spec));
  EXPECT_EQ(MakeResource(Kind::kNamespace, "n").api_version, kKubernetesCoreApiVersion);
  EXPECT_EQ(MakeResource(Kind::kKubernetesNetworkPolicy, "p", "ns").api_version,
            kKubernetesNetworkingApiVersion);
  Resource wep = MakeResource(Kind::kWorkloadEndpoint, "w", "ns");
  EXPECT_EQ(wep.metadata.name, "w");
  EXPECT_EQ(wep.metadata.namespace_name, "ns");
  EXPECT_EQ(wep.api_version, kTabbyApiVersion);
}

TEST(DisplayName, WithAndWithoutNamespace) {
  EXPECT_EQ(DisplayName(MakeResource(Kind::kIPPool, "pool1")), "IPPool/pool1");
  EXPECT_EQ(DisplayName(MakeResource(Kind::kNetworkPolicy, "allow", "prod")),
            "NetworkPolicy/prod/allow");
}

}  // namespace
}  // namespace tabby::model
