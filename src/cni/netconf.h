// The plugin's input: the network configuration on stdin and the CNI_* environment, parsed and
// checked before anything is changed, so that bad input fails with the spec's error code and
// leaves nothing behind.
//
// Where a workload's identity and labels come from (later sources override earlier ones):
//   namespace    "namespace" in the config, else CNI_ARGS K8S_POD_NAMESPACE, else "default"
//   workload     CNI_ARGS K8S_POD_NAME, else the container id
//   labels       config "labels" (every workload of the network), then config
//                "args": {"cni": {"labels": [{"key": k, "value": v}]}} (the CNI convention),
//                then "args": {"tabby": {"labels": {k: v}}}, then CNI_ARGS TABBY_LABELS=k=v,k2=v2
//   profiles     config "profiles", then "args": {"tabby": {"profiles": [...]}}, then CNI_ARGS
//                TABBY_PROFILES=a,b
//   ports        "args": {"tabby": {"ports": [{"name", "protocol", "port"}]}}, or CNI_ARGS
//                TABBY_PORTS=http:TCP:8080,dns:UDP:53 (named ports for policy)
// All of them can be changed later with `tabbyctl label` / `tabbyctl apply`.
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "cni/cni_error.h"
#include "model/resources.h"

namespace tabby::cni {

inline constexpr char kSpecVersion[] = "1.1.0";

// Limits on what a runtime hands the plugin, so that a runaway or hostile caller gets a clear
// error instead of a huge endpoint (docs/cni.md). Names and ids follow the CNI specification's
// character rules; the lengths are ours.
inline constexpr size_t kMaxConfigBytes = 1 << 20;    // stdin
inline constexpr size_t kMaxCniArgsBytes = 64 << 10;  // CNI_ARGS
inline constexpr size_t kMaxNetworkNameLength = 128;
inline constexpr size_t kMaxContainerIdLength = 256;
inline constexpr size_t kMaxLabels = 256;  // from every source together
const std::vector<std::string>& SupportedVersions();

enum class Command { kAdd, kDel, kCheck, kStatus, kGc, kVersion };

struct Attachment {
  std::string container_id;
  std::string ifname;
  friend auto operator<=>(const Attachment&, const Attachment&) = default;
};

struct NetConf {
  std::string cni_version;
  std::string name;
  std::string type;
  // tabby's own fields.
  std::string datastore;  // URL; empty = $TABBY_DATASTORE or the default
  std::string nodename;   // empty = $TABBY_NODE or the hostname
  int mtu = 0;            // 0 = 1500
  std::string orchestrator = "cni";
  std::string namespace_name;
  model::Labels labels;
  std::vector<std::string> profiles;
  std::vector<model::EndpointPort> ports;
  bool assign_ipv4 = true;
  bool assign_ipv6 = false;
  std::vector<std::string> ipv4_pools;
  std::vector<std::string> ipv6_pools;
  // Wait (up to this long) for the agent to program the workload's policy before returning
  // from ADD, so that the workload starts with its firewall in place. 0 = don't wait.
  double wait_for_agent_seconds = 0;
  std::string agent_state_dir = "/run/tabby";
  // Runtime-provided.
  std::optional<nlohmann::json> prev_result;
  std::optional<std::vector<Attachment>> valid_attachments;  // GC only
};

struct Invocation {
  Command command = Command::kVersion;
  std::string container_id;
  std::string netns;
  std::string ifname;
  std::map<std::string, std::string> args;  // CNI_ARGS
  NetConf config;
};

// Parses CNI_COMMAND and the variables that command needs, and (except for VERSION) the
// configuration from `stdin_text`. `env` looks up environment variables.
struct ParseResult {
  std::optional<Invocation> invocation;
  std::optional<CniError> error;
  std::string cni_version;  // for formatting the error, when known
};
ParseResult ParseInvocation(const std::function<std::optional<std::string>(const char*)>& env,
                            const std::string& stdin_text);

// Applies CNI_ARGS overrides to labels/profiles/ports and returns the workload's identity.
struct WorkloadIdentity {
  std::string namespace_name;
  std::string workload;
  model::Labels labels;
  std::vector<std::string> profiles;
  std::vector<model::EndpointPort> ports;
};
std::optional<CniError> ResolveIdentity(const Invocation& invocation, WorkloadIdentity& out);

}  // namespace tabby::cni
