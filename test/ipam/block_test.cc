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

// The compact encoding leaves out a node attribute equal to the block's affinity; every other
// combination (another node, none at all, a block without affinity) must survive a round trip.
TEST(BlockTest, CompactEncodingKeepsEveryAllocationAttribute) {
  Block block;
  block.cidr = *IpNetwork::Parse("10.0.0.0/29", true);
  block.pool = "p";
  block.affinity = "node-a";
  block.allocations[0] = {"own", {{"node", "node-a"}, {"workload", "w0"}}, 10};
  block.allocations[1] = {"borrowed", {{"node", "node-b"}}, 11};
  block.allocations[2] = {"no-node", {{"namespace", "ns"}}, 12};
  block.allocations[3] = {"bare", {}, 13};
  block.allocations[4] = {"empty-node", {{"node", ""}}, 14};
  block.allocations[5] = {
      "net.c5.eth0", {{"containerID", "c5"}, {"network", "net"}, {"if", "x"}}, 15};
  std::string encoded = EncodeBlock(block);
  EXPECT_EQ(encoded.find("\"node-a\"", encoded.find("allocations")), std::string::npos) << encoded;
  EXPECT_NE(encoded.find(R"({"containerID":1,"if":"x","network":0,"node":null})"),
            std::string::npos)
      << encoded;
  auto decoded = DecodeBlock(encoded);
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_EQ(*decoded, block);

  block.affinity = "";  // released: every node is explicit
  decoded = DecodeBlock(EncodeBlock(block));
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_EQ(*decoded, block);
}

TEST(BlockTest, DecodesTheEarlierObjectEncoding) {
  auto block =
      DecodeBlock(R"({"cidr": "10.0.0.0/30", "pool": "p", "affinity": "a", "allocations": )"
                  R"({"2": {"handle": "h", "attributes": {"node": "a"}, "allocatedAtMs": 7}}})");
  ASSERT_TRUE(block.ok()) << block.status();
  ASSERT_EQ(block->allocations.size(), 1u);
  EXPECT_EQ(block->allocations.at(2), (Allocation{"h", {{"node", "a"}}, 7}));
}

TEST(BlockTest, CorruptRecordsAreDataLoss) {
  EXPECT_EQ(DecodeBlock("nope").status().code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(DecodeBlock(R"({"cidr": "10.0.0.0/30", "allocations": {"9": {"handle": "h"}}})")
                .status()
                .code(),
            absl::StatusCode::kDataLoss)
      << "an ordinal outside the block";
  EXPECT_EQ(DecodeBlock(R"({"cidr": "10.0.0.0/30", "allocations": [[1, "h", 0], [1, "g", 0]]})")
                .status()
                .code(),
            absl::StatusCode::kDataLoss)
      << "an ordinal allocated twice";
  EXPECT_EQ(DecodeBlock(R"({"cidr": "10.0.0.0/30", "allocations": [[1, "h"]]})").status().code(),
            absl::StatusCode::kDataLoss)
      << "an allocation without its time";
  EXPECT_EQ(DecodeBlock(R"({"cidr": "10.0.0.0/30", "allocations": [[1, "a.b", 0, {"x": 2}]]})")
                .status()
                .code(),
            absl::StatusCode::kDataLoss)
      << "an attribute referring to a handle field that does not exist";
  EXPECT_EQ(DecodeBlock(R"({"cidr": "10.0.0.0/30", "allocations": "x"})").status().code(),
            absl::StatusCode::kDataLoss);
  EXPECT_EQ(DecodeHandle(R"({"addresses": {"x": "10.0.0.0/30"}})").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(DecodeConfig(R"({"strictAffinity": "yes"})").status().code(),
            absl::StatusCode::kDataLoss);
}

}  // namespace
}  // namespace tabby::ipam
