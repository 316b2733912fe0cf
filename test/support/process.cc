#include "support/process.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <poll.h>
#include <sched.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstring>

extern char** environ;  // NOLINT: POSIX

#if defined(__SANITIZE_ADDRESS__)
#define TABBY_UNDER_SANITIZER 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define TABBY_UNDER_SANITIZER 1
#endif
#endif

namespace tabby::test {
namespace {

using Clock = std::chrono::steady_clock;

struct Spawned {
  pid_t pid = -1;
  int out_fd = -1;
  int err_fd = -1;
};

std::string JoinArgv(const std::vector<std::string>& argv) {
  return fmt::format("{}", fmt::join(argv, " "));
}

// The test's environment with `extra` (KEY=VALUE) added or overriding.
std::vector<std::string> MergedEnvironment(const std::vector<std::string>& extra) {
  std::vector<std::string> out;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    std::string_view entry(*e);
    std::string_view key = entry.substr(0, entry.find('='));
    bool overridden = false;
    for (const auto& x : extra) {
      if (std::string_view(x).substr(0, x.find('=')) == key) overridden = true;
    }
    if (!overridden) out.emplace_back(entry);
  }
  out.insert(out.end(), extra.begin(), extra.end());
  return out;
}

void CloseFd(int& fd) {
  if (fd >= 0) close(fd);
  fd = -1;
}

// What the child of Spawn needs, prepared before it exists.
struct ChildSetup {
  char** args;
  char** env;
  int out_fd;  // write ends of the pipes
  int err_fd;
  int netns_fd;  // -1: stay in the caller's namespace
  const char* stdin_path;
  pid_t parent;
};

// Reports a failed step on the child's stderr and leaves. Only system calls (see RunChild).
[[noreturn]] __attribute__((no_sanitize("address", "undefined"))) void ChildFail(const char* what) {
  const int err = errno;
  (void)!write(2, what, strlen(what));
  (void)!write(2, ": ", 2);
  const char* reason = strerrordesc_np(err);
  if (reason != nullptr) (void)!write(2, reason, strlen(reason));
  (void)!write(2, "\n", 1);
  _exit(127);
}

// The child between clone and exec. It shares the parent's memory (CLONE_VM) and runs on a
// stack of its own, so it only makes system calls (not instrumented by the sanitizers, whose
// bookkeeping belongs to the parent), and leaves by exec or _exit.
__attribute__((no_sanitize("address", "undefined"))) int RunChild(void* arg) {
  const ChildSetup& setup = *static_cast<const ChildSetup*>(arg);
  setpgid(0, 0);
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (getppid() != setup.parent) _exit(126);
  if (dup2(setup.out_fd, 1) < 0 || dup2(setup.err_fd, 2) < 0) _exit(127);
  int input = open(setup.stdin_path, O_RDONLY);
  if (input < 0) ChildFail(setup.stdin_path);
  dup2(input, 0);
  close(input);
  if (setup.netns_fd >= 0 && setns(setup.netns_fd, CLONE_NEWNET) != 0) ChildFail("setns");
  // Default dispositions for what the test process may handle, then nothing blocked.
  for (int sig = 1; sig < NSIG; ++sig) {
    if (sig != SIGKILL && sig != SIGSTOP) signal(sig, SIG_DFL);
  }
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);
  execvpe(setup.args[0], setup.args, setup.env);
  ChildFail(setup.args[0]);
}

absl::StatusOr<Spawned> Spawn(const std::vector<std::string>& argv, const CommandOptions& options) {
  if (argv.empty()) return absl::InvalidArgumentError("empty command line");
  // Everything the child needs is prepared before clone: after it, only system calls.
  std::vector<char*> args;
  args.reserve(argv.size() + 1);
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  std::vector<std::string> env_strings = MergedEnvironment(options.env);
  std::vector<char*> env;
  env.reserve(env_strings.size() + 1);
  for (auto& e : env_strings) env.push_back(e.data());
  env.push_back(nullptr);

  int netns_fd = -1;
  if (!options.netns_path.empty()) {
    netns_fd = open(options.netns_path.c_str(), O_RDONLY | O_CLOEXEC);
    if (netns_fd < 0) {
      return absl::NotFoundError(fmt::format("cannot open network namespace {}: {}",
                                             options.netns_path, std::strerror(errno)));
    }
  }
  int out_pipe[2] = {-1, -1};
  int err_pipe[2] = {-1, -1};
  if (pipe2(out_pipe, O_CLOEXEC) != 0 || pipe2(err_pipe, O_CLOEXEC) != 0) {
    int err = errno;
    for (int* fd : {&out_pipe[0], &out_pipe[1], &err_pipe[0], &err_pipe[1], &netns_fd}) {
      CloseFd(*fd);
    }
    return absl::InternalError(fmt::format("pipe: {}", std::strerror(err)));
  }
  ChildSetup setup{
      args.data(), env.data(),
      out_pipe[1], err_pipe[1],
      netns_fd,    options.stdin_path.empty() ? "/dev/null" : options.stdin_path.c_str(),
      getpid()};
  // clone(CLONE_VM | CLONE_VFORK), as posix_spawn does: the child borrows this process's memory
  // until it execs, so starting a program costs the same however large and threaded the test
  // process is (fork copies the page tables; benchmarks start hundreds of plugins a second).
  // Signals stay blocked across the clone so that no handler of ours runs on the child's stack.
  // Under the sanitizers, whose libc interceptors keep state that a child sharing our memory
  // could change, a plain fork: speed does not matter there.
  sigset_t all, previous;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &previous);
#if defined(TABBY_UNDER_SANITIZER)
  pid_t pid = fork();
  if (pid == 0) RunChild(&setup);
#else
  constexpr size_t kChildStack = 64 * 1024;
  std::vector<char> stack(kChildStack);
  pid_t pid =
      clone(RunChild, stack.data() + stack.size(), CLONE_VM | CLONE_VFORK | SIGCHLD, &setup);
#endif
  const int fork_errno = errno;
  pthread_sigmask(SIG_SETMASK, &previous, nullptr);
  CloseFd(out_pipe[1]);
  CloseFd(err_pipe[1]);
  CloseFd(netns_fd);
  if (pid < 0) {
    CloseFd(out_pipe[0]);
    CloseFd(err_pipe[0]);
    return absl::InternalError(fmt::format("clone: {}", std::strerror(fork_errno)));
  }
  // Also from the parent, so that a signal to the group cannot race the child's own setpgid.
  setpgid(pid, pid);
  fcntl(out_pipe[0], F_SETFL, O_NONBLOCK);
  fcntl(err_pipe[0], F_SETFL, O_NONBLOCK);
  return Spawned{pid, out_pipe[0], err_pipe[0]};
}

// Appends what is readable now; closes the descriptor at end of file.
void ReadAvailable(int& fd, std::string& into) {
  char buffer[16384];
  while (fd >= 0) {
    ssize_t n = read(fd, buffer, sizeof(buffer));
    if (n > 0) {
      into.append(buffer, static_cast<size_t>(n));
    } else if (n == 0) {
      CloseFd(fd);
    } else if (errno != EINTR) {
      if (errno != EAGAIN) CloseFd(fd);
      return;
    }
  }
}

// Waits for input on the open descriptors for at most `timeout`.
void PollFds(int fd1, int fd2, std::chrono::milliseconds timeout) {
  pollfd fds[2] = {{fd1, POLLIN, 0}, {fd2, POLLIN, 0}};
  int ms = static_cast<int>(std::max<int64_t>(0, timeout.count()));
  if (fd1 < 0 && fd2 < 0) {
    poll(nullptr, 0, ms);
    return;
  }
  poll(fds, 2, ms);  // negative descriptors are ignored
}

// Waits until `pid` exits (a pidfd becomes readable then), for at most `timeout`.
void PollExit(pid_t pid, std::chrono::milliseconds timeout) {
  const int pidfd = static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
  const int ms = static_cast<int>(std::max<int64_t>(0, timeout.count()));
  if (pidfd < 0) {
    poll(nullptr, 0, std::min(ms, 1));  // no pidfds (Linux < 5.3): a short interval
    return;
  }
  pollfd exit_event{pidfd, POLLIN, 0};
  poll(&exit_event, 1, ms);
  close(pidfd);
}

int DecodeStatus(int status) { return WIFEXITED(status) ? WEXITSTATUS(status) : -1; }

// Whether `pid` has exited; if so, kills whatever is left of its process group (its leader is a
// zombie until reaped, so the group id cannot have been reused) and reaps it.
std::optional<int> ReapIfExited(pid_t pid, bool block) {
  siginfo_t info{};
  int flags = WEXITED | WNOWAIT | (block ? 0 : WNOHANG);
  while (waitid(P_PID, static_cast<id_t>(pid), &info, flags) != 0) {
    if (errno != EINTR) return -1;
  }
  if (info.si_pid == 0) return std::nullopt;  // still running
  kill(-pid, SIGKILL);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return DecodeStatus(status);
}

std::chrono::milliseconds Remaining(Clock::time_point deadline) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
}

}  // namespace

std::string CommandResult::Describe() const {
  std::string status = timed_out ? std::string("timed out") : fmt::format("exit {}", exit_code);
  return fmt::format("{}; stdout: [{}] stderr: [{}]", status, out, err);
}

CommandResult RunCommand(const std::vector<std::string>& argv, const CommandOptions& options) {
  CommandResult result;
  absl::StatusOr<Spawned> spawned = Spawn(argv, options);
  if (!spawned.ok()) {
    result.err = fmt::format("cannot run {}: {}", JoinArgv(argv), spawned.status().ToString());
    return result;
  }
  Clock::time_point deadline = Clock::now() + options.timeout;
  std::optional<int> exit_code;
  while (true) {
    ReadAvailable(spawned->out_fd, result.out);
    ReadAvailable(spawned->err_fd, result.err);
    if (spawned->out_fd < 0 && spawned->err_fd < 0) {
      exit_code = ReapIfExited(spawned->pid, false);
      if (exit_code) break;
    }
    auto remaining = Remaining(deadline);
    if (remaining.count() <= 0) break;
    if (spawned->out_fd < 0 && spawned->err_fd < 0) {
      // Its output is closed, so it is most likely exiting: wait for exactly that (benchmarks
      // time commands with this), not for a polling interval.
      PollExit(spawned->pid, remaining);
      continue;
    }
    PollFds(spawned->out_fd, spawned->err_fd, std::min(remaining, std::chrono::milliseconds(5)));
  }
  if (!exit_code) {
    kill(-spawned->pid, SIGKILL);
    kill(spawned->pid, SIGKILL);
    ReapIfExited(spawned->pid, true);
    result.timed_out = true;
    result.exit_code = -1;
    result.err += fmt::format("\n[killed: {} did not finish within {} ms]", JoinArgv(argv),
                              options.timeout.count());
  } else {
    result.exit_code = *exit_code;
  }
  CloseFd(spawned->out_fd);
  CloseFd(spawned->err_fd);
  return result;
}

absl::Status RunChecked(const std::vector<std::string>& argv, const CommandOptions& options) {
  CommandResult result = RunCommand(argv, options);
  if (result.ok()) return absl::OkStatus();
  return absl::InternalError(fmt::format(
      "`{}`{} failed: {}", JoinArgv(argv),
      options.netns_path.empty() ? std::string() : fmt::format(" in {}", options.netns_path),
      result.Describe()));
}

absl::StatusOr<std::unique_ptr<ChildProcess>> ChildProcess::Start(
    const std::vector<std::string>& argv, const CommandOptions& options) {
  absl::StatusOr<Spawned> spawned = Spawn(argv, options);
  if (!spawned.ok()) return spawned.status();
  return std::unique_ptr<ChildProcess>(
      new ChildProcess(spawned->pid, spawned->out_fd, spawned->err_fd, JoinArgv(argv)));
}

ChildProcess::~ChildProcess() {
  if (!exit_code_) Stop();
  CloseFd(out_fd_);
  CloseFd(err_fd_);
}

void ChildProcess::Drain() {
  ReadAvailable(out_fd_, out_);
  ReadAvailable(err_fd_, err_);
}

bool ChildProcess::Reap(bool block) {
  if (exit_code_) return true;
  exit_code_ = ReapIfExited(pid_, block);
  return exit_code_.has_value();
}

bool ChildProcess::Running() {
  Drain();
  return !Reap(false);
}

const std::string& ChildProcess::out() {
  Drain();
  return out_;
}

const std::string& ChildProcess::err() {
  Drain();
  return err_;
}

bool ChildProcess::WaitForOutput(std::string_view text, std::chrono::milliseconds timeout) {
  Clock::time_point deadline = Clock::now() + timeout;
  while (true) {
    Drain();
    if (out_.find(text) != std::string::npos) return true;
    if (!Running()) return out_.find(text) != std::string::npos;
    auto remaining = Remaining(deadline);
    if (remaining.count() <= 0) return false;
    PollFds(out_fd_, err_fd_, std::min(remaining, std::chrono::milliseconds(10)));
  }
}

std::optional<int> ChildProcess::Wait(std::chrono::milliseconds timeout) {
  Clock::time_point deadline = Clock::now() + timeout;
  while (Running()) {
    auto remaining = Remaining(deadline);
    if (remaining.count() <= 0) return std::nullopt;
    PollFds(out_fd_, err_fd_, std::min(remaining, std::chrono::milliseconds(5)));
  }
  Drain();
  return exit_code_;
}

int ChildProcess::Stop(std::chrono::milliseconds grace) {
  if (Running()) {
    kill(-pid_, SIGTERM);
    if (!Wait(grace)) {
      kill(-pid_, SIGKILL);
      kill(pid_, SIGKILL);
      Reap(true);
    }
  }
  Drain();
  return exit_code_.value_or(-1);
}

std::string ChildProcess::Describe() {
  Drain();
  std::string state = exit_code_ ? fmt::format("exit {}", *exit_code_) : "running";
  return fmt::format("pid {} ({}), {}; stdout: [{}] stderr: [{}]", pid_, command_, state, out_,
                     err_);
}

}  // namespace tabby::test
