#include "base/files.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <poll.h>
#include <sys/file.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

namespace tabby {
namespace {
absl::Status ErrnoError(std::string_view what, const std::string& path, int err) {
  return absl::Status(err == ENOENT ? absl::StatusCode::kNotFound : absl::StatusCode::kInternal,
                      fmt::format("{} {}: {}", what, path, std::strerror(err)));
}
}  // namespace

absl::StatusOr<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return ErrnoError("cannot read", path, errno);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

absl::Status WriteFileAtomically(const std::string& path, std::string_view content) {
  std::string tmp = fmt::format("{}.tmp.{}", path, getpid());
  int fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return ErrnoError("cannot create", tmp, errno);
  size_t done = 0;
  while (done < content.size()) {
    ssize_t n = write(fd, content.data() + done, content.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      int err = errno;
      close(fd);
      unlink(tmp.c_str());
      return ErrnoError("cannot write", tmp, err);
    }
    done += static_cast<size_t>(n);
  }
  close(fd);
  if (rename(tmp.c_str(), path.c_str()) != 0) {
    int err = errno;
    unlink(tmp.c_str());
    return ErrnoError("cannot rename into place", path, err);
  }
  return absl::OkStatus();
}

absl::Status MakeDirectories(const std::string& path, unsigned mode) {
  std::string partial;
  for (size_t i = 0; i <= path.size(); ++i) {
    if (i == path.size() || (path[i] == '/' && i > 0)) {
      partial = path.substr(0, i);
      if (mkdir(partial.c_str(), mode) != 0 && errno != EEXIST) {
        return ErrnoError("cannot create directory", partial, errno);
      }
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<UniqueFd> LockPidFile(const std::string& path) {
  UniqueFd fd(open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644));
  if (!fd.valid()) return ErrnoError("cannot open", path, errno);
  if (flock(fd.get(), LOCK_EX | LOCK_NB) != 0) {
    int err = errno;
    if (err != EWOULDBLOCK) return ErrnoError("cannot lock", path, err);
    char holder[32] = {};
    ssize_t n = pread(fd.get(), holder, sizeof(holder) - 1, 0);
    std::string pid = n > 0 ? std::string(holder, static_cast<size_t>(n)) : "";
    while (!pid.empty() && (pid.back() == '\n' || pid.back() == ' ')) pid.pop_back();
    return absl::FailedPreconditionError(
        fmt::format("{} is locked by another process (pid {})", path, pid.empty() ? "?" : pid));
  }
  std::string pid = fmt::format("{}\n", getpid());
  if (ftruncate(fd.get(), 0) != 0 ||
      pwrite(fd.get(), pid.data(), pid.size(), 0) != static_cast<ssize_t>(pid.size())) {
    return ErrnoError("cannot write", path, errno);
  }
  return fd;
}

DirectoryChanges::DirectoryChanges(const std::string& dir)
    : fd_(inotify_init1(IN_NONBLOCK | IN_CLOEXEC)) {
  if (fd_.valid() && inotify_add_watch(fd_.get(), dir.c_str(), IN_CLOSE_WRITE | IN_MOVED_TO) < 0) {
    fd_.Reset();
  }
}

bool DirectoryChanges::Wait(int timeout_ms) {
  if (!fd_.valid()) {
    usleep(static_cast<useconds_t>(timeout_ms) * 1000);
    return false;
  }
  pollfd readable{.fd = fd_.get(), .events = POLLIN, .revents = 0};
  if (poll(&readable, 1, timeout_ms) <= 0) return false;
  alignas(inotify_event) char buffer[4096];
  while (read(fd_.get(), buffer, sizeof(buffer)) > 0) {
  }
  return true;
}

}  // namespace tabby
