// The calculation graph of one host: resources in, dataplane deltas out. Pure (no I/O) and
// incremental: an event costs work proportional to what it touches, and Flush() reports only
// what changed since the previous Flush().
//
// Costs (E = endpoints in the cluster, L = local endpoints, P = policies, S = active selectors):
//   remote endpoint added/changed/removed   O(labels + candidate selectors) selector evaluations
//   local endpoint added/changed/removed    the same, plus O(candidate policies) evaluations
//   policy added/changed/removed            O(L) plus, per selector it newly activates, O(the
//                                           endpoints satisfying the selector's rarest term)
//   profile changed                         O(endpoints listing it) relabels when its labels change
// Candidates come from label indexes (label_index.h) in both directions, so that 10,000 active
// selectors over 100,000 endpoints cost in proportion to their matches, not their product. A
// selector with no required label term (all(), a top-level ||, a namespaceSelector alone) is
// still evaluated against every endpoint when activated, and every endpoint event evaluates it.
// Only policies and profiles that apply to a local endpoint are compiled into programs, and only
// their selectors are evaluated against the cluster's endpoints (as Felix's active-rules
// calculator does).
//
// Not thread-safe: one owner feeds events and flushes.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "calc/desired_state.h"
#include "calc/label_index.h"
#include "calc/label_interner.h"
#include "calc/rule_compiler.h"
#include "model/resources.h"
#include "selector/selector.h"

namespace tabby::calc {

class Calculator {
 public:
  explicit Calculator(std::string node_name);
  // Its indexes point into its own maps.
  Calculator(const Calculator&) = delete;
  Calculator& operator=(const Calculator&) = delete;

  // Adds or replaces a resource. Kinds that do not affect the dataplane are ignored.
  //   Namespace                 its labels become the namespace's (SetNamespaceLabels); Remove
  //                             restores the implicit labels of a namespace nobody described.
  //   KubernetesNetworkPolicy   enforced as the NetworkPolicy it converts to (model/kubernetes.h:
  //                             order 1000, named knp.default.<name>), under its own policy key
  //                             "knp/<ns>/<name>" and program ids "knp.<ns>.<name>.in|out", so it
  //                             never collides with a NetworkPolicy of the converted name.
  void Upsert(const model::Resource& resource);
  void Remove(model::Kind kind, const std::string& namespace_name, const std::string& name);
  // Labels of a namespace (for namespaceSelector), plus the implicit projectcalico.org/name and
  // kubernetes.io/metadata.name. Unknown namespaces carry only those. Endpoints of the namespace
  // move in and out of sets and policies at once: O(its endpoints x their candidate sets).
  void SetNamespaceLabels(const std::string& namespace_name, model::Labels labels);

  // Everything that changed since the last Flush, and the new desired state.
  Delta Flush();
  const DesiredState& state() const { return published_; }

  struct Stats {
    size_t endpoints = 0;
    size_t local_endpoints = 0;
    size_t policies = 0;
    size_t profiles = 0;
    size_t active_programs = 0;
    size_t active_ip_sets = 0;
    size_t active_port_sets = 0;
  };
  Stats stats() const;

  // Recomputes every active set's members and every local endpoint's policies by evaluating
  // each selector against every endpoint, bypassing the label indexes, and says where they
  // differ from the indexed result. O((sets + policies) x endpoints): for tests. Not const:
  // looking up an unknown namespace records its implicit labels, as every event does.
  absl::Status CheckIndexes();

 private:
  enum Direction { kIngress = 0, kEgress = 1 };

  // Active program id -> what defines it.
  struct ProgramOwner {
    bool profile = false;
    std::string key;  // policy key or profile name
    int direction = kIngress;
  };

  struct Endpoint {
    std::string key;  // namespace/name
    std::string namespace_name;
    SharedLabels own_labels;  // interned (label_interner.h), as `labels`
    SharedLabels labels;      // effective: own, implicit, inherited from profiles
    std::vector<std::string> profiles;
    std::string orchestrator;
    std::string service_account;
    std::string interface_name;
    std::vector<IpNetwork> networks;
    std::vector<IpNetwork> allowed_sources;
    std::vector<model::EndpointPort> ports;
    bool local = false;
    bool host = false;               // a HostEndpoint: key "/<name>", no namespace
    std::set<std::string> policies;  // keys of policies that apply (local endpoints only)
  };

  struct Policy {
    std::string key;
    model::Kind kind = model::Kind::kGlobalNetworkPolicy;
    std::string namespace_name;
    std::string name;  // what orders it among equal orders (knp.default.<name> for Kubernetes')
    double order = 0;
    bool has_order = false;
    bool applies_to[2] = {false, false};  // types
    selector::Selector selector;
    std::optional<selector::Selector> namespace_selector;
    std::optional<selector::Selector> service_account_selector;
    bool invalid = false;  // a selector failed to parse: applies nowhere... fails closed below
    CompiledRules compiled[2];
    std::string program_id[2];
    std::set<std::string> local_matches;
    std::optional<selector::LabelTerm> indexed_by;  // its entry in policy_index_
  };

  struct Profile {
    std::string name;
    bool exists = false;
    model::ProfileSpec spec;
    CompiledRules compiled[2];
    std::string program_id[2];
    std::set<std::string> endpoints;        // every endpoint listing it
    std::set<std::string> local_endpoints;  // local ones: the profile's programs are active
  };

  // One active IP set or port set.
  struct ActiveSet {
    std::string id;
    bool port_set = false;
    SetSpec spec;
    int refs = 0;
    std::optional<selector::LabelTerm> indexed_by;  // its entry in set_index_
    absl::flat_hash_set<const Endpoint*> members;   // nodes of endpoints_
    // Its entry in touched_ip_members_ / touched_port_members_, valid while touched_flush ==
    // flushes_: one map lookup per set and flush rather than one per member touched.
    std::set<IpAddress>* touched_addresses = nullptr;  // IP sets
    std::set<PortSetMember>* touched_ports = nullptr;  // port sets
    uint64_t touched_flush = 0;
    std::map<IpAddress, int> addresses;         // IP sets
    std::map<PortSetMember, int> port_members;  // port sets
  };

  // Event handlers.
  void UpsertEndpoint(const model::Resource& resource);
  void UpsertHostEndpoint(const model::Resource& resource);
  // Stores `next` (a new or changed endpoint) and updates sets, profiles and policy matches.
  void StoreEndpoint(Endpoint next);
  void RemoveEndpoint(const std::string& key);
  void UpsertPolicy(const model::Resource& resource);
  void RemovePolicy(const std::string& key);
  void UpsertProfile(const model::Resource& resource);
  void RemoveProfile(const std::string& name);
  void SetConfiguration(const model::ClusterConfigurationSpec& spec);

  // Label maintenance.
  model::Labels EffectiveLabels(const Endpoint& endpoint) const;
  const model::Labels& NamespaceLabels(const std::string& namespace_name);
  void RelabelEndpoint(Endpoint& endpoint);

  // The label terms every endpoint `policy` applies to satisfies.
  static std::vector<selector::LabelTerm> RequiredTerms(const Policy& policy);

  // Set membership.
  static bool SetMatches(const SetSpec& spec, const Endpoint& endpoint,
                         const model::Labels& namespace_labels);
  void AddContribution(ActiveSet& set, const Endpoint& endpoint, int sign);
  // Moves the contributions of `endpoint` (its node in endpoints_) to active sets from `before`
  // to `after` (either may be null; either may be `endpoint` itself). Must run before the new
  // version is stored and before any set is activated for it.
  void UpdateSetMembership(const Endpoint* endpoint, const Endpoint* before, const Endpoint* after);
  // Stores `next` in the node `stored` of endpoints_ (`had_value`: it held a previous version),
  // keeping the label index and the sets' membership in step.
  // Returns the previous version (empty when there was none).
  Endpoint ReplaceEndpoint(Endpoint& stored, bool had_value, Endpoint next);
  void AcquireSet(const std::string& id, const SetSpec& spec, bool port_set);
  void ReleaseSet(const std::string& id, bool port_set);

  // Policy applicability to local endpoints.
  bool PolicyApplies(const Policy& policy, const Endpoint& endpoint);
  void MatchPolicyAgainstLocal(Policy& policy);
  void MatchEndpointAgainstPolicies(Endpoint& endpoint);
  void SetPolicyMatch(Policy& policy, Endpoint& endpoint, bool matches);
  Policy BuildPolicy(const model::Resource& resource) const;
  bool ProgramActive(const Policy& policy, int direction) const;
  void Activate(const CompiledRules& compiled, const std::string& program_id, ProgramOwner owner);
  void Deactivate(const CompiledRules& compiled, const std::string& program_id, bool keep_owner);

  // Profiles.
  Profile& ProfileEntry(const std::string& name);
  void CompileProfile(Profile& profile);
  // Moves endpoint `key` from the profiles `before` lists to those `after` lists (either may be
  // null), activating and deactivating profile programs as their local use starts and ends.
  void AttachProfiles(const std::string& key, const Endpoint* before, const Endpoint* after);
  void ReplaceProfileRules(Profile& profile, const std::optional<model::ProfileSpec>& spec);

  // Output.
  std::optional<EndpointProgram> BuildEndpointProgram(const Endpoint& endpoint) const;
  void MarkEndpointDirty(const std::string& key) { dirty_endpoints_.insert(key); }

  std::string node_name_;
  std::map<std::string, Endpoint> endpoints_;  // by "<namespace>/<name>"
  using EndpointIterator = std::map<std::string, Endpoint>::iterator;
  // The endpoints of one namespace, as a range of endpoints_.
  std::pair<EndpointIterator, EndpointIterator> EndpointsOfNamespace(
      const std::string& namespace_name);
  std::map<std::string, Policy> policies_;
  // Policies by the rarest term of their selector (with their namespace, when namespaced): a
  // local endpoint event evaluates only the policies its labels can satisfy.
  SelectorTermIndex<Policy> policy_index_;
  // Local endpoint keys by namespace.
  std::map<std::string, std::set<std::string>, std::less<>> local_endpoints_by_namespace_;
  std::map<std::string, Profile> profiles_;
  std::map<std::string, model::Labels> namespace_labels_;
  std::map<std::string, ActiveSet> ip_sets_;
  std::map<std::string, ActiveSet> port_sets_;
  LabelInterner interned_labels_;            // endpoints' own and effective labels
  ItemLabelIndex<Endpoint> endpoint_index_;  // every endpoint by its effective labels
  SelectorTermIndex<ActiveSet> set_index_;   // active sets (IP and port) by their rarest term
  bool default_allow_ = true;
  HostProtection host_settings_;  // endpoint_to_host and failsafe ports; endpoints unused
  bool host_dirty_ = false;       // a host endpoint or a host setting changed
  std::string log_prefix_ = "tabby-packet";

  // What changed since the last Flush.
  std::set<std::string> dirty_endpoints_;  // endpoint keys
  std::set<std::string> dirty_programs_;   // program ids
  std::map<std::string, std::set<IpAddress>> touched_ip_members_;
  std::map<std::string, std::set<PortSetMember>> touched_port_members_;
  uint64_t flushes_ = 1;  // bumped by every Flush; see ActiveSet::touched
  std::set<std::string> dirty_ip_sets_;
  std::set<std::string> dirty_port_sets_;
  std::map<std::string, ProgramOwner> program_owner_;

  DesiredState published_;
  std::map<std::string, std::string> published_interface_;  // endpoint key -> interface
};

}  // namespace tabby::calc
