// The host agent's loop: list the datastore, compute this host's desired dataplane, program it,
// then follow the datastore's watch and apply each batch of changes as one incremental
// transaction. The datastore being unreachable leaves the programmed dataplane as it is:
// traffic that was allowed keeps flowing, and the agent resyncs when it can.
//
// Status (applied revision, counts, errors) is written to <state_dir>/status.json after every
// apply, so that the CNI plugin and tests can wait for a change to be in the kernel.
#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "agent/node_registration.h"
#include "base/clock.h"
#include "bgp/bgp_plan.h"
#include "bgp/bird_config.h"
#include "bgp/bird_supervisor.h"
#include "calc/calculator.h"
#include "dataplane/block_routes.h"
#include "dataplane/change_monitor.h"
#include "dataplane/nat_outgoing.h"
#include "dataplane/netlink.h"
#include "dataplane/nft_client.h"
#include "dataplane/nft_dataplane.h"
#include "dataplane/overlay.h"
#include "dataplane/workload_routes.h"
#include "datastore/datastore.h"
#include "datastore/node_liveness.h"

namespace tabby::agent {

struct AgentOptions {
  std::string node;
  std::string state_dir = "/run/tabby";
  // How often the agent re-reads the kernel's table and repairs drift (cheap when nothing
  // drifted: no kernel writes). A safety net: changes by other processes are seen through
  // netlink notifications (dataplane/change_monitor.h) and repaired within a second.
  absl::Duration verify_interval = absl::Minutes(5);
  // Wait between attempts while the datastore is unreachable (doubles up to 30 s).
  absl::Duration retry_interval = absl::Milliseconds(200);
  // How often the agent checks this node's IPAM records for leaks and gives back surplus
  // empty blocks (0: never), and how old an unreferenced allocation must be to be a leak.
  absl::Duration ipam_gc_interval = absl::Minutes(5);
  absl::Duration ipam_gc_grace = absl::Minutes(10);
  // Program from a datastore of another cluster, or one whose revision is behind what this host
  // was programmed from (restored from an old backup, replaced): normally refused, leaving the
  // dataplane as it is, because an emptied or foreign datastore would otherwise remove every
  // workload's rules. For the one start after such a change made on purpose.
  bool adopt_datastore = false;
  std::string datastore_url;  // for messages
  // This host's underlay addresses (--node-ip); nullopt: detected from the default routes'
  // interfaces at every resync.
  std::optional<NodeAddresses> node_addresses;
  // BGP through BIRD (--bird): off by default.
  bgp::BirdOptions bird;
  // The VXLAN devices' MTU (--vxlan-mtu); 0: the underlay interface's less the encapsulation.
  int vxlan_mtu = 0;
  // Where BGP passwords are read (--secrets-dir): <secrets_dir>/<secret name>/<key>.
  std::string secrets_dir = "/etc/tabby/secrets";
};

class Agent {
 public:
  Agent(AgentOptions options, datastore::Datastore& store, dataplane::NftClient& nft,
        dataplane::Netlink& netlink, Clock& clock);

  // Runs until `stop` becomes true (checked at least every 200 ms). Returns only then, or on an
  // error that retrying cannot fix.
  absl::Status Run(const std::atomic<bool>& stop);

 private:
  // Lists everything, rebuilds the calculation and converges the dataplane. Returns the
  // revision to watch from.
  absl::StatusOr<datastore::Revision> Resync();
  absl::Status FollowWatch(datastore::Revision from, const std::atomic<bool>& stop);
  // Writes <state_dir>/status.json: the revision and cluster programmed last (kept across
  // failures and restarts), whether the agent is in sync now, and the last error.
  void WriteStatus(bool in_sync, const std::string& error);
  // Reads what a previous run programmed from status.json, if anything.
  void LoadProgrammed();
  // OK if `identity` at `revision` may be programmed over what this host was programmed from.
  absl::Status CheckDatastoreIdentity(const std::string& cluster_guid,
                                      datastore::Revision revision);
  // Creates or updates this host's Node resource with its underlay addresses: it is how IPAM
  // leak checks know that the host (and so its blocks) exists, and what peers and tunnels use.
  absl::Status RegisterNode();
  // Reads every block's owner (the affinities), makes this host's blackhole routes match its own
  // blocks, and marks BGP and the overlay for an update when what they depend on changed.
  absl::Status SyncBlockRoutes();
  // When nodes, pools or blocks changed (or to repair): plans the VXLAN overlay and makes the
  // kernel match; writes <state_dir>/mtu for the CNI plugin while VXLAN is on.
  void UpdateOverlay();
  // Makes the natOutgoing table match the pools (a no-op when they did not change, unless
  // `force`).
  void UpdateNatOutgoing(bool force = false);
  // The overlay, natOutgoing and BGP, each doing work only when what it depends on changed
  // (BGP also restarts a dead BIRD).
  void UpdateRouting();
  void MaybeCollectIpamGarbage();
  // Keeps this node's liveness key alive (NodeLiveness::Tick), warning once when that fails.
  void KeepNodeAlive();
  // Keeps what BGP depends on (nodes, BGP configurations and peers, pools); `resource` null:
  // deleted. Other kinds are ignored.
  void NoteBgpResource(model::Kind kind, const std::string& name, const model::Resource* resource);
  // A BGP password: the file <secrets_dir>/<name>/<key>, less a trailing newline.
  absl::StatusOr<std::string> ReadSecret(const model::SecretKeyRef& ref) const;
  // When what BGP depends on or this host's blocks changed: plans the sessions, renders BIRD's
  // configuration and applies it; and restarts BIRD if it died. Failures are logged and retried
  // a few seconds later.
  void UpdateBgp();
  // Reads the kernel back and repairs what differs from the desired state (nftables when
  // `nftables`, routes when `routes`), logging and counting each repair with `why`.
  absl::Status Verify(bool nftables, bool routes, std::string_view why);
  // Takes in what the change monitor saw and verifies what someone else changed, once a burst
  // of changes has settled (at most every kTamperSpacing per kind).
  absl::Status RepairTampering();

  AgentOptions options_;
  datastore::Datastore& store_;
  dataplane::Netlink& netlink_;
  dataplane::OwnCommitsUnheard nft_client_;  // before nft_, which commits through it
  dataplane::NftDataplane nft_;
  dataplane::WorkloadRoutes routes_;
  dataplane::BlockRoutes block_routes_;
  dataplane::Overlay overlay_;
  dataplane::NatOutgoing nat_;
  Clock& clock_;
  std::unique_ptr<calc::Calculator> calc_;
  // What the kernel holds now was computed from this cluster at this revision (empty / 0: not
  // known); status.json keeps it across restarts.
  std::string programmed_cluster_;
  datastore::Revision programmed_revision_ = 0;
  absl::Time last_verify_;
  absl::Time last_status_;  // of the last status.json write
  absl::Time last_ipam_gc_;
  // Changes by others seen by the monitor and not verified yet: since when.
  std::unique_ptr<dataplane::ChangeMonitor> monitor_;
  std::optional<absl::Time> nft_changed_since_;
  datastore::NodeLiveness liveness_;
  bgp::BirdSupervisor bird_;
  bgp::BgpResources bgp_resources_;
  std::vector<std::string> bgp_problems_;          // logged once each time they change
  std::set<IpNetwork> own_blocks_;                 // this host's blocks, as last synced
  std::map<IpNetwork, std::string> block_owners_;  // every block's host, as last synced
  bool overlay_dirty_ = true;
  bool nat_failing_ = false;
  std::vector<std::string> overlay_problems_;  // logged once each time they change
  std::string overlay_error_;                  // the last failed Sync's, logged once
  bool bgp_dirty_ = true;
  absl::Time bgp_retry_at_ = absl::InfinitePast();
  bool liveness_failing_ = false;  // warn once per outage
  std::optional<absl::Time> routes_changed_since_;
  std::set<pid_t> nft_writers_;
  absl::Time last_tamper_check_;
  uint64_t nft_repairs_ = 0;
  uint64_t route_repairs_ = 0;
  uint64_t applies_ = 0;
  uint64_t apply_failures_ = 0;
  uint64_t events_ = 0;
  uint64_t resyncs_ = 0;
};

}  // namespace tabby::agent
