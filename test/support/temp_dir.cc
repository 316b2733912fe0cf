#include "support/temp_dir.h"

#include <fmt/format.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <system_error>

namespace tabby::test {

absl::StatusOr<TempDir> TempDir::Create() {
  const char* base = std::getenv("TMPDIR");
  return CreateIn(base != nullptr && base[0] != '\0' ? base : "/tmp");
}

absl::StatusOr<TempDir> TempDir::CreateIn(const std::string& base) {
  std::string pattern = fmt::format("{}/tabby-test-XXXXXX", base);
  if (mkdtemp(pattern.data()) == nullptr) {
    return absl::InternalError(fmt::format("mkdtemp {}: {}", pattern, std::strerror(errno)));
  }
  return TempDir(std::move(pattern));
}

TempDir& TempDir::operator=(TempDir&& other) noexcept {
  if (this != &other) {
    TempDir discard(std::move(path_));
    path_ = std::move(other.path_);
    other.path_.clear();
  }
  return *this;
}

TempDir::~TempDir() {
  if (path_.empty()) return;
  std::error_code ignored;
  std::filesystem::remove_all(path_, ignored);
}

}  // namespace tabby::test
