// A temporary SQLite datastore with IP pools, for IPAM tests.
#pragma once

#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <optional>
#include <string>

#include "base/clock.h"
#include "datastore/datastore.h"
#include "datastore/resource_store.h"
#include "ipam/block.h"
#include "ipam/block_allocator.h"
#include "ipam_testing.h"
#include "model/resources.h"
#include "support/temp_dir.h"

namespace tabby::ipam {

class IpamTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto dir = test::TempDir::Create();
    ASSERT_TRUE(dir.ok()) << dir.status();
    dir_.emplace(std::move(*dir));
    url_ = "sqlite://" + dir_->File("tabby.db");
    auto store = datastore::Open(url_, {.create = true, .clock = &clock_});
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = std::move(*store);
    allocator_ = std::make_unique<BlockAllocator>(*store_, clock_);
  }
  void TearDown() override {
    allocator_.reset();
    store_.reset();  // before the directory goes
  }

  void AddPool(const std::string& name, const std::string& cidr, int block_size = 0,
               bool disabled = false, const std::string& node_selector = "") {
    datastore::ResourceStore resources(*store_);
    auto applied =
        resources.Apply(testing::PoolResource(name, cidr, block_size, disabled, node_selector));
    ASSERT_TRUE(applied.ok()) << applied.status();
  }

  void SetConfig(const IpamConfig& config) {
    ASSERT_TRUE(store_->Put(kConfigKey, EncodeConfig(config)).ok());
  }

  static AllocationRequest Request(const std::string& handle, const std::string& node,
                                   bool v6 = false) {
    return testing::Request(handle, node, v6);
  }

  // Every stored block by its CIDR.
  std::map<IpNetwork, Block> Blocks() { return testing::ReadBlocks(*store_); }

  FakeClock clock_{absl::FromUnixSeconds(1'800'000'000)};
  std::optional<test::TempDir> dir_;
  std::string url_;
  std::unique_ptr<datastore::Datastore> store_;
  std::unique_ptr<BlockAllocator> allocator_;
};

}  // namespace tabby::ipam
