#include "ipam/simple_allocator.h"

#include <fmt/format.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <random>
#include <set>

#include "base/status_macros.h"
#include "datastore/resource_store.h"
#include "selector/selector.h"

namespace tabby::ipam {
namespace {

using nlohmann::json;

std::string AddressKey(const IpAddress& address) { return kAddressPrefix + address.ToString(); }
std::string HandleKey(const std::string& handle) { return kHandlePrefix + handle; }

absl::StatusOr<std::vector<IpAddress>> ParseHandle(const std::string& value) {
  json document = json::parse(value, nullptr, false);
  std::vector<IpAddress> out;
  if (document.is_discarded() || !document.contains("addresses")) return out;
  for (const auto& text : document["addresses"]) {
    if (!text.is_string()) continue;
    auto address = IpAddress::Parse(text.get<std::string>());
    if (address.ok()) out.push_back(*address);
  }
  return out;
}

std::string HandleValue(const std::vector<IpAddress>& addresses) {
  json list = json::array();
  for (const auto& a : addresses) list.push_back(a.ToString());
  return json{{"addresses", list}}.dump();
}

}  // namespace

absl::StatusOr<std::vector<SimpleAllocator::Pool>> SimpleAllocator::UsablePools(
    const AllocationRequest& request, bool v4) {
  datastore::ResourceStore resources(store_);
  ASSIGN_OR_RETURN(auto pools, resources.List(model::Kind::kIPPool));
  ASSIGN_OR_RETURN(auto node, resources.Get({model::Kind::kNode, "", request.node}));
  model::Labels node_labels = node ? node->metadata.labels : model::Labels{};
  const auto& wanted = v4 ? request.ipv4_pools : request.ipv6_pools;
  std::vector<Pool> out;
  for (const auto& pool : pools) {
    auto cidr = IpNetwork::Parse(pool.ip_pool().cidr, true);
    if (!cidr.ok() || cidr->is_v4() != v4) continue;
    if (!wanted.empty()) {
      if (std::find(wanted.begin(), wanted.end(), pool.metadata.name) == wanted.end()) continue;
    } else if (pool.ip_pool().disabled) {
      continue;
    }
    auto node_selector = selector::Selector::Parse(pool.ip_pool().node_selector);
    if (!node_selector.ok() || !node_selector->Matches(node_labels)) continue;
    out.push_back(Pool{pool.metadata.name, *cidr});
  }
  for (const auto& name : wanted) {
    bool found = std::any_of(out.begin(), out.end(), [&](const Pool& p) { return p.name == name; });
    if (!found) {
      return absl::NotFoundError(
          fmt::format("IP pool {} does not exist, is not an IPv{} pool, or does not allow node {}",
                      name, v4 ? 4 : 6, request.node));
    }
  }
  if (out.empty()) {
    return absl::NotFoundError(fmt::format(
        "no enabled IPv{} pool is usable on node {}: create an IPPool (tabbyctl apply -f)",
        v4 ? 4 : 6, request.node));
  }
  return out;
}

absl::StatusOr<IpAddress> SimpleAllocator::AllocateFrom(const std::vector<Pool>& pools,
                                                        const AllocationRequest& request) {
  std::random_device device;
  std::mt19937_64 random(device());
  std::vector<std::string> names;
  for (const auto& pool : pools) {
    names.push_back(fmt::format("{} ({})", pool.name, pool.cidr.ToString()));
    // Retry while other allocators keep taking the address we picked.
    for (int attempt = 0; attempt < 64; ++attempt) {
      ASSIGN_OR_RETURN(auto listing, store_.List(kAddressPrefix));
      std::set<IpAddress> used;
      for (const auto& kv : listing.items) {
        auto address = IpAddress::Parse(kv.key.substr(std::string(kAddressPrefix).size()));
        if (address.ok() && pool.cidr.Contains(*address)) used.insert(*address);
      }
      uint64_t size = pool.cidr.Size();
      if (used.size() >= size) break;
      // Start at a random offset so that concurrent allocators rarely pick the same address,
      // then take the first free one.
      uint64_t start = random() % size;
      std::optional<IpAddress> candidate;
      for (uint64_t i = 0; i < size && !candidate; ++i) {
        IpAddress address = pool.cidr.address().Plus((start + i) % size);
        if (!used.contains(address)) candidate = address;
      }
      if (!candidate) break;
      json record = {{"handle", request.handle},
                     {"pool", pool.name},
                     {"node", request.node},
                     {"attributes", request.attributes}};
      auto created = store_.Create(AddressKey(*candidate), record.dump());
      if (created.ok()) return *candidate;
      if (created.status().code() != absl::StatusCode::kAlreadyExists) return created.status();
    }
  }
  return absl::ResourceExhaustedError(
      fmt::format("no free address in IP pool {}", fmt::join(names, ", ")));
}

absl::Status SimpleAllocator::RecordHandle(const std::string& handle,
                                           const std::vector<IpAddress>& addresses) {
  auto put = store_.Put(HandleKey(handle), HandleValue(addresses));
  return put.status();
}

absl::StatusOr<std::vector<IpAddress>> SimpleAllocator::Allocate(const AllocationRequest& request) {
  if (request.handle.empty()) return absl::InvalidArgumentError("allocation needs a handle");
  ASSIGN_OR_RETURN(auto existing, AddressesOf(request.handle));
  bool has4 = std::any_of(existing.begin(), existing.end(), [](auto& a) { return a.is_v4(); });
  bool has6 = std::any_of(existing.begin(), existing.end(), [](auto& a) { return a.is_v6(); });
  if ((!request.ipv4 || has4) && (!request.ipv6 || has6) && !existing.empty()) return existing;

  std::vector<IpAddress> allocated;
  auto undo = [&]() {
    for (const auto& a : allocated) (void)ReleaseAddress(a);
  };
  for (bool v4 : {true, false}) {
    if (v4 ? !request.ipv4 : !request.ipv6) continue;
    if (v4 ? has4 : has6) continue;
    auto pools = UsablePools(request, v4);
    if (!pools.ok()) {
      undo();
      return pools.status();
    }
    auto address = AllocateFrom(*pools, request);
    if (!address.ok()) {
      undo();
      return address.status();
    }
    allocated.push_back(*address);
  }
  std::vector<IpAddress> all = existing;
  all.insert(all.end(), allocated.begin(), allocated.end());
  absl::Status recorded = RecordHandle(request.handle, all);
  if (!recorded.ok()) {
    undo();
    return Annotate(recorded, fmt::format("cannot record IPAM handle {}", request.handle));
  }
  return all;
}

absl::StatusOr<std::vector<IpAddress>> SimpleAllocator::AddressesOf(const std::string& handle) {
  ASSIGN_OR_RETURN(auto kv, store_.Get(HandleKey(handle)));
  if (!kv) return std::vector<IpAddress>{};
  return ParseHandle(kv->value);
}

absl::Status SimpleAllocator::ReleaseAddress(const IpAddress& address) {
  auto deleted = store_.Delete(AddressKey(address));
  if (deleted.ok() || deleted.status().code() == absl::StatusCode::kNotFound) {
    return absl::OkStatus();
  }
  return deleted.status();
}

absl::Status SimpleAllocator::ReleaseHandle(const std::string& handle) {
  // Addresses recorded under the handle, plus any whose record names it (an allocation that
  // crashed before it recorded the handle).
  ASSIGN_OR_RETURN(auto addresses, AddressesOf(handle));
  ASSIGN_OR_RETURN(auto listing, store_.List(kAddressPrefix));
  for (const auto& kv : listing.items) {
    json record = json::parse(kv.value, nullptr, false);
    if (record.is_discarded() || record.value("handle", "") != handle) continue;
    auto address = IpAddress::Parse(kv.key.substr(std::string(kAddressPrefix).size()));
    if (address.ok()) addresses.push_back(*address);
  }
  for (const auto& address : addresses) {
    // Only release what the handle still holds: the address may have been reused since.
    auto kv = store_.Get(AddressKey(address));
    if (!kv.ok()) return kv.status();
    if (!*kv) continue;
    json record = json::parse((*kv)->value, nullptr, false);
    if (!record.is_discarded() && record.value("handle", "") != handle) continue;
    auto deleted = store_.Delete(AddressKey(address), (*kv)->mod_revision);
    if (!deleted.ok() && deleted.status().code() != absl::StatusCode::kNotFound &&
        deleted.status().code() != absl::StatusCode::kAborted) {
      return deleted.status();
    }
  }
  auto deleted = store_.Delete(HandleKey(handle));
  if (!deleted.ok() && deleted.status().code() != absl::StatusCode::kNotFound) {
    return deleted.status();
  }
  return absl::OkStatus();
}

}  // namespace tabby::ipam
