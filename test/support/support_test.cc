// The test helpers themselves: deadlines hold, children are reaped, namespaces go away.
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>

#include "support/process.h"
#include "support/temp_dir.h"
#include "support/wait.h"

namespace tabby::test {
namespace {

using std::chrono::milliseconds;

bool Exists(const std::string& path) {
  struct stat st {};
  return stat(path.c_str(), &st) == 0;
}

// Not running: gone, or a zombie waiting for init to reap it.
bool Alive(pid_t pid) {
  std::ifstream stat(fmt::format("/proc/{}/stat", pid));
  std::string line;
  if (!std::getline(stat, line)) return false;
  size_t paren = line.rfind(')');
  return paren != std::string::npos && paren + 2 < line.size() && line[paren + 2] != 'Z';
}

TEST(RunCommand, CapturesOutputAndExitCode) {
  CommandResult r = RunCommand({"sh", "-c", "echo out; echo err >&2; exit 3"});
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_FALSE(r.timed_out);
  EXPECT_EQ(r.out, "out\n");
  EXPECT_EQ(r.err, "err\n");
}

TEST(RunCommand, PassesEnvironment) {
  CommandResult r = RunCommand({"sh", "-c", "echo $TABBY_X"}, {.env = {"TABBY_X=42"}});
  EXPECT_TRUE(r.ok()) << r.Describe();
  EXPECT_EQ(r.out, "42\n");
}

TEST(RunCommand, KillsOnTimeoutWithItsChildren) {
  CommandResult r =
      RunCommand({"sh", "-c", "sleep 600 & echo $!; wait"}, {.timeout = milliseconds(200)});
  EXPECT_TRUE(r.timed_out);
  EXPECT_EQ(r.exit_code, -1);
  // The grandchild was in the same process group and is gone too.
  std::string pid = r.out.substr(0, r.out.find('\n'));
  ASSERT_FALSE(pid.empty());
  EXPECT_TRUE(WaitFor([&] { return !Alive(std::stoi(pid)); }, milliseconds(10000)));
}

TEST(RunCommand, MissingProgramFails) {
  CommandResult r = RunCommand({"/nonexistent/tabby-no-such-program"});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("tabby-no-such-program"), std::string::npos) << r.err;
}

TEST(ChildProcess, StopsAndReapsLongRunningChild) {
  pid_t pid = 0;
  {
    auto child = ChildProcess::Start({"sh", "-c", "echo started; exec sleep 600"});
    ASSERT_TRUE(child.ok()) << child.status();
    pid = (*child)->pid();
    EXPECT_TRUE((*child)->WaitForOutput("started", milliseconds(10000)));
    EXPECT_TRUE((*child)->Running());
  }
  EXPECT_FALSE(Alive(pid));
}

TEST(ChildProcess, EscalatesToSigkill) {
  auto child = ChildProcess::Start({"sh", "-c", "trap '' TERM; echo armed; sleep 600 & wait"});
  ASSERT_TRUE(child.ok()) << child.status();
  ASSERT_TRUE((*child)->WaitForOutput("armed", milliseconds(10000)));
  EXPECT_EQ((*child)->Stop(milliseconds(100)), -1);
  EXPECT_FALSE((*child)->Running());
}

TEST(ChildProcess, WaitReturnsExitCode) {
  auto child = ChildProcess::Start({"sh", "-c", "echo bye; exit 7"});
  ASSERT_TRUE(child.ok()) << child.status();
  EXPECT_EQ((*child)->Wait(milliseconds(10000)), 7);
  EXPECT_EQ((*child)->out(), "bye\n");
}

TEST(TempDir, RemovedWithContents) {
  std::string path;
  {
    auto dir = TempDir::Create();
    ASSERT_TRUE(dir.ok()) << dir.status();
    path = dir->path();
    std::ofstream(dir->File("f")) << "x";
    ASSERT_TRUE(Exists(dir->File("f")));
  }
  EXPECT_FALSE(Exists(path));
}

TEST(WaitFor, ReturnsWhenConditionHolds) {
  int calls = 0;
  EXPECT_TRUE(WaitFor([&] { return ++calls == 3; }, milliseconds(10000), milliseconds(1)));
  EXPECT_EQ(calls, 3);
  EXPECT_FALSE(WaitFor([] { return false; }, milliseconds(20), milliseconds(1)));
}

}  // namespace
}  // namespace tabby::test
