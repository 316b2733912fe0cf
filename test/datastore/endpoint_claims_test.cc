// No two workload endpoints hold one address, nor one host interface on one node: every
// WorkloadEndpoint write through ResourceStore is checked in the same transaction
// (endpoint_claims.h).
#include "datastore/endpoint_claims.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "datastore/datastore.h"
#include "datastore/temp_dir.h"
#include "model/resources.h"

namespace tabby::datastore {
namespace {

using ::testing::HasSubstr;

model::Resource Endpoint(const std::string& name, const std::string& node,
                         const std::string& interface_name, std::vector<std::string> addresses,
                         const std::string& namespace_name = "default") {
  model::Resource endpoint =
      model::MakeResource(model::Kind::kWorkloadEndpoint, name, namespace_name);
  auto& spec = endpoint.workload_endpoint();
  spec.node = node;
  spec.orchestrator = "cni";
  spec.workload = name;
  spec.endpoint = "eth0";
  spec.interface_name = interface_name;
  spec.ip_networks = std::move(addresses);
  return endpoint;
}

class EndpointClaimsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto dir = testing::TempDir::Create();
    ASSERT_TRUE(dir.ok());
    dir_.emplace(std::move(*dir));
    auto store = Open("sqlite://" + dir_->path() + "/tabby.db", {.create = true});
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = std::move(*store);
  }

  std::optional<testing::TempDir> dir_;
  std::unique_ptr<Datastore> store_;
};

TEST_F(EndpointClaimsTest, TwoEndpointsCannotHoldOneAddress) {
  ResourceStore resources(*store_);
  ASSERT_TRUE(resources.Apply(Endpoint("a", "n1", "tabbya", {"10.0.0.1/32"})).ok());
  auto second = resources.Apply(Endpoint("b", "n1", "tabbyb", {"10.0.0.2/32", "10.0.0.1/32"}));
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(second.status().message(),
              HasSubstr("field spec.ipNetworks[1]: address 10.0.0.1 is already used by "
                        "workload endpoint default/a"));
  // Nothing of the refused write was stored, not even its free address's claim.
  EXPECT_FALSE(*resources.Get({model::Kind::kWorkloadEndpoint, "default", "b"}));
  EXPECT_FALSE(*store_->Get(std::string(kEndpointAddressIndexPrefix) + "10.0.0.2"));
  // Another namespace is no way around it.
  EXPECT_FALSE(resources.Apply(Endpoint("c", "n2", "tabbyc", {"10.0.0.1/32"}, "other")).ok());
}

TEST_F(EndpointClaimsTest, OneInterfaceBelongsToOneEndpointOnANode) {
  ResourceStore resources(*store_);
  ASSERT_TRUE(resources.Apply(Endpoint("a", "n1", "tabbya", {"10.0.0.1/32"})).ok());
  auto second = resources.Apply(Endpoint("b", "n1", "tabbya", {"10.0.0.2/32"}));
  ASSERT_FALSE(second.ok());
  EXPECT_THAT(second.status().message(),
              HasSubstr("field spec.interfaceName: interface tabbya is already used by workload "
                        "endpoint default/a"));
  // The same name on another node is another interface.
  EXPECT_TRUE(resources.Apply(Endpoint("b", "n2", "tabbya", {"10.0.0.2/32"})).ok());
}

TEST_F(EndpointClaimsTest, UpdatesAndDeletesGiveClaimsBack) {
  ResourceStore resources(*store_);
  ASSERT_TRUE(resources.Apply(Endpoint("a", "n1", "tabbya", {"10.0.0.1/32"})).ok());
  // Rewriting the endpoint as it is, and moving it to another address.
  ASSERT_TRUE(resources.Apply(Endpoint("a", "n1", "tabbya", {"10.0.0.1/32"})).ok());
  ASSERT_TRUE(resources.Apply(Endpoint("a", "n1", "tabbya2", {"10.0.0.3/32"})).ok());
  EXPECT_TRUE(resources.Apply(Endpoint("b", "n1", "tabbya", {"10.0.0.1/32"})).ok());
  EXPECT_FALSE(resources.Apply(Endpoint("c", "n1", "tabbyc", {"10.0.0.3/32"})).ok());
  ASSERT_TRUE(resources.Delete({model::Kind::kWorkloadEndpoint, "default", "a"}).ok());
  EXPECT_TRUE(resources.Apply(Endpoint("c", "n1", "tabbya2", {"10.0.0.3/32"})).ok());
  auto claims = store_->List("/tabby/v1/index/");
  ASSERT_TRUE(claims.ok());
  EXPECT_EQ(claims->items.size(), 4u);  // b and c: one address and one interface each
}

// A claim left by an endpoint that no longer holds it (written before the index existed, or by
// hand) does not block its rightful holder.
TEST_F(EndpointClaimsTest, StaleClaimsAreTakenOver) {
  ResourceStore resources(*store_);
  ASSERT_TRUE(store_
                  ->Put(std::string(kEndpointAddressIndexPrefix) + "10.0.0.1",
                        ResourceStore::Key({model::Kind::kWorkloadEndpoint, "default", "gone"}))
                  .ok());
  EXPECT_TRUE(resources.Apply(Endpoint("a", "n1", "tabbya", {"10.0.0.1/32"})).ok());
  EXPECT_FALSE(resources.Apply(Endpoint("b", "n1", "tabbyb", {"10.0.0.1/32"})).ok());
}

}  // namespace
}  // namespace tabby::datastore
