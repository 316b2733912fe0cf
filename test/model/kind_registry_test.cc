#include "model/kind_registry.h"

#include <gtest/gtest.h>

#include <cctype>
#include <map>
#include <set>
#include <string>
#include <vector>

namespace tabby::model {
namespace {

// Every Kind enumerator. The values count up from 0, and the switch names each one: -Wswitch (an
// error in this build) fails it when a Kind is added without a case here.
std::vector<Kind> EveryKind() {
  std::vector<Kind> kinds;
  for (int value = 0;; ++value) {
    const Kind kind = static_cast<Kind>(value);
    switch (kind) {
      case Kind::kIPPool:
      case Kind::kNetworkPolicy:
      case Kind::kGlobalNetworkPolicy:
      case Kind::kProfile:
      case Kind::kWorkloadEndpoint:
      case Kind::kNode:
      case Kind::kClusterConfiguration:
      case Kind::kNamespace:
      case Kind::kKubernetesNetworkPolicy:
      case Kind::kHostEndpoint:
      case Kind::kBGPConfiguration:
      case Kind::kBGPPeer:
        kinds.push_back(kind);
        continue;
    }
    return kinds;
  }
}

TEST(KindRegistry, EveryKindOnce) {
  std::map<Kind, int> registered;
  for (const KindInfo* info : KindRegistry()) ++registered[info->kind];
  for (Kind kind : EveryKind()) {
    EXPECT_EQ(registered[kind], 1)
        << "Kind " << static_cast<int>(kind) << " must be listed once in model/kind_registry.cc";
    EXPECT_EQ(KindInfoOf(kind).kind, kind);
  }
  EXPECT_EQ(KindRegistry().size(), EveryKind().size());
}

TEST(KindRegistry, ApplyOrder) {
  EXPECT_EQ(AllKinds(), (std::vector<Kind>{
                            Kind::kClusterConfiguration,
                            Kind::kNamespace,
                            Kind::kNode,
                            Kind::kIPPool,
                            Kind::kProfile,
                            Kind::kGlobalNetworkPolicy,
                            Kind::kNetworkPolicy,
                            Kind::kKubernetesNetworkPolicy,
                            Kind::kWorkloadEndpoint,
                            Kind::kHostEndpoint,
                            Kind::kBGPConfiguration,
                            Kind::kBGPPeer,
                        }));
}

// KindFromName takes the first match: no two kinds may share a name or an alias.
TEST(KindRegistry, NamesAndAliasesAreUnique) {
  auto lower = [](std::string_view text) {
    std::string out(text);
    for (char& ch : out) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    return out;
  };
  std::set<std::string> seen;
  for (const KindInfo* info : KindRegistry()) {
    EXPECT_TRUE(seen.insert(lower(info->name)).second) << info->name;
    for (std::string_view alias : info->aliases) {
      if (alias.empty()) continue;
      EXPECT_EQ(alias, lower(alias)) << "aliases are written in lower case";
      EXPECT_TRUE(seen.insert(std::string(alias)).second) << alias;
    }
  }
}

TEST(KindRegistry, EmptySpecIsTheKindsOwn) {
  for (const KindInfo* info : KindRegistry()) {
    Resource resource = MakeResource(info->kind, "x");
    EXPECT_EQ(resource.spec.index(), info->empty_spec().index()) << info->name;
    EXPECT_EQ(resource.api_version, info->api_version) << info->name;
  }
}

TEST(KindRegistry, EveryKindHasWhatIsRequired) {
  for (const KindInfo* info : KindRegistry()) {
    EXPECT_FALSE(info->name.empty());
    EXPECT_FALSE(info->wire_name.empty()) << info->name;
    EXPECT_NE(info->empty_spec, nullptr) << info->name;
    EXPECT_NE(info->check, nullptr) << info->name;
  }
}

}  // namespace
}  // namespace tabby::model
