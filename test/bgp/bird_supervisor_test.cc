// BirdSupervisor with a real BIRD in a network namespace: started on the first configuration,
// reloaded when it changes, a configuration BIRD refuses leaves the running one, started again
// after it was killed.
#include "bgp/bird_supervisor.h"

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <fstream>
#include <memory>
#include <string>

#include "dataplane/netlink.h"
#include "support/netns.h"
#include "support/root.h"
#include "support/temp_dir.h"

namespace tabby::bgp {
namespace {

using ::testing::HasSubstr;

std::string Config(const std::string& extra = "") {
  return "router id 192.0.2.1;\nprotocol device { scan time 10; }\n" + extra;
}

class BirdSupervisorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    TABBY_REQUIRE_ROOT();
    auto dir = test::TempDir::Create();
    ASSERT_TRUE(dir.ok());
    dir_ = std::make_unique<test::TempDir>(std::move(*dir));
    auto netns = test::ScopedNetns::Create();
    ASSERT_TRUE(netns.ok()) << netns.status();
    netns_ = std::make_unique<test::ScopedNetns>(std::move(*netns));
    // BIRD is started from this thread: it runs in the namespace the thread is in.
    auto guard = dataplane::NetnsGuard::Enter(netns_->path());
    ASSERT_TRUE(guard.ok()) << guard.status();
    guard_ = std::move(*guard);
    supervisor_ =
        std::make_unique<BirdSupervisor>(BirdOptions{.mode = BirdOptions::Mode::kRun,
                                                     .config_path = dir_->File("bird.conf"),
                                                     .socket_path = dir_->File("bird.ctl"),
                                                     .pid_path = dir_->File("bird.pid")});
  }

  void TearDown() override {
    // BIRD is a daemon, not our child: stop it by its pid file.
    if (supervisor_ != nullptr) {
      if (int pid = supervisor_->RunningPid(); pid > 0) kill(pid, SIGKILL);
    }
    guard_.reset();
  }

  std::string Protocols() {
    return RunProgram({"birdc", "-s", dir_->File("bird.ctl"), "show", "protocols"}).output;
  }

  std::unique_ptr<test::TempDir> dir_;
  std::unique_ptr<test::ScopedNetns> netns_;
  std::unique_ptr<dataplane::NetnsGuard> guard_;
  std::unique_ptr<BirdSupervisor> supervisor_;
};

TEST_F(BirdSupervisorTest, StartsReloadsRefusesAndRestarts) {
  ASSERT_TRUE(supervisor_->Apply(Config()).ok());
  const int first = supervisor_->RunningPid();
  ASSERT_GT(first, 0);

  ASSERT_TRUE(supervisor_->Apply(Config("protocol static extra4 { ipv4; }\n")).ok());
  EXPECT_EQ(supervisor_->RunningPid(), first) << "reloaded, not restarted";
  EXPECT_THAT(Protocols(), HasSubstr("extra4"));

  absl::Status refused = supervisor_->Apply(Config("protocol nonsense {"));
  EXPECT_EQ(refused.code(), absl::StatusCode::kInvalidArgument) << refused;
  EXPECT_THAT(std::string(refused.message()), HasSubstr("BIRD refuses"));
  EXPECT_THAT(Protocols(), HasSubstr("extra4")) << "the running configuration stays";

  kill(first, SIGKILL);
  for (int i = 0; i < 100 && supervisor_->RunningPid() != 0; ++i) usleep(20'000);
  ASSERT_TRUE(supervisor_->Tick().ok());
  EXPECT_GT(supervisor_->RunningPid(), 0);
  EXPECT_NE(supervisor_->RunningPid(), first);
  EXPECT_THAT(Protocols(), HasSubstr("extra4"));
}

// tabbyd blocks SIGTERM (it reads it from a signalfd); the BIRD it starts must not inherit that,
// or nothing short of SIGKILL would stop it.
TEST_F(BirdSupervisorTest, BirdStartedWithSigtermBlockedStillStopsOnSigterm) {
  sigset_t term, previous;
  sigemptyset(&term);
  sigaddset(&term, SIGTERM);
  ASSERT_EQ(pthread_sigmask(SIG_BLOCK, &term, &previous), 0);
  absl::Status applied = supervisor_->Apply(Config());
  pthread_sigmask(SIG_SETMASK, &previous, nullptr);
  ASSERT_TRUE(applied.ok()) << applied;
  const int pid = supervisor_->RunningPid();
  ASSERT_GT(pid, 0);
  ASSERT_EQ(kill(pid, SIGTERM), 0);
  // Gone, or a zombie that nobody reaped (BIRD is a daemon: init is its parent).
  auto gone_now = [pid] {
    std::ifstream status(fmt::format("/proc/{}/status", pid));
    std::string line;
    while (std::getline(status, line)) {
      if (line.starts_with("State:")) return line.find('Z') != std::string::npos;
    }
    return true;
  };
  bool gone = false;
  for (int i = 0; i < 250 && !gone; ++i) {
    gone = gone_now();
    if (!gone) usleep(20'000);
  }
  EXPECT_TRUE(gone) << "BIRD " << pid << " ignored SIGTERM";
}

TEST(BirdMode, Parses) {
  EXPECT_EQ(*ParseBirdMode("run"), BirdOptions::Mode::kRun);
  EXPECT_EQ(*ParseBirdMode("external"), BirdOptions::Mode::kExternal);
  EXPECT_EQ(*ParseBirdMode("off"), BirdOptions::Mode::kOff);
  EXPECT_FALSE(ParseBirdMode("on").ok());
}

}  // namespace
}  // namespace tabby::bgp
