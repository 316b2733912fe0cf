// Child processes for multi-process datastore tests: forked up front, held at a starting gate,
// released together so they really contend, and always reaped. Children must not use gtest;
// they report through their exit code (and ChildFail's message on stderr).
//
// A backend whose client library cannot run in a forked child (gRPC, for etcd) gets threads
// instead (Mode::kThreads): each opens its own handle, hence its own connection, which is what
// the server sees of separate processes.
#pragma once

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace tabby::datastore::forked {

// Waits for `pid`; returns its exit status, or -1 with a test failure.
inline int WaitChild(pid_t pid) {
  int status = 0;
  while (waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) {
      ADD_FAILURE() << "waitpid " << pid << ": " << std::strerror(errno);
      return -1;
    }
  }
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  ADD_FAILURE() << "child " << pid << " died: " << (WIFSIGNALED(status) ? WTERMSIG(status) : -1);
  return -1;
}

// Prints `message` from a child process (no gtest there) and returns `code`.
inline int ChildFail(int code, const std::string& message) {
  std::string line = fmt::format("child {}: {}\n", getpid(), message);
  ssize_t ignored = write(STDERR_FILENO, line.data(), line.size());
  (void)ignored;
  return code;
}

class ForkedChildren {
 public:
  enum class Mode { kProcesses, kThreads };

  // Forks `count` children; child i waits at the gate, then exits with body(i). No datastore
  // handle may be open in the parent across this call (SQLite's locks are per process).
  ForkedChildren(int count, const std::function<int(int)>& body, Mode mode = Mode::kProcesses) {
    if (mode == Mode::kThreads) {
      threads_ = std::make_unique<Threads>();
      threads_->codes.assign(count, -1);
      for (int i = 0; i < count; ++i) {
        threads_->running.emplace_back([this, i, body] {
          {
            std::unique_lock lock(threads_->mu);
            threads_->gate.wait(lock, [&] { return threads_->open; });
          }
          threads_->codes[i] = body(i);
        });
      }
      return;
    }
    if (pipe(gate_) != 0) {
      ADD_FAILURE() << "pipe: " << std::strerror(errno);
      return;
    }
    std::fflush(nullptr);
    for (int i = 0; i < count; ++i) {
      pid_t pid = fork();
      if (pid == 0) {
        close(gate_[1]);
        char byte;
        // The gate opens when the parent closes the pipe (EOF).
        if (read(gate_[0], &byte, 1) != 0) _exit(ChildFail(100, "unexpected start signal"));
        _exit(body(i));
      }
      if (pid < 0) {
        ADD_FAILURE() << "fork: " << std::strerror(errno);
        break;
      }
      pids_.push_back(pid);
    }
    close(gate_[0]);
    gate_[0] = -1;
  }
  ForkedChildren(const ForkedChildren&) = delete;
  ForkedChildren& operator=(const ForkedChildren&) = delete;
  ~ForkedChildren() { Wait(/*kill_first=*/true); }

  size_t size() const { return threads_ ? threads_->codes.size() : pids_.size(); }

  // Lets every child start.
  void Release() {
    if (threads_) {
      std::lock_guard lock(threads_->mu);
      threads_->open = true;
      threads_->gate.notify_all();
    }
    if (gate_[1] >= 0) close(gate_[1]);
    gate_[1] = -1;
  }

  // Releases (if not yet), then reaps every child; their exit codes (-1 if one died). With
  // `kill_first`, children still running are killed (a test that already failed).
  std::vector<int> Wait(bool kill_first = false) {
    Release();
    if (threads_) {
      // Threads cannot be killed; their bodies end on their own (datastore calls time out).
      for (std::thread& thread : threads_->running) thread.join();
      std::vector<int> codes = std::move(threads_->codes);
      threads_.reset();
      return codes;
    }
    std::vector<int> codes;
    for (pid_t pid : pids_) {
      if (kill_first) kill(pid, SIGKILL);
      codes.push_back(WaitChild(pid));
    }
    pids_.clear();
    return codes;
  }

 private:
  struct Threads {
    std::mutex mu;
    std::condition_variable gate;
    bool open = false;
    std::vector<int> codes;
    std::vector<std::thread> running;
  };

  int gate_[2] = {-1, -1};
  std::unique_ptr<Threads> threads_;
  std::vector<pid_t> pids_;
};

}  // namespace tabby::datastore::forked
