#include "support/etcd.h"

#include <fmt/format.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <fstream>
#include <sstream>
#include <thread>

namespace tabby::test {
namespace {

// A port the kernel says is free now (bound to port 0 and released); etcd binds it a moment
// later. Another process could take it in between: Start retries with new ports then.
absl::StatusOr<int> FreeLoopbackPort() {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return absl::InternalError("socket() failed");
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof(address);
  if (bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0 ||
      getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
    close(fd);
    return absl::InternalError("binding a loopback port failed");
  }
  close(fd);
  return ntohs(address.sin_port);
}

constexpr auto kStartTimeout = std::chrono::seconds(30);

}  // namespace

absl::StatusOr<std::unique_ptr<EtcdCluster>> EtcdCluster::Start(int members,
                                                                const std::string& netns_path,
                                                                const std::string& address) {
  absl::Status last;
  for (int attempt = 0; attempt < 3; ++attempt) {
    // In memory where there is a tmpfs: etcd fsyncs every commit, which on a shared disk makes
    // tests slow without testing anything of ours.
    absl::StatusOr<TempDir> dir =
        access("/dev/shm", W_OK) == 0 ? TempDir::CreateIn("/dev/shm") : TempDir::Create();
    if (!dir.ok()) return dir.status();
    std::unique_ptr<EtcdCluster> cluster(
        new EtcdCluster(std::move(dir).value(), netns_path, address));
    for (int i = 0; i < members; ++i) {
      Member member;
      member.name = fmt::format("m{}", i);
      absl::StatusOr<int> client = FreeLoopbackPort();
      absl::StatusOr<int> peer = FreeLoopbackPort();
      if (!client.ok()) return client.status();
      if (!peer.ok()) return peer.status();
      member.client_port = *client;
      member.peer_port = *peer;
      cluster->members_.push_back(std::move(member));
    }
    last = absl::OkStatus();
    for (Member& member : cluster->members_) {
      last = cluster->Launch(member, /*initial=*/true);
      if (!last.ok()) break;
    }
    if (last.ok()) last = cluster->WaitHealthy();
    if (last.ok()) return cluster;
  }
  return last;
}

EtcdCluster::~EtcdCluster() {
  for (Member& member : members_) member.process.reset();
}

std::vector<std::string> EtcdCluster::Argv(const Member& member, bool initial) const {
  std::string initial_cluster;
  for (const Member& m : members_) {
    if (!initial_cluster.empty()) initial_cluster += ',';
    initial_cluster += fmt::format("{}=http://{}:{}", m.name, address_, m.peer_port);
  }
  const std::string client = fmt::format("http://{}:{}", address_, member.client_port);
  const std::string peer = fmt::format("http://{}:{}", address_, member.peer_port);
  return {"etcd",
          "--name",
          member.name,
          "--data-dir",
          dir_.File(member.name),
          "--listen-client-urls",
          client,
          "--advertise-client-urls",
          client,
          "--listen-peer-urls",
          peer,
          "--initial-advertise-peer-urls",
          peer,
          "--initial-cluster",
          initial_cluster,
          "--initial-cluster-state",
          initial ? "new" : "existing",
          "--initial-cluster-token",
          fmt::format("tabby-test-{}", getpid()),
          "--logger",
          "zap",
          "--log-outputs",
          dir_.File(member.name + ".log"),
          "--log-level",
          "warn"};
}

absl::Status EtcdCluster::Launch(Member& member, bool initial) {
  absl::StatusOr<std::unique_ptr<ChildProcess>> process =
      ChildProcess::Start(Argv(member, initial), {.netns_path = netns_path_});
  if (!process.ok()) return process.status();
  member.process = std::move(process).value();
  return absl::OkStatus();
}

absl::Status EtcdCluster::WaitHealthy() {
  const auto deadline = std::chrono::steady_clock::now() + kStartTimeout;
  for (;;) {
    bool healthy = true;
    for (int i = 0; i < size(); ++i) {
      Member& member = members_[i];
      if (member.process == nullptr) continue;
      if (!member.process->Running()) {
        return absl::InternalError(fmt::format("etcd member {} exited: {}\n{}", member.name,
                                               member.process->Describe(), Log(i)));
      }
      CommandResult health =
          RunCommand({"etcdctl", "--endpoints", fmt::format("{}:{}", address_, member.client_port),
                      "--command-timeout=1s", "endpoint", "health"},
                     {.netns_path = netns_path_, .timeout = std::chrono::milliseconds(3000)});
      if (!health.ok()) healthy = false;
    }
    if (healthy) return absl::OkStatus();
    if (std::chrono::steady_clock::now() > deadline) {
      return absl::DeadlineExceededError(
          fmt::format("etcd not healthy after {} s: {}", kStartTimeout.count(), Log(0)));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

std::string EtcdCluster::Url() const {
  std::string url = "etcd://";
  for (int i = 0; i < size(); ++i) {
    if (i > 0) url += ',';
    url += ClientAddress(i);
  }
  return url;
}

std::string EtcdCluster::EtcdctlEndpoints() const {
  std::string endpoints;
  for (int i = 0; i < size(); ++i) {
    if (i > 0) endpoints += ',';
    endpoints += "http://" + ClientAddress(i);
  }
  return endpoints;
}

std::string EtcdCluster::ClientAddress(int member) const {
  return fmt::format("{}:{}", address_, members_[member].client_port);
}

void EtcdCluster::Kill(int member) {
  if (members_[member].process == nullptr) return;
  kill(members_[member].process->pid(), SIGKILL);
  members_[member].process->Stop();
  members_[member].process.reset();
}

absl::Status EtcdCluster::Restart(int member) {
  if (members_[member].process != nullptr) return absl::OkStatus();
  if (absl::Status launched = Launch(members_[member], /*initial=*/false); !launched.ok()) {
    return launched;
  }
  return WaitHealthy();
}

std::string EtcdCluster::Log(int member) const {
  std::ifstream in(dir_.File(members_[member].name + ".log"));
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

}  // namespace tabby::test
