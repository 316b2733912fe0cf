// tabbyctl run in-process (ctl::RunCtl) against a SQLite datastore in a temporary directory.
#include "ctl/ctl.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "ctl_fixture.h"
#include "datastore/forwarding_datastore.h"
#include "model/codec.h"

namespace tabby::ctl {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;

constexpr char kPolicy[] = R"(apiVersion: tabby.dev/v1
kind: GlobalNetworkPolicy
metadata:
  name: allow-web
spec:
  order: 100
  selector: app == 'web'
  ingress:
  - action: Allow
    protocol: TCP
    destination:
      ports: [80]
)";

constexpr char kEndpoint[] = R"(apiVersion: tabby.dev/v1
kind: WorkloadEndpoint
metadata:
  name: node1-cni-web1-eth0
  namespace: default
  labels:
    app: web
spec:
  node: node1
  orchestrator: cni
  workload: web1
  endpoint: eth0
  interfaceName: tabby0a1b2c3d
  ipNetworks: [10.10.0.5/32]
)";

// Same shape as kEndpoint, in another namespace.
constexpr char kEndpointProd[] = R"(apiVersion: tabby.dev/v1
kind: WorkloadEndpoint
metadata:
  name: node1-cni-db1-eth0
  namespace: prod
spec:
  node: node1
  orchestrator: cni
  workload: db1
  endpoint: eth0
  interfaceName: tabby99887766
  ipNetworks: [10.10.0.9/32]
)";

// --- apply -----------------------------------------------------------------------------------

TEST_F(CtlTest, ApplyCreatesInDependencyOrderThenReportsUnchangedAndConfigured) {
  // Endpoints first in the file; pools are still written first.
  std::string file = WriteFile("all.yaml", Docs({kEndpoint, kPolicy, kPool}));
  Result r = Run({"apply", "-f", file});
  ASSERT_EQ(r.code, 0) << r;
  EXPECT_EQ(r.out,
            "ippool.tabby.dev/pool-a created\n"
            "globalnetworkpolicy.tabby.dev/allow-web created\n"
            "workloadendpoint.tabby.dev/node1-cni-web1-eth0 created\n");
  EXPECT_EQ(r.err, "");
  EXPECT_THAT(StoredNames(Kind::kIPPool), ElementsAre("pool-a"));
  EXPECT_THAT(StoredNames(Kind::kGlobalNetworkPolicy), ElementsAre("allow-web"));
  EXPECT_THAT(StoredNames(Kind::kWorkloadEndpoint, "default"), ElementsAre("node1-cni-web1-eth0"));

  r = Run({"apply", "-f", file});
  ASSERT_EQ(r.code, 0) << r;
  EXPECT_EQ(r.out,
            "ippool.tabby.dev/pool-a unchanged\n"
            "globalnetworkpolicy.tabby.dev/allow-web unchanged\n"
            "workloadendpoint.tabby.dev/node1-cni-web1-eth0 unchanged\n");
  std::string uid = Stored(Kind::kIPPool).at(0).metadata.uid;

  std::string changed = kPool;
  changed.replace(changed.find("10.10.0.0/16"), 12, "10.20.0.0/16");
  r = Run({"apply", "-f", WriteFile("pool.yaml", changed)});
  ASSERT_EQ(r.code, 0) << r;
  EXPECT_EQ(r.out, "ippool.tabby.dev/pool-a configured\n");
  std::vector<Resource> pools = Stored(Kind::kIPPool);
  ASSERT_EQ(pools.size(), 1u);
  EXPECT_EQ(pools[0].ip_pool().cidr, "10.20.0.0/16");
  EXPECT_EQ(pools[0].metadata.uid, uid);  // identity kept across updates
}

TEST_F(CtlTest, ApplyOfGetOutputIsUnchanged) {
  ASSERT_EQ(Run({"apply", "-f", WriteFile("p.yaml", Docs({kPool, kPolicy}))}).code, 0);
  Result got = Run({"get", "gnp", "allow-web", "-o", "yaml"});
  ASSERT_EQ(got.code, 0) << got;
  Result r = Run({"apply", "-f", "-"}, got.out);
  ASSERT_EQ(r.code, 0) << r;
  EXPECT_EQ(r.out, "globalnetworkpolicy.tabby.dev/allow-web unchanged\n");
}

TEST_F(CtlTest, ApplyFromStdinAcceptsCalicoApiVersionAndJson) {
  std::string calico = kPolicy;
  calico.replace(calico.find("tabby.dev/v1"), 12, "projectcalico.org/v3");
  Result r = Run({"apply", "-f", "-"}, calico);
  ASSERT_EQ(r.code, 0) << r;
  EXPECT_EQ(r.out, "globalnetworkpolicy.tabby.dev/allow-web created\n");
  std::vector<Resource> stored = Stored(Kind::kGlobalNetworkPolicy);
  ASSERT_EQ(stored.size(), 1u);
  EXPECT_EQ(stored[0].policy().selector, "app == 'web'");

  r = Run({"apply", "-f", "-"},
          R"([{"apiVersion": "projectcalico.org/v3", "kind": "Profile",
               "metadata": {"name": "p1"}},
              {"apiVersion": "tabby.dev/v1", "kind": "Profile", "metadata": {"name": "p2"}}])");
  ASSERT_EQ(r.code, 0) << r;
  EXPECT_THAT(StoredNames(Kind::kProfile), ElementsAre("p1", "p2"));
}

TEST_F(CtlTest, ApplyDirectoryReadsManifestsSortedAndRepeatedFilenames) {
  WriteFile("manifests/b.yaml", kPolicy);
  WriteFile("manifests/a.json",
            R"({"apiVersion": "tabby.dev/v1", "kind": "Profile", "metadata": {"name": "p1"}})");
  WriteFile("manifests/c.yml", kEndpoint);
  WriteFile("manifests/notes.txt", "this is not a manifest: [");
  WriteFile("manifests/sub/d.yaml", "not: [valid");  // not recursive
  std::string extra = WriteFile("pool.yaml", kPool);
  Result r = Run({"apply", "-f", dir_->File("manifests"), "-f", extra});
  ASSERT_EQ(r.code, 0) << r;
  EXPECT_EQ(r.out,
            "ippool.tabby.dev/pool-a created\n"
            "profile.tabby.dev/p1 created\n"
            "globalnetworkpolicy.tabby.dev/allow-web created\n"
            "workloadendpoint.tabby.dev/node1-cni-web1-eth0 created\n");
  EXPECT_EQ(StoredCount(), 4u);
}

TEST_F(CtlTest, InvalidDocumentInTheMiddleStoresNothing) {
  constexpr char kBadPool[] = R"(apiVersion: tabby.dev/v1
kind: IPPool
metadata:
  name: pool-bad
spec:
  cidr: 10.30.0.0/16
  blockSize: 8
)";
  std::string file = WriteFile("mixed.yaml", Docs({kPool, kBadPool, kPolicy}));
  Result r = Run({"apply", "-f", file});
  EXPECT_EQ(r.code, 1) << r;
  EXPECT_EQ(r.out, "");
  EXPECT_THAT(r.err, HasSubstr("Error: " + file + ": document 2 (IPPool \"pool-bad\"), line 15"));
  EXPECT_THAT(r.err, HasSubstr("field spec.blockSize"));
  EXPECT_EQ(StoredCount(), 0u);

  // The same across files: a good first file is not written either.
  std::string good = WriteFile("good.yaml", kPool);
  std::string bad = WriteFile("bad.yaml",
                              "apiVersion: tabby.dev/v1\nkind: IPPool\nmetadata:\n"
                              "  name: p\nspec:\n  cidr: 10.0.0.0/16\n  colour: red\n");
  r = Run({"apply", "-f", good, "-f", bad});
  EXPECT_EQ(r.code, 1) << r;
  EXPECT_THAT(r.err, HasSubstr(bad + ": document 1"));
  EXPECT_THAT(r.err, HasSubstr("colour"));
  EXPECT_EQ(StoredCount(), 0u);
  // And create, replace and delete validate the same way.
  for (const char* verb : {"create", "replace", "delete"}) {
    r = Run({verb, "-f", good, "-f", bad});
    EXPECT_EQ(r.code, 1) << verb << r;
    EXPECT_THAT(r.err, HasSubstr("colour")) << verb;
  }
  EXPECT_EQ(StoredCount(), 0u);
}

TEST_F(CtlTest, InputErrors) {
  Result r = Run({"apply", "-f", dir_->File("missing.yaml")});
  EXPECT_EQ(r.code, 1);
  EXPECT_THAT(r.err, HasSubstr("does not exist"));

  r = Run({"apply", "-f", "-"}, "");
  EXPECT_EQ(r.code, 1);
  EXPECT_THAT(r.err, HasSubstr("no resources found"));

  r = Run({"apply", "-f", "-"}, "kind: [unclosed");
  EXPECT_EQ(r.code, 1);
  EXPECT_THAT(r.err, HasSubstr("<stdin>"));

  // The same resource twice is refused before anything is written.
  r = Run({"apply", "-f", WriteFile("a.yaml", kPool), "-f", WriteFile("b.yaml", kPool)});
  EXPECT_EQ(r.code, 1);
  EXPECT_THAT(r.err, HasSubstr("IPPool/pool-a is given more than once"));
  EXPECT_EQ(StoredCount(), 0u);

  // One value per -f, as in kubectl.
  r = Run({"apply", "-f", WriteFile("a.yaml", kPool), dir_->File("b.yaml")});
  EXPECT_EQ(r.code, 1);
  EXPECT_THAT(r.err, HasSubstr("not expected"));
  EXPECT_EQ(StoredCount(), 0u);

  r = Run({"apply"});
  EXPECT_EQ(r.code, 1);
  EXPECT_THAT(r.err, HasSubstr("--filename is required"));
}

// --- create, replace, delete -----------------------------------------------------------------

TEST_F(CtlTest, CreateFailsOnExistingAndReportsPartialSuccess) {
  std::string pool = WriteFile("pool.yaml", kPool);
  Result r = Run({"create", "-f", pool});
  ASSERT_EQ(r.code, 0) << r;
  EXPECT_EQ(r.out, "ippool.tabby.dev/pool-a created\n");

  r = Run({"create", "-f", pool});
  EXPECT_EQ(r.code, 1) << r;
  EXPECT_THAT(r.err, HasSubstr("Error: error when creating \"" + pool + "\""));
  EXPECT_THAT(r.err, HasSubstr("already exists"));
  EXPECT_THAT(r.err, Not(HasSubstr("Partial success")));

  r = Run({"create", "--skip-exists", "-f", pool});
  EXPECT_EQ(r.code, 0) << r;

  // pool-b is written, then pool-a fails.
  std::string pool_b = kPool;
  pool_b.replace(pool_b.find("pool-a"), 6, "pool-b");
  pool_b.replace(pool_b.find("10.10.0.0/16"), 12, "10.11.0.0/16");
  r = Run({"create", "-f", WriteFile("two.yaml", Docs({pool_b, kPool}))});
  EXPECT_EQ(r.code, 1) << r;
  EXPECT_EQ(r.out, "ippool.tabby.dev/pool-b created\n");
  EXPECT_THAT(r.err, HasSubstr("Partial success: created the first 1 out of 2 resources\n"));
  EXPECT_THAT(r.err, HasSubstr("already exists"));
  EXPECT_THAT(StoredNames(Kind::kIPPool), ElementsAre("pool-a", "pool-b"));
}

TEST_F(CtlTest, ReplaceNeedsExistingAndCurrentResourceVersion) {
  std::string pool = WriteFile("pool.yaml", kPool);
  Result r = Run({"replace", "-f", pool});
  EXPECT_EQ(r.code, 1) << r;
  EXPECT_THAT(r.err, HasSubstr("does not exist"));

  ASSERT_EQ(Run({"apply", "-f", pool}).code, 0);
  Result got = Run({"get", "ippool", "pool-a", "-o", "yaml"});
  ASSERT_EQ(got.code, 0) << got;
  auto decoded = model::DecodeDocuments(got.out, "get");
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  ASSERT_EQ(decoded->size(), 1u);
  ASSERT_FALSE((*decoded)[0].metadata.resource_version.empty());

  // Replace with the version just read works...
  std::string edited = got.out;
  edited.replace(edited.find("10.10.0.0/16"), 12, "10.40.0.0/16");
  r = Run({"replace", "-f", "-"}, edited);
  ASSERT_EQ(r.code, 0) << r;
  EXPECT_EQ(r.out, "ippool.tabby.dev/pool-a replaced\n");
  EXPECT_EQ(Stored(Kind::kIPPool).at(0).ip_pool().cidr, "10.40.0.0/16");

  // ...and the same version again is now stale.
  edited.replace(edited.find("10.40.0.0/16"), 12, "10.50.0.0/16");
  r = Run({"replace", "-f", "-"}, edited);
  EXPECT_EQ(r.code, 1) << r;
  EXPECT_THAT(r.err, HasSubstr("was modified"));
  EXPECT_EQ(Stored(Kind::kIPPool).at(0).ip_pool().cidr, "10.40.0.0/16");

  // Without a resourceVersion, replace is unconditional.
  r = Run({"replace", "-f", pool});
  EXPECT_EQ(r.code, 0) << r;
  EXPECT_EQ(Stored(Kind::kIPPool).at(0).ip_pool().cidr, "10.10.0.0/16");
}

TEST_F(CtlTest, DeleteByFileInReverseOrderAndByName) {
  std::string file = WriteFile("all.yaml", Docs({kPool, kPolicy, kEndpoint}));
  ASSERT_EQ(Run({"apply", "-f", file}).code, 0);
  Result r = Run({"delete", "-f", file});
  ASSERT_EQ(r.code, 0) << r;
  EXPECT_EQ(r.out,
            "workloadendpoint.tabby.dev/node1-cni-web1-eth0 deleted\n"
            "globalnetworkpolicy.tabby.dev/allow-web deleted\n"
            "ippool.tabby.dev/pool-a deleted\n");
  EXPECT_EQ(StoredCount(), 0u);

  r = Run({"delete", "-f", file});
  EXPECT_EQ(r.code, 1) << r;
  EXPECT_THAT(r.err, HasSubstr("not found"));
  r = Run({"delete", "-s", "-f", file});
  EXPECT_EQ(r.code, 0) << r;
  EXPECT_EQ(r.out, "");

  ASSERT_EQ(Run({"apply", "-f", file, "-f", WriteFile("prod.yaml", kEndpointProd)}).code, 0);
  r = Run({"delete", "wep", "node1-cni-db1-eth0"});  // namespace default: not there
  EXPECT_EQ(r.code, 1) << r;
  EXPECT_THAT(r.err, HasSubstr("Error: workloadendpoint \"node1-cni-db1-eth0\" not found in "
                               "namespace \"default\""));
  r = Run({"delete", "wep", "node1-cni-db1-eth0", "-n", "prod"});
  ASSERT_EQ(r.code, 0) << r;
  EXPECT_EQ(r.out, "workloadendpoint.tabby.dev/node1-cni-db1-eth0 deleted\n");
  EXPECT_THAT(Stored(Kind::kWorkloadEndpoint, "prod"), IsEmpty());

  r = Run({"delete", "ippools", "pool-a", "nope", "--skip-not-exists"});
  ASSERT_EQ(r.code, 0) << r;
  EXPECT_EQ(r.out, "ippool.tabby.dev/pool-a deleted\n");
  // As kubectl: the missing ones are reported, the rest deleted, and the exit status says so.
  r = Run({"delete", "gnp", "nope", "allow-web", "gone"});
  EXPECT_EQ(r.code, 1) << r;
  EXPECT_THAT(r.err, HasSubstr("Error: globalnetworkpolicy \"nope\" not found"));
  EXPECT_THAT(r.err, HasSubstr("Error: globalnetworkpolicy \"gone\" not found"));
  EXPECT_EQ(r.out, "globalnetworkpolicy.tabby.dev/allow-web deleted\n");
  EXPECT_THAT(StoredNames(Kind::kGlobalNetworkPolicy), IsEmpty());

  r = Run({"delete", "ippool"});
  EXPECT_EQ(r.code, 1);
  EXPECT_THAT(r.err, HasSubstr("no name given"));
  r = Run({"delete"});
  EXPECT_EQ(r.code, 1);
  r = Run({"delete", "-f", file, "ippool", "x"});
  EXPECT_EQ(r.code, 1);
  EXPECT_THAT(r.err, HasSubstr("not both"));
  r = Run({"delete", "frobs", "x"});
  EXPECT_EQ(r.code, 1);
  EXPECT_THAT(r.err, HasSubstr("unknown resource type \"frobs\""));
}

TEST_F(CtlTest, DeleteWithStaleResourceVersionFails) {
  ASSERT_EQ(Run({"apply", "-f", "-"}, kPool).code, 0);
  Result got = Run({"get", "ippool", "pool-a", "-o", "yaml"});
  ASSERT_EQ(got.code, 0) << got;
  ASSERT_EQ(Run({"label", "ippool", "pool-a", "x=y"}).code, 0);  // bumps the version
  Result r = Run({"delete", "-f", "-"}, got.out);
  EXPECT_EQ(r.code, 1) << r;
  EXPECT_THAT(r.err, HasSubstr("no longer current"));
  EXPECT_THAT(StoredNames(Kind::kIPPool), ElementsAre("pool-a"));
}

// --- get -------------------------------------------------------------------------------------

TEST_F(CtlTest, GetTables) {
  ASSERT_EQ(Run({"apply", "-f", "-"}, Docs({kPool, kPolicy, kEndpoint, kEndpointProd})).code, 0);
  Result r = Run({"get", "ippools"});
  ASSERT_EQ(r.code, 0) << r;
  EXPECT_EQ(r.out,
            "NAME     CIDR           SELECTOR\n"
            "pool-a   10.10.0.0/16   all()\n");
  r = Run({"get", "pool", "-o", "wide"});
  ASSERT_EQ(r.code, 0) << r;
  EXPECT_EQ(r.out,
            "NAME     CIDR           SELECTOR   NAT     IPIPMODE   VXLANMODE   DISABLED   "
            "DISABLEBGPEXPORT   ASSIGNMENTMODE\n"
            "pool-a   10.10.0.0/16   all()      false   Never      Never       false      "
            "false              Automatic\n");

  r = Run({"get", "gnp", "-o", "wide"});
  ASSERT_EQ(r.code, 0) << r;
  EXPECT_EQ(r.out,
            "NAME        TIER      ORDER   SELECTOR       TYPES\n"
            "allow-web   default   100     app == 'web'   Ingress\n");

  r = Run({"get", "wep"});
  ASSERT_EQ(r.code, 0) << r;
  EXPECT_EQ(r.out,
            "NAME                  WORKLOAD   NODE    NETWORKS       INTERFACE\n"
            "node1-cni-web1-eth0   web1       node1   10.10.0.5/32   tabby0a1b2c3d\n");
  r = Run({"get", "workloadendpoints", "-A", "-o", "wide"});
  ASSERT_EQ(r.code, 0) << r;
  EXPECT_EQ(r.out,
            "NAMESPACE   NAME                  WORKLOAD   NODE    NETWORKS       INTERFACE       "
            "PROFILES   LABELS\n"
            "default     node1-cni-web1-eth0   web1       node1   10.10.0.5/32   tabby0a1b2c3d   "
            "<none>     app=web\n"
            "prod        node1-cni-db1-eth0    db1        node1   10.10.0.9/32   tabby99887766   "
            "<none>     <none>\n");
  r = Run({"get", "wep", "-n", "prod", "-o", "name"});
  ASSERT_EQ(r.code, 0) << r;
  EXPECT_EQ(r.out, "workloadendpoint.tabby.dev/node1-cni-db1-eth0\n");

  r = Run({"get", "nodes"});
  EXPECT_EQ(r.code, 0) << r;
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(r.err, "No resources found.\n");
  r = Run({"get", "np", "-n", "prod"});
  EXPECT_EQ(r.code, 0) << r;
  EXPECT_EQ(r.err, "No resources found in namespace \"prod\".\n");

  ASSERT_EQ(Run({"apply", "-f", "-"},
                "apiVersion: tabby.dev/v1\nkind: ClusterConfiguration\n"
                "metadata: {name: default}\nspec: {}\n")
                .code,
            0);
  ASSERT_EQ(Run({"apply", "-f", "-"},
                R"(apiVersion: tabby.dev/v1
kind: Node
metadata: {name: node1}
spec:
  bgp: {asNumber: 64512, ipv4Address: 192.0.2.1/24}
---
apiVersion: tabby.dev/v1
kind: Profile
metadata: {name: prof}
spec:
  labelsToApply: {team: a, env: prod}
)")
                .code,
            0);
  r = Run({"get", "nodes", "-o", "wide"});
  ASSERT_EQ(r.code, 0) << r;
  EXPECT_EQ(r.out,
            "NAME    STATUS   ASN     IPV4           IPV6\n"
            "node1   Gone     64512   192.0.2.1/24   <none>\n");
  r = Run({"get", "profile", "-o", "wide"});
  ASSERT_EQ(r.code, 0) << r;
  EXPECT_EQ(r.out,
            "NAME   LABELS\n"
            "prof   env=prod,team=a\n");

  r = Run({"get", "clusterconfiguration"});
  ASSERT_EQ(r.code, 0) << r;
  EXPECT_EQ(r.out,
            "NAME      DEFAULTENDPOINTPOLICY\n"
            "default   Allow\n");
}

TEST_F(CtlTest, GetYamlAndJsonParseBack) {
  ASSERT_EQ(Run({"apply", "-f", "-"}, Docs({kPool, kPolicy})).code, 0);
  std::string pool_b = kPool;
  pool_b.replace(pool_b.find("pool-a"), 6, "pool-b");
  pool_b.replace(pool_b.find("10.10.0.0/16"), 12, "10.11.0.0/16");
  ASSERT_EQ(Run({"apply", "-f", "-"}, pool_b).code, 0);

  // One named resource: that resource.
  Result r = Run({"get", "ippool", "pool-a", "-o", "yaml"});
  ASSERT_EQ(r.code, 0) << r;
  EXPECT_THAT(r.out, HasSubstr("kind: IPPool\n"));
  auto one = model::DecodeDocuments(r.out, "out");
  ASSERT_TRUE(one.ok()) << one.status();
  ASSERT_EQ(one->size(), 1u);
  EXPECT_EQ((*one)[0], Stored(Kind::kIPPool).at(0));

  r = Run({"get", "gnp", "allow-web", "-o", "json"});
  ASSERT_EQ(r.code, 0) << r;
  auto policy = model::DecodeDocuments(r.out, "out");
  ASSERT_TRUE(policy.ok()) << policy.status();
  ASSERT_EQ(policy->size(), 1u);
  EXPECT_EQ((*policy)[0], Stored(Kind::kGlobalNetworkPolicy).at(0));

  // A listing: a <Kind>List.
  for (const char* format : {"yaml", "json"}) {
    r = Run({"get", "ippool", "-o", format});
    ASSERT_EQ(r.code, 0) << r;
    EXPECT_THAT(r.out, HasSubstr("IPPoolList")) << format;
    auto list = model::DecodeDocuments(r.out, "out");
    ASSERT_TRUE(list.ok()) << list.status();
    EXPECT_EQ(*list, Stored(Kind::kIPPool)) << format;

    r = Run({"get", "ippool", "pool-a", "pool-b", "-o", format});
    ASSERT_EQ(r.code, 0) << r;
    list = model::DecodeDocuments(r.out, "out");
    ASSERT_TRUE(list.ok()) << list.status();
    EXPECT_EQ(list->size(), 2u) << format;

    r = Run({"get", "profile", "-o", format});
    ASSERT_EQ(r.code, 0) << r;
    EXPECT_THAT(r.out, HasSubstr("ProfileList")) << format;
    list = model::DecodeDocuments(r.out, "out");
    ASSERT_TRUE(list.ok()) << list.status();
    EXPECT_THAT(*list, IsEmpty());
  }
}

TEST_F(CtlTest, GetErrors) {
  ASSERT_EQ(Run({"apply", "-f", "-"}, kPool).code, 0);
  Result r = Run({"get", "ippool", "nope"});
  EXPECT_EQ(r.code, 1) << r;
  EXPECT_EQ(r.err, "Error: ippool \"nope\" not found\n");

  // Found ones are still printed.
  r = Run({"get", "ippool", "pool-a", "nope", "-o", "name"});
  EXPECT_EQ(r.code, 1) << r;
  EXPECT_EQ(r.out, "ippool.tabby.dev/pool-a\n");
  EXPECT_EQ(r.err, "Error: ippool \"nope\" not found\n");

  r = Run({"get", "wep", "nope"});
  EXPECT_EQ(r.code, 1) << r;
  EXPECT_EQ(r.err, "Error: workloadendpoint \"nope\" not found in namespace \"default\"\n");

  r = Run({"get", "frobnicators"});
  EXPECT_EQ(r.code, 1) << r;
  EXPECT_THAT(r.err, HasSubstr("Error: unknown resource type \"frobnicators\"; valid kinds: "
                               "BGPConfiguration, BGPPeer, ClusterConfiguration, "
                               "GlobalNetworkPolicy, HostEndpoint, IPPool"));

  r = Run({"get", "wep", "x", "-A"});
  EXPECT_EQ(r.code, 1) << r;
  EXPECT_THAT(r.err, HasSubstr("across all namespaces"));

  r = Run({"get", "ippool", "-o", "xml"});
  EXPECT_EQ(r.code, 1) << r;
  EXPECT_THAT(r.err, HasSubstr("Error: "));

  r = Run({"get", "ippool", "a/b"});
  EXPECT_EQ(r.code, 1) << r;
  EXPECT_THAT(r.err, HasSubstr("'/' is not allowed"));

  r = Run({"get"});
  EXPECT_EQ(r.code, 1) << r;
  EXPECT_THAT(r.err, HasSubstr("kind is required"));
}

// --- label -----------------------------------------------------------------------------------

TEST_F(CtlTest, LabelAddOverwriteRemove) {
  ASSERT_EQ(Run({"apply", "-f", "-"}, kEndpoint).code, 0);
  const std::string name = "node1-cni-web1-eth0";
  auto labels = [&] { return Stored(Kind::kWorkloadEndpoint, "default").at(0).metadata.labels; };

  Result r = Run({"label", "wep", name, "group=a", "tier=frontend"});
  ASSERT_EQ(r.code, 0) << r;
  EXPECT_EQ(r.out, "workloadendpoint.tabby.dev/" + name + " labeled\n");
  EXPECT_EQ(labels(), (model::Labels{{"app", "web"}, {"group", "a"}, {"tier", "frontend"}}));

  // Changing a value needs --overwrite; nothing is written without it.
  r = Run({"label", "wep", name, "group=b"});
  EXPECT_EQ(r.code, 1) << r;
  EXPECT_EQ(r.err, "Error: 'group' already has a value (a), and --overwrite is false\n");
  EXPECT_EQ(labels().at("group"), "a");
  r = Run({"label", "wep", name, "group=b", "--overwrite", "-n", "default"});
  ASSERT_EQ(r.code, 0) << r;
  EXPECT_EQ(labels().at("group"), "b");

  // The same value again is no change.
  r = Run({"label", "wep", name, "group=b"});
  ASSERT_EQ(r.code, 0) << r;
  EXPECT_EQ(r.out, "workloadendpoint.tabby.dev/" + name + " not labeled\n");

  r = Run({"label", "wep", name, "tier-", "app-"});
  ASSERT_EQ(r.code, 0) << r;
  EXPECT_EQ(labels(), (model::Labels{{"group", "b"}}));
  r = Run({"label", "wep", name, "absent-"});
  ASSERT_EQ(r.code, 0) << r;
  EXPECT_THAT(r.err, HasSubstr("label \"absent\" not found"));

  // Other kinds, with the domain-prefixed keys Kubernetes allows.
  ASSERT_EQ(Run({"apply", "-f", "-"}, kPool).code, 0);
  r = Run({"label", "ippool", "pool-a", "example.com/zone=z1"});
  ASSERT_EQ(r.code, 0) << r;
  EXPECT_EQ(r.out, "ippool.tabby.dev/pool-a labeled\n");
  EXPECT_EQ(Stored(Kind::kIPPool).at(0).metadata.labels.at("example.com/zone"), "z1");
}

// A datastore that lets another writer change the resource just before the first compare-and-swap
// update, which then fails (kAborted) as it would in a real race.
class RacingDatastore : public datastore::ForwardingDatastore {
 public:
  // `updates` counts the calls to Update; it must outlive this.
  RacingDatastore(std::unique_ptr<datastore::Datastore> inner, int& updates)
      : ForwardingDatastore(std::move(inner)), updates_(updates) {}

  absl::StatusOr<datastore::Revision> Update(const std::string& key, const std::string& value,
                                             datastore::Revision expected,
                                             datastore::LeaseId lease) override {
    if (updates_++ == 0) {
      auto current = inner().Get(key);
      if (!current.ok() || !*current) return absl::InternalError("racer: nothing to change");
      auto resource = model::DecodeStored((*current)->value);
      if (!resource.ok()) return resource.status();
      resource->metadata.labels["racer"] = "was-here";
      auto put = inner().Put(key, model::EncodeJson(*resource));
      if (!put.ok()) return put.status();
    }
    return inner().Update(key, value, expected, lease);
  }

 private:
  int& updates_;
};

TEST_F(CtlTest, LabelRetriesWhenAnotherWriterWins) {
  ASSERT_EQ(Run({"apply", "-f", "-"}, kPolicy).code, 0);
  int updates = 0;
  env_.open_datastore =
      [&updates](const std::string& url) -> absl::StatusOr<std::unique_ptr<datastore::Datastore>> {
    auto inner = datastore::Open(url);
    if (!inner.ok()) return inner.status();
    return std::make_unique<RacingDatastore>(std::move(*inner), updates);
  };
  Result r = Run({"label", "gnp", "allow-web", "group=a"});
  ASSERT_EQ(r.code, 0) << r;
  EXPECT_EQ(updates, 2);  // the first lost the race
  // Both changes survive: the racer's was not overwritten.
  EXPECT_EQ(Stored(Kind::kGlobalNetworkPolicy).at(0).metadata.labels,
            (model::Labels{{"group", "a"}, {"racer", "was-here"}}));
}

TEST_F(CtlTest, LabelErrors) {
  ASSERT_EQ(Run({"apply", "-f", "-"}, kEndpoint).code, 0);
  const std::string name = "node1-cni-web1-eth0";
  Result r = Run({"label", "wep", name, "-bad=x"});
  EXPECT_EQ(r.code, 1) << r;
  r = Run({"label", "wep", name, "bad key=x"});
  EXPECT_EQ(r.code, 1) << r;
  EXPECT_THAT(r.err, HasSubstr("invalid label key \"bad key\""));
  r = Run({"label", "wep", name, "k=bad value"});
  EXPECT_EQ(r.code, 1) << r;
  EXPECT_THAT(r.err, HasSubstr("invalid value \"bad value\" for label \"k\""));
  r = Run({"label", "wep", name, "justakey"});
  EXPECT_EQ(r.code, 1) << r;
  EXPECT_THAT(r.err, HasSubstr("expected key=value"));
  r = Run({"label", "wep", name, "k=v", "k-"});
  EXPECT_EQ(r.code, 1) << r;
  EXPECT_THAT(r.err, HasSubstr("both set and removed"));
  r = Run({"label", "wep", name, "k=v", "-n", "prod"});
  EXPECT_EQ(r.code, 1) << r;
  EXPECT_EQ(r.err, "Error: workloadendpoint \"" + name + "\" not found in namespace \"prod\"\n");
  r = Run({"label", "wep", name});
  EXPECT_EQ(r.code, 1) << r;
  r = Run({"label", "nokind", name, "k=v"});
  EXPECT_EQ(r.code, 1) << r;
  EXPECT_THAT(r.err, HasSubstr("unknown resource type"));
  EXPECT_EQ(Stored(Kind::kWorkloadEndpoint, "default").at(0).metadata.labels,
            (model::Labels{{"app", "web"}}));
}

// --- global flags, help, version ---------------------------------------------------------------

TEST_F(CtlTest, DatastoreFlagOverridesEnvironment) {
  std::string other = "sqlite://" + dir_->File("other.db");
  Result r = Run({"--datastore", other, "get", "ippool"});
  EXPECT_EQ(r.code, 1) << r;  // never created by looking
  EXPECT_THAT(r.err, HasSubstr("does not exist"));
  EXPECT_FALSE(std::filesystem::exists(dir_->File("other.db")));
  r = Run({"datastore", "init", "--datastore", other});
  ASSERT_EQ(r.code, 0) << r;
  EXPECT_THAT(r.out, HasSubstr("Initialized datastore " + other + " (cluster "));
  r = Run({"--datastore", other, "apply", "-f", "-"}, kPool);
  ASSERT_EQ(r.code, 0) << r;
  EXPECT_EQ(StoredCount(), 0u);                                    // not in $TABBY_DATASTORE's
  r = Run({"get", "ippool", "--datastore", other, "-o", "name"});  // after the command too
  ASSERT_EQ(r.code, 0) << r;
  EXPECT_EQ(r.out, "ippool.tabby.dev/pool-a\n");

  r = Run({"get", "ippool", "--datastore", "sqlite://relative.db"});
  EXPECT_EQ(r.code, 1) << r;
  EXPECT_THAT(r.err, HasSubstr("Error: cannot open datastore sqlite://relative.db"));

  EXPECT_EQ(ResolveDatastoreUrl("sqlite:///x.db", env_), "sqlite:///x.db");
  EXPECT_EQ(ResolveDatastoreUrl("", env_), url_);
  vars_.clear();
  EXPECT_EQ(ResolveDatastoreUrl("", env_), datastore::kDefaultDatastoreUrl);
  vars_["TABBY_DATASTORE"] = "";
  EXPECT_EQ(ResolveDatastoreUrl("", env_), datastore::kDefaultDatastoreUrl);
}

TEST_F(CtlTest, HelpVersionAndUsageErrors) {
  Result r = Run({"--help"});
  EXPECT_EQ(r.code, 0) << r;
  for (const char* command : {"apply", "create", "replace", "delete", "get", "label", "version"}) {
    EXPECT_THAT(r.out, HasSubstr(command));
  }
  for (const char* command : {"apply", "create", "replace", "delete", "get", "label", "version"}) {
    r = Run({command, "-h"});
    EXPECT_EQ(r.code, 0) << command << r;
    EXPECT_THAT(r.out, HasSubstr("Usage")) << command;
  }
  r = Run({"version"});
  EXPECT_EQ(r.code, 0) << r;
  EXPECT_THAT(r.out, HasSubstr("Client Version: "));

  r = Run({});
  EXPECT_EQ(r.code, 1) << r;
  EXPECT_THAT(r.err, HasSubstr("Error: "));
  r = Run({"frobnicate"});
  EXPECT_EQ(r.code, 1) << r;
  EXPECT_THAT(r.err, HasSubstr("Error: "));
  r = Run({"get", "ippool", "--bogus"});
  EXPECT_EQ(r.code, 1) << r;
  EXPECT_THAT(r.err, HasSubstr("Error: "));
  EXPECT_THAT(r.err, HasSubstr("Usage"));
}

TEST_F(CtlTest, DatastoreInitIsIdempotentAndInfoNamesTheCluster) {
  Result r = Run({"datastore", "init"});  // the fixture created it already
  ASSERT_EQ(r.code, 0) << r;
  EXPECT_THAT(r.out, HasSubstr("Datastore " + url_ + " is already initialized (cluster "));
  std::string guid = r.out.substr(r.out.find("(cluster ") + 9, 36);
  r = Run({"datastore", "info"});
  ASSERT_EQ(r.code, 0) << r;
  EXPECT_THAT(r.out, HasSubstr("Datastore:     " + url_ + "\n"));
  EXPECT_THAT(r.out, HasSubstr("Cluster GUID:  " + guid + "\n"));
  EXPECT_THAT(r.out, HasSubstr("Revision:      "));
  // A file that is not a datastore is never initialized over.
  std::ofstream(dir_->File("junk.db")) << "not a database, but not empty either";
  r = Run({"datastore", "init", "--datastore", "sqlite://" + dir_->File("junk.db")});
  EXPECT_EQ(r.code, 1) << r;
}

}  // namespace
}  // namespace tabby::ctl
