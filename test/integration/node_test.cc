// This host as a Node: tabbyd records its underlay addresses (detected from the default routes'
// interface, or --node-ip) in its Node resource and keeps a liveness key that `tabbyctl node
// delete` respects.
#include <gmock/gmock.h>
#include <signal.h>

#include <fstream>

#include "host_fixture.h"

namespace tabby::test {
namespace {

using ::testing::HasSubstr;

class NodeRegistration : public HostFixture {
 protected:
  void GiveTheHostAnUplink() {
    for (const std::vector<std::string>& command : std::vector<std::vector<std::string>>{
             {"ip", "link", "add", "ext0", "type", "veth", "peer", "name", "ext1"},
             {"ip", "link", "set", "ext1", "up"},
             {"ip", "link", "set", "ext0", "up"},
             {"ip", "addr", "add", "192.0.2.5/24", "dev", "ext0"},
             {"ip", "-6", "addr", "add", "2001:db8::5/64", "dev", "ext0", "nodad"},
             {"ip", "route", "add", "default", "via", "192.0.2.1"},
             {"ip", "-6", "route", "add", "default", "via", "2001:db8::1", "dev", "ext0"}}) {
      CommandResult result = host_->Run(command);
      ASSERT_TRUE(result.ok()) << result.Describe();
    }
  }

  std::string NodeYaml() {
    CommandResult node = Ctl({"get", "node", kNode, "-o", "yaml"});
    EXPECT_TRUE(node.ok()) << node.Describe();
    return node.out;
  }

  void RestartAgent(const std::vector<std::string>& extra_args = {}) {
    agent()->Stop();
    StartAgent(extra_args);
    WaitProgrammed();
  }
};

TEST_F(NodeRegistration, AddressesComeFromTheDefaultRouteOrNodeIp) {
  GiveTheHostAnUplink();
  RestartAgent();
  ASSERT_TRUE(WaitFor([&] { return NodeYaml().find("192.0.2.5/24") != std::string::npos; },
                      std::chrono::seconds(10)))
      << NodeYaml();
  EXPECT_THAT(NodeYaml(), HasSubstr("ipv6Address: 2001:db8::5/64"));

  // --node-ip wins for its family; the other family keeps what was recorded.
  RestartAgent({"--node-ip", "198.51.100.7/24"});
  EXPECT_THAT(NodeYaml(), HasSubstr("ipv4Address: 198.51.100.7/24"));
  EXPECT_THAT(NodeYaml(), HasSubstr("ipv6Address: 2001:db8::5/64"));

  CommandResult wide = Ctl({"get", "nodes", "-o", "wide"});
  ASSERT_TRUE(wide.ok()) << wide.Describe();
  EXPECT_THAT(wide.out, HasSubstr("198.51.100.7/24"));
}

// With --bird run, tabbyd starts BIRD with a configuration that announces this host's blocks:
// BIRD learns the block's blackhole route from the kernel.
TEST_F(NodeRegistration, BirdRunsAndLearnsThisHostsBlocks) {
  GiveTheHostAnUplink();
  RestartAgent({"--bird", "run"});
  AddWorkload("a", "app=a");
  const std::string socket = dir_->File("state/bird.ctl");
  std::string routes;
  EXPECT_TRUE(WaitFor(
      [&] {
        routes = host_->Run({"birdc", "-s", socket, "show", "route"}).out;
        return routes.find("10.70.0.0/26") != std::string::npos;
      },
      std::chrono::seconds(20)))
      << routes;
  std::ifstream config(dir_->File("state/bird.conf"));
  std::string text((std::istreambuf_iterator<char>(config)), {});
  EXPECT_THAT(text, HasSubstr("define TABBY_BLOCKS4 = [ 10.70.0.0/26 ];"));
  EXPECT_THAT(text, HasSubstr("router id 192.0.2.5;"));

  // BIRD killed: tabbyd starts it again.
  std::ifstream pid_file(dir_->File("state/bird.pid"));
  int pid = 0;
  ASSERT_TRUE(pid_file >> pid);
  kill(pid, SIGKILL);
  EXPECT_TRUE(WaitFor(
      [&] {
        std::ifstream again(dir_->File("state/bird.pid"));
        int now = 0;
        return again >> now && now != pid && kill(now, 0) == 0;
      },
      std::chrono::seconds(20)));
}

TEST_F(NodeRegistration, BadNodeIpIsRefusedAtStart) {
  agent()->Stop();
  for (const std::string bad : {"10.0.0.1/24,10.0.0.2/24", "127.0.0.1/8", "fe80::1/64", "x"}) {
    auto agent = host_->Start({TABBYD, "--datastore", url_, "--node", kNode, "--state-dir",
                               dir_->File("state"), "--node-ip", bad});
    ASSERT_TRUE(agent.ok()) << agent.status();
    EXPECT_EQ((*agent)->Wait(std::chrono::seconds(10)), 1) << bad;
    EXPECT_THAT((*agent)->out() + (*agent)->err(), HasSubstr("--node-ip")) << bad;
  }
}

TEST_F(NodeRegistration, ARunningNodeIsNotDeletedByAccident) {
  CommandResult refused = Ctl({"node", "delete", kNode});
  EXPECT_FALSE(refused.ok());
  EXPECT_THAT(refused.err, HasSubstr("is alive"));
  agent()->Stop();
  CommandResult forced = Ctl({"node", "delete", kNode, "--force"});
  EXPECT_TRUE(forced.ok()) << forced.Describe();
  EXPECT_FALSE(Ctl({"get", "node", kNode}).ok());
}

}  // namespace
}  // namespace tabby::test
