// A network namespace that exists exactly as long as this object: created with a unique name
// (tabbyt-<pid>-<random>), so parallel test runs never collide, and deleted on every path.
// Creating one also deletes namespaces left by test processes that died without cleaning up
// (their pid no longer exists).
#pragma once

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "support/process.h"

namespace tabby::test {

class ScopedNetns {
 public:
  // `ip netns add`, then brings `lo` up inside.
  static absl::StatusOr<ScopedNetns> Create();
  ScopedNetns(ScopedNetns&& other) noexcept : name_(std::move(other.name_)) { other.name_.clear(); }
  ScopedNetns& operator=(ScopedNetns&& other) noexcept;
  ScopedNetns(const ScopedNetns&) = delete;
  ScopedNetns& operator=(const ScopedNetns&) = delete;
  // `ip netns del`: the namespace goes away once no process or file holds it any more.
  ~ScopedNetns();

  const std::string& name() const { return name_; }
  std::string path() const { return "/var/run/netns/" + name_; }

  // RunCommand / RunChecked / ChildProcess::Start inside this namespace.
  CommandResult Run(const std::vector<std::string>& argv, CommandOptions options = {}) const;
  absl::Status RunOk(const std::vector<std::string>& argv, CommandOptions options = {}) const;
  absl::StatusOr<std::unique_ptr<ChildProcess>> Start(const std::vector<std::string>& argv,
                                                      CommandOptions options = {}) const;
  // sysctl -w key=value inside this namespace (key in dotted form: net.ipv4.ip_forward).
  absl::Status Sysctl(const std::string& key, const std::string& value) const;

 private:
  explicit ScopedNetns(std::string name) : name_(std::move(name)) {}
  std::string name_;
};

}  // namespace tabby::test
