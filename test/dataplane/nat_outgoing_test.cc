// The natOutgoing table's script: rewritten whole, deleted when no pool asks for NAT.
#include "dataplane/nat_outgoing.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace tabby::dataplane {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

IpNetwork Net(const char* text) { return *IpNetwork::Parse(text); }

TEST(NatOutgoing, NoNatPoolDeletesTheTable) {
  EXPECT_EQ(RenderNatOutgoing({{Net("10.70.0.0/16"), false}}),
            "add table inet tabby-nat\ndelete table inet tabby-nat\n");
  EXPECT_EQ(RenderNatOutgoing({}), "add table inet tabby-nat\ndelete table inet tabby-nat\n");
}

TEST(NatOutgoing, MasqueradesNatPoolsToOutsideEveryPool) {
  std::string script = RenderNatOutgoing(
      {{Net("10.70.0.0/16"), true}, {Net("10.80.0.0/16"), false}, {Net("fd70::/64"), false}});
  EXPECT_THAT(script, HasSubstr("add table inet tabby-nat\ndelete table inet tabby-nat\n"
                                "table inet tabby-nat {\n"));
  EXPECT_THAT(script, HasSubstr("set pools4 { type ipv4_addr; flags interval; elements = { "
                                "10.70.0.0/16, 10.80.0.0/16 }; }"));
  EXPECT_THAT(
      script,
      HasSubstr("set masq4 { type ipv4_addr; flags interval; elements = { 10.70.0.0/16 }; }"));
  EXPECT_THAT(
      script,
      HasSubstr("set pools6 { type ipv6_addr; flags interval; elements = { fd70::/64 }; }"));
  EXPECT_THAT(script, HasSubstr("set masq6 { type ipv6_addr; flags interval; }"));
  EXPECT_THAT(script, HasSubstr("type nat hook postrouting priority srcnat; policy accept;\n"
                                "    ip saddr @masq4 ip daddr != @pools4 masquerade\n"
                                "    ip6 saddr @masq6 ip6 daddr != @pools6 masquerade\n"));
  EXPECT_THAT(script, Not(HasSubstr("elements = {  }")));
}

// Records what it is asked to run.
class RecordingNft : public NftClient {
 public:
  absl::Status Commit(const NftTransaction&) override {
    return absl::UnimplementedError("natOutgoing runs scripts");
  }
  absl::Status Run(const std::string& script) override {
    scripts.push_back(script);
    return fail ? absl::UnavailableError("nft says no") : absl::OkStatus();
  }
  absl::StatusOr<std::optional<std::string>> ListTableJson(const std::string&,
                                                           const std::string&) override {
    return std::nullopt;
  }
  std::vector<std::string> scripts;
  bool fail = false;
};

TEST(NatOutgoing, RewritesOnlyWhenThePoolsChangeAndRetriesAfterAFailure) {
  RecordingNft nft;
  NatOutgoing nat(nft);
  const std::vector<NatPool> pools = {{Net("10.70.0.0/16"), true}};
  nft.fail = true;
  EXPECT_FALSE(nat.Sync(pools).ok());
  nft.fail = false;
  EXPECT_TRUE(nat.Sync(pools).ok());
  EXPECT_TRUE(nat.Sync(pools).ok());
  EXPECT_EQ(nft.scripts.size(), 2u);
  EXPECT_TRUE(nat.Sync(pools, /*force=*/true).ok());
  EXPECT_TRUE(nat.Sync({{Net("10.70.0.0/16"), false}}).ok());
  EXPECT_EQ(nft.scripts.size(), 4u);
}

}  // namespace
}  // namespace tabby::dataplane
