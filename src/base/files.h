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

}  // namespace tabby
