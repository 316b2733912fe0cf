// The plugin driven by a real container runtime: podman with its CNI backend (TESTING.md's
// recipe). Everything podman needs is private to the test: its storage, its CNI configuration
// directory, its plugin directory (holding the tabby plugin as built) and a busybox root
// filesystem. podman runs with only its network namespace switched to a test "host" namespace
// (nsenter --net), so that the host side of every veth, the agent and its nftables table live
// there and the machine's own networking is untouched.
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "datastore/datastore.h"
#include "support/agent_status.h"
#include "support/netns.h"
#include "support/process.h"
#include "support/root.h"
#include "support/temp_dir.h"
#include "support/wait.h"

namespace tabby::test {
namespace {

using nlohmann::json;
using std::chrono::seconds;

class PodmanTest : public ::testing::Test {
 protected:
  void SetUp() override {
    TABBY_REQUIRE_ROOT();
    if (!RunCommand({"podman", "--version"}).ok() || !std::filesystem::exists("/bin/busybox")) {
      GTEST_SKIP() << "podman or busybox-static is not installed (scripts/install-deps installs "
                      "them)";
    }
    auto dir = TempDir::Create();
    ASSERT_TRUE(dir.ok()) << dir.status();
    dir_ = std::make_unique<TempDir>(std::move(*dir));
    url_ = "sqlite://" + dir_->File("tabby.db");
    namespace fs = std::filesystem;
    for (const char* sub : {"rootfs/bin", "cni", "plugins", "state"}) {
      fs::create_directories(dir_->File(sub));
    }
    fs::copy_file("/bin/busybox", dir_->File("rootfs/bin/busybox"));
    fs::create_symlink("busybox", dir_->File("rootfs/bin/sh"));
    fs::create_symlink(TABBY_CNI, dir_->File("plugins/tabby"));
    network_ = fmt::format("tabby{}", getpid());
    std::ofstream(dir_->File("cni/" + network_ + ".conflist")) << fmt::format(
        R"({{"cniVersion": "1.0.0", "name": "{}",
            "plugins": [{{"type": "tabby", "datastore": "{}", "nodename": "podhost",
                          "wait_for_agent_seconds": 20, "agent_state_dir": "{}"}}]}})",
        network_, url_, dir_->File("state"));
    std::ofstream(dir_->File("containers.conf")) << fmt::format(
        "[network]\nnetwork_backend = \"cni\"\ncni_plugin_dirs = [\"{}\"]\n"
        "network_config_dir = \"{}\"\n",
        dir_->File("plugins"), dir_->File("cni"));

    auto host = ScopedNetns::Create();
    ASSERT_TRUE(host.ok()) << host.status();
    host_ = std::make_unique<ScopedNetns>(std::move(*host));
    CommandResult init = Ctl({"datastore", "init"});
    ASSERT_TRUE(init.ok()) << init.Describe();
    auto agent = host_->Start({TABBYD, "--datastore", url_, "--node", "podhost", "--state-dir",
                               dir_->File("state"), "--log-level", "warn"});
    ASSERT_TRUE(agent.ok()) << agent.status();
    agent_ = std::move(*agent);
    Apply(
        "apiVersion: projectcalico.org/v3\nkind: IPPool\nmetadata: {name: pods}\n"
        "spec: {cidr: 10.72.0.0/24}\n");
  }

  void TearDown() override {
    if (!dir_) return;
    // Remove every container this test started (their CNI DEL runs), then podman's storage.
    RunPodman({"rm", "-f", "-t", "0", "-a"});
    if (agent_) agent_->Stop();
    RunCommand({"umount", "-R", dir_->File("runroot")});
  }

  CommandResult RunPodman(std::vector<std::string> args,
                          std::chrono::seconds timeout = seconds(60)) {
    std::vector<std::string> argv = {"nsenter",
                                     "--net=" + host_->path(),
                                     "podman",
                                     "--root",
                                     dir_->File("root"),
                                     "--runroot",
                                     dir_->File("runroot"),
                                     "--network-backend",
                                     "cni",
                                     "--runtime",
                                     "runc",
                                     "--cgroup-manager",
                                     "cgroupfs"};
    argv.insert(argv.end(), args.begin(), args.end());
    CommandOptions options;
    options.env = {"CONTAINERS_CONF=" + dir_->File("containers.conf")};
    options.timeout = timeout;
    return RunCommand(argv, options);
  }

  std::vector<std::string> RunArgs(const std::string& name) {
    return {"--name",           name,       "--network",       network_,   "--ulimit",
            "nofile=1024:1024", "--ulimit", "nproc=1024:1024", "--rootfs", dir_->File("rootfs")};
  }

  CommandResult Ctl(std::vector<std::string> args) {
    args.insert(args.begin(), TABBYCTL);
    CommandOptions options;
    options.env = {"TABBY_DATASTORE=" + url_};
    return RunCommand(args, options);
  }

  void WaitProgrammed() {
    auto store = datastore::Open(url_);
    ASSERT_TRUE(store.ok());
    int64_t revision = *(*store)->CurrentRevision();
    ASSERT_TRUE(WaitForAgentRevision(dir_->File("state/status.json"), revision))
        << agent_->Describe();
  }

  void Apply(const std::string& yaml) {
    std::string file = dir_->File(fmt::format("apply{}.yaml", ++applies_));
    std::ofstream(file) << yaml;
    CommandResult result = Ctl({"apply", "-f", file});
    ASSERT_TRUE(result.ok()) << result.Describe();
    WaitProgrammed();
  }

  // The WorkloadEndpoint podman's container `name` got, as JSON.
  json Endpoint(const std::string& name) {
    CommandResult listed = Ctl({"get", "workloadendpoints", "-A", "-o", "json"});
    EXPECT_TRUE(listed.ok()) << listed.Describe();
    json list = json::parse(listed.out, nullptr, false);
    if (list.is_discarded() || !list.contains("items")) return json();
    for (const auto& item : list["items"]) {
      if (item["spec"].value("workload", "") == name) return item;
    }
    return json();
  }

  // A busybox client for the server below: prints what the server sends.
  static std::string FetchCommand(const std::string& address) {
    return fmt::format("busybox nc -w 2 {} 80 </dev/null", address);
  }

  // Whether container `client` (started now, removed after) can fetch from `address`.
  bool Fetch(const std::string& client, const std::string& address) {
    std::vector<std::string> args = {"run", "--rm"};
    for (auto& a : RunArgs(client)) args.push_back(a);
    args.insert(args.end(), {"/bin/sh", "-c", FetchCommand(address)});
    CommandResult result = RunPodman(args);
    return result.ok() && result.out.find("hello") != std::string::npos;
  }

  std::unique_ptr<TempDir> dir_;
  std::string url_;
  std::string network_;
  std::unique_ptr<ScopedNetns> host_;
  std::unique_ptr<ChildProcess> agent_;
  int applies_ = 0;
};

TEST_F(PodmanTest, ContainersGetPoolAddressesAndPolicyDecidesReachability) {
  std::vector<std::string> args = {"run", "-d"};
  for (auto& a : RunArgs("web")) args.push_back(a);
  // One connection per nc; the loop serves the next one.
  args.insert(args.end(),
              {"/bin/sh", "-c", "while true; do echo hello | busybox nc -l -p 80; done"});
  CommandResult started = RunPodman(args);
  ASSERT_TRUE(started.ok()) << started.Describe();
  json web = Endpoint("web");
  ASSERT_FALSE(web.is_null()) << "no workload endpoint for container web";
  std::string address = web["spec"]["ipNetworks"][0];
  EXPECT_EQ(address.rfind("10.72.0.", 0), 0u) << address;
  address = address.substr(0, address.find('/'));

  // No policy selects web: another container reaches it.
  EXPECT_TRUE(WaitFor([&] { return Fetch("client1", address); }, seconds(30)));

  // Only workloads labelled role=client may reach web now.
  CommandResult labeled =
      Ctl({"label", "workloadendpoint", web["metadata"]["name"].get<std::string>(), "-n",
           web["metadata"]["namespace"].get<std::string>(), "role=web"});
  ASSERT_TRUE(labeled.ok()) << labeled.Describe();
  Apply(R"(
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: web}
spec:
  selector: role == 'web'
  ingress:
  - action: Allow
    source: {selector: role == 'client'}
)");
  EXPECT_FALSE(Fetch("client2", address));

  // A network whose configuration labels its workloads role=client is allowed.
  std::ofstream(dir_->File("cni/" + network_ + "c.conflist")) << fmt::format(
      R"({{"cniVersion": "1.0.0", "name": "{}c",
          "plugins": [{{"type": "tabby", "datastore": "{}", "nodename": "podhost",
                        "labels": {{"role": "client"}},
                        "wait_for_agent_seconds": 20, "agent_state_dir": "{}"}}]}})",
      network_, url_, dir_->File("state"));
  std::vector<std::string> client = {"run",
                                     "--rm",
                                     "--name",
                                     "client3",
                                     "--network",
                                     network_ + "c",
                                     "--ulimit",
                                     "nofile=1024:1024",
                                     "--ulimit",
                                     "nproc=1024:1024",
                                     "--rootfs",
                                     dir_->File("rootfs"),
                                     "/bin/sh",
                                     "-c",
                                     FetchCommand(address)};
  CommandResult fetched = RunPodman(client);
  EXPECT_TRUE(fetched.ok()) << fetched.Describe();
  EXPECT_NE(fetched.out.find("hello"), std::string::npos);

  // Removing the container removes its endpoint and its host interface.
  ASSERT_TRUE(RunPodman({"rm", "-f", "-t", "0", "web"}).ok());
  EXPECT_TRUE(Endpoint("web").is_null());
  CommandResult links = host_->Run({"ip", "-o", "link"});
  EXPECT_EQ(links.out.find("tabby"), std::string::npos) << links.out;
}

}  // namespace
}  // namespace tabby::test
