// A temporary directory for one test, removed with everything in it when this goes away.
#pragma once

#include <string>

#include "absl/status/statusor.h"

namespace tabby::test {

class TempDir {
 public:
  // Under $TMPDIR (or /tmp), named tabby-test-XXXXXX.
  static absl::StatusOr<TempDir> Create();
  // The same under `base` (e.g. /dev/shm, where fsync costs nothing).
  static absl::StatusOr<TempDir> CreateIn(const std::string& base);
  TempDir(TempDir&& other) noexcept : path_(std::move(other.path_)) { other.path_.clear(); }
  TempDir& operator=(TempDir&& other) noexcept;
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  ~TempDir();

  const std::string& path() const { return path_; }
  // path() + "/" + name.
  std::string File(const std::string& name) const { return path_ + "/" + name; }

 private:
  explicit TempDir(std::string path) : path_(std::move(path)) {}
  std::string path_;
};

}  // namespace tabby::test
