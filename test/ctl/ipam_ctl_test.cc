// tabbyctl ipam show | check | release | configure, and the IP pool changes tabbyctl refuses.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "base/clock.h"
#include "ctl_fixture.h"
#include "datastore/node_liveness.h"
#include "ipam/block.h"
#include "ipam/block_allocator.h"
#include "ipam/ipam_testing.h"  // test/ipam
#include "model/codec.h"

namespace tabby::ctl {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kNode[] = R"(apiVersion: projectcalico.org/v3
kind: Node
metadata:
  name: node1
)";

// The endpoint tabby-cni would record for handle "h-web".
constexpr char kWebEndpoint[] = R"(apiVersion: projectcalico.org/v3
kind: WorkloadEndpoint
metadata:
  name: node1-cni-web-eth0
  namespace: default
  annotations:
    tabby.dev/ipam-handle: h-web
spec:
  node: node1
  orchestrator: cni
  workload: web
  endpoint: eth0
  interfaceName: tabby0a1b2c3d
  ipNetworks: [10.10.0.0/32]
)";

class IpamCtlTest : public CtlTest {
 protected:
  void SetUp() override {
    CtlTest::SetUp();
    ASSERT_EQ(Run({"apply", "-f", "-"}, Docs({kPool, kNode})).code, 0);
  }

  // Allocates one address for `handle` on `node`, as tabby-cni does.
  std::string Allocate(const std::string& handle, const std::string& node = "node1") {
    auto store = datastore::Open(url_);
    EXPECT_TRUE(store.ok()) << store.status();
    if (!store.ok()) return "";
    ipam::BlockAllocator allocator(**store, SystemClock::Get());
    auto addresses = allocator.Allocate(ipam::testing::Request(handle, node));
    EXPECT_TRUE(addresses.ok()) << addresses.status();
    return addresses.ok() ? addresses->at(0).ToString() : "";
  }

  size_t Allocated() {
    auto store = datastore::Open(url_);
    EXPECT_TRUE(store.ok()) << store.status();
    return store.ok() ? ipam::testing::CountAllocations(**store) : 0;
  }
};

TEST_F(IpamCtlTest, ShowPrintsPoolsTheirBlocksAndWhoHoldsAnAddress) {
  ASSERT_EQ(Allocate("h-web"), "10.10.0.0");
  ASSERT_EQ(Allocate("h-db"), "10.10.0.1");
  ASSERT_EQ(Allocate("h-cache", "node2"), "10.10.0.64");
  ASSERT_EQ(Run({"apply", "-f", "-"}, kWebEndpoint).code, 0);

  Result r = Run({"ipam", "show"});
  ASSERT_EQ(r.code, 0) << r;
  EXPECT_THAT(r.out, HasSubstr("IP Pool pool-a"));
  EXPECT_THAT(r.out, HasSubstr("65536"));
  EXPECT_THAT(r.out, HasSubstr("3 (0.0%)"));
  EXPECT_THAT(r.out, Not(HasSubstr("Block (host")));
  EXPECT_THAT(r.out,
              HasSubstr("IPAM configuration: strictAffinity=false maxBlocksPerHost=unlimited"));

  r = Run({"ipam", "show", "--show-blocks"});
  ASSERT_EQ(r.code, 0) << r;
  EXPECT_THAT(r.out, HasSubstr("Block (host node1)"));
  EXPECT_THAT(r.out, HasSubstr("10.10.0.0/26"));
  EXPECT_THAT(r.out, HasSubstr("2 (3.1%)"));
  EXPECT_THAT(r.out, HasSubstr("Block (host node2)"));
  EXPECT_THAT(r.out, HasSubstr("10.10.0.64/26"));

  r = Run({"ipam", "show", "--ip", "10.10.0.0"});
  ASSERT_EQ(r.code, 0) << r;
  EXPECT_THAT(r.out, HasSubstr("IP 10.10.0.0 is in use"));
  EXPECT_THAT(r.out, HasSubstr("handle: h-web"));
  EXPECT_THAT(r.out, HasSubstr("node=node1"));
  EXPECT_THAT(r.out, HasSubstr("workload endpoint: default/node1-cni-web-eth0"));

  r = Run({"ipam", "show", "--ip", "10.10.0.5"});
  EXPECT_EQ(r.code, 0) << r;
  EXPECT_THAT(r.out, HasSubstr("IP 10.10.0.5 is not assigned (block 10.10.0.0/26, host node1)"));
  r = Run({"ipam", "show", "--ip", "10.99.0.1"});
  EXPECT_THAT(r.out, HasSubstr("is not in any IPAM block"));
  r = Run({"ipam", "show", "--ip", "10.10.0"});
  EXPECT_EQ(r.code, 1) << r;
  EXPECT_THAT(r.err, HasSubstr("--ip"));
}

TEST_F(IpamCtlTest, CheckFindsALeakAfterTheGracePeriodAndReleaseRepairsItAfterADryRun) {
  ASSERT_EQ(Allocate("h-web"), "10.10.0.0");
  ASSERT_EQ(Allocate("h-gone"), "10.10.0.1");  // its workload never appeared
  ASSERT_EQ(Run({"apply", "-f", "-"}, kWebEndpoint).code, 0);

  // Young allocations are never leaks: the workload may still be starting.
  Result r = Run({"ipam", "check"});
  ASSERT_EQ(r.code, 0) << r;
  EXPECT_THAT(r.out, HasSubstr("1 unreferenced but younger than the 10m grace period"));
  EXPECT_THAT(r.out, HasSubstr("No problems found."));

  r = Run({"ipam", "check", "--grace", "0s"});
  ASSERT_EQ(r.code, 1) << r;  // problems found
  EXPECT_THAT(r.out, HasSubstr("leaked address 10.10.0.1 (block 10.10.0.0/26, handle h-gone"));
  EXPECT_THAT(r.out, HasSubstr("Found 1 leaked addresses"));
  EXPECT_THAT(r.out, Not(HasSubstr("10.10.0.0 ")));

  r = Run({"ipam", "release", "--grace", "0s", "--dry-run"});
  ASSERT_EQ(r.code, 0) << r;
  EXPECT_THAT(r.out, HasSubstr("Dry run: nothing was changed."));
  EXPECT_EQ(Allocated(), 2u);

  r = Run({"ipam", "release", "--grace", "0s"});
  ASSERT_EQ(r.code, 0) << r;
  EXPECT_THAT(r.out, HasSubstr("Released 1 addresses"));
  EXPECT_EQ(Allocated(), 1u);  // the live workload's address is kept
  r = Run({"ipam", "check", "--grace", "0s"});
  EXPECT_THAT(r.out, HasSubstr("No problems found."));
  r = Run({"ipam", "show", "--ip", "10.10.0.0"});
  EXPECT_THAT(r.out, HasSubstr("is in use"));

  r = Run({"ipam", "check", "--grace", "soon"});
  EXPECT_EQ(r.code, 1) << r;
  EXPECT_THAT(r.err, HasSubstr("--grace: \"soon\" is not a duration"));
}

TEST_F(IpamCtlTest, ReleaseOneAddressByHand) {
  ASSERT_EQ(Allocate("h-web"), "10.10.0.0");
  Result r = Run({"ipam", "release", "--ip", "10.10.0.0", "--dry-run"});
  ASSERT_EQ(r.code, 0) << r;
  EXPECT_EQ(Allocated(), 1u);
  r = Run({"ipam", "release", "--ip", "10.10.0.0"});
  ASSERT_EQ(r.code, 0) << r;
  EXPECT_THAT(r.out, HasSubstr("Released 10.10.0.0"));
  EXPECT_EQ(Allocated(), 0u);
  // Idempotent.
  EXPECT_EQ(Run({"ipam", "release", "--ip", "10.10.0.0"}).code, 0);
}

TEST_F(IpamCtlTest, PoolChangesThatWouldStrandAddressesAreRefused) {
  ASSERT_EQ(Allocate("h-web"), "10.10.0.0");
  std::string pool = WriteFile("pool.yaml", kPool);

  Result r = Run({"delete", "-f", pool});
  EXPECT_EQ(r.code, 1) << r;
  EXPECT_THAT(r.err, HasSubstr("cannot delete IPPool pool-a: 1 of its addresses in 1 blocks are "
                               "allocated (e.g. 10.10.0.0 held by workload default/h-web on "
                               "node1)"));
  EXPECT_EQ(StoredNames(Kind::kIPPool), std::vector<std::string>{"pool-a"});

  std::string moved = kPool;
  moved.replace(moved.find("10.10.0.0/16"), 12, "10.20.0.0/16");
  r = Run({"apply", "-f", "-"}, moved);
  EXPECT_EQ(r.code, 1) << r;
  EXPECT_THAT(r.err, HasSubstr("cannot change the cidr of IPPool pool-a from 10.10.0.0/16 to "
                               "10.20.0.0/16: 1 of its blocks lie outside the new cidr"));
  EXPECT_EQ(Stored(Kind::kIPPool).at(0).ip_pool().cidr, "10.10.0.0/16");

  std::string overlapping = kPool;
  overlapping.replace(overlapping.find("pool-a"), 6, "pool-b");
  overlapping.replace(overlapping.find("10.10.0.0/16"), 12, "10.10.128.0/24");
  r = Run({"create", "-f", "-"}, overlapping);
  EXPECT_EQ(r.code, 1) << r;
  EXPECT_THAT(r.err, HasSubstr("overlaps IPPool pool-a (10.10.0.0/16)"));

  // Disable, drain, delete.
  std::string disabled = std::string(kPool) + "  disabled: true\n";
  ASSERT_EQ(Run({"apply", "-f", "-"}, disabled).code, 0);
  ASSERT_EQ(Run({"ipam", "release", "--ip", "10.10.0.0"}).code, 0);
  r = Run({"delete", "-f", pool});
  EXPECT_EQ(r.code, 0) << r;
  EXPECT_TRUE(StoredNames(Kind::kIPPool).empty());
  r = Run({"ipam", "show", "--show-blocks"});
  EXPECT_THAT(r.out, Not(HasSubstr("Block (host")));
}

// node delete removes a host for good: refused while its agent keeps it alive, then its
// endpoints, Node, liveness key, addresses and blocks go; other nodes keep theirs.
TEST_F(IpamCtlTest, NodeDeleteRemovesTheNodeAndEverythingItHeld) {
  ASSERT_EQ(Allocate("h-web"), "10.10.0.0");
  ASSERT_EQ(Allocate("h-cache", "node2"), "10.10.0.64");
  ASSERT_EQ(Run({"apply", "-f", "-"}, kWebEndpoint).code, 0);
  {
    auto store = datastore::Open(url_);
    ASSERT_TRUE(store.ok());
    datastore::NodeLiveness liveness(**store, "node1", SystemClock::Get());
    ASSERT_TRUE(liveness.Tick().ok());
  }

  Result listed = Run({"get", "nodes"});
  EXPECT_EQ(listed.out, "NAME    STATUS\nnode1   Alive\n") << listed;

  Result refused = Run({"node", "delete", "node1"});
  EXPECT_EQ(refused.code, 1);
  EXPECT_THAT(refused.err, HasSubstr("node \"node1\" is alive"));
  EXPECT_THAT(StoredNames(Kind::kNode), ::testing::Contains("node1"));

  Result deleted = Run({"node", "delete", "node1", "--force"});
  ASSERT_EQ(deleted.code, 0) << deleted;
  EXPECT_THAT(deleted.out, HasSubstr("1 workload endpoint(s), 1 address(es) and 1 block(s)"));
  EXPECT_THAT(StoredNames(Kind::kNode), Not(::testing::Contains("node1")));
  EXPECT_TRUE(Stored(Kind::kWorkloadEndpoint, "default").empty());
  EXPECT_EQ(Allocated(), 1u);  // node2's
  auto store = datastore::Open(url_);
  ASSERT_TRUE(store.ok());
  auto live = datastore::ListLiveNodes(**store);
  ASSERT_TRUE(live.ok());
  EXPECT_FALSE(live->contains("node1"));
  Result check = Run({"ipam", "check", "--grace", "0s", "--node", "node1"});
  EXPECT_EQ(check.code, 0) << check;

  Result missing = Run({"node", "delete", "node1"});
  EXPECT_EQ(missing.code, 1);
  EXPECT_THAT(missing.err, HasSubstr("node \"node1\" not found"));
}

TEST_F(IpamCtlTest, Configure) {
  Result r = Run({"ipam", "configure", "--strict-affinity=true", "--max-blocks-per-host=2"});
  ASSERT_EQ(r.code, 0) << r;
  EXPECT_THAT(r.out, HasSubstr("strictAffinity=true maxBlocksPerHost=2"));
  r = Run({"ipam", "configure", "--max-blocks-per-host=0"});
  ASSERT_EQ(r.code, 0) << r;
  r = Run({"ipam", "show"});
  EXPECT_THAT(r.out, HasSubstr("strictAffinity=true maxBlocksPerHost=unlimited"));

  r = Run({"ipam", "configure"});
  EXPECT_EQ(r.code, 1) << r;
  EXPECT_THAT(r.err, HasSubstr("nothing to configure"));
  r = Run({"ipam", "configure", "--max-blocks-per-host=-1"});
  EXPECT_EQ(r.code, 1) << r;
  r = Run({"ipam", "configure", "--strict-affinity=maybe"});
  EXPECT_NE(r.code, 0) << r;
}

// Releasing an address a workload holds would give its identity to the next workload given it.
TEST_F(IpamCtlTest, ReleaseOfAnAddressInUseNeedsForceAndCheckThenReportsTheEndpoint) {
  ASSERT_EQ(Allocate("h-web"), "10.10.0.0");
  ASSERT_EQ(Run({"apply", "-f", "-"}, kWebEndpoint).code, 0);
  Result r = Run({"ipam", "release", "--ip", "10.10.0.0"});
  EXPECT_EQ(r.code, 1) << r;
  EXPECT_THAT(r.err, HasSubstr("10.10.0.0 is in use by workload endpoint "
                               "default/node1-cni-web-eth0"));
  EXPECT_THAT(r.err, HasSubstr("--force"));
  EXPECT_EQ(Allocated(), 1u);
  r = Run({"ipam", "release", "--ip", "10.10.0.0", "--force"});
  ASSERT_EQ(r.code, 0) << r;
  EXPECT_EQ(Allocated(), 0u);
  // The endpoint now holds an address IPAM does not know: check says so and exits non-zero.
  r = Run({"ipam", "check"});
  EXPECT_EQ(r.code, 1) << r;
  EXPECT_THAT(r.out, HasSubstr("address 10.10.0.0 of workload endpoint default/node1-cni-web-eth0: "
                               "IPAM has not allocated it"));
  EXPECT_THAT(r.out, HasSubstr("1 endpoint address problems"));
  // A repair cannot tell which workload is right: it leaves the endpoint and still fails.
  r = Run({"ipam", "release"});
  EXPECT_EQ(r.code, 1) << r;
}

// Two endpoints with one address cannot be written through tabbyctl (endpoint_claims.h), but a
// datastore written before that rule, or by hand, may hold them: check finds them.
TEST_F(IpamCtlTest, CheckReportsTwoEndpointsWithOneAddress) {
  ASSERT_EQ(Allocate("h-web"), "10.10.0.0");
  ASSERT_EQ(Run({"apply", "-f", "-"}, kWebEndpoint).code, 0);
  std::string second = kWebEndpoint;
  second.replace(second.find("node1-cni-web-eth0"), 18, "node1-cni-old-eth0");
  second.replace(second.find("tabby0a1b2c3d"), 13, "tabby0a1b2c3e");
  Result refused = Run({"apply", "-f", "-"}, second);
  EXPECT_EQ(refused.code, 1) << refused;
  EXPECT_THAT(refused.err, HasSubstr("address 10.10.0.0 is already used by workload endpoint "
                                     "default/node1-cni-web-eth0"));
  // Written behind the guard's back, as an older tabby could have.
  auto store = datastore::Open(url_);
  ASSERT_TRUE(store.ok());
  auto decoded = model::DecodeDocuments(second, "second.yaml");
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  ASSERT_TRUE(
      (*store)
          ->Put(datastore::ResourceStore::Key(datastore::ResourceStore::IdOf(decoded->at(0))),
                model::EncodeJson(decoded->at(0)))
          .ok());
  Result r = Run({"ipam", "check"});
  EXPECT_EQ(r.code, 1) << r;
  EXPECT_THAT(r.out, HasSubstr("address 10.10.0.0 of workload endpoint default/node1-cni-old-eth0, "
                               "default/node1-cni-web-eth0: 2 workload endpoints hold it"));
}

}  // namespace
}  // namespace tabby::ctl
