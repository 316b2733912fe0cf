// The datastore outage contract (docs/datastore.md), end to end on a real etcd: with etcd down,
// every programmed rule and route stays and allowed traffic keeps flowing, denied traffic stays
// denied, CNI ADD fails with "try again" and leaves nothing behind; when etcd returns, tabbyd
// converges and a policy created then takes effect.
#include <gmock/gmock.h>

#include "host_fixture.h"

namespace tabby::test {
namespace {

class DatastoreOutage : public HostFixture {
 protected:
  DatastoreOutage() { use_etcd_ = true; }

  // tabby* interfaces on the host: one per wired workload.
  size_t HostWorkloadInterfaces() {
    CommandResult links = host_->Run({"ip", "-o", "link", "show"});
    EXPECT_TRUE(links.ok()) << links.Describe();
    size_t count = 0;
    for (size_t at = links.out.find(": tabby"); at != std::string::npos;
         at = links.out.find(": tabby", at + 1)) {
      ++count;
    }
    return count;
  }
};

TEST_F(DatastoreOutage, TrafficKeepsFlowingAndNewWorkloadsWaitUntilEtcdReturns) {
  Apply(R"(
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: clients-only}
spec:
  selector: app == 'server'
  ingress:
  - action: Allow
    source: {selector: app == 'client'}
)");
  AddWorkload("server", "app=server");
  AddWorkload("client", "app=client");
  AddWorkload("other", "app=other");
  ASSERT_TRUE(Reach("client", "server"));
  ASSERT_FALSE(Reach("other", "server"));
  const size_t interfaces = HostWorkloadInterfaces();

  etcd_->Kill(0);
  EXPECT_TRUE(Reach("client", "server"));
  EXPECT_FALSE(Reach("other", "server"));

  // A new workload cannot be wired without the datastore: "try again" (CNI code 11), and no
  // half-wired workload: no host interface, nothing in the workload's namespace.
  TestWorkload late;
  late.name = late.pod = "late";
  late.namespace_name = "e2e";
  auto netns = ScopedNetns::Create();
  ASSERT_TRUE(netns.ok()) << netns.status();
  late.netns = std::make_unique<ScopedNetns>(std::move(*netns));
  CommandResult added = Cni("ADD", late, ";TABBY_LABELS=app=client", false);
  EXPECT_FALSE(added.ok());
  nlohmann::json error = nlohmann::json::parse(added.out, nullptr, false);
  ASSERT_FALSE(error.is_discarded()) << added.Describe() << added.out;
  EXPECT_EQ(error["code"], 11) << added.out;
  EXPECT_THAT(error.dump(), ::testing::HasSubstr("etcd")) << added.out;
  EXPECT_EQ(HostWorkloadInterfaces(), interfaces);
  CommandResult inside = late.netns->Run({"ip", "-o", "link", "show", "eth0"});
  EXPECT_FALSE(inside.ok()) << "eth0 left in the workload's namespace: " << inside.out;

  // Some ten seconds into the outage (the ADD's retries), the agent is still running and the
  // kernel still holds what it programmed.
  EXPECT_TRUE(agent()->Running()) << agent()->Describe();
  EXPECT_TRUE(Reach("client", "server"));
  EXPECT_FALSE(Reach("other", "server"));

  ASSERT_TRUE(etcd_->Restart(0).ok());
  // A policy written after the outage reaches the dataplane (Apply waits until it is programmed).
  Apply(R"(
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: others-too}
spec:
  selector: app == 'server'
  ingress:
  - action: Allow
    source: {selector: app == 'other'}
)");
  EXPECT_TRUE(Reach("other", "server"));
  EXPECT_TRUE(Reach("client", "server"));
  // And the runtime's retry of the ADD succeeds.
  AddWorkload("late", "app=client");
  EXPECT_TRUE(Reach("late", "server"));
}

}  // namespace
}  // namespace tabby::test
