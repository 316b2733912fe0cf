#include "dataplane/nft_dataplane.h"

#include <fmt/format.h>

#include "base/status_macros.h"
#include "dataplane/nft_render.h"
#include "dataplane/nft_transaction.h"

namespace tabby::dataplane {
namespace {

std::string MapElementKey(const std::string& interface_name) {
  return fmt::format("\"{}\"", interface_name);
}

std::map<std::string, std::string> MapTarget(const calc::DesiredState& desired, bool egress) {
  std::map<std::string, std::string> out;
  for (const auto& [interface, endpoint] : desired.endpoints) {
    out[MapElementKey(interface)] =
        "goto " + (egress ? EgressChainName(interface) : IngressChainName(interface));
  }
  return out;
}

}  // namespace

// Collects the operations of one transaction in the order the kernel needs them (objects exist
// before they are referenced; references go before their targets are deleted), updating the
// mirror as it goes. If the commit fails the mirror is stale, and the next call re-reads it.
class NftDataplane::Batch {
 public:
  // Operations are built field by field: GCC 12 at -O3 reports designated-initializer
  // temporaries of NftOp as maybe-uninitialized (a false positive that -Werror turns fatal).
  static NftOp Op(NftOp::Kind kind, std::string name = {}) {
    NftOp op;
    op.kind = kind;
    op.name = std::move(name);
    return op;
  }

  explicit Batch(KernelTable& table) : table_(table) {}

  void EnsureTable() {
    if (table_.exists) return;
    create_.push_back(Op(NftOp::Kind::kAddTable));
    table_.exists = true;
  }

  void EnsureCounter(const std::string& name) {
    if (table_.counters.insert(name).second) {
      create_.push_back(Op(NftOp::Kind::kAddCounter, name));
    }
  }

  void EnsureSet(const SetDef& set) {
    if (table_.sets.contains(set.name)) return;
    create_.emplace_back(Op(NftOp::Kind::kAddSet, set.name)).set = set;
    table_.sets[set.name];
  }

  void EnsureMap(const SetDef& map) {
    if (table_.maps.contains(map.name)) return;
    create_.emplace_back(Op(NftOp::Kind::kAddMap, map.name)).set = map;
    table_.maps[map.name];
  }

  // After the rules that look it up are flushed, before the chains its entries name are
  // deleted (deleting the map releases them).
  void RemoveMap(const std::string& name) {
    if (table_.maps.erase(name) == 0) return;
    map_delete_.push_back(Op(NftOp::Kind::kDeleteSet, name));
  }

  void AddElements(const std::string& set, const std::vector<std::string>& elements) {
    NftOp op = Op(NftOp::Kind::kAddElements, set);
    auto& current = table_.sets[set];
    for (const auto& e : elements) {
      if (current.insert(e).second) op.elements.push_back(e);
    }
    if (!op.elements.empty()) elements_add_.push_back(std::move(op));
  }

  void RemoveElements(const std::string& set, const std::vector<std::string>& elements) {
    auto it = table_.sets.find(set);
    if (it == table_.sets.end()) return;
    NftOp op = Op(NftOp::Kind::kDeleteElements, set);
    for (const auto& e : elements) {
      if (it->second.erase(e) > 0) op.elements.push_back(e);
    }
    if (!op.elements.empty()) elements_remove_.push_back(std::move(op));
  }

  // Selector and named-port sets: the mirror keeps no copy of their members after a Sync
  // (calc's DesiredState has them, and at scale they are most of the table: 600,000 elements
  // for 10,000 policies over 100,000 workloads). A delta adds exactly the members the kernel
  // lacks and removes exactly those it has, so these are sent as they are.
  void AddMembers(const std::string& set, std::vector<std::string> elements) {
    if (elements.empty()) return;
    elements_add_.emplace_back(Op(NftOp::Kind::kAddElements, set)).elements = std::move(elements);
  }
  void RemoveMembers(const std::string& set, std::vector<std::string> elements) {
    if (elements.empty() || !table_.sets.contains(set)) return;
    elements_remove_.emplace_back(Op(NftOp::Kind::kDeleteElements, set)).elements =
        std::move(elements);
  }

  // Makes the set hold exactly `target`.
  void SetElements(const std::string& set, const std::set<std::string>& target) {
    const auto& current = table_.sets[set];
    std::vector<std::string> extra, missing;
    for (const auto& e : current) {
      if (!target.contains(e)) extra.push_back(e);
    }
    for (const auto& e : target) {
      if (!current.contains(e)) missing.push_back(e);
    }
    RemoveElements(set, extra);
    AddElements(set, missing);
  }

  void EnsureChain(ChainDef chain) {
    std::vector<std::string> hashes;
    for (const auto& r : chain.rules) hashes.push_back(r.hash);
    auto it = table_.chains.find(chain.name);
    std::string hook = chain.hook.empty() ? "" : HookSignature(chain.hook);
    if (it != table_.chains.end() && it->second.hook != hook) {
      // A base chain whose hook or priority changed (an upgrade): replace it.
      create_.push_back(Op(NftOp::Kind::kFlushChain, chain.name));
      create_.push_back(Op(NftOp::Kind::kDeleteChain, chain.name));
      table_.chains.erase(it);
      it = table_.chains.end();
    }
    if (it == table_.chains.end()) {
      create_.emplace_back(Op(NftOp::Kind::kAddChain, chain.name)).hook = chain.hook;
      it = table_.chains.emplace(chain.name, KernelChain{hook, {}}).first;
    } else if (it->second.hashes == hashes) {
      return;  // already holds exactly these rules
    }
    if (!it->second.hashes.empty()) {
      rules_.push_back(Op(NftOp::Kind::kFlushChain, chain.name));
    }
    for (auto& r : chain.rules) {
      rules_.emplace_back(Op(NftOp::Kind::kAddRule, chain.name)).rule = std::move(r);
    }
    it->second.hashes = std::move(hashes);
  }

  void RemoveChain(const std::string& name) {
    auto it = table_.chains.find(name);
    if (it == table_.chains.end()) return;
    chain_flush_.push_back(Op(NftOp::Kind::kFlushChain, name));
    chain_delete_.push_back(Op(NftOp::Kind::kDeleteChain, name));
    table_.chains.erase(it);
  }

  void RemoveSet(const std::string& name) {
    if (table_.sets.erase(name) == 0) return;
    table_.set_types.erase(name);
    set_delete_.push_back(Op(NftOp::Kind::kDeleteSet, name));
  }

  void SetMapElement(const std::string& map, const std::string& key, const std::string& verdict) {
    auto& current = table_.maps[map];
    auto it = current.find(key);
    if (it != current.end() && it->second == verdict) return;
    if (it != current.end()) {
      map_remove_.emplace_back(Op(NftOp::Kind::kDeleteElements, map)).elements = {key};
    }
    auto& add = map_add_.emplace_back(Op(NftOp::Kind::kAddElements, map));
    add.elements = {key};
    add.verdicts = {verdict};
    current[key] = verdict;
  }

  void RemoveMapElement(const std::string& map, const std::string& key) {
    auto& current = table_.maps[map];
    if (current.erase(key) == 0) return;
    map_remove_.emplace_back(Op(NftOp::Kind::kDeleteElements, map)).elements = {key};
  }

  // The transaction, phase by phase. Map entries that change verdict are deleted before they
  // are re-added.
  NftTransaction Take() {
    NftTransaction out;
    const auto phases = {&create_,       &elements_remove_, &elements_add_, &rules_,
                         &map_remove_,   &map_add_,         &chain_flush_,  &map_delete_,
                         &chain_delete_, &set_delete_};
    // Sized once: activating thousands of policies is tens of thousands of operations, and
    // growing by doubling would hold up to twice that while moving them (heaptrack: the
    // largest single peak of a burst of new workloads).
    size_t total = 0;
    for (const auto* phase : phases) total += phase->size();
    out.ops.reserve(total);
    for (auto* phase : phases) {
      for (auto& op : *phase) out.ops.push_back(std::move(op));
      std::vector<NftOp>().swap(*phase);
    }
    return out;
  }

 private:
  KernelTable& table_;
  std::vector<NftOp> create_, elements_remove_, elements_add_, rules_, map_remove_, map_add_,
      chain_flush_, map_delete_, chain_delete_, set_delete_;
};

namespace {

const IpAddress& AddressOf(const IpAddress& a) { return a; }
const IpAddress& AddressOf(const calc::PortSetMember& m) { return m.address; }

// Splits set members by address family into canonical element text.
template <typename Member, typename Format>
void SplitByFamily(const std::set<Member>& members, Format format, std::vector<std::string>& v4,
                   std::vector<std::string>& v6) {
  for (const auto& m : members) {
    (AddressOf(m).is_v4() ? v4 : v6).push_back(format(m));
  }
}

}  // namespace

absl::Status NftDataplane::Commit(Batch& batch) {
  NftTransaction transaction = batch.Take();
  if (transaction.empty()) return absl::OkStatus();
  stats_.transactions++;
  if (transaction.OnlyElements()) stats_.element_transactions++;
  stats_.last_operations = transaction.ops.size();
  stats_.operations += transaction.ops.size();
  absl::Status status = client_.Commit(transaction);
  if (!status.ok()) {
    stats_.failures++;
    synced_ = false;  // the mirror may be wrong now: re-read the kernel next time
    return status;
  }
  return absl::OkStatus();
}

absl::Status NftDataplane::Sync(const calc::DesiredState& desired) {
  stats_.full_syncs++;
  ASSIGN_OR_RETURN(auto listing, client_.ListTableJson(kTableFamily, kTableName));
  if (listing) {
    ASSIGN_OR_RETURN(mirror_, ParseKernelTable(*listing));
  } else {
    mirror_ = KernelTable{};
  }
  Batch batch(mirror_);
  batch.EnsureTable();
  std::set<std::string> wanted_chains, wanted_sets;

  for (const auto& name : CounterNames()) batch.EnsureCounter(name);
  for (const auto& set : FixedSets()) {
    batch.EnsureSet(set);
    wanted_sets.insert(set.name);
    std::set<std::string> elements;
    for (const auto& [interface, endpoint] : desired.endpoints) {
      for (auto& e : SourceElements(endpoint, set.family)) elements.insert(std::move(e));
    }
    batch.SetElements(set.name, elements);
  }
  // A family's set is made when it has members, and one the kernel already holds is kept even
  // when empty, so that a restarted agent renders the rules the previous run left (SetExists).
  auto sync_sets = [&](const auto& sets, SetKind kind, auto format) {
    for (const auto& [id, members] : sets) {
      std::vector<std::string> v4, v6;
      SplitByFamily(members, format, v4, v6);
      for (int family : {4, 6}) {
        SetDef def{kind == SetKind::kPort ? PortSetName(id, family) : AddressSetName(id, family),
                   kind, family};
        auto& list = family == 4 ? v4 : v6;
        if (list.empty() && !mirror_.sets.contains(def.name)) continue;
        batch.EnsureSet(def);
        wanted_sets.insert(def.name);
        batch.SetElements(def.name, std::set<std::string>(list.begin(), list.end()));
      }
    }
  };
  sync_sets(desired.ip_sets, SetKind::kAddress,
            [](const IpAddress& a) { return AddressElement(a); });
  sync_sets(desired.port_sets, SetKind::kPort,
            [](const calc::PortSetMember& m) { return PortElement(m); });

  std::set<std::string> wanted_maps = {kFromWorkloadMap, kToWorkloadMap};
  batch.EnsureMap({kFromWorkloadMap, SetKind::kInterfaceVerdictMap});
  batch.EnsureMap({kToWorkloadMap, SetKind::kInterfaceVerdictMap});
  std::vector<ChainDef> chains = BaseChains();
  programs_by_set_.clear();
  sets_of_program_.clear();
  for (const auto& [id, program] : desired.programs) {
    IndexProgram(id, program);
    chains.push_back(RenderProgram(id, program, desired.log_prefix, set_exists_));
  }
  for (auto& chain : chains) {
    wanted_chains.insert(chain.name);
    batch.EnsureChain(std::move(chain));
  }
  chains.clear();
  // Dispatch runs after the programs their class chains jump to, before the endpoint chains
  // that jump to them.
  ResetDispatch();
  for (const auto& [interface, endpoint] : desired.endpoints) {
    EndpointRuns runs = AcquireRuns(batch, endpoint, desired);
    for (auto& chain :
         RenderEndpointChains(endpoint, Dispatched(runs.ingress), Dispatched(runs.egress))) {
      chains.push_back(std::move(chain));
    }
    endpoint_runs_[interface] = std::move(runs);
  }
  for (const auto& [id, run] : runs_) {
    if (!run.dispatched) continue;
    wanted_chains.insert(id);
    wanted_maps.insert(DispatchMapName(id, 4));
    wanted_maps.insert(DispatchMapName(id, 6));
  }
  for (const auto& [chain, users] : class_users_) wanted_chains.insert(chain);
  for (auto& chain : RenderHostChains(desired.host)) chains.push_back(std::move(chain));
  for (auto& chain : chains) {
    wanted_chains.insert(chain.name);
    batch.EnsureChain(std::move(chain));
  }
  for (bool egress : {true, false}) {
    const char* map = egress ? kFromWorkloadMap : kToWorkloadMap;
    auto target = MapTarget(desired, egress);
    std::vector<std::string> stale;
    for (const auto& [key, verdict] : mirror_.maps[map]) {
      if (!target.contains(key)) stale.push_back(key);
    }
    for (const auto& key : stale) batch.RemoveMapElement(map, key);
    for (const auto& [key, verdict] : target) batch.SetMapElement(map, key, verdict);
  }
  // Whatever else is in our table is left over from objects that no longer exist.
  std::vector<std::string> stale_chains, stale_sets;
  for (const auto& [name, chain] : mirror_.chains) {
    if (!wanted_chains.contains(name)) stale_chains.push_back(name);
  }
  for (const auto& [name, elements] : mirror_.sets) {
    if (!wanted_sets.contains(name)) stale_sets.push_back(name);
  }
  std::vector<std::string> stale_maps;
  for (const auto& [name, elements] : mirror_.maps) {
    if (!wanted_maps.contains(name)) stale_maps.push_back(name);
  }
  for (const auto& name : stale_chains) batch.RemoveChain(name);
  for (const auto& name : stale_maps) batch.RemoveMap(name);
  for (const auto& name : stale_sets) batch.RemoveSet(name);
  released_classes_.clear();  // every class in use was counted from scratch

  absl::Status status = Commit(batch);
  synced_ = status.ok();
  // From here on Apply sends selector and named-port set members as the delta says (AddMembers).
  auto forget_members = [&](const auto& sets, SetKind kind) {
    for (const auto& [id, members] : sets) {
      for (int family : {4, 6}) {
        auto it = mirror_.sets.find(kind == SetKind::kPort ? PortSetName(id, family)
                                                           : AddressSetName(id, family));
        if (it != mirror_.sets.end()) it->second.clear();
      }
    }
  };
  forget_members(desired.ip_sets, SetKind::kAddress);
  forget_members(desired.port_sets, SetKind::kPort);
  return status;
}

absl::Status NftDataplane::Apply(const calc::Delta& delta, const calc::DesiredState& after) {
  if (!synced_) return Sync(after);
  Batch batch(mirror_);

  // A set of one family is made with its first member (a set added empty makes nothing), and
  // stays until its id goes, so that members coming and going do not rewrite the rules that use
  // it. The programs that use a set that just appeared are rendered again below.
  std::set<std::string> appeared;
  auto members_changed = [&](const auto& changes, SetKind kind, auto format, bool add) {
    for (const auto& [id, members] : changes) {
      std::vector<std::string> v4, v6;
      SplitByFamily(members, format, v4, v6);
      for (int family : {4, 6}) {
        std::string name =
            kind == SetKind::kPort ? PortSetName(id, family) : AddressSetName(id, family);
        auto& list = family == 4 ? v4 : v6;
        if (list.empty()) continue;
        if (add) {
          if (!mirror_.sets.contains(name)) {
            batch.EnsureSet(SetDef{name, kind, family});
            appeared.insert(id);
          }
          batch.AddMembers(name, std::move(list));
        } else {
          batch.RemoveMembers(name, std::move(list));
        }
      }
    }
  };
  auto address_format = [](const IpAddress& a) { return AddressElement(a); };
  auto port_format = [](const calc::PortSetMember& m) { return PortElement(m); };
  members_changed(delta.ip_members_removed, SetKind::kAddress, address_format, false);
  members_changed(delta.ip_members_added, SetKind::kAddress, address_format, true);
  members_changed(delta.port_members_removed, SetKind::kPort, port_format, false);
  members_changed(delta.port_members_added, SetKind::kPort, port_format, true);

  for (const auto& id : delta.programs_removed) UnindexProgram(id);
  for (const auto& [id, program] : delta.programs_upserted) {
    UnindexProgram(id);
    IndexProgram(id, program);
    batch.EnsureChain(RenderProgram(id, program, after.log_prefix, set_exists_));
  }
  if (delta.log_prefix) {
    for (const auto& [id, program] : after.programs) {
      batch.EnsureChain(RenderProgram(id, program, after.log_prefix, set_exists_));
    }
  }
  for (const auto& set : appeared) {
    auto users = programs_by_set_.find(set);
    if (users == programs_by_set_.end()) continue;
    for (const auto& id : users->second) {
      if (delta.programs_upserted.contains(id)) continue;
      if (auto it = after.programs.find(id); it != after.programs.end()) {
        batch.EnsureChain(RenderProgram(id, it->second, after.log_prefix, set_exists_));
      }
    }
  }

  // Anti-spoofing entries of one interface: those in the set whose text starts with its name.
  auto sync_sources = [&](const std::string& interface, const calc::EndpointProgram* endpoint) {
    for (const auto& set : FixedSets()) {
      std::string prefix = MapElementKey(interface) + " . ";
      std::set<std::string> current;
      const auto& elements = mirror_.sets[set.name];
      for (auto it = elements.lower_bound(prefix);
           it != elements.end() && it->compare(0, prefix.size(), prefix) == 0; ++it) {
        current.insert(*it);
      }
      std::set<std::string> target;
      if (endpoint != nullptr) {
        for (auto& e : SourceElements(*endpoint, set.family)) target.insert(std::move(e));
      }
      std::vector<std::string> extra, missing;
      for (const auto& e : current) {
        if (!target.contains(e)) extra.push_back(e);
      }
      for (const auto& e : target) {
        if (!current.contains(e)) missing.push_back(e);
      }
      batch.RemoveElements(set.name, extra);
      batch.AddElements(set.name, missing);
    }
  };
  // Endpoints whose dispatch may change: those upserted, and those using an upserted program
  // (its gates may have changed). New runs are taken before old ones are let go, so that a run
  // both keep is never torn down.
  std::set<std::string> redispatch;
  for (const auto& [interface, endpoint] : delta.endpoints_upserted) redispatch.insert(interface);
  if (!delta.programs_upserted.empty()) {
    for (const auto& [interface, endpoint] : after.endpoints) {
      for (const auto* direction : {&endpoint.ingress, &endpoint.egress}) {
        for (const auto& id : direction->policies) {
          if (delta.programs_upserted.contains(id)) redispatch.insert(interface);
        }
      }
    }
  }
  const std::set<std::string> runs_before = [&] {
    std::set<std::string> ids;
    for (const auto& [id, run] : runs_) ids.insert(id);
    return ids;
  }();
  std::vector<EndpointRuns> released;
  for (const auto& interface : redispatch) {
    auto it = after.endpoints.find(interface);
    if (it == after.endpoints.end()) continue;
    EndpointRuns runs = AcquireRuns(batch, it->second, after);
    if (auto old = endpoint_runs_.find(interface); old != endpoint_runs_.end()) {
      released.push_back(old->second);
    }
    if (!delta.endpoints_upserted.contains(interface)) {
      for (auto& chain :
           RenderEndpointChains(it->second, Dispatched(runs.ingress), Dispatched(runs.egress))) {
        batch.EnsureChain(std::move(chain));
      }
    }
    endpoint_runs_[interface] = std::move(runs);
  }
  for (const auto& interface : delta.endpoints_removed) {
    if (auto old = endpoint_runs_.find(interface); old != endpoint_runs_.end()) {
      released.push_back(old->second);
      endpoint_runs_.erase(old);
    }
  }
  for (const auto& runs : released) ReleaseRuns(batch, runs);
  // Peers that joined or left a gate set move between the class chains of the runs built
  // before this delta (those built now were built from `after`).
  for (const auto* changes : {&delta.ip_members_added, &delta.ip_members_removed}) {
    for (const auto& [set, members] : *changes) {
      auto it = runs_by_set_.find(set);
      if (it == runs_by_set_.end()) continue;
      for (const auto& id : it->second) {
        if (!runs_before.contains(id)) continue;
        for (const auto& address : members) UpdatePeer(batch, runs_.at(id), address, after);
      }
    }
  }

  for (const auto& [interface, endpoint] : delta.endpoints_upserted) {
    const EndpointRuns& runs = endpoint_runs_[interface];
    for (auto& chain :
         RenderEndpointChains(endpoint, Dispatched(runs.ingress), Dispatched(runs.egress))) {
      batch.EnsureChain(std::move(chain));
    }
    sync_sources(interface, &endpoint);
    batch.SetMapElement(kFromWorkloadMap, MapElementKey(interface),
                        "goto " + EgressChainName(interface));
    batch.SetMapElement(kToWorkloadMap, MapElementKey(interface),
                        "goto " + IngressChainName(interface));
  }
  for (const auto& interface : delta.endpoints_removed) {
    batch.RemoveMapElement(kFromWorkloadMap, MapElementKey(interface));
    batch.RemoveMapElement(kToWorkloadMap, MapElementKey(interface));
    sync_sources(interface, nullptr);
    batch.RemoveChain(EgressChainName(interface));
    batch.RemoveChain(EgressProfileChainName(interface));
    batch.RemoveChain(IngressChainName(interface));
    batch.RemoveChain(IngressProfileChainName(interface));
  }
  if (delta.host) {
    // After the programs it jumps to exist, before those it no longer uses go.
    std::set<std::string> rendered;
    for (auto& chain : RenderHostChains(after.host)) {
      rendered.insert(chain.name);
      batch.EnsureChain(std::move(chain));
    }
    std::vector<std::string> stale;
    for (const auto& [name, chain] : mirror_.chains) {
      if (IsHostEndpointChain(name) && !rendered.contains(name)) stale.push_back(name);
    }
    for (const auto& name : stale) batch.RemoveChain(name);
  }
  for (const auto& id : delta.programs_removed) batch.RemoveChain(id);
  for (const auto& id : delta.ip_sets_removed) {
    batch.RemoveSet(AddressSetName(id, 4));
    batch.RemoveSet(AddressSetName(id, 6));
  }
  for (const auto& id : delta.port_sets_removed) {
    batch.RemoveSet(PortSetName(id, 4));
    batch.RemoveSet(PortSetName(id, 6));
  }
  RemoveUnusedClasses(batch);
  return Commit(batch);
}

void NftDataplane::IndexProgram(const std::string& id, const calc::PolicyProgram& program) {
  std::set<std::string> sets;
  for (const auto& rule : program.rules) {
    for (const calc::CompiledEntity* e : {&rule.source, &rule.destination}) {
      for (const std::string* set : {&e->ip_set, &e->not_ip_set}) {
        if (!set->empty()) sets.insert(*set);
      }
      sets.insert(e->named_port_sets.begin(), e->named_port_sets.end());
      sets.insert(e->not_named_port_sets.begin(), e->not_named_port_sets.end());
    }
  }
  for (const auto& set : sets) programs_by_set_[set].insert(id);
  if (!sets.empty()) sets_of_program_[id] = {sets.begin(), sets.end()};
}

void NftDataplane::UnindexProgram(const std::string& id) {
  auto it = sets_of_program_.find(id);
  if (it == sets_of_program_.end()) return;
  for (const auto& set : it->second) {
    auto users = programs_by_set_.find(set);
    if (users == programs_by_set_.end()) continue;
    users->second.erase(id);
    if (users->second.empty()) programs_by_set_.erase(users);
  }
  sets_of_program_.erase(it);
}

void NftDataplane::ResetDispatch() {
  runs_.clear();
  runs_by_set_.clear();
  class_users_.clear();
  released_classes_.clear();
  endpoint_runs_.clear();
  dispatch_cost_ = 0;
}

NftDataplane::EndpointRuns NftDataplane::AcquireRuns(Batch& batch,
                                                     const calc::EndpointProgram& endpoint,
                                                     const calc::DesiredState& state) {
  return EndpointRuns{AcquireRun(batch, endpoint.ingress.policies, true, state),
                      AcquireRun(batch, endpoint.egress.policies, false, state)};
}

std::string NftDataplane::AcquireRun(Batch& batch, const std::vector<std::string>& policies,
                                     bool ingress, const calc::DesiredState& state) {
  std::optional<DispatchRun> plan = PlanDispatch(policies, ingress, state);
  if (!plan) return "";
  if (auto it = runs_.find(plan->id); it != runs_.end()) {
    it->second.users++;
    return it->first;
  }
  Run& run = runs_[plan->id];
  run.plan = *std::move(plan);
  run.users = 1;
  for (const auto& gate : run.plan.gates) {
    for (const auto& set : gate) {
      if (auto it = state.ip_sets.find(set); it != state.ip_sets.end()) {
        run.cost += it->second.size();
      }
    }
  }
  run.dispatched = dispatch_cost_ + run.cost <= kDispatchBudget;
  const std::string& id = run.plan.id;
  if (!run.dispatched) return id;
  dispatch_cost_ += run.cost;
  std::set<IpAddress> peers[2] = {DispatchPeers(run.plan, state, 4),
                                  DispatchPeers(run.plan, state, 6)};
  for (const auto& gate : run.plan.gates) {
    for (const auto& set : gate) runs_by_set_[set].insert(id);
  }
  const std::vector<std::string> ungated = UngatedPrograms(run.plan);
  if (!ungated.empty()) AcquireClass(batch, ungated);  // the dispatch chain's last rule
  for (int family : {4, 6}) {
    const std::string map = DispatchMapName(id, family);
    batch.EnsureMap({map, SetKind::kAddressVerdictMap, family});
    // A map adopted from the kernel may hold entries for peers gone since.
    std::vector<std::string> stale;
    std::set<std::string> wanted;
    for (const auto& address : peers[family == 4 ? 0 : 1]) wanted.insert(AddressElement(address));
    for (const auto& [key, verdict] : mirror_.maps[map]) {
      if (!wanted.contains(key)) stale.push_back(key);
    }
    for (const auto& key : stale) batch.RemoveMapElement(map, key);
    for (const auto& address : peers[family == 4 ? 0 : 1]) {
      UpdatePeer(batch, run, address, state, /*counted=*/false);
    }
  }
  batch.EnsureChain(RenderDispatchChain(run.plan));
  return id;
}

void NftDataplane::ReleaseRuns(Batch& batch, const EndpointRuns& runs) {
  auto release = [&](const std::string& id) {
    auto it = runs_.find(id);
    if (it == runs_.end() || --it->second.users > 0) return;
    Run& run = it->second;
    if (run.dispatched) {
      dispatch_cost_ -= run.cost;
      for (int family : {4, 6}) {
        const std::string map = DispatchMapName(id, family);
        for (const auto& [key, verdict] : mirror_.maps[map]) {
          if (verdict.rfind("goto ", 0) == 0) ReleaseClass(verdict.substr(5));
        }
        batch.RemoveMap(map);
      }
      const std::vector<std::string> ungated = UngatedPrograms(run.plan);
      if (!ungated.empty()) ReleaseClass(ClassChainName(ungated));
      batch.RemoveChain(id);
      for (const auto& gate : run.plan.gates) {
        for (const auto& set : gate) {
          auto users = runs_by_set_.find(set);
          if (users == runs_by_set_.end()) continue;
          users->second.erase(id);
          if (users->second.empty()) runs_by_set_.erase(users);
        }
      }
    }
    runs_.erase(it);
  };
  release(runs.ingress);
  release(runs.egress);
}

std::string NftDataplane::Dispatched(const std::string& run) const {
  auto it = runs_.find(run);
  return it != runs_.end() && it->second.dispatched ? run : "";
}

void NftDataplane::UpdatePeer(Batch& batch, const Run& run, const IpAddress& address,
                              const calc::DesiredState& state, bool counted) {
  const std::string map = DispatchMapName(run.plan.id, address.is_v4() ? 4 : 6);
  const std::string key = AddressElement(address);
  const std::vector<std::string> programs = DispatchClass(run.plan, address, state);
  const std::string wanted = programs.empty() ? "" : "goto " + ClassChainName(programs);
  auto& entries = mirror_.maps[map];
  auto it = entries.find(key);
  const std::string current = it == entries.end() ? "" : it->second;
  if (current == wanted) {
    if (!counted && !programs.empty()) AcquireClass(batch, programs);
    return;
  }
  if (!programs.empty()) {
    AcquireClass(batch, programs);
    batch.SetMapElement(map, key, wanted);
  } else {
    batch.RemoveMapElement(map, key);
  }
  if (counted && current.rfind("goto ", 0) == 0) ReleaseClass(current.substr(5));
}

void NftDataplane::AcquireClass(Batch& batch, const std::vector<std::string>& programs) {
  const std::string name = ClassChainName(programs);
  if (class_users_[name]++ == 0) batch.EnsureChain(RenderClassChain(programs));
  released_classes_.erase(name);
}

void NftDataplane::ReleaseClass(const std::string& chain) {
  auto it = class_users_.find(chain);
  if (it == class_users_.end()) return;
  if (--it->second == 0) released_classes_.insert(chain);
}

void NftDataplane::RemoveUnusedClasses(Batch& batch) {
  for (const auto& chain : released_classes_) {
    auto it = class_users_.find(chain);
    if (it == class_users_.end() || it->second > 0) continue;
    class_users_.erase(it);
    batch.RemoveChain(chain);
  }
  released_classes_.clear();
}

}  // namespace tabby::dataplane
