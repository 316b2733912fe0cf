#include "dataplane/kernel_table.h"

#include <fmt/format.h>
#include <netdb.h>

#include <nlohmann/json.hpp>

#include "base/ip.h"

namespace tabby::dataplane {
namespace {

using nlohmann::json;

int ProtocolNumber(const json& value) {
  if (value.is_number_integer()) return value.get<int>();
  if (!value.is_string()) return -1;
  std::string name = value.get<std::string>();
  static const std::map<std::string, int> kKnown = {
      {"icmp", 1},    {"tcp", 6},    {"udp", 17},     {"ipv6-icmp", 58},
      {"icmpv6", 58}, {"sctp", 132}, {"udplite", 136}};
  if (auto it = kKnown.find(name); it != kKnown.end()) return it->second;
  protoent entry{};
  protoent* result = nullptr;
  char buffer[1024];
  if (getprotobyname_r(name.c_str(), &entry, buffer, sizeof(buffer), &result) == 0 && result) {
    return result->p_proto;
  }
  return -1;
}

// An address or prefix as the renderer writes it: hosts without "/len".
std::string AddressText(const json& value) {
  if (value.is_string()) {
    auto address = IpAddress::Parse(value.get<std::string>());
    if (address.ok()) return address->ToString();
  }
  if (value.is_object() && value.contains("prefix")) {
    const json& prefix = value["prefix"];
    auto address = IpAddress::Parse(prefix.value("addr", ""));
    if (address.ok()) {
      IpNetwork network(*address, prefix.value("len", 0));
      return network.is_host() ? address->ToString() : network.Masked().ToString();
    }
  }
  return fmt::format("?{}", value.dump());
}

std::string ElementText(const json& elem) {
  const json* value = &elem;
  if (elem.is_object() && elem.contains("elem")) value = &elem["elem"]["val"];
  if (value->is_object() && value->contains("concat")) {
    const json& parts = (*value)["concat"];
    if (parts.size() == 3) {  // address . protocol . port
      int protocol = ProtocolNumber(parts[1]);
      if (protocol >= 0 && parts[2].is_number_integer()) {
        return fmt::format("{} . {} . {}", AddressText(parts[0]), protocol, parts[2].get<int>());
      }
    }
    if (parts.size() == 2 && parts[0].is_string()) {  // interface . address
      return fmt::format("\"{}\" . {}", parts[0].get<std::string>(), AddressText(parts[1]));
    }
    return fmt::format("?{}", value->dump());
  }
  return AddressText(*value);
}

std::string VerdictText(const json& verdict) {
  for (const char* kind : {"goto", "jump"}) {
    if (verdict.is_object() && verdict.contains(kind)) {
      return fmt::format("{} {}", kind, verdict[kind].value("target", ""));
    }
  }
  return fmt::format("?{}", verdict.dump());
}

std::string TypeSignature(const json& type) {
  if (type.is_string()) return type.get<std::string>();
  std::string out;
  for (const auto& t : type) {
    if (!out.empty()) out += " . ";
    out += t.is_string() ? t.get<std::string>() : t.dump();
  }
  return out;
}

}  // namespace

std::string HookSignature(const std::string& hook_clause) {
  // "type filter hook forward priority filter + 10; policy accept;"
  std::string type, hook, priority, policy;
  auto word_after = [&](const std::string& key) -> std::string {
    size_t at = hook_clause.find(key + " ");
    if (at == std::string::npos) return "";
    size_t start = at + key.size() + 1;
    size_t end = hook_clause.find_first_of(" ;", start);
    return hook_clause.substr(start, end - start);
  };
  type = word_after("type");
  hook = word_after("hook");
  policy = word_after("policy");
  size_t at = hook_clause.find("priority ");
  if (at != std::string::npos) {
    size_t start = at + 9;
    priority = hook_clause.substr(start, hook_clause.find(';', start) - start);
  }
  // Named priorities as nft prints them numerically.
  static const std::map<std::string, int> kNamed = {{"raw", -300},    {"mangle", -150},
                                                    {"dstnat", -100}, {"filter", 0},
                                                    {"security", 50}, {"srcnat", 100}};
  int value = 0;
  size_t plus = priority.find_first_of("+-", 1);
  std::string base = priority.substr(0, plus == std::string::npos ? priority.size() : plus);
  while (!base.empty() && base.back() == ' ') base.pop_back();
  if (auto it = kNamed.find(base); it != kNamed.end()) {
    value = it->second;
  } else {
    value = std::atoi(base.c_str());
  }
  if (plus != std::string::npos) {
    int offset = std::atoi(priority.substr(plus + 1).c_str());
    value += priority[plus] == '+' ? offset : -offset;
  }
  return fmt::format("{}/{}/{}/{}", type, hook, value, policy);
}

absl::StatusOr<KernelTable> ParseKernelTable(const std::string& text) {
  json document = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (document.is_discarded() || !document.contains("nftables")) {
    return absl::InternalError("cannot parse nft JSON listing");
  }
  KernelTable table;
  table.exists = true;
  for (const auto& object : document["nftables"]) {
    if (object.contains("chain")) {
      const json& chain = object["chain"];
      KernelChain& out = table.chains[chain.value("name", "")];
      if (chain.contains("hook")) {
        out.hook = fmt::format("{}/{}/{}/{}", chain.value("type", ""), chain.value("hook", ""),
                               chain.value("prio", 0), chain.value("policy", ""));
      }
    } else if (object.contains("rule")) {
      const json& rule = object["rule"];
      std::string comment = rule.value("comment", "");
      std::string hash = comment.rfind("tabby:", 0) == 0 ? comment.substr(6) : "";
      table.chains[rule.value("chain", "")].hashes.push_back(hash);
    } else if (object.contains("set")) {
      const json& set = object["set"];
      std::string name = set.value("name", "");
      auto& elements = table.sets[name];
      table.set_types[name] = TypeSignature(set.value("type", json()));
      if (set.contains("elem")) {
        for (const auto& elem : set["elem"]) elements.insert(ElementText(elem));
      }
    } else if (object.contains("map")) {
      const json& map = object["map"];
      auto& elements = table.maps[map.value("name", "")];
      // Interface names are written quoted, addresses as AddressElement writes them.
      const bool by_name = TypeSignature(map.value("type", json())) == "ifname";
      if (map.contains("elem")) {
        for (const auto& pair : map["elem"]) {
          if (!pair.is_array() || pair.size() != 2) continue;
          std::string key = !by_name ? AddressText(pair[0])
                            : pair[0].is_string()
                                ? fmt::format("\"{}\"", pair[0].get<std::string>())
                                : "?";
          elements[key] = VerdictText(pair[1]);
        }
      }
    } else if (object.contains("counter")) {
      table.counters.insert(object["counter"].value("name", ""));
    }
  }
  return table;
}

}  // namespace tabby::dataplane
