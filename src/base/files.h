// Small file helpers with errors that name the file.
#pragma once

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "base/unique_fd.h"

namespace tabby {

absl::StatusOr<std::string> ReadFile(const std::string& path);

// Writes via a temporary file in the same directory and rename(2), so readers see either the old
// or the new content, never a torn write.
absl::Status WriteFileAtomically(const std::string& path, std::string_view content);

// mkdir -p.
absl::Status MakeDirectories(const std::string& path, unsigned mode = 0755);

// Takes an exclusive lock (flock) on `path`, creating it, and writes this process's pid into it;
// the lock lasts as long as the returned descriptor is open and the kernel drops it when the
// process dies, so a crash never leaves a stale lock. FailedPrecondition naming the holder's pid
// when another process holds it.
absl::StatusOr<UniqueFd> LockPidFile(const std::string& path);

// Wakes a waiter when a file in a directory is replaced or written (inotify), so a process that
// waits for another's file (the CNI plugin for the agent's status.json) need not poll it. If
// the directory does not exist or inotify is unavailable, Wait just sleeps: callers check again
// after every Wait, so a missed or absent notification costs only latency.
class DirectoryChanges {
 public:
  explicit DirectoryChanges(const std::string& dir);
  bool watching() const { return fd_.valid(); }
  // Until something in the directory changed since the last Wait (or since construction), or
  // `timeout_ms` passed. Whether it was woken by a change.
  bool Wait(int timeout_ms);

 private:
  UniqueFd fd_;
};

}  // namespace tabby
