#include "support/netns.h"

#include <fmt/format.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <filesystem>
#include <random>
#include <system_error>

namespace tabby::test {
namespace {

constexpr std::string_view kPrefix = "tabbyt-";

// Deletes namespaces a crashed test left behind: ours are named tabbyt-<pid>-..., and a
// namespace whose creating process is gone has no owner any more.
void SweepOrphans() {
  std::error_code error;
  for (const auto& entry : std::filesystem::directory_iterator("/var/run/netns", error)) {
    std::string name = entry.path().filename().string();
    if (name.rfind(kPrefix, 0) != 0) continue;
    size_t dash = name.find('-', kPrefix.size());
    if (dash == std::string::npos) continue;
    std::string pid_text = name.substr(kPrefix.size(), dash - kPrefix.size());
    if (pid_text.empty() || pid_text.find_first_not_of("0123456789") != std::string::npos) {
      continue;
    }
    auto pid = static_cast<pid_t>(std::stol(pid_text));
    if (pid == getpid() || kill(pid, 0) == 0 || errno != ESRCH) continue;
    RunCommand({"ip", "netns", "del", name});
  }
}

}  // namespace

absl::StatusOr<ScopedNetns> ScopedNetns::Create() {
  SweepOrphans();
  std::random_device random;
  absl::Status last = absl::OkStatus();
  for (int attempt = 0; attempt < 5; ++attempt) {
    // The pid keeps names apart between processes, the random part within one.
    std::string name = fmt::format("{}{}-{:06x}", kPrefix, getpid(), random() & 0xffffff);
    last = RunChecked({"ip", "netns", "add", name});
    if (!last.ok()) continue;  // e.g. the name exists: try another
    ScopedNetns netns(std::move(name));
    absl::Status up = netns.RunOk({"ip", "link", "set", "lo", "up"});
    if (!up.ok()) return up;  // `netns` deletes itself
    return netns;
  }
  return last;
}

ScopedNetns& ScopedNetns::operator=(ScopedNetns&& other) noexcept {
  if (this != &other) {
    ScopedNetns discard(std::move(name_));
    name_ = std::move(other.name_);
    other.name_.clear();
  }
  return *this;
}

ScopedNetns::~ScopedNetns() {
  if (name_.empty()) return;
  CommandResult result = RunCommand({"ip", "netns", "del", name_});
  if (!result.ok()) {
    fmt::print(stderr, "warning: cannot delete network namespace {}: {}\n", name_,
               result.Describe());
  }
}

CommandResult ScopedNetns::Run(const std::vector<std::string>& argv, CommandOptions options) const {
  options.netns_path = path();
  return RunCommand(argv, options);
}

absl::Status ScopedNetns::RunOk(const std::vector<std::string>& argv,
                                CommandOptions options) const {
  options.netns_path = path();
  return RunChecked(argv, options);
}

absl::StatusOr<std::unique_ptr<ChildProcess>> ScopedNetns::Start(
    const std::vector<std::string>& argv, CommandOptions options) const {
  options.netns_path = path();
  return ChildProcess::Start(argv, options);
}

absl::Status ScopedNetns::Sysctl(const std::string& key, const std::string& value) const {
  return RunOk({"sysctl", "-q", "-w", fmt::format("{}={}", key, value)});
}

}  // namespace tabby::test
