#include "ipam/block.h"

#include <fmt/format.h>

#include <algorithm>
#include <nlohmann/json.hpp>

#include "base/status_macros.h"

namespace tabby::ipam {
namespace {

using nlohmann::json;

absl::StatusOr<json> ParseJson(std::string_view value, std::string_view what) {
  json document = json::parse(value, nullptr, /*allow_exceptions=*/false);
  if (document.is_discarded() || !document.is_object()) {
    return absl::DataLossError(fmt::format("{} is not a JSON object", what));
  }
  return document;
}

}  // namespace

std::optional<uint64_t> Block::FirstFree() const {
  // Allocations are ordered by ordinal: the first gap is the first free ordinal.
  uint64_t expected = 0;
  for (const auto& [ordinal, allocation] : allocations) {
    if (ordinal != expected) break;
    ++expected;
  }
  if (expected >= size()) return std::nullopt;
  return expected;
}

std::string BlockId(const IpNetwork& cidr) {
  return fmt::format("{}-{}", cidr.address().ToString(), cidr.prefix_length());
}

absl::StatusOr<IpNetwork> ParseBlockId(std::string_view id) {
  size_t dash = id.rfind('-');
  if (dash == std::string_view::npos) {
    return absl::InvalidArgumentError(fmt::format("invalid block id \"{}\"", id));
  }
  std::string text = fmt::format("{}/{}", id.substr(0, dash), id.substr(dash + 1));
  return IpNetwork::Parse(text, /*strict=*/true);
}

std::string BlockKey(const IpNetwork& cidr) { return kBlockPrefix + BlockId(cidr); }
std::string AffinityPrefix(const std::string& node) { return kAffinityPrefix + node + "/"; }

std::optional<Affinity> ParseAffinityKey(std::string_view key) {
  if (!key.starts_with(kAffinityPrefix)) return std::nullopt;
  std::string_view rest = key.substr(std::string_view(kAffinityPrefix).size());
  const size_t slash = rest.find('/');
  if (slash == std::string_view::npos) return std::nullopt;
  absl::StatusOr<IpNetwork> block = ParseBlockId(rest.substr(slash + 1));
  if (!block.ok()) return std::nullopt;
  return Affinity{std::string(rest.substr(0, slash)), *block};
}
std::string AffinityKey(const std::string& node, const IpNetwork& cidr) {
  return AffinityPrefix(node) + BlockId(cidr);
}
std::string HandleKey(const std::string& handle) { return kHandlePrefix + handle; }

std::string PoolClaimsKey(const std::string& pool) { return kPoolClaimsPrefix + pool; }

std::string EncodeBlock(const Block& block) {
  json allocations = json::object();
  for (const auto& [ordinal, a] : block.allocations) {
    allocations[std::to_string(ordinal)] = {
        {"handle", a.handle}, {"attributes", a.attributes}, {"allocatedAtMs", a.allocated_at_ms}};
  }
  return json{{"cidr", block.cidr.ToString()},
              {"pool", block.pool},
              {"affinity", block.affinity},
              {"allocations", allocations}}
      .dump();
}

absl::StatusOr<Block> DecodeBlock(std::string_view value) {
  ASSIGN_OR_RETURN(json document, ParseJson(value, "IPAM block"));
  Block block;
  try {
    ASSIGN_OR_RETURN(block.cidr, IpNetwork::Parse(document.at("cidr").get<std::string>(), true));
    block.pool = document.value("pool", "");
    block.affinity = document.value("affinity", "");
    for (const auto& [ordinal_text, a] : document.at("allocations").items()) {
      uint64_t ordinal = std::stoull(ordinal_text);
      if (ordinal >= block.size()) {
        return absl::DataLossError(
            fmt::format("IPAM block {}: ordinal {} is outside it", block.cidr.ToString(), ordinal));
      }
      Allocation allocation;
      allocation.handle = a.at("handle").get<std::string>();
      allocation.attributes = a.value("attributes", std::map<std::string, std::string>{});
      allocation.allocated_at_ms = a.value("allocatedAtMs", int64_t{0});
      block.allocations.emplace(ordinal, std::move(allocation));
    }
  } catch (const std::exception& e) {
    return absl::DataLossError(fmt::format("malformed IPAM block: {}", e.what()));
  }
  return block;
}

std::string EncodeHandle(const HandleRecord& record) {
  json addresses = json::object();
  for (const auto& [address, block] : record.addresses) {
    addresses[address.ToString()] = block.ToString();
  }
  json document = {{"addresses", addresses}};
  if (!record.attributes.empty()) document["attributes"] = record.attributes;
  return document.dump();
}

absl::StatusOr<HandleRecord> DecodeHandle(std::string_view value) {
  ASSIGN_OR_RETURN(json document, ParseJson(value, "IPAM handle"));
  HandleRecord record;
  try {
    for (const auto& [address_text, block_text] : document.at("addresses").items()) {
      ASSIGN_OR_RETURN(IpAddress address, IpAddress::Parse(address_text));
      ASSIGN_OR_RETURN(IpNetwork block, IpNetwork::Parse(block_text.get<std::string>(), true));
      record.addresses.emplace(address, block);
    }
    if (document.contains("attributes")) {
      record.attributes = document["attributes"].get<std::map<std::string, std::string>>();
    }
  } catch (const std::exception& e) {
    return absl::DataLossError(fmt::format("malformed IPAM handle: {}", e.what()));
  }
  return record;
}

std::string EncodeConfig(const IpamConfig& config) {
  return json{{"strictAffinity", config.strict_affinity},
              {"maxBlocksPerHost", config.max_blocks_per_host}}
      .dump();
}

absl::StatusOr<IpamConfig> DecodeConfig(std::string_view value) {
  ASSIGN_OR_RETURN(json document, ParseJson(value, "IPAM configuration"));
  IpamConfig config;
  try {
    config.strict_affinity = document.value("strictAffinity", false);
    config.max_blocks_per_host = document.value("maxBlocksPerHost", 0);
  } catch (const std::exception& e) {
    return absl::DataLossError(fmt::format("malformed IPAM configuration: {}", e.what()));
  }
  return config;
}

absl::StatusOr<IpamConfig> ReadConfig(datastore::Datastore& store) {
  ASSIGN_OR_RETURN(auto kv, store.Get(kConfigKey));
  if (!kv) return IpamConfig{};
  return DecodeConfig(kv->value);
}

}  // namespace tabby::ipam
