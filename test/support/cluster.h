// A data centre on one machine, for end-to-end tests and benchmarks: hosts (network namespaces;
// several sit on a support/fabric.h fabric), one shared datastore (the embedded SQLite file, or a
// real etcd cluster), tabbyd on every host (several hosts route to each other over BGP through
// BIRD unless asked otherwise), and the CNI plugin invoked as a runtime invokes it. It knows no
// gtest, so benchmarks use it too. Everything goes when it does, on every path: agents, BIRDs
// (daemons that outlive tabbyd on purpose), etcd, namespaces and files.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "support/etcd.h"
#include "support/fabric.h"
#include "support/netns.h"
#include "support/process.h"
#include "support/temp_dir.h"

namespace tabby::test {

// The programs under test, as built.
struct ClusterBinaries {
  std::string tabbyd;
  std::string tabbyctl;
  std::string tabby_cni;
};

struct ClusterOptions {
  ClusterBinaries binaries;
  // 1: one host namespace on its own. More: hosts on a fabric (host i at Fabric::Ipv4Of(i)).
  int hosts = 1;
  std::vector<int> second_subnet;  // hosts on the fabric's second subnet
  // 0: the embedded datastore, a SQLite file in the cluster's directory (the hosts share this
  // machine's filesystem). n > 0: an etcd cluster of n members, on the tor when there is a
  // fabric, else on the lone host's loopback.
  int etcd_members = 0;
  bool bgp = true;  // with several hosts: tabbyd --bird run (otherwise --bird off)
};

// One invocation of the CNI plugin.
struct CniRequest {
  int host = 0;
  std::string command;  // ADD, DEL, CHECK
  std::string container_id;
  std::string netns_path;
  std::string cni_args;             // CNI_ARGS; empty sends none (as a runtime may on DEL)
  bool ipv6 = false;                // assign an IPv6 address too
  int wait_for_agent_seconds = 20;  // ADD waits until the agent programmed the workload; 0: not
};

// The addresses of a CNI result, without prefix lengths ("" for a family it has none of).
struct CniAddresses {
  std::string ipv4;
  std::string ipv6;
};
CniAddresses ParseCniAddresses(const std::string& result_json);

class Cluster {
 public:
  // Makes the hosts, starts the datastore and initialises it (`tabbyctl datastore init`). No
  // agent runs yet: StartAgent each.
  static absl::StatusOr<std::unique_ptr<Cluster>> Create(ClusterOptions options);
  ~Cluster();
  Cluster(const Cluster&) = delete;
  Cluster& operator=(const Cluster&) = delete;

  int size() const { return options_.hosts; }
  const ScopedNetns& host(int i) const { return fabric_ ? fabric_->host(i) : *lone_host_; }
  Fabric* fabric() const { return fabric_.get(); }   // null with one host
  EtcdCluster* etcd() const { return etcd_.get(); }  // null on the embedded datastore
  const TempDir& dir() const { return dir_; }
  const std::string& url() const { return url_; }  // --datastore of every host

  // host1, host2, ...
  static std::string NodeName(int i) { return "host" + std::to_string(i + 1); }
  std::string StateDir(int i) const;
  // Every agent's --secrets-dir (BGP passwords: <dir>/<secret>/<key>).
  std::string SecretsDir() const { return dir_.File("secrets"); }

  // Starts tabbyd on host `i` with `extra_args` after the usual ones; a running one is stopped
  // first.
  absl::Status StartAgent(int i, const std::vector<std::string>& extra_args = {});
  // Host i's agent: null before StartAgent. Tests may stop, kill or replace it.
  std::unique_ptr<ChildProcess>& agent(int i) { return agents_.at(i); }

  // Host i's BIRD: its pid from <state>/bird.pid, 0 when there is none.
  int BirdPid(int i) const;
  void KillBird(int i) const;

  // tabbyctl on host 0, where the datastore is reachable.
  CommandResult Ctl(std::vector<std::string> args) const;
  // `tabbyctl apply` of `yaml` (written to a file of the cluster's directory).
  absl::Status Apply(const std::string& yaml);
  // Until every started agent reports the datastore's current revision as programmed (one that
  // was started and is not running is an error; reset its slot to leave it out).
  absl::Status WaitProgrammed(std::chrono::milliseconds timeout = std::chrono::seconds(20));

  // The network configuration a runtime hands the plugin on host `host`.
  std::string NetConf(int host, bool ipv6, int wait_for_agent_seconds) const;
  // Runs the plugin in host `request.host`'s namespace, as a runtime does. Safe to call from
  // several threads at once.
  CommandResult Cni(const CniRequest& request);

 private:
  Cluster(ClusterOptions options, TempDir dir)
      : options_(std::move(options)), dir_(std::move(dir)) {}

  ClusterOptions options_;
  TempDir dir_;
  std::unique_ptr<ScopedNetns> lone_host_;  // with one host
  std::unique_ptr<Fabric> fabric_;          // with several
  std::unique_ptr<EtcdCluster> etcd_;
  std::string url_;
  std::vector<std::unique_ptr<ChildProcess>> agents_;
  std::atomic<int> files_ = 0;  // names the files Apply and Cni write (Cni runs on any thread)
};

}  // namespace tabby::test
