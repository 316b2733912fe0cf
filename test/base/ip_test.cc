#include "base/ip.h"

#include <gtest/gtest.h>

namespace tabby {
namespace {

TEST(IpAddress, ParsesAndFormats) {
  auto v4 = IpAddress::Parse("10.1.2.3");
  ASSERT_TRUE(v4.ok());
  EXPECT_TRUE(v4->is_v4());
  EXPECT_EQ(v4->ToString(), "10.1.2.3");
  auto v6 = IpAddress::Parse("FD00:0::1");
  ASSERT_TRUE(v6.ok());
  EXPECT_EQ(v6->ToString(), "fd00::1");
  EXPECT_FALSE(IpAddress::Parse("10.1.2").ok());
  EXPECT_FALSE(IpAddress::Parse("").ok());
}

TEST(IpAddress, Arithmetic) {
  auto base = *IpAddress::Parse("10.0.0.250");
  EXPECT_EQ(base.Plus(10).ToString(), "10.0.1.4");
  EXPECT_EQ(base.Plus(10).DistanceFrom(base), 10u);
  auto v6 = *IpAddress::Parse("fd00::ffff");
  EXPECT_EQ(v6.Plus(1).ToString(), "fd00::1:0");
}

TEST(IpNetwork, ParseStrictAndContains) {
  auto net = IpNetwork::Parse("10.0.0.0/16", /*strict=*/true);
  ASSERT_TRUE(net.ok());
  EXPECT_TRUE(net->Contains(*IpAddress::Parse("10.0.255.1")));
  EXPECT_FALSE(net->Contains(*IpAddress::Parse("10.1.0.1")));
  EXPECT_FALSE(net->Contains(*IpAddress::Parse("fd00::1")));
  EXPECT_EQ(net->Size(), 65536u);
  auto loose = IpNetwork::Parse("10.0.0.1/16", /*strict=*/true);
  ASSERT_FALSE(loose.ok());
  EXPECT_NE(loose.status().message().find("10.0.0.0/16"), std::string_view::npos);
  EXPECT_FALSE(IpNetwork::Parse("10.0.0.0/33").ok());
  EXPECT_FALSE(IpNetwork::Parse("10.0.0.0/").ok());
  EXPECT_EQ(IpNetwork::Parse("10.0.0.7")->ToString(), "10.0.0.7/32");
  EXPECT_TRUE(IpNetwork::Parse("fd00::/64")->Overlaps(*IpNetwork::Parse("fd00::/48")));
}

}  // namespace
}  // namespace tabby
