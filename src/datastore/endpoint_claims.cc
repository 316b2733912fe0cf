#include "datastore/endpoint_claims.h"

#include <fmt/format.h>

#include "base/ip.h"
#include "base/status_macros.h"
#include "model/codec.h"

namespace tabby::datastore {

std::map<std::string, std::string> EndpointClaims::ClaimsOf(const model::Resource& endpoint) {
  std::map<std::string, std::string> claims;
  const model::WorkloadEndpointSpec& spec = endpoint.workload_endpoint();
  for (size_t i = 0; i < spec.ip_networks.size(); ++i) {
    auto network = IpNetwork::Parse(spec.ip_networks[i]);
    if (!network.ok()) continue;  // validation refuses it before any guard runs
    claims.emplace(kEndpointAddressIndexPrefix + network->address().ToString(),
                   fmt::format("spec.ipNetworks[{}]", i));
  }
  if (!spec.interface_name.empty()) {
    claims.emplace(
        fmt::format("{}{}/{}", kEndpointInterfaceIndexPrefix, spec.node, spec.interface_name),
        "spec.interfaceName");
  }
  return claims;
}

absl::StatusOr<std::pair<bool, Revision>> EndpointClaims::StillHolds(const std::string& holder_key,
                                                                     const std::string& claim) {
  ASSIGN_OR_RETURN(auto holder, store_.Get(holder_key));
  if (!holder) return std::pair{false, Revision{0}};
  auto decoded = model::DecodeStored(holder->value);
  bool holds = decoded.ok() && decoded->kind == model::Kind::kWorkloadEndpoint &&
               ClaimsOf(*decoded).contains(claim);
  return std::pair{holds, holder->mod_revision};
}

absl::StatusOr<WriteGuard::Conditions> EndpointClaims::Check(
    const std::optional<model::Resource>& stored, const std::optional<model::Resource>& proposed) {
  const model::Resource& endpoint = proposed ? *proposed : *stored;
  const std::string owner = ResourceStore::Key(ResourceStore::IdOf(endpoint));
  const std::map<std::string, std::string> wanted =
      proposed ? ClaimsOf(*proposed) : std::map<std::string, std::string>{};
  const std::map<std::string, std::string> held =
      stored ? ClaimsOf(*stored) : std::map<std::string, std::string>{};
  Conditions conditions;
  for (const auto& [claim, field] : wanted) {
    ASSIGN_OR_RETURN(auto index, store_.Get(claim));
    if (!index) {
      conditions.compares.push_back({claim, 0});
      conditions.ops.push_back(TxnOp::Put(claim, owner));
      continue;
    }
    conditions.compares.push_back({claim, index->mod_revision});
    if (index->value == owner) continue;
    ASSIGN_OR_RETURN(auto holder, StillHolds(index->value, claim));
    if (holder.first) {
      auto id = ResourceStore::ParseKey(index->value);
      std::string name = id ? fmt::format("{}/{}", id->namespace_name, id->name) : index->value;
      bool is_address = claim.starts_with(kEndpointAddressIndexPrefix);
      return absl::FailedPreconditionError(fmt::format(
          "field {}: {} {} is already used by workload endpoint {}", field,
          is_address ? "address" : "interface",
          is_address ? claim.substr(std::string_view(kEndpointAddressIndexPrefix).size())
                     : endpoint.workload_endpoint().interface_name,
          name));
    }
    // A stale claim: taken over, provided its holder stays as read.
    conditions.compares.push_back({index->value, holder.second});
    conditions.ops.push_back(TxnOp::Put(claim, owner));
  }
  for (const auto& [claim, field] : held) {
    if (wanted.contains(claim)) continue;
    ASSIGN_OR_RETURN(auto index, store_.Get(claim));
    if (!index || index->value != owner) continue;
    conditions.compares.push_back({claim, index->mod_revision});
    conditions.ops.push_back(TxnOp::Delete(claim));
  }
  return conditions;
}

}  // namespace tabby::datastore
