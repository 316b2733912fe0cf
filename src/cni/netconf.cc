#include "cni/netconf.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>

#include "model/validate.h"

namespace tabby::cni {
namespace {

// [a-zA-Z0-9][a-zA-Z0-9_.-]*, at most `max_length`: the CNI specification's network names and
// container ids.
bool IsCniIdentifier(std::string_view text, size_t max_length) {
  auto alnum = [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
  };
  if (text.empty() || text.size() > max_length || !alnum(text.front())) return false;
  return std::all_of(text.begin(), text.end(),
                     [&](char c) { return alnum(c) || c == '_' || c == '.' || c == '-'; });
}

using nlohmann::json;

CniError Error(ErrorCode code, std::string message, std::string details = "") {
  return CniError{code, std::move(message), std::move(details)};
}

std::vector<int> VersionParts(const std::string& version) {
  std::vector<int> parts;
  size_t start = 0;
  while (start <= version.size()) {
    size_t dot = version.find('.', start);
    std::string_view piece(version.data() + start,
                           (dot == std::string::npos ? version.size() : dot) - start);
    int value = -1;
    auto [ptr, ec] = std::from_chars(piece.data(), piece.data() + piece.size(), value);
    if (ec != std::errc() || ptr != piece.data() + piece.size()) return {};
    parts.push_back(value);
    if (dot == std::string::npos) break;
    start = dot + 1;
  }
  return parts;
}

std::optional<std::string> StringField(const json& object, const char* key, std::string& out,
                                       const std::string& path) {
  if (!object.contains(key) || object[key].is_null()) return std::nullopt;
  if (!object[key].is_string()) return fmt::format("{}{} must be a string", path, key);
  out = object[key].get<std::string>();
  return std::nullopt;
}

std::optional<std::string> StringList(const json& value, std::vector<std::string>& out,
                                      const std::string& path) {
  if (value.is_null()) return std::nullopt;
  if (!value.is_array()) return fmt::format("{} must be a list of strings", path);
  for (const auto& item : value) {
    if (!item.is_string()) return fmt::format("{} must be a list of strings", path);
    out.push_back(item.get<std::string>());
  }
  return std::nullopt;
}

std::optional<std::string> LabelMap(const json& value, model::Labels& out,
                                    const std::string& path) {
  if (value.is_null()) return std::nullopt;
  if (!value.is_object()) return fmt::format("{} must be an object of label: value", path);
  for (const auto& [key, item] : value.items()) {
    if (!item.is_string()) return fmt::format("{}[\"{}\"] must be a string", path, key);
    out[key] = item.get<std::string>();
  }
  return std::nullopt;
}

std::optional<std::string> ParsePort(const std::string& name, const std::string& protocol,
                                     int64_t number, const std::string& path,
                                     std::vector<model::EndpointPort>& out) {
  model::EndpointPort port;
  port.name = name;
  std::string upper = protocol;
  std::transform(upper.begin(), upper.end(), upper.begin(), ::toupper);
  if (upper.empty() || upper == "TCP") {
    port.protocol = {model::Protocol::kTcp, "TCP"};
  } else if (upper == "UDP") {
    port.protocol = {model::Protocol::kUdp, "UDP"};
  } else if (upper == "SCTP") {
    port.protocol = {model::Protocol::kSctp, "SCTP"};
  } else {
    return fmt::format("{}: protocol must be TCP, UDP or SCTP, not \"{}\"", path, protocol);
  }
  if (number < 1 || number > 65535) return fmt::format("{}: port must be 1..65535", path);
  port.port = static_cast<uint16_t>(number);
  out.push_back(std::move(port));
  return std::nullopt;
}

std::optional<std::string> PortList(const json& value, std::vector<model::EndpointPort>& out,
                                    const std::string& path) {
  if (value.is_null()) return std::nullopt;
  if (!value.is_array()) return fmt::format("{} must be a list", path);
  for (size_t i = 0; i < value.size(); ++i) {
    const json& item = value[i];
    std::string item_path = fmt::format("{}[{}]", path, i);
    if (!item.is_object() || !item.contains("port") || !item["port"].is_number_integer()) {
      return fmt::format("{} must be {{\"name\", \"protocol\", \"port\"}} with an integer port",
                         item_path);
    }
    std::string name = item.value("name", "");
    std::string protocol = item.value("protocol", "TCP");
    if (auto e = ParsePort(name, protocol, item["port"].get<int64_t>(), item_path, out)) return e;
  }
  return std::nullopt;
}

std::optional<CniError> ParseConfig(const json& doc, NetConf& conf) {
  auto invalid = [](std::string message) { return Error(ErrorCode::kInvalidConfig, message); };
  if (!doc.is_object()) return invalid("network configuration must be a JSON object");
  for (const char* required : {"cniVersion", "name", "type"}) {
    if (!doc.contains(required) || !doc[required].is_string() ||
        doc[required].get<std::string>().empty()) {
      return invalid(
          fmt::format("network configuration needs a non-empty string \"{}\"", required));
    }
  }
  conf.cni_version = doc["cniVersion"].get<std::string>();
  conf.name = doc["name"].get<std::string>();
  if (!IsCniIdentifier(conf.name, kMaxNetworkNameLength)) {
    return invalid(fmt::format(
        "network name \"{}\" is invalid: 1-{} alphanumerics, '_', '.' and '-', starting with an "
        "alphanumeric (the CNI specification's rule)",
        conf.name.substr(0, 64), kMaxNetworkNameLength));
  }
  conf.type = doc["type"].get<std::string>();
  const auto& supported = SupportedVersions();
  if (std::find(supported.begin(), supported.end(), conf.cni_version) == supported.end()) {
    return Error(ErrorCode::kIncompatibleVersion,
                 fmt::format("CNI version {} is not supported", conf.cni_version),
                 fmt::format("supported versions: {}", fmt::join(supported, ", ")));
  }
  std::optional<std::string> problem;
  if ((problem = StringField(doc, "datastore", conf.datastore, "")) ||
      (problem = StringField(doc, "nodename", conf.nodename, "")) ||
      (problem = StringField(doc, "orchestrator", conf.orchestrator, "")) ||
      (problem = StringField(doc, "namespace", conf.namespace_name, "")) ||
      (problem = StringField(doc, "agent_state_dir", conf.agent_state_dir, ""))) {
    return invalid(*problem);
  }
  if (doc.contains("mtu") && !doc["mtu"].is_null()) {
    if (!doc["mtu"].is_number_integer() || doc["mtu"].get<int64_t>() < 0 ||
        doc["mtu"].get<int64_t>() > 65535 ||
        (doc["mtu"].get<int64_t>() > 0 && doc["mtu"].get<int64_t>() < 576)) {
      return invalid("mtu must be an integer between 576 and 65535 (0 = default)");
    }
    conf.mtu = static_cast<int>(doc["mtu"].get<int64_t>());
  }
  if (doc.contains("wait_for_agent_seconds") && !doc["wait_for_agent_seconds"].is_null()) {
    if (!doc["wait_for_agent_seconds"].is_number() ||
        doc["wait_for_agent_seconds"].get<double>() < 0) {
      return invalid("wait_for_agent_seconds must be a number >= 0");
    }
    conf.wait_for_agent_seconds = doc["wait_for_agent_seconds"].get<double>();
  }
  if (doc.contains("labels") && (problem = LabelMap(doc["labels"], conf.labels, "labels"))) {
    return invalid(*problem);
  }
  if (doc.contains("profiles") &&
      (problem = StringList(doc["profiles"], conf.profiles, "profiles"))) {
    return invalid(*problem);
  }
  if (doc.contains("ipam") && !doc["ipam"].is_null()) {
    const json& ipam = doc["ipam"];
    if (!ipam.is_object()) return invalid("ipam must be an object");
    std::string type = ipam.value("type", "");
    if (!type.empty() && type != "tabby" && type != "tabby-ipam") {
      return Error(ErrorCode::kUnsupportedField,
                   fmt::format("unsupported field ipam.type \"{}\"", type),
                   "tabby allocates workload addresses from its IP pools itself; omit ipam.type "
                   "or set it to \"tabby\"");
    }
    for (auto [key, target] : {std::pair{"assign_ipv4", &conf.assign_ipv4},
                               std::pair{"assign_ipv6", &conf.assign_ipv6}}) {
      if (!ipam.contains(key) || ipam[key].is_null()) continue;
      if (ipam[key].is_boolean()) {
        *target = ipam[key].get<bool>();
      } else if (ipam[key].is_string() &&
                 (ipam[key] == "true" || ipam[key] == "false")) {  // Calico writes strings
        *target = ipam[key] == "true";
      } else {
        return invalid(fmt::format("ipam.{} must be true or false", key));
      }
    }
    if (ipam.contains("ipv4_pools") &&
        (problem = StringList(ipam["ipv4_pools"], conf.ipv4_pools, "ipam.ipv4_pools"))) {
      return invalid(*problem);
    }
    if (ipam.contains("ipv6_pools") &&
        (problem = StringList(ipam["ipv6_pools"], conf.ipv6_pools, "ipam.ipv6_pools"))) {
      return invalid(*problem);
    }
    if (!conf.assign_ipv4 && !conf.assign_ipv6) {
      return invalid("ipam assigns no address: set assign_ipv4 or assign_ipv6");
    }
  }
  if (doc.contains("args") && doc["args"].is_object()) {
    const json& args = doc["args"];
    if (args.contains("cni") && args["cni"].is_object() && args["cni"].contains("labels")) {
      const json& list = args["cni"]["labels"];
      if (!list.is_array()) return invalid("args.cni.labels must be a list of {key, value}");
      for (const auto& item : list) {
        if (!item.is_object() || !item.contains("key") || !item["key"].is_string() ||
            !item.contains("value") || !item["value"].is_string()) {
          return invalid("args.cni.labels must be a list of {key, value}");
        }
        conf.labels[item["key"].get<std::string>()] = item["value"].get<std::string>();
      }
    }
    if (args.contains("tabby") && args["tabby"].is_object()) {
      const json& tabby = args["tabby"];
      if ((tabby.contains("labels") &&
           (problem = LabelMap(tabby["labels"], conf.labels, "args.tabby.labels"))) ||
          (tabby.contains("profiles") &&
           (problem = StringList(tabby["profiles"], conf.profiles, "args.tabby.profiles"))) ||
          (tabby.contains("ports") &&
           (problem = PortList(tabby["ports"], conf.ports, "args.tabby.ports")))) {
        return invalid(*problem);
      }
    }
  }
  if (doc.contains("prevResult") && doc["prevResult"].is_object()) {
    conf.prev_result = doc["prevResult"];
  }
  if (doc.contains("cni.dev/valid-attachments")) {
    const json& list = doc["cni.dev/valid-attachments"];
    if (!list.is_array()) return invalid("cni.dev/valid-attachments must be a list");
    conf.valid_attachments.emplace();
    for (const auto& item : list) {
      if (!item.is_object() || !item.contains("containerID") || !item["containerID"].is_string()) {
        return invalid("cni.dev/valid-attachments items need a containerID");
      }
      conf.valid_attachments->push_back(
          {item["containerID"].get<std::string>(), item.value("ifname", "")});
    }
  }
  if (conf.labels.size() > kMaxLabels) {
    return invalid(
        fmt::format("{} labels given; at most {} are allowed", conf.labels.size(), kMaxLabels));
  }
  for (const auto& [key, value] : conf.labels) {
    if (auto problem_key = model::CheckLabelKey(key)) {
      return invalid(fmt::format("label key \"{}\": {}", key, *problem_key));
    }
    if (auto problem_value = model::CheckLabelValue(value)) {
      return invalid(fmt::format("label {}=\"{}\": {}", key, value, *problem_value));
    }
  }
  return std::nullopt;
}

std::map<std::string, std::string> ParseArgs(const std::string& text) {
  std::map<std::string, std::string> args;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find(';', start);
    if (end == std::string::npos) end = text.size();
    std::string pair = text.substr(start, end - start);
    size_t eq = pair.find('=');
    if (eq != std::string::npos) args[pair.substr(0, eq)] = pair.substr(eq + 1);
    start = end + 1;
  }
  return args;
}

std::vector<std::string> SplitComma(const std::string& text) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= text.size()) {
    size_t end = text.find(',', start);
    if (end == std::string::npos) end = text.size();
    if (end > start) out.push_back(text.substr(start, end - start));
    start = end + 1;
  }
  return out;
}

}  // namespace

const std::vector<std::string>& SupportedVersions() {
  static const std::vector<std::string> kVersions = {"0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"};
  return kVersions;
}

ParseResult ParseInvocation(const std::function<std::optional<std::string>(const char*)>& env,
                            const std::string& stdin_text) {
  ParseResult result;
  auto fail = [&](CniError error) {
    result.error = std::move(error);
    return result;
  };
  Invocation inv;
  std::string command = env("CNI_COMMAND").value_or("");
  static const std::map<std::string, Command> kCommands = {
      {"ADD", Command::kAdd},       {"DEL", Command::kDel}, {"CHECK", Command::kCheck},
      {"STATUS", Command::kStatus}, {"GC", Command::kGc},   {"VERSION", Command::kVersion}};
  auto found = kCommands.find(command);
  if (found == kCommands.end()) {
    return fail(Error(ErrorCode::kInvalidEnvironment,
                      command.empty() ? "CNI_COMMAND is not set"
                                      : fmt::format("unknown CNI_COMMAND \"{}\"", command),
                      "expected ADD, DEL, CHECK, STATUS, GC or VERSION"));
  }
  inv.command = found->second;
  if (inv.command == Command::kVersion) {
    result.invocation = std::move(inv);
    return result;
  }
  // Decode the configuration first, so errors are formatted in the caller's version.
  if (stdin_text.find_first_not_of(" \t\r\n") == std::string::npos) {
    return fail(Error(ErrorCode::kDecodeFailure, "no network configuration on stdin"));
  }
  if (stdin_text.size() > kMaxConfigBytes) {
    return fail(Error(ErrorCode::kInvalidConfig,
                      fmt::format("network configuration of {} bytes; at most {} are allowed",
                                  stdin_text.size(), kMaxConfigBytes)));
  }
  json doc = json::parse(stdin_text, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) {
    // Point at the problem: parse again with exceptions for the position.
    std::string details;
    try {
      json ignored = json::parse(stdin_text);
      (void)ignored;
    } catch (const json::exception& e) {  // parse_error, or out_of_range for huge numbers
      details = e.what();
    }
    return fail(
        Error(ErrorCode::kDecodeFailure, "network configuration is not valid JSON", details));
  }
  if (doc.is_object() && doc.contains("cniVersion") && doc["cniVersion"].is_string()) {
    result.cni_version = doc["cniVersion"].get<std::string>();
  }
  if (auto error = ParseConfig(doc, inv.config)) return fail(std::move(*error));

  bool needs_container = inv.command == Command::kAdd || inv.command == Command::kDel ||
                         inv.command == Command::kCheck;
  if (needs_container) {
    inv.container_id = env("CNI_CONTAINERID").value_or("");
    inv.netns = env("CNI_NETNS").value_or("");
    inv.ifname = env("CNI_IFNAME").value_or("");
    if (inv.container_id.empty()) {
      return fail(Error(ErrorCode::kInvalidEnvironment, "CNI_CONTAINERID is not set"));
    }
    if (!IsCniIdentifier(inv.container_id, kMaxContainerIdLength)) {
      return fail(Error(ErrorCode::kInvalidEnvironment,
                        fmt::format("CNI_CONTAINERID \"{}\" is invalid: 1-{} alphanumerics, "
                                    "'_', '.' and '-', starting with an alphanumeric (the CNI "
                                    "specification's rule)",
                                    inv.container_id.substr(0, 64), kMaxContainerIdLength)));
    }
    if (inv.ifname.empty()) {
      return fail(Error(ErrorCode::kInvalidEnvironment, "CNI_IFNAME is not set"));
    }
    if (inv.ifname.size() > 15 || inv.ifname.find('/') != std::string::npos) {
      return fail(
          Error(ErrorCode::kInvalidEnvironment,
                fmt::format("CNI_IFNAME \"{}\" is not a valid interface name", inv.ifname)));
    }
    if (inv.command != Command::kDel && inv.netns.empty()) {
      return fail(Error(ErrorCode::kInvalidEnvironment, "CNI_NETNS is not set"));
    }
  }
  if (inv.command == Command::kCheck) {
    std::vector<int> v = VersionParts(inv.config.cni_version);
    if (v < std::vector<int>{0, 4, 0}) {
      return fail(Error(
          ErrorCode::kIncompatibleVersion,
          fmt::format("CHECK needs CNI version 0.4.0 or later, not {}", inv.config.cni_version)));
    }
  }
  std::string args = env("CNI_ARGS").value_or("");
  if (args.size() > kMaxCniArgsBytes) {
    return fail(Error(ErrorCode::kInvalidEnvironment,
                      fmt::format("CNI_ARGS of {} bytes; at most {} are allowed", args.size(),
                                  kMaxCniArgsBytes)));
  }
  inv.args = ParseArgs(args);
  result.invocation = std::move(inv);
  return result;
}

std::optional<CniError> ResolveIdentity(const Invocation& invocation, WorkloadIdentity& out) {
  const NetConf& conf = invocation.config;
  auto arg = [&](const char* key) -> std::string {
    auto it = invocation.args.find(key);
    return it == invocation.args.end() ? "" : it->second;
  };
  out.namespace_name = !conf.namespace_name.empty()        ? conf.namespace_name
                       : !arg("K8S_POD_NAMESPACE").empty() ? arg("K8S_POD_NAMESPACE")
                                                           : "default";
  out.workload = !arg("K8S_POD_NAME").empty() ? arg("K8S_POD_NAME") : invocation.container_id;
  out.labels = conf.labels;
  out.profiles = conf.profiles;
  out.ports = conf.ports;
  auto invalid_arg = [](std::string message) {
    return Error(ErrorCode::kInvalidEnvironment, std::move(message));
  };
  for (const auto& item : SplitComma(arg("TABBY_LABELS"))) {
    size_t eq = item.find('=');
    if (eq == std::string::npos) {
      return invalid_arg(fmt::format("CNI_ARGS TABBY_LABELS: \"{}\" is not key=value", item));
    }
    std::string key = item.substr(0, eq), value = item.substr(eq + 1);
    if (auto problem = model::CheckLabelKey(key)) {
      return invalid_arg(fmt::format("CNI_ARGS TABBY_LABELS: label key \"{}\": {}", key, *problem));
    }
    if (auto problem = model::CheckLabelValue(value)) {
      return invalid_arg(fmt::format("CNI_ARGS TABBY_LABELS: value of {}: {}", key, *problem));
    }
    out.labels[key] = value;
  }
  if (out.labels.size() > kMaxLabels) {
    return invalid_arg(
        fmt::format("{} labels given (configuration and CNI_ARGS); at most {} are "
                    "allowed",
                    out.labels.size(), kMaxLabels));
  }
  for (const auto& profile : SplitComma(arg("TABBY_PROFILES"))) out.profiles.push_back(profile);
  for (const auto& item : SplitComma(arg("TABBY_PORTS"))) {
    // name:PROTOCOL:port
    size_t a = item.find(':');
    size_t b = a == std::string::npos ? a : item.find(':', a + 1);
    int64_t number = 0;
    if (b != std::string::npos) {
      std::string digits = item.substr(b + 1);
      auto [ptr, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), number);
      if (ec != std::errc() || ptr != digits.data() + digits.size()) number = 0;
    }
    if (b == std::string::npos) {
      return invalid_arg(
          fmt::format("CNI_ARGS TABBY_PORTS: \"{}\" is not name:PROTOCOL:port", item));
    }
    if (auto problem = ParsePort(item.substr(0, a), item.substr(a + 1, b - a - 1), number,
                                 "CNI_ARGS TABBY_PORTS", out.ports)) {
      return invalid_arg(*problem);
    }
  }
  return std::nullopt;
}

}  // namespace tabby::cni
