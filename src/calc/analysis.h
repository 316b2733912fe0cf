// Policy analysis of a whole model: may A reach B, and why. Computed from resources alone, with
// the same Calculator the agents run (one per node involved, as that node's agent would), and
// the Evaluator walking the programs it produces: what `tabbyctl policy explain` and
// `policy matrix` print is what the dataplanes would do, without sending a packet.
//
// A packet from A to B passes egress policy at A's host and ingress policy at B's. An address
// that is no workload's has no policy of its own (only the workload side is checked). Traffic
// from a workload to itself never leaves it, so it is always allowed (as Kubernetes expects).
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "base/ip.h"
#include "calc/calculator.h"
#include "calc/evaluator.h"
#include "model/resources.h"

namespace tabby::calc {

struct Workload {
  std::string key;      // "<namespace>/<endpoint name>"
  std::string display;  // "<namespace>/<pod or workload>"
  std::string namespace_name;
  std::string node;
  std::vector<IpNetwork> addresses;
};

// One end of a packet: a workload, or an address that belongs to none.
struct Party {
  std::optional<size_t> workload;  // index into PolicyAnalysis::workloads()
  std::optional<IpAddress> address;
  std::string display;
};

struct Explanation {
  Party source;
  Party destination;
  Packet packet;
  std::optional<DirectionVerdict> egress;   // nullopt: the source is not a workload
  std::optional<DirectionVerdict> ingress;  // nullopt: the destination is not a workload
  bool same_workload = false;
  bool allowed = false;
  std::string problem;  // non-empty when no packet can be formed (no common address family)
};

class PolicyAnalysis {
 public:
  explicit PolicyAnalysis(const std::vector<model::Resource>& resources);

  // Workload endpoints, sorted by display name.
  const std::vector<Workload>& workloads() const { return workloads_; }

  // "namespace/pod", "pod" (any namespace, when unique), an endpoint name, or an address.
  absl::StatusOr<Party> Resolve(const std::string& text) const;

  // protocol: IANA number; port: destination port (ignored for ICMP).
  Explanation Explain(const Party& source, const Party& destination, uint8_t protocol,
                      uint16_t port);
  bool Allowed(size_t source, size_t destination, uint8_t protocol, uint16_t port) {
    return Explain(PartyOf(source), PartyOf(destination), protocol, port).allowed;
  }
  Party PartyOf(size_t workload) const;

 private:
  // The desired state of `node`, computed on first use.
  const DesiredState& StateOf(const std::string& node);
  const EndpointProgram* ProgramOf(size_t workload);

  std::vector<model::Resource> resources_;
  std::vector<Workload> workloads_;
  std::vector<std::string> interfaces_;  // per workload: the interface its program is keyed by
  std::map<std::string, std::unique_ptr<Calculator>> calculators_;
};

}  // namespace tabby::calc
