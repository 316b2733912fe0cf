// natOutgoing on real hosts (fabric_fixture.h, routed over BGP): a workload reaches an address
// outside every pool (a namespace playing "internet" behind the tor, which has no route back to
// the pools) only once its pool has natOutgoing, because only then does it leave with its host's
// address; workload-to-workload traffic keeps the workload's source (a policy that admits only
// that workload's address still lets it in).
#include <fmt/format.h>
#include <gmock/gmock.h>

#include <memory>
#include <string>

#include "fabric_fixture.h"

namespace tabby::test {
namespace {

using ::testing::HasSubstr;

class NatOutgoing : public FabricTest {
 protected:
  NatOutgoing() : FabricTest({.hosts = 2}) {}

  void SetUp() override {
    FabricTest::SetUp();
    if (HasFatalFailure() || IsSkipped()) return;
    auto internet = ScopedNetns::Create();
    ASSERT_TRUE(internet.ok()) << internet.status();
    internet_ = std::make_unique<ScopedNetns>(std::move(*internet));
    for (const std::vector<std::string>& command : std::vector<std::vector<std::string>>{
             {"ip", "link", "add", "inet0", "type", "veth", "peer", "name", "eth0", "netns",
              internet_->name()},
             {"ip", "addr", "add", "203.0.113.254/24", "dev", "inet0"},
             {"ip", "link", "set", "inet0", "up"}}) {
      ASSERT_TRUE(fabric_->tor().RunOk(command).ok());
    }
    for (const std::vector<std::string>& command : std::vector<std::vector<std::string>>{
             {"ip", "addr", "add", "203.0.113.1/24", "dev", "eth0"},
             {"ip", "link", "set", "eth0", "up"},
             {"ip", "route", "add", "default", "via", "203.0.113.254"}}) {
      ASSERT_TRUE(internet_->RunOk(command).ok());
    }
    auto server = internet_->Start({TABBY_PROBE, "serve", "--tcp", "80"});
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = std::move(*server);
    ASSERT_TRUE(server_->WaitForOutput("ready", std::chrono::seconds(10)));
  }

  void TearDown() override {
    server_.reset();
    internet_.reset();
    FabricTest::TearDown();
  }

  bool ReachInternet(const std::string& from) {
    return workloads_.at(from)
        .netns->Run({TABBY_PROBE, "connect", "--tcp", "203.0.113.1", "80", "--timeout-ms", "400"})
        .ok();
  }

  std::unique_ptr<ScopedNetns> internet_;
  std::unique_ptr<ChildProcess> server_;
};

TEST_F(NatOutgoing, MasqueradesOnlyTrafficLeavingThePools) {
  AddWorkload(0, "a", "app=a");
  AddWorkload(1, "b", "app=b");
  ApplyYaml(R"(
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: b-from-a-only}
spec:
  selector: app == 'b'
  ingress:
  - action: Allow
    source: {selector: app == 'a'}
)");
  ASSERT_TRUE(WaitFor([&] { return Reach("a", "b"); }, std::chrono::seconds(60)));
  // Without natOutgoing the workload's own address goes out, and nothing routes it back.
  EXPECT_FALSE(ReachInternet("a"));

  ApplyYaml(R"(
apiVersion: projectcalico.org/v3
kind: IPPool
metadata: {name: pool4}
spec: {cidr: 10.70.0.0/24, natOutgoing: true}
)");
  EXPECT_TRUE(
      WaitFor([&] { return ReachInternet("a") && ReachInternet("b"); }, std::chrono::seconds(20)))
      << fabric_->host(0).Run({"nft", "list", "table", "inet", "tabby-nat"}).out;
  EXPECT_THAT(fabric_->host(0).Run({"nft", "list", "table", "inet", "tabby-nat"}).out,
              HasSubstr("ip saddr @masq4 ip daddr != @pools4 masquerade"));
  // Between workloads the source stays the workload's: b's policy still admits a.
  EXPECT_TRUE(Reach("a", "b"));

  // Off again: the table goes, and so does the way out.
  ApplyYaml(PoolYaml("pool4", "10.70.0.0/24", "Never"));
  EXPECT_TRUE(WaitFor(
      [&] {
        return !fabric_->host(0).Run({"nft", "list", "table", "inet", "tabby-nat"}).ok();
      },
      std::chrono::seconds(20)));
  EXPECT_FALSE(ReachInternet("a"));
}

}  // namespace
}  // namespace tabby::test
