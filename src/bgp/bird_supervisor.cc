#include "bgp/bird_supervisor.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <signal.h>
#include <spawn.h>
#include <spdlog/spdlog.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>

#include "base/files.h"
#include "base/status_macros.h"

extern char** environ;  // NOLINT: POSIX

namespace tabby::bgp {
namespace {

// BIRD writes its pid file a moment after it was started: how long Start waits for it.
constexpr auto kStartTimeout = std::chrono::seconds(10);

std::string Trimmed(std::string text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  return text;
}

}  // namespace

absl::StatusOr<BirdOptions::Mode> ParseBirdMode(std::string_view text) {
  if (text == "off") return BirdOptions::Mode::kOff;
  if (text == "run") return BirdOptions::Mode::kRun;
  if (text == "external") return BirdOptions::Mode::kExternal;
  return absl::InvalidArgumentError(
      fmt::format("--bird \"{}\": expected off, run or external", text));
}

ProgramResult RunProgram(const std::vector<std::string>& argv) {
  ProgramResult result;
  int pipe_fds[2];
  if (pipe2(pipe_fds, O_CLOEXEC) != 0) {
    result.output = fmt::format("pipe: {}", std::strerror(errno));
    return result;
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, pipe_fds[1], STDOUT_FILENO);
  posix_spawn_file_actions_adddup2(&actions, pipe_fds[1], STDERR_FILENO);
  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  std::vector<char*> args;
  for (const std::string& arg : argv) args.push_back(const_cast<char*>(arg.c_str()));
  args.push_back(nullptr);
  // The program starts with no signal blocked and default handlers: tabbyd blocks SIGTERM and
  // SIGINT (it reads them from a signalfd), and a BIRD that inherited that mask could not be
  // stopped by anything short of SIGKILL.
  posix_spawnattr_t attributes;
  posix_spawnattr_init(&attributes);
  sigset_t none, all;
  sigemptyset(&none);
  sigfillset(&all);
  posix_spawnattr_setsigmask(&attributes, &none);
  posix_spawnattr_setsigdefault(&attributes, &all);
  posix_spawnattr_setflags(&attributes, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  pid_t pid = 0;
  int spawned = posix_spawnp(&pid, args[0], &actions, &attributes, args.data(), environ);
  posix_spawnattr_destroy(&attributes);
  posix_spawn_file_actions_destroy(&actions);
  close(pipe_fds[1]);
  if (spawned != 0) {
    close(pipe_fds[0]);
    result.output = fmt::format("cannot run {}: {}", argv[0], std::strerror(spawned));
    return result;
  }
  char buffer[4096];
  for (;;) {
    ssize_t n = read(pipe_fds[0], buffer, sizeof(buffer));
    if (n > 0) {
      result.output.append(buffer, static_cast<size_t>(n));
    } else if (n == 0 || errno != EINTR) {
      break;
    }
  }
  close(pipe_fds[0]);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

int BirdSupervisor::RunningPid() const {
  std::ifstream in(options_.pid_path);
  int pid = 0;
  if (!(in >> pid) || pid <= 0) return 0;
  if (kill(pid, 0) != 0) return 0;
  // A reused pid: BIRD's command line names its control socket.
  std::ifstream cmdline(fmt::format("/proc/{}/cmdline", pid));
  std::string text((std::istreambuf_iterator<char>(cmdline)), {});
  return text.find(options_.socket_path) != std::string::npos ? pid : 0;
}

absl::Status BirdSupervisor::Start() {
  std::remove(options_.pid_path.c_str());
  ProgramResult started = RunProgram({options_.bird, "-c", options_.config_path, "-s",
                                      options_.socket_path, "-P", options_.pid_path});
  if (started.exit_code != 0) {
    return absl::UnavailableError(fmt::format("starting BIRD: {}", Trimmed(started.output)));
  }
  const auto deadline = std::chrono::steady_clock::now() + kStartTimeout;
  while (RunningPid() == 0) {
    if (std::chrono::steady_clock::now() > deadline) {
      return absl::UnavailableError(fmt::format("BIRD did not write its pid file {} within {} s",
                                                options_.pid_path, kStartTimeout.count()));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  spdlog::info("bgp: BIRD started (pid {})", RunningPid());
  return absl::OkStatus();
}

absl::Status BirdSupervisor::Reload() {
  ProgramResult reloaded = RunProgram({options_.birdc, "-s", options_.socket_path, "configure"});
  // birdc exits 0 even when BIRD refuses; its reply says "Reconfigured" or "Reconfiguration
  // in progress" when it took the file.
  if (reloaded.exit_code != 0 || reloaded.output.find("econfigur") == std::string::npos ||
      reloaded.output.find("error") != std::string::npos) {
    return absl::UnavailableError(fmt::format("reloading BIRD through {}: {}", options_.socket_path,
                                              Trimmed(reloaded.output)));
  }
  return absl::OkStatus();
}

absl::Status BirdSupervisor::Apply(const std::string& config) {
  if (options_.mode == BirdOptions::Mode::kOff) return absl::OkStatus();
  const bool running = options_.mode == BirdOptions::Mode::kExternal || RunningPid() != 0;
  if (config == applied_ && running) return absl::OkStatus();
  // Checked before it replaces anything: a configuration BIRD refuses leaves the running one.
  const std::string candidate = options_.config_path + ".new";
  RETURN_IF_ERROR(WriteFileAtomically(candidate, config));
  ProgramResult checked = RunProgram({options_.bird, "-p", "-c", candidate});
  if (checked.exit_code != 0) {
    return absl::InvalidArgumentError(
        fmt::format("BIRD refuses the configuration tabbyd rendered ({}): {}", candidate,
                    Trimmed(checked.output)));
  }
  if (std::rename(candidate.c_str(), options_.config_path.c_str()) != 0) {
    return absl::InternalError(fmt::format("renaming {} to {}: {}", candidate, options_.config_path,
                                           std::strerror(errno)));
  }
  if (options_.mode == BirdOptions::Mode::kRun && RunningPid() == 0) {
    RETURN_IF_ERROR(Start());
  } else {
    RETURN_IF_ERROR(Reload());
  }
  applied_ = config;
  return absl::OkStatus();
}

absl::Status BirdSupervisor::Tick() {
  if (options_.mode != BirdOptions::Mode::kRun || applied_.empty()) return absl::OkStatus();
  if (RunningPid() != 0) return absl::OkStatus();
  spdlog::warn("bgp: BIRD is not running (pid file {}); starting it again", options_.pid_path);
  return Start();
}

}  // namespace tabby::bgp
