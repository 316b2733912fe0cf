// Decides what the dataplane would do with one packet, from the desired state alone: the same
// programs, sets and order that nft_render turns into nftables rules, walked in C++ instead of
// by the kernel. It is what `tabbyctl policy explain` and `policy matrix` are built on, so it
// must keep to nft_render's semantics exactly:
//   - a direction with policies runs them in order; in each, the first rule that matches decides:
//     Allow and Deny end the direction, Pass skips the remaining policies and goes to the
//     profiles, Log notes the packet and goes on; a policy with no matching rule hands over to
//     the next; after the last policy the packet is dropped ("end of tier");
//   - profiles run after the policies (or after a Pass, or when no policy applies), each in turn;
//     in a profile Pass goes on to the next profile; with profiles and no verdict: dropped;
//   - with neither policies nor profiles: the cluster default (allow unless configured deny).
// Not modelled: conntrack (replies of allowed connections are always allowed), anti-spoofing
// (the packet is taken to come from its endpoint's own address), ICMP errors.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "base/ip.h"
#include "calc/desired_state.h"

namespace tabby::calc {

struct Packet {
  IpAddress source;
  IpAddress destination;
  uint8_t protocol = 6;  // IANA number: TCP 6, UDP 17, SCTP 132, ICMP 1, ICMPv6 58
  // Unknown source port (an ephemeral one): rules that match on source ports do not match.
  std::optional<uint16_t> source_port;
  uint16_t destination_port = 0;
  int icmp_type = -1;  // for ICMP packets
  int icmp_code = -1;
};

// One policy or profile looked at while deciding.
struct EvaluationStep {
  std::string program;  // display name, e.g. "GlobalNetworkPolicy allow-web (ingress)"
  int rule_index = -1;  // index of the rule that decided within its direction, -1: none matched
  std::string outcome;  // "Allow", "Deny", "Pass", "Log (continues)", "no rule matched"
};

struct DirectionVerdict {
  bool allowed = false;
  // Why, in one line: "allowed by <program> rule 2", "denied: policies select it and none of
  // their rules allowed this", "allowed: no policy and no profile applies, so the cluster
  // default (allow) holds", ...
  std::string reason;
  std::vector<EvaluationStep> steps;
};

// Evaluates one direction (an endpoint's ingress or egress program) for `packet`. Programs and
// sets missing from `state` count as empty (they never are, for a state the calculator built).
DirectionVerdict EvaluateDirection(const DesiredState& state, const DirectionProgram& direction,
                                   const Packet& packet);

// Whether `rule` matches `packet`, against the sets of `state`.
bool RuleMatches(const DesiredState& state, const CompiledRule& rule, const Packet& packet);

}  // namespace tabby::calc
