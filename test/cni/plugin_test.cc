// The plugin's logic against a fake host network and a real (temporary) SQLite datastore:
// CNI conformance (error codes, idempotent DEL, CHECK), IPAM behaviour, no half-applied state.
#include "cni/plugin.h"

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "datastore/cluster_identity.h"
#include "datastore/resource_store.h"
#include "ipam/block.h"
#include "ipam/ipam_testing.h"  // test/ipam

namespace tabby::cni {
namespace {

using nlohmann::json;

class FakeNetwork final : public WorkloadNetwork {
 public:
  absl::StatusOr<WiredWorkload> Setup(const WorkloadWiring& wiring) override {
    std::lock_guard lock(mu_);
    if (fail_setup) return absl::InternalError("injected failure");
    wired[wiring.host_ifname] = wiring;
    owners[wiring.host_ifname] = wiring.owner;
    return WiredWorkload{kHostVethMac, "02:00:00:00:00:01"};
  }
  absl::Status Teardown(const std::string& host_ifname, const std::string& owner) override {
    std::lock_guard lock(mu_);
    if (auto it = owners.find(host_ifname); it != owners.end() && it->second != owner) {
      return absl::OkStatus();
    }
    wired.erase(host_ifname);
    owners.erase(host_ifname);
    return absl::OkStatus();
  }
  absl::Status Check(const WorkloadWiring& wiring) override {
    std::lock_guard lock(mu_);
    if (!wired.contains(wiring.host_ifname)) {
      return absl::FailedPreconditionError("host interface " + wiring.host_ifname + " is missing");
    }
    return absl::OkStatus();
  }
  bool NetnsExists(const std::string& path) override {
    return path.rfind("/var/run/netns/", 0) == 0;
  }

  bool fail_setup = false;
  std::map<std::string, WorkloadWiring> wired;
  std::map<std::string, std::string> owners;  // host interface -> container that created it

 private:
  std::mutex mu_;
};

class PluginTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/tabby-cni-test-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    url_ = "sqlite://" + dir_ + "/tabby.db";
    ASSERT_TRUE(datastore::Open(url_, {.create = true}).ok());
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::unique_ptr<datastore::Datastore> Store() { return *datastore::Open(url_); }

  // Addresses allocated in all IPAM blocks.
  size_t Allocated() { return ipam::testing::CountAllocations(*Store()); }

  void AddPool(const std::string& name, const std::string& cidr, int block_size = 0) {
    auto store = Store();
    datastore::ResourceStore resources(*store);
    auto applied = resources.Apply(ipam::testing::PoolResource(name, cidr, block_size));
    ASSERT_TRUE(applied.ok()) << applied.status();
  }

  std::string Config(const std::string& extra = "", const std::string& version = "1.1.0") {
    return fmt::format(R"({{"cniVersion": "{}", "name": "net1", "type": "tabby",
                          "datastore": "{}", "nodename": "node-a"{}}})",
                       version, url_, extra);
  }

  PluginOutput Run(std::map<std::string, std::string> env, const std::string& stdin_text) {
    PluginEnvironment environment{
        .getenv = [&env](const char* name) -> std::optional<std::string> {
          auto it = env.find(name);
          if (it == env.end()) return std::nullopt;
          return it->second;
        },
        .open_datastore = [](const std::string& url) { return datastore::Open(url); },
        .network = &network_,
        .hostname = "test-host",
    };
    return RunPlugin(environment, stdin_text);
  }

  std::map<std::string, std::string> Env(const std::string& command,
                                         const std::string& container = "c1") {
    return {{"CNI_COMMAND", command},
            {"CNI_CONTAINERID", container},
            {"CNI_NETNS", "/var/run/netns/" + container},
            {"CNI_IFNAME", "eth0"},
            {"CNI_ARGS", "IgnoreUnknown=1;K8S_POD_NAMESPACE=prod;K8S_POD_NAME=" + container +
                             ";TABBY_LABELS=app=web,tier=front"}};
  }

  static int Code(const PluginOutput& out) {
    json error = json::parse(out.stdout_text, nullptr, false);
    if (error.is_discarded() || !error.contains("code")) return -1;
    return error["code"].get<int>();
  }

  std::vector<model::Resource> Endpoints() {
    auto store = Store();
    datastore::ResourceStore resources(*store);
    return *resources.List(model::Kind::kWorkloadEndpoint);
  }

  std::string dir_;
  std::string url_;
  FakeNetwork network_;
};

TEST_F(PluginTest, Version) {
  PluginOutput out = Run({{"CNI_COMMAND", "VERSION"}}, "");
  ASSERT_EQ(out.exit_code, 0);
  json version = json::parse(out.stdout_text);
  EXPECT_EQ(version["cniVersion"], "1.1.0");
  EXPECT_NE(version["supportedVersions"].dump().find("1.0.0"), std::string::npos);
}

TEST_F(PluginTest, ErrorCodesFollowTheSpec) {
  EXPECT_EQ(Code(Run({}, Config())), 4);                         // no CNI_COMMAND
  EXPECT_EQ(Code(Run({{"CNI_COMMAND", "FROB"}}, Config())), 4);  // unknown command
  EXPECT_EQ(Code(Run(Env("ADD"), "{not json")), 6);              // bad JSON
  EXPECT_EQ(Code(Run(Env("ADD"), "")), 6);                       // nothing on stdin
  EXPECT_EQ(Code(Run(Env("ADD"), R"({"cniVersion": "1.0.0", "type": "tabby"})")), 7);  // no name
  EXPECT_EQ(Code(Run(Env("ADD"), Config("", "9.9.9"))), 1);  // unknown version
  EXPECT_EQ(Code(Run(Env("ADD"), Config(R"(, "ipam": {"type": "host-local"})"))), 2);
  auto env = Env("ADD");
  env.erase("CNI_NETNS");
  EXPECT_EQ(Code(Run(env, Config())), 4);
  env = Env("ADD");
  env["CNI_NETNS"] = "/nonexistent/netns";
  EXPECT_EQ(Code(Run(env, Config())), 4);
  env = Env("ADD");
  env["CNI_ARGS"] = "TABBY_LABELS=bad key=x";
  EXPECT_EQ(Code(Run(env, Config())), 4);
  // Nothing was allocated or recorded by any of these.
  EXPECT_TRUE(Endpoints().empty());
  EXPECT_TRUE(network_.wired.empty());
}

TEST_F(PluginTest, ErrorOutputIsJsonInTheCallersVersion) {
  PluginOutput out = Run(Env("ADD"), Config("", "0.4.0"));  // no pool yet
  ASSERT_NE(out.exit_code, 0);
  json error = json::parse(out.stdout_text);
  EXPECT_EQ(error["cniVersion"], "0.4.0");
  EXPECT_EQ(error["code"], 102);
  EXPECT_NE(error["msg"].get<std::string>().find("pool"), std::string::npos);
}

TEST_F(PluginTest, AddRecordsEndpointAndReturnsResult) {
  AddPool("pool4", "10.65.0.0/24");
  PluginOutput out = Run(Env("ADD"), Config());
  ASSERT_EQ(out.exit_code, 0) << out.stdout_text;
  json result = json::parse(out.stdout_text);
  EXPECT_EQ(result["cniVersion"], "1.1.0");
  ASSERT_EQ(result["ips"].size(), 1u);
  std::string address = result["ips"][0]["address"];
  EXPECT_EQ(address.substr(0, 8), "10.65.0.");
  EXPECT_EQ(address.substr(address.size() - 3), "/32");
  EXPECT_EQ(result["ips"][0]["interface"], 1);
  EXPECT_EQ(result["interfaces"][1]["sandbox"], "/var/run/netns/c1");
  EXPECT_EQ(result["routes"][0]["gw"], "169.254.1.1");

  auto endpoints = Endpoints();
  ASSERT_EQ(endpoints.size(), 1u);
  const auto& wep = endpoints[0];
  EXPECT_EQ(wep.metadata.namespace_name, "prod");
  EXPECT_EQ(wep.metadata.labels.at("app"), "web");
  EXPECT_EQ(wep.metadata.labels.at("tier"), "front");
  EXPECT_EQ(wep.workload_endpoint().node, "node-a");
  EXPECT_EQ(wep.workload_endpoint().container_id, "c1");
  EXPECT_EQ(wep.workload_endpoint().ip_networks, std::vector<std::string>{address});
  EXPECT_EQ(wep.workload_endpoint().interface_name.rfind("tabby", 0), 0u);
  EXPECT_TRUE(network_.wired.contains(wep.workload_endpoint().interface_name));
}

TEST_F(PluginTest, OldVersionsGetIpVersionField) {
  AddPool("pool4", "10.65.0.0/24");
  PluginOutput out = Run(Env("ADD"), Config("", "0.3.1"));
  ASSERT_EQ(out.exit_code, 0) << out.stdout_text;
  EXPECT_EQ(json::parse(out.stdout_text)["ips"][0]["version"], "4");
}

TEST_F(PluginTest, DualStack) {
  AddPool("pool4", "10.65.0.0/24");
  AddPool("pool6", "fd65::/120");
  PluginOutput out = Run(Env("ADD"), Config(R"(, "ipam": {"assign_ipv6": true})"));
  ASSERT_EQ(out.exit_code, 0) << out.stdout_text;
  json result = json::parse(out.stdout_text);
  ASSERT_EQ(result["ips"].size(), 2u);
  EXPECT_EQ(result["ips"][1]["address"].get<std::string>().rfind("fd65::", 0), 0u);
  EXPECT_EQ(result["routes"][1]["gw"], "fe80::ecee:eeff:feee:eeee");
}

TEST_F(PluginTest, DelIsIdempotentAndCleansUp) {
  AddPool("pool4", "10.65.0.0/24");
  // DEL of something never added succeeds.
  EXPECT_EQ(Run(Env("DEL", "ghost"), Config()).exit_code, 0);
  ASSERT_EQ(Run(Env("ADD"), Config()).exit_code, 0);
  ASSERT_EQ(Endpoints().size(), 1u);
  PluginOutput out = Run(Env("DEL"), Config());
  EXPECT_EQ(out.exit_code, 0) << out.stdout_text;
  EXPECT_TRUE(Endpoints().empty());
  EXPECT_TRUE(network_.wired.empty());
  EXPECT_EQ(Allocated(), 0u);
  EXPECT_TRUE(Store()->List(ipam::kHandlePrefix)->items.empty());
  // And again.
  EXPECT_EQ(Run(Env("DEL"), Config()).exit_code, 0);
}

TEST_F(PluginTest, DelOfAnOldSandboxLeavesTheNewOneAlone) {
  AddPool("pool4", "10.65.0.0/24");
  auto first = Env("ADD", "c1");
  auto second = Env("ADD", "c2");
  // Same workload name (K8S_POD_NAME) for both sandboxes.
  first["CNI_ARGS"] = second["CNI_ARGS"] = "K8S_POD_NAMESPACE=prod;K8S_POD_NAME=web";
  ASSERT_EQ(Run(first, Config()).exit_code, 0);
  ASSERT_EQ(Run(second, Config()).exit_code, 0);
  auto del = first;
  del["CNI_COMMAND"] = "DEL";
  ASSERT_EQ(Run(del, Config()).exit_code, 0);
  auto endpoints = Endpoints();
  ASSERT_EQ(endpoints.size(), 1u);
  EXPECT_EQ(endpoints[0].workload_endpoint().container_id, "c2");
  EXPECT_EQ(network_.wired.size(), 1u);
}

// The CNI spec identifies an attachment by CNI_CONTAINERID + CNI_IFNAME: a DEL that comes
// without the CNI_ARGS ADD had must still remove the endpoint and interface, not only release the
// address (which the next workload would get with this one's identity).
TEST_F(PluginTest, DelWithoutCniArgsRemovesEverythingAddMade) {
  AddPool("pool4", "10.65.0.0/24");
  ASSERT_EQ(Run(Env("ADD"), Config()).exit_code, 0);
  ASSERT_EQ(Endpoints().size(), 1u);
  auto del = Env("DEL");
  del.erase("CNI_ARGS");
  PluginOutput out = Run(del, Config());
  ASSERT_EQ(out.exit_code, 0) << out.stdout_text;
  EXPECT_TRUE(Endpoints().empty());
  EXPECT_TRUE(network_.wired.empty());
  EXPECT_EQ(Allocated(), 0u);
  // Other CNI_ARGS than ADD's: the same.
  ASSERT_EQ(Run(Env("ADD"), Config()).exit_code, 0);
  del["CNI_ARGS"] = "K8S_POD_NAMESPACE=other;K8S_POD_NAME=somebody-else";
  ASSERT_EQ(Run(del, Config()).exit_code, 0);
  EXPECT_TRUE(Endpoints().empty());
  EXPECT_TRUE(network_.wired.empty());
  EXPECT_EQ(Allocated(), 0u);
}

// An ADD for an attachment that exists as another workload fails without touching it: the live
// attachment keeps its address, endpoint and interface.
TEST_F(PluginTest, AddOfAnAttachedInterfaceAsAnotherWorkloadLeavesItAlone) {
  AddPool("pool4", "10.65.0.0/24");
  PluginOutput first = Run(Env("ADD"), Config());
  ASSERT_EQ(first.exit_code, 0);
  auto again = Env("ADD");
  again["CNI_ARGS"] = "K8S_POD_NAMESPACE=prod;K8S_POD_NAME=impostor";
  PluginOutput out = Run(again, Config());
  EXPECT_NE(out.exit_code, 0);
  EXPECT_NE(out.stdout_text.find("already attached as workload endpoint prod/node--a-cni-c1-eth0"),
            std::string::npos)
      << out.stdout_text;
  auto endpoints = Endpoints();
  ASSERT_EQ(endpoints.size(), 1u);
  EXPECT_EQ(endpoints[0].workload_endpoint().workload, "c1");
  EXPECT_EQ(Allocated(), 1u);
  EXPECT_EQ(network_.wired.size(), 1u);
  // A retried ADD of the same workload gets what it had.
  PluginOutput retried = Run(Env("ADD"), Config());
  ASSERT_EQ(retried.exit_code, 0) << retried.stdout_text;
  EXPECT_EQ(json::parse(retried.stdout_text)["ips"], json::parse(first.stdout_text)["ips"]);
  EXPECT_EQ(Allocated(), 1u);
}

// A retried ADD whose endpoint cannot be recorded gives back nothing it did not take.
TEST_F(PluginTest, FailedRetryOfAnAddKeepsTheAddressesItHadBefore) {
  AddPool("pool4", "10.65.0.0/24");
  ASSERT_EQ(Run(Env("ADD"), Config()).exit_code, 0);
  network_.fail_setup = true;
  EXPECT_NE(Run(Env("ADD"), Config()).exit_code, 0);
  EXPECT_EQ(Allocated(), 1u);
}

TEST_F(PluginTest, HostInterfaceIsNamedByContainerAndInterface) {
  EXPECT_EQ(HostInterfaceName("c1", "eth0"), HostInterfaceName("c1", "eth0"));
  EXPECT_NE(HostInterfaceName("c1", "eth0"), HostInterfaceName("c2", "eth0"));
  EXPECT_NE(HostInterfaceName("c1", "eth0"), HostInterfaceName("c1", "eth1"));
  EXPECT_EQ(HostInterfaceName("c1", "eth0").size(), 15u);
  EXPECT_EQ(HostInterfaceName("c1", "eth0").rfind("tabby", 0), 0u);
}

// The node name is checked before anything is written (an invalid one used to leave a block
// claimed for a node that could never record an endpoint); host names are lower-cased.
TEST_F(PluginTest, NodeNameIsValidatedBeforeAnyWrite) {
  AddPool("pool4", "10.65.0.0/24");
  std::string config = Config();
  config.replace(config.find(R"("nodename": "node-a")"), 20, R"("nodename": "Web_01")");
  PluginOutput out = Run(Env("ADD"), config);
  EXPECT_EQ(Code(out), 7);
  EXPECT_NE(out.stdout_text.find("invalid node name"), std::string::npos) << out.stdout_text;
  EXPECT_EQ(Allocated(), 0u);
  EXPECT_TRUE(Store()->List(ipam::kBlockPrefix)->items.empty());
  auto env = Env("ADD");
  env["TABBY_NODE"] = "UPPER";
  config.replace(config.find(R"("nodename": "Web_01")"), 20, R"("nodename": "")");
  EXPECT_EQ(Code(Run(env, config)), 4);
  EXPECT_TRUE(Store()->List(ipam::kBlockPrefix)->items.empty());
  // The host name "test-host" is used when nothing else names the node.
  ASSERT_EQ(Run(Env("ADD"), config).exit_code, 0);
  EXPECT_EQ(Endpoints().at(0).workload_endpoint().node, "test-host");
}

// ADD's wait trusts only a status written by this node's agent programming from this datastore:
// a stale or foreign status.json (another node's, another cluster's) must not end the wait.
TEST_F(PluginTest, WaitForAgentTrustsOnlyThisNodesAgentOnThisDatastore) {
  AddPool("pool4", "10.65.0.0/24");
  std::filesystem::create_directories(dir_ + "/state");
  auto write_status = [&](const std::string& node, const std::string& cluster) {
    std::ofstream(dir_ + "/state/status.json")
        << json{{"node", node}, {"clusterGUID", cluster}, {"revision", 1000000}}.dump();
  };
  std::string config = Config(
      fmt::format(R"(, "wait_for_agent_seconds": 0.2, "agent_state_dir": "{}/state")", dir_));
  auto identity = datastore::ReadClusterIdentity(*Store());
  ASSERT_TRUE(identity.ok()) << identity.status();
  write_status("node-a", "another-cluster");
  PluginOutput out = Run(Env("ADD", "c1"), config);
  ASSERT_EQ(out.exit_code, 0) << out.stdout_text;
  EXPECT_NE(out.stderr_text.find("did not report programming revision"), std::string::npos);
  write_status("node-b", identity->cluster_guid);
  out = Run(Env("ADD", "c2"), config);
  ASSERT_EQ(out.exit_code, 0) << out.stdout_text;
  EXPECT_NE(out.stderr_text.find("did not report programming revision"), std::string::npos);
  write_status("node-a", identity->cluster_guid);
  out = Run(Env("ADD", "c3"), config);
  ASSERT_EQ(out.exit_code, 0) << out.stdout_text;
  EXPECT_EQ(out.stderr_text, "");
}

// What a runaway or hostile runtime may hand the plugin is bounded (docs/cni.md), with the error
// code the specification gives for the field at fault, and nothing is written.
TEST_F(PluginTest, OversizedAndMalformedInputIsRefused) {
  AddPool("pool4", "10.65.0.0/24");
  std::string config = Config();
  std::string huge_name = config;
  huge_name.replace(huge_name.find(R"("name": "net1")"), 14,
                    fmt::format(R"("name": "{}")", std::string(100 * 1024, 'n')));
  EXPECT_EQ(Code(Run(Env("ADD"), huge_name)), 7);
  std::string bad_name = config;
  bad_name.replace(bad_name.find(R"("name": "net1")"), 14, R"("name": "net/1")");
  EXPECT_EQ(Code(Run(Env("ADD"), bad_name)), 7);
  EXPECT_EQ(Code(Run(Env("ADD"), config + std::string(2 << 20, ' '))), 7);
  auto env = Env("ADD");
  env["CNI_CONTAINERID"] = "../../etc";
  EXPECT_EQ(Code(Run(env, config)), 4);
  env = Env("ADD");
  env["CNI_CONTAINERID"] = std::string(300, 'c');
  EXPECT_EQ(Code(Run(env, config)), 4);
  env = Env("ADD");
  std::string labels = "TABBY_LABELS=";
  for (int i = 0; i < 300; ++i) labels += fmt::format("{}k{}=v", i == 0 ? "" : ",", i);
  env["CNI_ARGS"] = labels;
  PluginOutput out = Run(env, config);
  EXPECT_EQ(Code(out), 4);
  EXPECT_NE(out.stdout_text.find("300 labels given"), std::string::npos) << out.stdout_text;
  env["CNI_ARGS"] = std::string(100 * 1024, 'a');
  EXPECT_EQ(Code(Run(env, config)), 4);
  EXPECT_TRUE(Endpoints().empty());
  EXPECT_EQ(Allocated(), 0u);
  // Container ids as the specification allows them work.
  env = Env("ADD", "C_1.a-b");
  env["CNI_ARGS"] = "K8S_POD_NAMESPACE=prod;K8S_POD_NAME=web";
  PluginOutput added = Run(env, config);
  EXPECT_EQ(added.exit_code, 0) << added.stdout_text;
}

TEST_F(PluginTest, CheckFindsBrokenAttachments) {
  AddPool("pool4", "10.65.0.0/24");
  PluginOutput added = Run(Env("ADD"), Config());
  ASSERT_EQ(added.exit_code, 0);
  std::string prev = fmt::format(R"(, "prevResult": {})", added.stdout_text);
  EXPECT_EQ(Run(Env("CHECK"), Config(prev)).exit_code, 0);
  // The veth disappears behind the plugin's back.
  network_.wired.clear();
  PluginOutput out = Run(Env("CHECK"), Config(prev));
  EXPECT_EQ(Code(out), 100);
  EXPECT_NE(out.stdout_text.find("missing"), std::string::npos);
  // CHECK of a container that was never added.
  EXPECT_EQ(Code(Run(Env("CHECK", "ghost"), Config())), 100);
  // CHECK needs 0.4.0 or later.
  EXPECT_EQ(Code(Run(Env("CHECK"), Config("", "0.3.1"))), 1);
}

TEST_F(PluginTest, FailedWiringLeavesNothingBehind) {
  AddPool("pool4", "10.65.0.0/24");
  network_.fail_setup = true;
  PluginOutput out = Run(Env("ADD"), Config());
  EXPECT_NE(out.exit_code, 0);
  EXPECT_TRUE(Endpoints().empty());
  EXPECT_EQ(Allocated(), 0u);
}

TEST_F(PluginTest, ExhaustedPoolIsNamed) {
  AddPool("tiny", "10.66.0.0/30", 30);
  for (int i = 0; i < 4; ++i) {
    ASSERT_EQ(Run(Env("ADD", fmt::format("c{}", i)), Config()).exit_code, 0);
  }
  PluginOutput out = Run(Env("ADD", "c4"), Config());
  EXPECT_EQ(Code(out), 101);
  EXPECT_NE(out.stdout_text.find("tiny"), std::string::npos);
  EXPECT_NE(out.stdout_text.find("10.66.0.0/30"), std::string::npos);
  EXPECT_EQ(Endpoints().size(), 4u);
}

TEST_F(PluginTest, ConcurrentAddsNeverShareAnAddress) {
  AddPool("pool4", "10.67.0.0/26");
  std::vector<std::thread> threads;
  std::vector<std::string> addresses(40);
  for (int i = 0; i < 40; ++i) {
    threads.emplace_back([&, i] {
      PluginOutput out = Run(Env("ADD", fmt::format("p{}", i)), Config());
      if (out.exit_code == 0) {
        addresses[i] = json::parse(out.stdout_text)["ips"][0]["address"];
      }
    });
  }
  for (auto& t : threads) t.join();
  std::set<std::string> unique;
  for (const auto& a : addresses) {
    ASSERT_FALSE(a.empty());
    unique.insert(a);
  }
  EXPECT_EQ(unique.size(), 40u);
}

TEST_F(PluginTest, Status) {
  EXPECT_EQ(Code(Run({{"CNI_COMMAND", "STATUS"}}, Config())), 50);
  AddPool("pool4", "10.65.0.0/24");
  EXPECT_EQ(Run({{"CNI_COMMAND", "STATUS"}}, Config()).exit_code, 0);
  EXPECT_EQ(Code(Run({{"CNI_COMMAND", "STATUS"}},
                     Config().replace(Config().find(url_), url_.size(), "bogus://x"))),
            50);
}

TEST_F(PluginTest, GarbageCollectionRemovesUnlistedAttachments) {
  AddPool("pool4", "10.65.0.0/24");
  ASSERT_EQ(Run(Env("ADD", "keep"), Config()).exit_code, 0);
  ASSERT_EQ(Run(Env("ADD", "stale"), Config()).exit_code, 0);
  std::string valid =
      R"(, "cni.dev/valid-attachments": [{"containerID": "keep", "ifname": "eth0"}])";
  PluginOutput out = Run({{"CNI_COMMAND", "GC"}}, Config(valid));
  ASSERT_EQ(out.exit_code, 0) << out.stdout_text;
  auto endpoints = Endpoints();
  ASSERT_EQ(endpoints.size(), 1u);
  EXPECT_EQ(endpoints[0].workload_endpoint().container_id, "keep");
  EXPECT_EQ(Allocated(), 1u);
}

}  // namespace
}  // namespace tabby::cni
