#include "support/netns.h"

#include <fmt/format.h>
#include <unistd.h>

#include <random>

namespace tabby::test {

absl::StatusOr<ScopedNetns> ScopedNetns::Create() {
  std::random_device random;
  absl::Status last = absl::OkStatus();
  for (int attempt = 0; attempt < 5; ++attempt) {
    // The pid keeps names apart between processes, the random part within one.
    std::string name = fmt::format("tabbyt-{}-{:06x}", getpid(), random() & 0xffffff);
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
