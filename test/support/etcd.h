// A real etcd (Debian etcd-server) for tests: one member or a cluster of several on loopback,
// with its data in a temporary directory. Members can be killed and started again to test
// failover; everything is stopped and removed when this goes away, on every path.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "support/process.h"
#include "support/temp_dir.h"

namespace tabby::test {

class EtcdCluster {
 public:
  // Starts `members` members and waits until the cluster answers. Ports are chosen free. With
  // `netns_path`, the members run in that network namespace (and listen on its loopback).
  // `address` is where the members listen (a loopback or an address of that namespace).
  static absl::StatusOr<std::unique_ptr<EtcdCluster>> Start(
      int members = 1, const std::string& netns_path = "",
      const std::string& address = "127.0.0.1");
  ~EtcdCluster();

  // etcd://127.0.0.1:P1,127.0.0.1:P2,...: every member, for tabby's --datastore.
  std::string Url() const;
  // http://127.0.0.1:P1,...: for etcdctl --endpoints.
  std::string EtcdctlEndpoints() const;
  // "127.0.0.1:P" of one member.
  std::string ClientAddress(int member) const;
  int size() const { return static_cast<int>(members_.size()); }

  // SIGKILL one member (its data stays), and start it again with the same data and ports.
  void Kill(int member);
  absl::Status Restart(int member);
  bool Running(int member) const { return members_[member].process != nullptr; }

  // The log of one member (etcd's zap logger writes to a file, not to a pipe that could fill).
  std::string Log(int member) const;

 private:
  struct Member {
    std::string name;
    int client_port = 0;
    int peer_port = 0;
    std::unique_ptr<ChildProcess> process;
  };
  EtcdCluster(TempDir dir, std::string netns_path, std::string address)
      : dir_(std::move(dir)), netns_path_(std::move(netns_path)), address_(std::move(address)) {}
  std::vector<std::string> Argv(const Member& member, bool initial) const;
  absl::Status Launch(Member& member, bool initial);
  // Polls `etcdctl endpoint health` on the running members until every one is healthy.
  absl::Status WaitHealthy();

  TempDir dir_;
  std::string netns_path_;
  std::string address_;
  std::vector<Member> members_;
};

}  // namespace tabby::test
