// Running programs from tests: one-shot commands with a deadline, and long-running children that
// are always stopped and reaped. Either can run inside a network namespace: the child enters it
// with setns(2) before exec, which is what `ip netns exec` does for the network (the mount and
// /sys remount of `ip netns exec` are not needed by the tools tests run: ip, sysctl, nft, probes).
//
// Children run in their own process group, so a timeout or a destructor stops everything they
// started, and die with the test process (PR_SET_PDEATHSIG) if it crashes.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace tabby::test {

struct CommandOptions {
  // Extra environment, KEY=VALUE, on top of (and overriding) the test process's environment.
  std::vector<std::string> env;
  // A network namespace file (e.g. /var/run/netns/NAME); empty: the caller's namespace.
  std::string netns_path;
  // A file the child reads as its standard input; empty: /dev/null.
  std::string stdin_path;
  // RunCommand only: the child is killed when it has not finished by then.
  std::chrono::milliseconds timeout{10000};
};

struct CommandResult {
  int exit_code = -1;  // -1 when it could not start, died of a signal, or timed out
  bool timed_out = false;
  std::string out;
  std::string err;

  bool ok() const { return exit_code == 0; }
  // For assertion messages: "exit 1: <stderr>" / "timed out after ...".
  std::string Describe() const;
};

// Runs `argv` (argv[0] is looked up in PATH) to completion, capturing stdout and stderr.
CommandResult RunCommand(const std::vector<std::string>& argv, const CommandOptions& options = {});

// RunCommand, as a Status: OK on exit 0, else an error naming the command and its stderr.
absl::Status RunChecked(const std::vector<std::string>& argv, const CommandOptions& options = {});

// A long-running program (a server, a traffic generator). The destructor stops it (SIGTERM to its
// process group, SIGKILL after a grace period) and reaps it, on every path.
class ChildProcess {
 public:
  static absl::StatusOr<std::unique_ptr<ChildProcess>> Start(const std::vector<std::string>& argv,
                                                             const CommandOptions& options = {});
  ~ChildProcess();
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  pid_t pid() const { return pid_; }
  const std::string& command() const { return command_; }

  // Whether it still runs (reaps it when it has exited).
  bool Running();
  // What it printed so far (reads whatever is pending first).
  const std::string& out();
  const std::string& err();

  // Waits until its stdout contains `text`; false when it exits or `timeout` passes first.
  bool WaitForOutput(std::string_view text, std::chrono::milliseconds timeout);
  // Waits for it to exit by itself; its exit code (-1: killed by a signal), or nullopt on timeout.
  std::optional<int> Wait(std::chrono::milliseconds timeout);
  // SIGTERM to its process group, SIGKILL after `grace`; returns its exit code (-1: signal).
  int Stop(std::chrono::milliseconds grace = std::chrono::seconds(2));

  // "pid 123 (cmd ...), exit 1, stdout: ..., stderr: ..." for assertion messages.
  std::string Describe();

 private:
  ChildProcess(pid_t pid, int out_fd, int err_fd, std::string command)
      : pid_(pid), out_fd_(out_fd), err_fd_(err_fd), command_(std::move(command)) {}
  void Drain();
  bool Reap(bool block);

  pid_t pid_;
  int out_fd_;
  int err_fd_;
  std::string command_;
  std::string out_;
  std::string err_;
  std::optional<int> exit_code_;
};

}  // namespace tabby::test
