// What the dataplane of one host should be, independent of how it is programmed: the output of
// calc and the input of dataplane. Everything here is a plain value, comparable with ==, so that
// a change can be detected by comparing old and new.
//
// Vocabulary:
// - An IP set holds the addresses of the endpoints a rule selector picks (cluster-wide). Rules
//   refer to it by id; the dataplane keeps one kernel set per id and address family.
// - A port set holds (address, protocol, port) of endpoints that declare a named port.
// - A policy program is the ordered rules of one policy (or profile) in one direction, shared by
//   every local endpoint the policy applies to.
// - An endpoint program lists, per direction, which policy programs apply in which order, which
//   profiles follow, and what happens when nothing matched.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "base/ip.h"
#include "model/resources.h"

namespace tabby::calc {

struct PortRange {
  uint16_t first = 0;
  uint16_t last = 0;
  friend auto operator<=>(const PortRange&, const PortRange&) = default;
};

// A port set member: an endpoint address with one of its declared ports.
struct PortSetMember {
  IpAddress address;
  uint8_t protocol = 0;
  uint16_t port = 0;
  friend auto operator<=>(const PortSetMember&, const PortSetMember&) = default;
};

// One side (source or destination) of a compiled rule. Criteria are ANDed; within `nets`, the
// union of `ports` and `named_port_sets` any item may match.
struct CompiledEntity {
  std::vector<IpNetwork> nets;
  std::vector<IpNetwork> not_nets;
  std::string ip_set;      // id of the set of addresses the selector picks; empty = no selector
  std::string not_ip_set;  // id for notSelector
  std::vector<PortRange> ports;
  std::vector<std::string> named_port_sets;  // ids; OR with `ports`
  std::vector<PortRange> not_ports;
  std::vector<std::string> not_named_port_sets;
  friend bool operator==(const CompiledEntity&, const CompiledEntity&) = default;
};

struct IcmpCriterion {
  int type = -1;  // -1 = any
  int code = -1;
  friend bool operator==(const IcmpCriterion&, const IcmpCriterion&) = default;
};

// A policy rule with selectors and named ports resolved to set ids.
struct CompiledRule {
  model::Action action = model::Action::kAllow;
  std::optional<int> ip_version;  // restricts the rule to one family when set
  std::optional<uint8_t> protocol;
  std::optional<uint8_t> not_protocol;
  std::optional<IcmpCriterion> icmp;
  std::optional<IcmpCriterion> not_icmp;
  CompiledEntity source;
  CompiledEntity destination;
  friend bool operator==(const CompiledRule&, const CompiledRule&) = default;
};

// The rules of one policy or profile in one direction.
struct PolicyProgram {
  std::string display_name;  // e.g. "GlobalNetworkPolicy allow-web (ingress)", for comments
  std::vector<CompiledRule> rules;
  friend bool operator==(const PolicyProgram&, const PolicyProgram&) = default;
};

// What one direction of one local endpoint runs.
struct DirectionProgram {
  // Ids of policy programs in evaluation order. Non-empty means some policy selects the endpoint
  // for this direction, so traffic no rule allows is dropped (unless a rule says Pass).
  std::vector<std::string> policies;
  // Ids of profile programs, in the endpoint's order; evaluated when no policy applied or a
  // policy said Pass.
  std::vector<std::string> profiles;
  // When no policy applies and the endpoint has no profiles (or after Pass with no profiles):
  // allow (the default, as in Kubernetes) or deny (ClusterConfiguration defaultEndpointPolicy).
  bool default_allow = true;
  friend bool operator==(const DirectionProgram&, const DirectionProgram&) = default;
};

struct EndpointProgram {
  std::string key;                         // datastore identity of the workload endpoint
  std::string interface_name;              // host side of the veth
  std::vector<IpNetwork> addresses;        // the endpoint's own /32 and /128
  std::vector<IpNetwork> allowed_sources;  // addresses plus allowSpoofedSourcePrefixes
  DirectionProgram ingress;                // to the workload
  DirectionProgram egress;                 // from the workload
  friend bool operator==(const EndpointProgram&, const EndpointProgram&) = default;
};

// Felix's DefaultEndpointToHostAction: what happens to traffic from a local workload to the host
// itself after the workload's egress policy allowed it.
enum class EndpointToHost { kDrop, kAccept, kReturn };

// A port no host endpoint policy can close.
struct FailsafePort {
  uint8_t protocol = 0;
  uint16_t port = 0;
  friend auto operator<=>(const FailsafePort&, const FailsafePort&) = default;
};

// The protection of the host itself: its host endpoints (few; the whole value is compared and
// re-rendered when any of it changes) and the settings around them.
struct HostProtection {
  EndpointToHost endpoint_to_host = EndpointToHost::kDrop;
  std::vector<FailsafePort> failsafe_inbound;
  std::vector<FailsafePort> failsafe_outbound;
  // This host's host endpoints by name. interface_name is the interface, "*" for all, or empty
  // (matched by `addresses`, the expected IPs). Ingress is traffic into the host, egress out of it.
  std::map<std::string, EndpointProgram> endpoints;
  friend bool operator==(const HostProtection&, const HostProtection&) = default;
};

// The full desired state of one host. Keys are stable ids derived from content and names.
struct DesiredState {
  std::map<std::string, std::set<IpAddress>> ip_sets;
  std::map<std::string, std::set<PortSetMember>> port_sets;
  std::map<std::string, PolicyProgram> programs;
  std::map<std::string, EndpointProgram> endpoints;  // by interface name
  std::string log_prefix = "tabby-packet";
  HostProtection host;
  friend bool operator==(const DesiredState&, const DesiredState&) = default;
};

// The difference between two DesiredStates, in the order a dataplane must apply it: sets and
// programs are added before endpoints that reference them and removed after.
struct Delta {
  std::set<std::string> ip_sets_added;  // created empty, then filled via ip_members_added
  std::map<std::string, std::set<IpAddress>> ip_members_added;
  std::map<std::string, std::set<IpAddress>> ip_members_removed;
  std::set<std::string> ip_sets_removed;

  std::set<std::string> port_sets_added;
  std::map<std::string, std::set<PortSetMember>> port_members_added;
  std::map<std::string, std::set<PortSetMember>> port_members_removed;
  std::set<std::string> port_sets_removed;

  std::map<std::string, PolicyProgram> programs_upserted;
  std::set<std::string> programs_removed;

  std::map<std::string, EndpointProgram> endpoints_upserted;
  std::set<std::string> endpoints_removed;

  std::optional<std::string> log_prefix;  // set when it changed
  std::optional<HostProtection> host;     // set when it changed

  bool empty() const;
};

// Computes the delta that turns `from` into `to`. Cost: linear in the sizes of both states; the
// calculator uses it only on the parts it knows changed.
Delta Diff(const DesiredState& from, const DesiredState& to);

// Applies `delta` to `state` (used by tests and by the dataplane's mirror of the kernel).
void Apply(const Delta& delta, DesiredState& state);

}  // namespace tabby::calc
