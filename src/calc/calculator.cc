#include "calc/calculator.h"

#include <fmt/format.h>

#include <algorithm>
#include <limits>
#include <utility>

#include "base/hash.h"
#include "model/kubernetes.h"

namespace tabby::calc {
namespace {

constexpr const char* kDirectionSuffix[2] = {"in", "out"};
constexpr const char* kDirectionName[2] = {"ingress", "egress"};

// Program ids name kernel chains, so they are readable ("gnp.allow-web.in") and bounded.
std::string ProgramId(std::string_view base, int direction) {
  std::string id = fmt::format("{}.{}", base, kDirectionSuffix[direction]);
  if (id.size() > 120) {
    id = fmt::format("{}-h{}.{}", base.substr(0, 90), StableHashHex(base, 12),
                     kDirectionSuffix[direction]);
  }
  return id;
}

// "np<sep><ns><sep><name>", "knp<sep><ns><sep><name>" or "gnp<sep><name>": policy keys (sep
// "/") and the base of program ids (sep "."). They differ per kind, so a KubernetesNetworkPolicy
// "x" and a NetworkPolicy named "knp.default.x" (what "x" converts to) never collide.
std::string PolicyPath(model::Kind kind, const std::string& ns, const std::string& name,
                       std::string_view sep) {
  switch (kind) {
    case model::Kind::kNetworkPolicy:
      return fmt::format("np{}{}{}{}", sep, ns, sep, name);
    case model::Kind::kKubernetesNetworkPolicy:
      return fmt::format("knp{}{}{}{}", sep, ns, sep, name);
    default:
      return fmt::format("gnp{}{}", sep, name);
  }
}

std::string PolicyKey(model::Kind kind, const std::string& ns, const std::string& name) {
  return PolicyPath(kind, ns, name, "/");
}

// Removes `key` from the index entry of `ns`, and the entry once it is empty.
void EraseFromIndex(std::map<std::string, std::set<std::string>, std::less<>>& index,
                    const std::string& ns, const std::string& key) {
  auto it = index.find(ns);
  if (it == index.end()) return;
  it->second.erase(key);
  if (it->second.empty()) index.erase(it);
}

std::optional<selector::Selector> ParseOptional(const std::string& text) {
  if (text.empty()) return std::nullopt;
  auto parsed = selector::Selector::Parse(text);
  if (!parsed.ok()) return std::nullopt;
  return *parsed;
}

CompiledRules DenyAll(std::string display_name) {
  CompiledRules compiled;
  compiled.program.display_name = std::move(display_name);
  compiled.program.rules.push_back(CompiledRule{.action = model::Action::kDeny});
  return compiled;
}

}  // namespace

namespace {

// Host endpoints live in endpoints_ next to workload endpoints ("<namespace>/<name>"), under the
// empty namespace: "/<name>".
std::string HostEndpointKey(const std::string& name) { return "/" + name; }
bool IsHostEndpointKey(const std::string& key) { return key.starts_with('/'); }
std::string HostEndpointName(const std::string& key) { return key.substr(1); }

}  // namespace

Calculator::Calculator(std::string node_name) : node_name_(std::move(node_name)) {
  SetConfiguration({});  // the defaults until a ClusterConfiguration says otherwise
}

void Calculator::Upsert(const model::Resource& resource) {
  switch (resource.kind) {
    case model::Kind::kWorkloadEndpoint:
      UpsertEndpoint(resource);
      break;
    case model::Kind::kHostEndpoint:
      UpsertHostEndpoint(resource);
      break;
    case model::Kind::kNetworkPolicy:
    case model::Kind::kGlobalNetworkPolicy:
    case model::Kind::kKubernetesNetworkPolicy:
      UpsertPolicy(resource);
      break;
    case model::Kind::kProfile:
      UpsertProfile(resource);
      break;
    case model::Kind::kClusterConfiguration:
      if (resource.metadata.name == "default") SetConfiguration(resource.cluster_configuration());
      break;
    case model::Kind::kNamespace:
      SetNamespaceLabels(resource.metadata.name, resource.metadata.labels);
      break;
    default:
      break;
  }
}

void Calculator::Remove(model::Kind kind, const std::string& namespace_name,
                        const std::string& name) {
  switch (kind) {
    case model::Kind::kWorkloadEndpoint:
      RemoveEndpoint(fmt::format("{}/{}", namespace_name, name));
      break;
    case model::Kind::kHostEndpoint:
      RemoveEndpoint(HostEndpointKey(name));
      break;
    case model::Kind::kNetworkPolicy:
    case model::Kind::kGlobalNetworkPolicy:
    case model::Kind::kKubernetesNetworkPolicy:
      RemovePolicy(PolicyKey(kind, namespace_name, name));
      break;
    case model::Kind::kProfile:
      RemoveProfile(name);
      break;
    case model::Kind::kClusterConfiguration:
      if (name == "default") SetConfiguration({});
      break;
    case model::Kind::kNamespace:
      SetNamespaceLabels(name, {});  // back to the implicit labels of an unknown namespace
      // Those are what a lookup recreates, so the entry can go: deleted namespaces do not pile up.
      namespace_labels_.erase(name);
      break;
    default:
      break;
  }
}

// ---------------------------------------------------------------------------------------------
// Labels

const model::Labels& Calculator::NamespaceLabels(const std::string& namespace_name) {
  auto it = namespace_labels_.find(namespace_name);
  if (it != namespace_labels_.end()) return it->second;
  model::Labels labels{{kNamespaceNameLabel, namespace_name},
                       {kKubernetesNamespaceNameLabel, namespace_name}};
  return namespace_labels_.emplace(namespace_name, std::move(labels)).first->second;
}

void Calculator::SetNamespaceLabels(const std::string& namespace_name, model::Labels labels) {
  labels[kNamespaceNameLabel] = namespace_name;
  labels[kKubernetesNamespaceNameLabel] = namespace_name;
  if (NamespaceLabels(namespace_name) == labels) return;
  // Endpoints of the namespace may enter or leave sets and policies. Take them out under the old
  // labels, then put them back under the new ones.
  std::vector<Endpoint*> members;
  auto [begin, end] = EndpointsOfNamespace(namespace_name);
  for (auto e = begin; e != end; ++e) members.push_back(&e->second);
  for (Endpoint* endpoint : members) UpdateSetMembership(endpoint, endpoint, nullptr);
  namespace_labels_[namespace_name] = std::move(labels);
  // Every endpoint back into the sets before any policy matching: matching can activate a set,
  // whose first scan would already count the endpoints not yet put back.
  for (Endpoint* endpoint : members) UpdateSetMembership(endpoint, nullptr, endpoint);
  for (Endpoint* endpoint : members) {
    if (endpoint->local) MatchEndpointAgainstPolicies(*endpoint);
  }
}

model::Labels Calculator::EffectiveLabels(const Endpoint& endpoint) const {
  model::Labels labels = *endpoint.own_labels;
  // Inherited labels never override the endpoint's own; an earlier profile wins over a later one.
  for (const auto& name : endpoint.profiles) {
    auto it = profiles_.find(name);
    if (it == profiles_.end() || !it->second.exists) continue;
    for (const auto& [k, v] : it->second.spec.labels_to_apply) labels.emplace(k, v);
  }
  if (!endpoint.host) labels[kNamespaceLabel] = endpoint.namespace_name;
  if (!endpoint.orchestrator.empty()) labels[kOrchestratorLabel] = endpoint.orchestrator;
  if (!endpoint.service_account.empty()) labels[kServiceAccountLabel] = endpoint.service_account;
  return labels;
}

void Calculator::RelabelEndpoint(Endpoint& endpoint) {
  SharedLabels labels = interned_labels_.Intern(EffectiveLabels(endpoint));
  if (labels == endpoint.labels) return;  // interned: equal maps are one map
  Endpoint next = endpoint;
  next.labels = std::move(labels);
  ReplaceEndpoint(endpoint, true, std::move(next));
  if (endpoint.local) MatchEndpointAgainstPolicies(endpoint);
}

// ---------------------------------------------------------------------------------------------
// Sets

bool Calculator::SetMatches(const SetSpec& spec, const Endpoint& endpoint,
                            const model::Labels& namespace_labels) {
  EndpointView view{endpoint.namespace_name, *endpoint.labels, namespace_labels};
  if (!spec.selector.Matches(view)) return false;
  if (spec.port_name.empty()) return true;
  return std::any_of(endpoint.ports.begin(), endpoint.ports.end(),
                     [&](const model::EndpointPort& p) { return p.name == spec.port_name; });
}

void Calculator::AddContribution(ActiveSet& set, const Endpoint& endpoint, int sign) {
  const std::string& id = set.id;
  const bool port_set = set.port_set;
  auto adjust = [sign](auto& counts, const auto& member) {
    int& count = counts[member];
    count += sign;
    if (count <= 0) counts.erase(member);
  };
  if (set.touched_flush != flushes_) {
    if (port_set) {
      set.touched_ports = &touched_port_members_[id];
    } else {
      set.touched_addresses = &touched_ip_members_[id];
    }
    set.touched_flush = flushes_;
  }
  for (const auto& network : endpoint.networks) {
    const IpAddress& address = network.address();
    if (!port_set) {
      adjust(set.addresses, address);
      set.touched_addresses->insert(address);
      continue;
    }
    for (const auto& port : endpoint.ports) {
      if (port.name != set.spec.port_name) continue;
      PortSetMember member{address, port.protocol.number, port.port};
      adjust(set.port_members, member);
      set.touched_ports->insert(member);
    }
  }
}

void Calculator::UpdateSetMembership(const Endpoint* endpoint, const Endpoint* before,
                                     const Endpoint* after) {
  // Per event: only the active sets whose indexed term the old or the new labels satisfy (the
  // only ones the endpoint can leave or enter), plus those with no term; one selector
  // evaluation each. The namespace's labels are looked up once, not per set.
  std::vector<ActiveSet*> candidates;
  if (before != nullptr) set_index_.Candidates(*before->labels, &candidates);
  if (after != nullptr && (before == nullptr || after->labels != before->labels)) {
    set_index_.Candidates(*after->labels, &candidates);
    if (before != nullptr) {
      std::sort(candidates.begin(), candidates.end());
      candidates.erase(std::unique(candidates.begin(), candidates.end()), candidates.end());
    }
  }
  const model::Labels* namespace_labels =
      after != nullptr ? &NamespaceLabels(after->namespace_name) : nullptr;
  for (ActiveSet* set : candidates) {
    bool was = set->members.contains(endpoint);
    bool now = after != nullptr && SetMatches(set->spec, *after, *namespace_labels);
    if (was && before != nullptr) AddContribution(*set, *before, -1);
    if (now) AddContribution(*set, *after, +1);
    if (now && !was) set->members.insert(endpoint);
    if (was && !now) set->members.erase(endpoint);
  }
}

Calculator::Endpoint Calculator::ReplaceEndpoint(Endpoint& stored, bool had_value, Endpoint next) {
  UpdateSetMembership(&stored, had_value ? &stored : nullptr, &next);
  if (!had_value || stored.labels != next.labels) {
    if (had_value) endpoint_index_.Remove(&stored, *stored.labels);
    endpoint_index_.Add(&stored, *next.labels);
  }
  return std::exchange(stored, std::move(next));
}

std::pair<Calculator::EndpointIterator, Calculator::EndpointIterator>
Calculator::EndpointsOfNamespace(const std::string& namespace_name) {
  // Keys are "<namespace>/<name>" and namespaces hold no '/', so a namespace's endpoints are
  // adjacent: from "<namespace>/" up to "<namespace>0" ('0' follows '/').
  return {endpoints_.lower_bound(namespace_name + "/"),
          endpoints_.lower_bound(namespace_name + "0")};
}

void Calculator::AcquireSet(const std::string& id, const SetSpec& spec, bool port_set) {
  auto& sets = port_set ? port_sets_ : ip_sets_;
  auto [it, inserted] = sets.try_emplace(id);
  ActiveSet& set = it->second;
  if (inserted) {
    // A newly active selector is evaluated once against the endpoints that satisfy its rarest
    // required term (those of its namespace, of its app, ...), found through the label index;
    // only a selector with no such term meets every endpoint, O(E).
    set.id = id;
    set.port_set = port_set;
    set.spec = spec;
    set.indexed_by = endpoint_index_.Rarest(spec.selector.RequiredTerms());
    auto consider = [&](const Endpoint& endpoint) {
      if (!SetMatches(spec, endpoint, NamespaceLabels(endpoint.namespace_name))) return;
      set.members.insert(&endpoint);
      AddContribution(set, endpoint, +1);
    };
    if (set.indexed_by) {
      endpoint_index_.ForEach(*set.indexed_by, [&](const Endpoint* e) { consider(*e); });
    } else {
      for (const auto& [key, endpoint] : endpoints_) consider(endpoint);
    }
    set_index_.Add(&set, set.indexed_by);
    (port_set ? dirty_port_sets_ : dirty_ip_sets_).insert(id);
  }
  ++set.refs;
}

void Calculator::ReleaseSet(const std::string& id, bool port_set) {
  auto& sets = port_set ? port_sets_ : ip_sets_;
  auto it = sets.find(id);
  if (it == sets.end()) return;
  if (--it->second.refs > 0) return;
  set_index_.Remove(&it->second, it->second.indexed_by);
  sets.erase(it);
  (port_set ? dirty_port_sets_ : dirty_ip_sets_).insert(id);
}

void Calculator::Activate(const CompiledRules& compiled, const std::string& program_id,
                          ProgramOwner owner) {
  for (const auto& [id, spec] : compiled.ip_sets) AcquireSet(id, spec, false);
  for (const auto& [id, spec] : compiled.port_sets) AcquireSet(id, spec, true);
  program_owner_[program_id] = std::move(owner);
  dirty_programs_.insert(program_id);
}

void Calculator::Deactivate(const CompiledRules& compiled, const std::string& program_id,
                            bool keep_owner) {
  for (const auto& [id, spec] : compiled.ip_sets) ReleaseSet(id, false);
  for (const auto& [id, spec] : compiled.port_sets) ReleaseSet(id, true);
  if (!keep_owner) program_owner_.erase(program_id);
  dirty_programs_.insert(program_id);
}

// ---------------------------------------------------------------------------------------------
// Policies

Calculator::Policy Calculator::BuildPolicy(const model::Resource& resource) const {
  // A Kubernetes NetworkPolicy is enforced as the NetworkPolicy it converts to (kubernetes.h),
  // under its own key and program ids; it sorts by the converted name, as in Calico.
  std::optional<model::Resource> converted;
  if (resource.kind == model::Kind::kKubernetesNetworkPolicy) {
    converted = model::ToTabbyPolicy(resource);
  }
  const model::Resource& source = converted ? *converted : resource;
  const model::PolicySpec& spec = source.policy();
  Policy policy;
  policy.kind = resource.kind;
  policy.namespace_name =
      model::IsNamespaced(resource.kind) ? resource.metadata.namespace_name : "";
  policy.name = source.metadata.name;
  policy.key = PolicyKey(policy.kind, policy.namespace_name, resource.metadata.name);
  policy.has_order = spec.order.has_value();
  policy.order = spec.order.value_or(0);
  for (auto type : spec.types) {
    policy.applies_to[type == model::PolicyType::kIngress ? kIngress : kEgress] = true;
  }
  auto sel = selector::Selector::Parse(spec.selector);
  if (sel.ok()) {
    policy.selector = *sel;
  } else {
    policy.invalid = true;
  }
  policy.namespace_selector = ParseOptional(spec.namespace_selector);
  policy.service_account_selector = ParseOptional(spec.service_account_selector);
  if (!spec.namespace_selector.empty() && !policy.namespace_selector) policy.invalid = true;
  if (!spec.service_account_selector.empty() && !policy.service_account_selector) {
    policy.invalid = true;
  }
  std::string base = PolicyPath(policy.kind, policy.namespace_name, resource.metadata.name, ".");
  const std::vector<model::Rule>* rules[2] = {&spec.ingress, &spec.egress};
  const std::string& name = resource.metadata.name;
  for (int d : {kIngress, kEgress}) {
    RuleScope scope{policy.namespace_name};
    if (d == kIngress && !policy.namespace_name.empty()) {
      scope.ingress_destinations =
          EndpointSelector(policy.namespace_name, std::nullopt, policy.selector);
    }
    policy.program_id[d] = ProgramId(base, d);
    std::string display =
        fmt::format("{} {} ({})", model::KindName(policy.kind),
                    policy.namespace_name.empty() ? name : policy.namespace_name + "/" + name,
                    kDirectionName[d]);
    policy.compiled[d] = CompileRules(*rules[d], scope, display);
  }
  return policy;
}

bool Calculator::PolicyApplies(const Policy& policy, const Endpoint& endpoint) {
  if (!endpoint.local || policy.invalid) return false;
  // Host endpoints belong to no namespace (namespaced policy and serviceAccountSelector fail
  // below on their own): a namespaceSelector, even all(), does not select them (as in Calico).
  if (endpoint.host && policy.namespace_selector) return false;
  if (model::IsNamespaced(policy.kind) && endpoint.namespace_name != policy.namespace_name) {
    return false;
  }
  if (policy.namespace_selector &&
      !policy.namespace_selector->Matches(NamespaceLabels(endpoint.namespace_name))) {
    return false;
  }
  if (policy.service_account_selector) {
    model::Labels account{{kNamespaceNameLabel, endpoint.service_account}};
    if (endpoint.service_account.empty() || !policy.service_account_selector->Matches(account)) {
      return false;
    }
  }
  return policy.selector.Matches(*endpoint.labels);
}

bool Calculator::ProgramActive(const Policy& policy, int direction) const {
  return policy.applies_to[direction] && !policy.local_matches.empty();
}

void Calculator::SetPolicyMatch(Policy& policy, Endpoint& endpoint, bool matches) {
  if (policy.local_matches.contains(endpoint.key) == matches) return;
  bool was[2] = {ProgramActive(policy, kIngress), ProgramActive(policy, kEgress)};
  if (matches) {
    policy.local_matches.insert(endpoint.key);
    endpoint.policies.insert(policy.key);
  } else {
    policy.local_matches.erase(endpoint.key);
    endpoint.policies.erase(policy.key);
  }
  for (int d : {kIngress, kEgress}) {
    bool now = ProgramActive(policy, d);
    if (now && !was[d]) Activate(policy.compiled[d], policy.program_id[d], {false, policy.key, d});
    if (was[d] && !now) Deactivate(policy.compiled[d], policy.program_id[d], false);
  }
  MarkEndpointDirty(endpoint.key);
}

void Calculator::MatchEndpointAgainstPolicies(Endpoint& endpoint) {
  // Only the policies whose indexed term the endpoint's labels satisfy can apply, and those that
  // applied may stop: one selector evaluation each, not one per policy in the cluster.
  std::vector<Policy*> candidates;
  policy_index_.Candidates(*endpoint.labels, &candidates);
  for (const std::string& key : endpoint.policies) candidates.push_back(&policies_.at(key));
  std::sort(candidates.begin(), candidates.end());
  candidates.erase(std::unique(candidates.begin(), candidates.end()), candidates.end());
  for (Policy* policy : candidates)
    SetPolicyMatch(*policy, endpoint, PolicyApplies(*policy, endpoint));
}

std::vector<selector::LabelTerm> Calculator::RequiredTerms(const Policy& policy) {
  if (policy.invalid) return {};
  std::vector<selector::LabelTerm> terms = policy.selector.RequiredTerms();
  if (model::IsNamespaced(policy.kind)) terms.push_back({kNamespaceLabel, {policy.namespace_name}});
  return terms;
}

void Calculator::UpsertPolicy(const model::Resource& resource) {
  Policy next = BuildPolicy(resource);
  // A namespaced policy can only apply to the local endpoints of its namespace.
  auto consider = [&](const std::set<std::string>& keys) {
    for (const std::string& key : keys) {
      if (PolicyApplies(next, endpoints_.at(key))) next.local_matches.insert(key);
    }
  };
  if (next.namespace_name.empty()) {
    for (const auto& [ns, keys] : local_endpoints_by_namespace_) consider(keys);
  } else if (auto it = local_endpoints_by_namespace_.find(next.namespace_name);
             it != local_endpoints_by_namespace_.end()) {
    consider(it->second);
  }
  next.indexed_by = endpoint_index_.Rarest(RequiredTerms(next));
  // Activate the new version before releasing the old so that sets both use stay populated.
  for (int d : {kIngress, kEgress}) {
    if (ProgramActive(next, d))
      Activate(next.compiled[d], next.program_id[d], {false, next.key, d});
  }
  auto old = policies_.find(next.key);
  if (old != policies_.end()) {
    for (int d : {kIngress, kEgress}) {
      if (!ProgramActive(old->second, d)) continue;
      Deactivate(old->second.compiled[d], old->second.program_id[d], ProgramActive(next, d));
    }
    for (const auto& key : old->second.local_matches) {
      endpoints_.at(key).policies.erase(next.key);
      MarkEndpointDirty(key);
    }
  }
  for (const auto& key : next.local_matches) {
    endpoints_.at(key).policies.insert(next.key);
    MarkEndpointDirty(key);
  }
  if (old != policies_.end()) policy_index_.Remove(&old->second, old->second.indexed_by);
  std::string key = next.key;
  Policy& stored = policies_[key] = std::move(next);
  policy_index_.Add(&stored, stored.indexed_by);
}

void Calculator::RemovePolicy(const std::string& key) {
  auto it = policies_.find(key);
  if (it == policies_.end()) return;
  Policy& policy = it->second;
  for (int d : {kIngress, kEgress}) {
    if (ProgramActive(policy, d)) Deactivate(policy.compiled[d], policy.program_id[d], false);
  }
  for (const auto& endpoint_key : policy.local_matches) {
    endpoints_.at(endpoint_key).policies.erase(key);
    MarkEndpointDirty(endpoint_key);
  }
  policy_index_.Remove(&policy, policy.indexed_by);
  policies_.erase(it);
}

// ---------------------------------------------------------------------------------------------
// Profiles

Calculator::Profile& Calculator::ProfileEntry(const std::string& name) {
  auto [it, inserted] = profiles_.try_emplace(name);
  if (inserted) {
    it->second.name = name;
    CompileProfile(it->second);
  }
  return it->second;
}

void Calculator::CompileProfile(Profile& profile) {
  for (int d : {kIngress, kEgress}) {
    profile.program_id[d] = ProgramId("pro." + profile.name, d);
    std::string display = fmt::format("Profile {} ({})", profile.name, kDirectionName[d]);
    if (!profile.exists) {
      // An endpoint that names a profile that does not exist fails closed.
      profile.compiled[d] = DenyAll(display + " (missing: denies all)");
      continue;
    }
    profile.compiled[d] = CompileRules(d == kIngress ? profile.spec.ingress : profile.spec.egress,
                                       RuleScope{}, display);
  }
}

void Calculator::AttachProfiles(const std::string& key, const Endpoint* before,
                                const Endpoint* after) {
  std::set<std::string> names;
  if (before != nullptr) names.insert(before->profiles.begin(), before->profiles.end());
  if (after != nullptr) names.insert(after->profiles.begin(), after->profiles.end());
  for (const auto& name : names) {
    bool listed = after != nullptr && std::find(after->profiles.begin(), after->profiles.end(),
                                                name) != after->profiles.end();
    Profile& profile = ProfileEntry(name);
    bool was_active = !profile.local_endpoints.empty();
    if (listed) {
      profile.endpoints.insert(key);
      if (after->local) {
        profile.local_endpoints.insert(key);
      } else {
        profile.local_endpoints.erase(key);
      }
    } else {
      profile.endpoints.erase(key);
      profile.local_endpoints.erase(key);
    }
    bool now_active = !profile.local_endpoints.empty();
    for (int d : {kIngress, kEgress}) {
      if (now_active && !was_active) {
        Activate(profile.compiled[d], profile.program_id[d], {true, name, d});
      }
      if (was_active && !now_active) {
        Deactivate(profile.compiled[d], profile.program_id[d], false);
      }
    }
    if (!profile.exists && profile.endpoints.empty()) profiles_.erase(name);
  }
}

void Calculator::ReplaceProfileRules(Profile& profile,
                                     const std::optional<model::ProfileSpec>& spec) {
  Profile before = profile;
  profile.exists = spec.has_value();
  profile.spec = spec.value_or(model::ProfileSpec{});
  CompileProfile(profile);
  if (!profile.local_endpoints.empty()) {
    for (int d : {kIngress, kEgress}) {
      Activate(profile.compiled[d], profile.program_id[d], {true, profile.name, d});
      Deactivate(before.compiled[d], before.program_id[d], true);
    }
  }
  bool labels_changed = before.exists != profile.exists ||
                        before.spec.labels_to_apply != profile.spec.labels_to_apply;
  if (labels_changed) {
    for (const auto& key : profile.endpoints) RelabelEndpoint(endpoints_.at(key));
  }
}

void Calculator::UpsertProfile(const model::Resource& resource) {
  Profile& profile = ProfileEntry(resource.metadata.name);
  if (profile.exists && profile.spec == resource.profile()) return;
  ReplaceProfileRules(profile, resource.profile());
}

void Calculator::RemoveProfile(const std::string& name) {
  auto it = profiles_.find(name);
  if (it == profiles_.end() || !it->second.exists) return;
  ReplaceProfileRules(it->second, std::nullopt);
  if (it->second.endpoints.empty()) profiles_.erase(it);
}

// ---------------------------------------------------------------------------------------------
// Endpoints

void Calculator::UpsertEndpoint(const model::Resource& resource) {
  const model::WorkloadEndpointSpec& spec = resource.workload_endpoint();
  Endpoint next;
  next.key = fmt::format("{}/{}", resource.metadata.namespace_name, resource.metadata.name);
  next.namespace_name = resource.metadata.namespace_name;
  next.own_labels = interned_labels_.Intern(resource.metadata.labels);
  next.profiles = spec.profiles;
  next.orchestrator = spec.orchestrator;
  next.service_account = spec.service_account_name;
  next.interface_name = spec.interface_name;
  next.ports = spec.ports;
  next.local = spec.node == node_name_;
  for (const auto& text : spec.ip_networks) {
    auto network = IpNetwork::Parse(text);
    if (network.ok()) next.networks.push_back(*network);
  }
  if (next.local) {  // anti-spoofing is programmed for local endpoints only
    next.allowed_sources = next.networks;
    for (const auto& text : spec.allow_spoofed_source_prefixes) {
      auto network = IpNetwork::Parse(text);
      if (network.ok()) next.allowed_sources.push_back(network->Masked());
    }
  }
  StoreEndpoint(std::move(next));
}

void Calculator::UpsertHostEndpoint(const model::Resource& resource) {
  const model::HostEndpointSpec& spec = resource.host_endpoint();
  Endpoint next;
  next.key = HostEndpointKey(resource.metadata.name);
  next.host = true;
  next.own_labels = interned_labels_.Intern(resource.metadata.labels);
  next.profiles = spec.profiles;
  next.interface_name = spec.interface_name;
  next.local = spec.node == node_name_;
  for (const auto& text : spec.expected_ips) {
    auto address = IpAddress::Parse(text);
    if (address.ok()) next.networks.push_back(IpNetwork::Host(*address));
  }
  StoreEndpoint(std::move(next));
}

void Calculator::StoreEndpoint(Endpoint next) {
  next.labels = interned_labels_.Intern(EffectiveLabels(next));
  auto [it, inserted] = endpoints_.try_emplace(next.key);
  if (!inserted) next.policies = it->second.policies;
  Endpoint previous = ReplaceEndpoint(it->second, !inserted, std::move(next));
  const Endpoint* before = inserted ? nullptr : &previous;
  Endpoint& stored = it->second;
  if (before != nullptr && before->local) {
    EraseFromIndex(local_endpoints_by_namespace_, before->namespace_name, stored.key);
  }
  if (stored.local) local_endpoints_by_namespace_[stored.namespace_name].insert(stored.key);
  AttachProfiles(stored.key, before, &stored);
  if (stored.local || (before != nullptr && before->local)) MatchEndpointAgainstPolicies(stored);
  MarkEndpointDirty(stored.key);
}

void Calculator::RemoveEndpoint(const std::string& key) {
  auto it = endpoints_.find(key);
  if (it == endpoints_.end()) return;
  Endpoint& endpoint = it->second;
  UpdateSetMembership(&endpoint, &endpoint, nullptr);
  endpoint_index_.Remove(&endpoint, *endpoint.labels);
  AttachProfiles(key, &endpoint, nullptr);
  std::vector<std::string> applied(endpoint.policies.begin(), endpoint.policies.end());
  for (const auto& policy_key : applied) SetPolicyMatch(policies_.at(policy_key), endpoint, false);
  if (endpoint.local) {
    EraseFromIndex(local_endpoints_by_namespace_, endpoint.namespace_name, key);
  }
  endpoints_.erase(it);
  MarkEndpointDirty(key);
}

void Calculator::SetConfiguration(const model::ClusterConfigurationSpec& spec) {
  bool allow = spec.default_endpoint_policy != "Deny";
  if (allow != default_allow_) {
    default_allow_ = allow;
    for (const auto& [key, endpoint] : endpoints_) {
      if (endpoint.local) MarkEndpointDirty(key);
    }
  }
  log_prefix_ = spec.log_prefix.empty() ? "tabby-packet" : spec.log_prefix;

  HostProtection settings;
  if (spec.default_endpoint_to_host_action == "Accept") {
    settings.endpoint_to_host = EndpointToHost::kAccept;
  } else if (spec.default_endpoint_to_host_action == "Return") {
    settings.endpoint_to_host = EndpointToHost::kReturn;
  }
  auto failsafe = [](const std::optional<std::vector<model::ProtoPort>>& ports,
                     std::vector<model::ProtoPort> defaults) {
    std::set<FailsafePort> out;
    for (const auto& p : ports.value_or(defaults)) out.insert({p.protocol.number, p.port});
    return std::vector<FailsafePort>(out.begin(), out.end());
  };
  settings.failsafe_inbound =
      failsafe(spec.failsafe_inbound_host_ports, model::DefaultFailsafeInboundHostPorts());
  settings.failsafe_outbound =
      failsafe(spec.failsafe_outbound_host_ports, model::DefaultFailsafeOutboundHostPorts());
  if (!(settings == host_settings_)) {
    host_settings_ = std::move(settings);
    host_dirty_ = true;
  }
}

std::optional<EndpointProgram> Calculator::BuildEndpointProgram(const Endpoint& endpoint) const {
  if (!endpoint.local || (endpoint.interface_name.empty() && !endpoint.host)) return std::nullopt;
  EndpointProgram program;
  program.key = endpoint.key;
  program.interface_name = endpoint.interface_name;
  program.addresses = endpoint.networks;
  program.allowed_sources = endpoint.allowed_sources;
  std::vector<const Policy*> applied;
  for (const auto& key : endpoint.policies) applied.push_back(&policies_.at(key));
  // Lower order first; no order sorts after every order; ties by name, namespace, kind.
  std::sort(applied.begin(), applied.end(), [](const Policy* a, const Policy* b) {
    double ao = a->has_order ? a->order : std::numeric_limits<double>::infinity();
    double bo = b->has_order ? b->order : std::numeric_limits<double>::infinity();
    if (ao != bo) return ao < bo;
    if (a->name != b->name) return a->name < b->name;
    if (a->namespace_name != b->namespace_name) return a->namespace_name < b->namespace_name;
    return a->kind < b->kind;
  });
  DirectionProgram* directions[2] = {&program.ingress, &program.egress};
  for (int d : {kIngress, kEgress}) {
    DirectionProgram& out = *directions[d];
    for (const Policy* policy : applied) {
      if (policy->applies_to[d]) out.policies.push_back(policy->program_id[d]);
    }
    std::set<std::string> seen;
    for (const auto& name : endpoint.profiles) {
      if (seen.insert(name).second) out.profiles.push_back(ProgramId("pro." + name, d));
    }
    // A host endpoint nothing allows is closed but for the failsafe ports (Calico's rule).
    out.default_allow = endpoint.host ? false : default_allow_;
  }
  return program;
}

// ---------------------------------------------------------------------------------------------
// Output

namespace {

// Emits the change of one set between what was published and what is current.
template <typename Member, typename Counts>
void DiffSet(const std::string& id, const Counts* current, bool full,
             const std::set<Member>* touched, std::map<std::string, std::set<Member>>& published,
             std::set<std::string>& added, std::map<std::string, std::set<Member>>& members_added,
             std::map<std::string, std::set<Member>>& members_removed,
             std::set<std::string>& removed) {
  auto pub = published.find(id);
  if (current == nullptr) {
    if (pub != published.end()) removed.insert(id);
    return;
  }
  if (pub == published.end()) {
    added.insert(id);
    auto& out = members_added[id];
    for (const auto& [member, count] : *current) out.insert(member);
    if (out.empty()) members_added.erase(id);
    return;
  }
  std::set<Member> plus, minus;
  if (full) {
    for (const auto& [member, count] : *current) {
      if (!pub->second.contains(member)) plus.insert(member);
    }
    for (const auto& member : pub->second) {
      if (!current->contains(member)) minus.insert(member);
    }
  } else if (touched != nullptr) {
    // The common case: O(members touched since the last flush), not O(set size).
    for (const auto& member : *touched) {
      bool now = current->contains(member);
      bool before = pub->second.contains(member);
      if (now && !before) plus.insert(member);
      if (before && !now) minus.insert(member);
    }
  }
  if (!plus.empty()) members_added[id] = std::move(plus);
  if (!minus.empty()) members_removed[id] = std::move(minus);
}

// Emits the change of every set that was created, removed or had members touched since the
// last flush. `current(id)` gives the set's member counts, or null when it is not active.
template <typename Member, typename Current>
void DiffTouchedSets(const std::set<std::string>& dirty,
                     const std::map<std::string, std::set<Member>>& touched, Current current,
                     std::map<std::string, std::set<Member>>& published,
                     std::set<std::string>& added,
                     std::map<std::string, std::set<Member>>& members_added,
                     std::map<std::string, std::set<Member>>& members_removed,
                     std::set<std::string>& removed) {
  std::set<std::string> ids = dirty;
  for (const auto& [id, members] : touched) ids.insert(id);
  for (const auto& id : ids) {
    auto touched_members = touched.find(id);
    DiffSet<Member>(id, current(id), dirty.contains(id),
                    touched_members == touched.end() ? nullptr : &touched_members->second,
                    published, added, members_added, members_removed, removed);
  }
}

}  // namespace

Delta Calculator::Flush() {
  Delta delta;

  DiffTouchedSets<IpAddress>(
      dirty_ip_sets_, touched_ip_members_,
      [&](const std::string& id) {
        auto it = ip_sets_.find(id);
        return it == ip_sets_.end() ? nullptr : &it->second.addresses;
      },
      published_.ip_sets, delta.ip_sets_added, delta.ip_members_added, delta.ip_members_removed,
      delta.ip_sets_removed);
  DiffTouchedSets<PortSetMember>(
      dirty_port_sets_, touched_port_members_,
      [&](const std::string& id) {
        auto it = port_sets_.find(id);
        return it == port_sets_.end() ? nullptr : &it->second.port_members;
      },
      published_.port_sets, delta.port_sets_added, delta.port_members_added,
      delta.port_members_removed, delta.port_sets_removed);

  for (const auto& id : dirty_programs_) {
    auto owner = program_owner_.find(id);
    auto pub = published_.programs.find(id);
    if (owner == program_owner_.end()) {
      if (pub != published_.programs.end()) delta.programs_removed.insert(id);
      continue;
    }
    const ProgramOwner& o = owner->second;
    const PolicyProgram& program = o.profile ? profiles_.at(o.key).compiled[o.direction].program
                                             : policies_.at(o.key).compiled[o.direction].program;
    if (pub == published_.programs.end() || !(pub->second == program)) {
      delta.programs_upserted[id] = program;
    }
  }

  std::vector<std::pair<std::string, EndpointProgram>> upserts;
  for (const auto& key : dirty_endpoints_) {
    if (IsHostEndpointKey(key)) {  // published with the host's protection below
      host_dirty_ = true;
      continue;
    }
    auto it = endpoints_.find(key);
    std::optional<EndpointProgram> program;
    if (it != endpoints_.end()) program = BuildEndpointProgram(it->second);
    auto old_interface = published_interface_.find(key);
    if (old_interface != published_interface_.end() &&
        (!program || program->interface_name != old_interface->second)) {
      delta.endpoints_removed.insert(old_interface->second);
      published_interface_.erase(old_interface);
    }
    if (!program) continue;
    published_interface_[key] = program->interface_name;
    auto pub = published_.endpoints.find(program->interface_name);
    if (pub == published_.endpoints.end() || !(pub->second == *program)) {
      upserts.emplace_back(program->interface_name, std::move(*program));
    }
  }
  for (auto& [interface, program] : upserts) {
    delta.endpoints_removed.erase(interface);
    delta.endpoints_upserted[interface] = std::move(program);
  }
  if (published_.log_prefix != log_prefix_) delta.log_prefix = log_prefix_;
  if (host_dirty_) {
    // Host endpoints are few (a host's interfaces): rebuild the whole value.
    HostProtection host = host_settings_;
    if (auto local = local_endpoints_by_namespace_.find("");
        local != local_endpoints_by_namespace_.end()) {
      for (const auto& key : local->second) {
        if (auto program = BuildEndpointProgram(endpoints_.at(key))) {
          host.endpoints[HostEndpointName(key)] = std::move(*program);
        }
      }
    }
    if (!(host == published_.host)) delta.host = std::move(host);
    host_dirty_ = false;
  }

  dirty_ip_sets_.clear();
  dirty_port_sets_.clear();
  touched_ip_members_.clear();
  touched_port_members_.clear();
  ++flushes_;
  dirty_programs_.clear();
  dirty_endpoints_.clear();
  Apply(delta, published_);
  return delta;
}

Calculator::Stats Calculator::stats() const {
  Stats stats;
  stats.endpoints = endpoints_.size();
  // From the index, not by walking every endpoint: the agent asks at every status write.
  for (const auto& [ns, keys] : local_endpoints_by_namespace_) stats.local_endpoints += keys.size();
  stats.policies = policies_.size();
  for (const auto& [name, profile] : profiles_) stats.profiles += profile.exists ? 1 : 0;
  stats.active_programs = program_owner_.size();
  stats.active_ip_sets = ip_sets_.size();
  stats.active_port_sets = port_sets_.size();
  return stats;
}

absl::Status Calculator::CheckIndexes() {
  auto check = [&](const std::map<std::string, ActiveSet>& sets) -> absl::Status {
    for (const auto& [id, set] : sets) {
      size_t matching = 0;
      for (const auto& [key, endpoint] : endpoints_) {
        bool matches = SetMatches(set.spec, endpoint, NamespaceLabels(endpoint.namespace_name));
        matching += matches ? 1 : 0;
        if (matches != set.members.contains(&endpoint)) {
          return absl::InternalError(fmt::format(
              "set {} ({}): endpoint {} {} but is {}", id, set.spec.selector.Describe(), key,
              matches ? "matches" : "does not match", matches ? "not a member" : "a member"));
        }
      }
      if (set.members.size() != matching) {
        return absl::InternalError(fmt::format("set {} holds endpoints that are gone", id));
      }
    }
    return absl::OkStatus();
  };
  absl::Status status = check(ip_sets_);
  if (status.ok()) status = check(port_sets_);
  if (!status.ok()) return status;
  for (auto& [key, endpoint] : endpoints_) {
    for (auto& [policy_key, policy] : policies_) {
      bool applies = PolicyApplies(policy, endpoint);
      if (applies != endpoint.policies.contains(policy_key)) {
        return absl::InternalError(fmt::format("policy {} {} to endpoint {} but is {}listed",
                                               policy_key, applies ? "applies" : "does not apply",
                                               key, applies ? "not " : ""));
      }
    }
  }
  return absl::OkStatus();
}

}  // namespace tabby::calc
