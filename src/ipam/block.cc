#include "ipam/block.h"

#include <fmt/format.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <string_view>
#include <vector>

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

// The dot-separated fields of a handle: tabby-cni's "<network>.<containerID>.<ifname>".
std::vector<std::string_view> HandleFields(std::string_view handle) {
  std::vector<std::string_view> fields;
  for (size_t start = 0;;) {
    size_t dot = handle.find('.', start);
    fields.push_back(handle.substr(start, dot - start));
    if (dot == std::string_view::npos) return fields;
    start = dot + 1;
  }
}

absl::StatusOr<Allocation> DecodeAllocation(const json& entry, const Block& block,
                                            uint64_t& ordinal) {
  Allocation allocation;
  json attributes = json::object();
  if (entry.is_array()) {
    if (entry.size() < 3 || entry.size() > 4) {
      return absl::DataLossError("an allocation is not [ordinal, handle, allocatedAtMs, {...}]");
    }
    ordinal = entry[0].get<uint64_t>();
    allocation.handle = entry[1].get<std::string>();
    allocation.allocated_at_ms = entry[2].get<int64_t>();
    if (entry.size() == 4) attributes = entry[3];
    if (!block.affinity.empty() && !attributes.contains("node")) {
      allocation.attributes["node"] = block.affinity;
    }
  } else {
    allocation.handle = entry.at("handle").get<std::string>();
    attributes = entry.value("attributes", json::object());
    allocation.allocated_at_ms = entry.value("allocatedAtMs", int64_t{0});
  }
  const std::vector<std::string_view> fields = HandleFields(allocation.handle);
  for (const auto& [name, value] : attributes.items()) {
    if (value.is_null()) continue;  // "node": null, an allocation that named no node
    if (value.is_number_unsigned()) {
      const uint64_t field = value.get<uint64_t>();
      if (field >= fields.size()) {
        return absl::DataLossError(
            fmt::format("attribute {} of handle {} refers to its field {}, which it does not have",
                        name, allocation.handle, field));
      }
      allocation.attributes[name] = std::string(fields[field]);
    } else {
      allocation.attributes[name] = value.get<std::string>();
    }
  }
  return allocation;
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

// A block is rewritten on every allocation and release in it, and every write is also kept in
// the datastore's event log, so its encoding is compact: allocations as an array of
// [ordinal, handle, allocatedAtMs] plus the attributes as a fourth element when there are any.
// Two kinds of attribute value are not repeated: a "node" equal to the block's affinity (a host
// allocating from its own block) is left out, and a value equal to a dot-separated field of the
// handle (the containerID and network in tabby-cni's handles) is stored as that field's index.
// Decoding also accepts the earlier object form {"<ordinal>": {"handle", "attributes",
// "allocatedAtMs"}}.
std::string EncodeBlock(const Block& block) {
  json allocations = json::array();
  for (const auto& [ordinal, a] : block.allocations) {
    json entry = json::array({ordinal, a.handle, a.allocated_at_ms});
    json attributes = json::object();
    const std::vector<std::string_view> fields = HandleFields(a.handle);
    for (const auto& [name, value] : a.attributes) {
      if (name == "node" && !block.affinity.empty() && value == block.affinity) continue;
      auto field = std::find(fields.begin(), fields.end(), value);
      if (!value.empty() && field != fields.end()) {
        attributes[name] = field - fields.begin();
      } else {
        attributes[name] = value;
      }
    }
    // An allocation without a node attribute keeps that fact: an explicit empty node.
    if (!block.affinity.empty() && !a.attributes.contains("node")) attributes["node"] = nullptr;
    if (!attributes.empty()) entry.push_back(std::move(attributes));
    allocations.push_back(std::move(entry));
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
    const json& allocations = document.at("allocations");
    if (!allocations.is_array() && !allocations.is_object()) {
      return absl::DataLossError(fmt::format(
          "IPAM block {}: allocations is neither an array nor an object", block.cidr.ToString()));
    }
    for (const auto& [key, entry] : allocations.items()) {
      uint64_t ordinal = allocations.is_object() ? std::stoull(key) : 0;
      ASSIGN_OR_RETURN(Allocation allocation,
                       Annotate(DecodeAllocation(entry, block, ordinal),
                                fmt::format("IPAM block {}", block.cidr.ToString())));
      if (ordinal >= block.size()) {
        return absl::DataLossError(
            fmt::format("IPAM block {}: ordinal {} is outside it", block.cidr.ToString(), ordinal));
      }
      if (!block.allocations.emplace(ordinal, std::move(allocation)).second) {
        return absl::DataLossError(fmt::format("IPAM block {}: ordinal {} is allocated twice",
                                               block.cidr.ToString(), ordinal));
      }
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
