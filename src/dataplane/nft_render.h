// Renders the desired state of a host as nftables objects in one table of our own, `inet tabby`:
// chains of rules made of statements (nft_rule.h), each with its nft text. Pure, no kernel
// access, so every layout decision is unit-testable.
//
// Layout (per-packet cost does not grow with workloads, policies or peers):
//
//   prerouting (priority raw)     packets from a workload interface must come from one of its
//                                 own addresses: one lookup in set wl-src4/wl-src6 keyed by
//                                 (interface . source address); otherwise dropped.
//   forward-egress (filter)       established/related accepted first; then one verdict-map
//                                 lookup by input interface (map from-wl) jumps to the sending
//                                 workload's egress chain fw-<if>; a workload interface with no
//                                 entry (not programmed yet) is dropped: fail closed.
//   forward-ingress (filter + 10) the same by output interface (map to-wl) into tw-<if>. A
//                                 separate base chain, so an egress accept still meets the
//                                 destination's ingress policy: both sides must agree.
//   input-egress (filter)         workload-to-host traffic meets the workload's egress policy.
//
//   fw-<if> / tw-<if>             one jump per applicable policy program, in order; a policy
//                                 rule that allows `accept`s (ends this base chain), denies
//                                 `drop`s, passes by setting the pass mark bit and returning.
//                                 Then end of tier: drop. Pass jumps to fwp-<if> / twp-<if>:
//                                 profiles in order, then drop, or the default when the endpoint
//                                 has neither policies nor profiles.
//   <program id>                  the rules of one policy or profile in one direction, shared by
//                                 every endpoint it applies to. Selectors are set lookups
//                                 (sel-<hash>-4/-6), named ports are (address . protocol . port)
//                                 set lookups (port-<hash>-4/-6): O(1) whatever their size.
//
// Every rule carries a comment "tabby:<hash of its text>", so a restarted agent can tell which
// chains already hold the right rules and leave them alone.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "calc/desired_state.h"
#include "dataplane/nft_rule.h"

namespace tabby::dataplane {

inline constexpr char kTableFamily[] = "inet";
inline constexpr char kTableName[] = "tabby";
// Host-side workload interfaces start with this; the CNI plugin names them so.
inline constexpr const char* kInterfacePrefix = model::kWorkloadInterfacePrefix;
// Packet-mark bit that carries "a policy said Pass" from a policy chain back to its endpoint chain.
inline constexpr uint32_t kPassMark = 0x00200000;

// Named counters, readable with `nft list counters` and exported as metrics.
inline constexpr char kCounterSpoofed[] = "drop-spoofed-source";
inline constexpr char kCounterUnknownInterface[] = "drop-unknown-interface";
inline constexpr char kCounterEndOfTier[] = "drop-no-policy-allowed";
inline constexpr char kCounterNoProfile[] = "drop-no-profile-allowed";
inline constexpr char kCounterDefaultDeny[] = "drop-default-deny";
inline constexpr char kCounterInvalid[] = "drop-conntrack-invalid";
inline constexpr char kCounterEndpointToHost[] = "drop-endpoint-to-host";

enum class SetKind {
  kAddress,
  kPort,
  kInterfaceAddress,
  kInterfaceVerdictMap,  // ifname : verdict
  kAddressVerdictMap,    // ipv4_addr / ipv6_addr : verdict
};

// A named set (or verdict map) in the table.
struct SetDef {
  std::string name;
  SetKind kind = SetKind::kAddress;
  int family = 4;
  std::string TypeClause() const;  // e.g. "type ipv4_addr;" plus flags
};

// One rule: its statements (what the netlink encoder sends), their text and the hash of that
// text, which the rule's comment carries.
struct RenderedRule {
  std::string text;  // without the comment
  std::string hash;
  std::vector<NftStmt> stmts;
  std::string WithComment() const;
};

struct ChainDef {
  std::string name;
  std::string hook;  // empty for a regular chain, else e.g. "type filter hook forward priority
                     // filter; policy accept;"
  std::vector<RenderedRule> rules;
};

// Kernel object names.
std::string AddressSetName(const std::string& set_id, int family);
std::string PortSetName(const std::string& set_id, int family);
std::string EgressChainName(const std::string& interface_name);          // fw-<if>
std::string IngressChainName(const std::string& interface_name);         // tw-<if>
std::string EgressProfileChainName(const std::string& interface_name);   // fwp-<if>
std::string IngressProfileChainName(const std::string& interface_name);  // twp-<if>
inline constexpr char kFromWorkloadMap[] = "from-wl";
inline constexpr char kToWorkloadMap[] = "to-wl";
inline constexpr char kSourceSet4[] = "wl-src4";
inline constexpr char kSourceSet6[] = "wl-src6";
inline constexpr char kCheckSourceChain[] = "check-source";

RenderedRule MakeRule(std::vector<NftStmt> stmts);

// The fixed part of the table: counters, maps, anti-spoofing sets and base chains.
std::vector<SetDef> FixedSets();
std::vector<ChainDef> BaseChains();
std::vector<std::string> CounterNames();

// Whether the table holds the named set `set_name`. The kernel keeps a table's sets in a list
// and looks one up by name for every rule, element batch and new set that names it, so every set
// costs every lookup: a selector's set of one address family exists only once the selector has a
// member of that family (an IPv4-only cluster holds no IPv6 selector sets). A rule that needs
// the address in a set that does not exist cannot match in that family and is not rendered; a
// rule that needs it *not* in that set loses that match (always true).
using SetExists = std::function<bool(const std::string& set_name)>;
bool AllSetsExist(const std::string& set_name);

// The chain of one policy or profile program.
ChainDef RenderProgram(const std::string& program_id, const calc::PolicyProgram& program,
                       const std::string& log_prefix, const SetExists& exists = AllSetsExist);

// Peer dispatch. A new connection to (ingress) or from (egress) a workload meets the
// workload's policies in order, one chain each. Most policies can only match peers in their
// rules' selector sets: a program is *gated* when every one of its rules requires the peer's
// address to be in a rule's set. When a direction has many gated programs, its chain jumps to
// a dispatch chain instead, `dsp-<hash>`, which looks the peer's address up in a verdict map
// `dsp-<hash>-4` / `-6`. The map sends each address that some gate set holds to a *class chain*
// `cls-<hash>`, which jumps, in the original order, to exactly the programs that may match that
// address (its gated programs and every ungated one); any other address goes to the class of
// the ungated programs alone. Programs that cannot match are skipped, so the order, Deny, Pass,
// Log and the per-rule counters of the programs that run are unchanged, and a new connection
// costs one map lookup plus the programs that may match it, not one chain per policy.
inline constexpr size_t kDispatchMinimumGated = 8;
// What dispatch costs outside the packet path: every transaction that adds a jump or goto
// anywhere in the table (a map entry moving to another class is one) makes the kernel check the
// whole table for loops, walking every map entry into its class chain (nft_table_validate). So
// the (peer, gated program) pairs of all dispatched runs together, counted from the gate sets'
// sizes when a run is first made, stay within this budget; a run that does not fit keeps the
// plain layout.
inline constexpr size_t kDispatchBudget = 65536;

struct DispatchRun {
  std::string id;       // the dispatch chain's name, "dsp-<hash>"
  bool ingress = true;  // the peer is the source (ingress) or the destination (egress)
  std::vector<std::string> programs;            // in evaluation order
  std::vector<std::vector<std::string>> gates;  // per program its rules' ip sets; empty: ungated
};
// The run of a direction's policy programs, or nullopt when fewer than kDispatchMinimumGated of
// them are gated. The id depends on the programs and their gates.
std::optional<DispatchRun> PlanDispatch(const std::vector<std::string>& policies, bool ingress,
                                        const calc::DesiredState& state);
std::string DispatchMapName(const std::string& run_id, int family);
// The programs of `run` that may match a peer at `address`; empty when no gate set holds it.
std::vector<std::string> DispatchClass(const DispatchRun& run, const IpAddress& address,
                                       const calc::DesiredState& state);
std::vector<std::string> UngatedPrograms(const DispatchRun& run);
// Every address of `family` some gate set of `run` holds.
std::set<IpAddress> DispatchPeers(const DispatchRun& run, const calc::DesiredState& state,
                                  int family);
std::string ClassChainName(const std::vector<std::string>& programs);
ChainDef RenderClassChain(const std::vector<std::string>& programs);
ChainDef RenderDispatchChain(const DispatchRun& run);

// The four chains of one local endpoint: fw-, fwp-, tw-, twp-. A non-empty run id says that
// direction's policies are dispatched by that run.
std::vector<ChainDef> RenderEndpointChains(const calc::EndpointProgram& endpoint,
                                           const std::string& ingress_run = "",
                                           const std::string& egress_run = "");

// The host's protection: per host endpoint `th-<name>`/`thp-<name>` (traffic to the host) and
// `fh-<name>`/`fhp-<name>` (from the host), then the base chains `input-host` and `output-host`
// that lead to them, in that order (chains before the rules that jump to them).
std::vector<ChainDef> RenderHostChains(const calc::HostProtection& host);
// Whether `chain` is a per-host-endpoint chain (for removing those no longer rendered).
bool IsHostEndpointChain(std::string_view chain);

// Set element text, canonical: the same member always renders the same string.
std::string AddressElement(const IpAddress& address);
std::string PortElement(const calc::PortSetMember& member);
// The kernel's key for the text of an AddressElement or a PortElement (each field in network
// byte order, padded to 4 bytes), or nullopt for any other text.
std::optional<std::vector<uint8_t>> ElementKey(std::string_view text);
std::string InterfaceAddressElement(const std::string& interface_name, const IpNetwork& network);

// The anti-spoofing elements an endpoint contributes, per family.
std::vector<std::string> SourceElements(const calc::EndpointProgram& endpoint, int family);

// "add chain inet tabby NAME { ... }" style command fragments.
std::string TableRef();  // "inet tabby"

}  // namespace tabby::dataplane
