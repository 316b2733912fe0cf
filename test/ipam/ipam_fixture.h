// A temporary SQLite datastore with IP pools, for IPAM tests.
#pragma once

#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <memory>
#include <string>

#include "base/clock.h"
#include "datastore/datastore.h"
#include "datastore/resource_store.h"
#include "ipam/block.h"
#include "ipam/block_allocator.h"
#include "model/resources.h"

namespace tabby::ipam {

class IpamTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/tabby-ipam-test-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    url_ = "sqlite://" + dir_ + "/tabby.db";
    auto store = datastore::Open(url_, clock_);
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = std::move(*store);
    allocator_ = std::make_unique<BlockAllocator>(*store_, clock_);
  }
  void TearDown() override {
    allocator_.reset();
    store_.reset();
    std::filesystem::remove_all(dir_);
  }

  void AddPool(const std::string& name, const std::string& cidr, int block_size = 0,
               bool disabled = false, const std::string& node_selector = "") {
    datastore::ResourceStore resources(*store_);
    model::Resource pool = model::MakeResource(model::Kind::kIPPool, name);
    pool.ip_pool().cidr = cidr;
    pool.ip_pool().block_size = block_size;
    pool.ip_pool().disabled = disabled;
    pool.ip_pool().node_selector = node_selector;
    auto applied = resources.Apply(pool);
    ASSERT_TRUE(applied.ok()) << applied.status();
  }

  void SetConfig(const IpamConfig& config) {
    ASSERT_TRUE(store_->Put(kConfigKey, EncodeConfig(config)).ok());
  }

  static AllocationRequest Request(const std::string& handle, const std::string& node,
                                   bool v6 = false) {
    AllocationRequest request;
    request.handle = handle;
    request.node = node;
    request.attributes = {{"namespace", "default"}, {"workload", handle}};
    request.ipv6 = v6;
    return request;
  }

  // Every stored block by its CIDR.
  std::map<IpNetwork, Block> Blocks() {
    std::map<IpNetwork, Block> out;
    auto listing = store_->List(kBlockPrefix);
    EXPECT_TRUE(listing.ok()) << listing.status();
    if (!listing.ok()) return out;
    for (const auto& kv : listing->items) {
      auto block = DecodeBlock(kv.value);
      EXPECT_TRUE(block.ok()) << kv.key << ": " << block.status();
      if (block.ok()) out.emplace(block->cidr, *block);
    }
    return out;
  }

  FakeClock clock_{absl::FromUnixSeconds(1'800'000'000)};
  std::string dir_;
  std::string url_;
  std::unique_ptr<datastore::Datastore> store_;
  std::unique_ptr<BlockAllocator> allocator_;
};

}  // namespace tabby::ipam
