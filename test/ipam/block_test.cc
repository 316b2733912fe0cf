#include "ipam/block.h"

#include <gtest/gtest.h>

namespace tabby::ipam {
namespace {

TEST(BlockTest, IdsRoundTrip) {
  for (const char* text : {"10.65.0.64/26", "fd00:65::/122"}) {
    IpNetwork cidr = *IpNetwork::Parse(text, true);
    auto parsed = ParseBlockId(BlockId(cidr));
    ASSERT_TRUE(parsed.ok()) << parsed.status();
    EXPECT_EQ(*parsed, cidr);
  }
  EXPECT_EQ(BlockId(*IpNetwork::Parse("10.65.0.64/26")), "10.65.0.64-26");
  EXPECT_FALSE(ParseBlockId("10.65.0.64").ok());
  EXPECT_FALSE(ParseBlockId("10.65.0.65-26").ok()) << "host bits set";
}

TEST(BlockTest, FirstFreeFindsTheFirstGap) {
  Block block;
  block.cidr = *IpNetwork::Parse("10.0.0.0/30", true);
  EXPECT_EQ(block.FirstFree(), 0u);
  block.allocations[0] = {"h0", {}, 0};
  block.allocations[1] = {"h1", {}, 0};
  block.allocations[3] = {"h3", {}, 0};
  EXPECT_EQ(block.FirstFree(), 2u);
  block.allocations[2] = {"h2", {}, 0};
  EXPECT_FALSE(block.FirstFree().has_value());
  EXPECT_TRUE(block.full());
  EXPECT_EQ(block.AddressAt(3).ToString(), "10.0.0.3");
  EXPECT_EQ(block.OrdinalOf(*IpAddress::Parse("10.0.0.2")), 2u);
}

TEST(BlockTest, RecordsRoundTrip) {
  Block block;
  block.cidr = *IpNetwork::Parse("fd00::40/122", true);
  block.pool = "v6";
  block.affinity = "node-a";
  block.allocations[5] = {"net.c1.eth0", {{"namespace", "prod"}}, 1234};
  auto decoded = DecodeBlock(EncodeBlock(block));
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_EQ(*decoded, block);

  HandleRecord handle;
  handle.addresses[*IpAddress::Parse("fd00::45")] = block.cidr;
  auto decoded_handle = DecodeHandle(EncodeHandle(handle));
  ASSERT_TRUE(decoded_handle.ok());
  EXPECT_EQ(*decoded_handle, handle);

  IpamConfig config{true, 3};
  EXPECT_EQ(*DecodeConfig(EncodeConfig(config)), config);
}

TEST(BlockTest, CorruptRecordsAreDataLoss) {
  EXPECT_EQ(DecodeBlock("nope").status().code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(DecodeBlock(R"({"cidr": "10.0.0.0/30", "allocations": {"9": {"handle": "h"}}})")
                .status()
                .code(),
            absl::StatusCode::kDataLoss)
      << "an ordinal outside the block";
  EXPECT_EQ(DecodeHandle(R"({"addresses": {"x": "10.0.0.0/30"}})").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(DecodeConfig(R"({"strictAffinity": "yes"})").status().code(),
            absl::StatusCode::kDataLoss);
}

}  // namespace
}  // namespace tabby::ipam
