#include "model/kinds/bgp_configuration.h"

#include <fmt/format.h>

#include <array>
#include <tuple>

#include "model/check.h"
#include "model/internal.h"
#include "model/kind_registry.h"
#include "model/table_cells.h"
#include "model/yaml_json.h"

namespace tabby::model {
namespace {

using internal::Checker;
using internal::PathIndex;
using internal::PathKey;
using internal::Quote;

constexpr std::string_view kNodePrefix = "node.";

bool CheckBGPConfigurationName(Checker& c, const std::string& name) {
  if (!internal::CheckNameLength(c, name)) return false;
  if (name == "default") return true;
  if (name.starts_with(kNodePrefix) && internal::IsDnsSubdomain(name.substr(kNodePrefix.size()))) {
    return true;
  }
  return c.Fail(internal::kNamePath,
                fmt::format("invalid name {}: a BGPConfiguration is named \"default\" (the "
                            "cluster's) or \"node.<node name>\" (one node's)",
                            Quote(name)));
}

void DefaultBGPConfiguration(Resource& r) {
  BGPConfigurationSpec& s = r.bgp_configuration();
  for (auto* list :
       {&s.service_cluster_ips, &s.service_external_ips, &s.service_load_balancer_ips}) {
    for (ServiceCidr& prefix : *list) internal::CanonicalizeCidr(prefix.cidr, /*strict=*/false);
  }
  for (std::string_view canonical : {"Debug", "Info", "Warning", "Error", "Fatal"}) {
    if (internal::EqualsIgnoreCase(s.log_severity_screen, canonical)) {
      s.log_severity_screen = std::string(canonical);
    }
  }
  if (r.metadata.name != "default") return;
  if (s.log_severity_screen.empty()) s.log_severity_screen = "Info";
  if (!s.node_to_node_mesh_enabled) s.node_to_node_mesh_enabled = true;
  if (s.as_number == 0) s.as_number = kDefaultAsNumber;
}

bool CheckBGPConfiguration(Checker& c, const Resource& r) {
  const BGPConfigurationSpec& s = r.bgp_configuration();
  if (r.metadata.name != "default") {
    if (s.node_to_node_mesh_enabled) {
      return c.Fail("spec.nodeToNodeMeshEnabled",
                    "only the \"default\" BGPConfiguration turns the node-to-node mesh on or off");
    }
    if (s.as_number != 0) {
      return c.Fail("spec.asNumber",
                    "only the \"default\" BGPConfiguration sets the cluster's AS number (set a "
                    "node's own in its Node's spec.bgp.asNumber)");
    }
  }
  if (!CheckAsNumber(c, "spec.asNumber", s.as_number)) return false;
  if (!s.log_severity_screen.empty() && s.log_severity_screen != "Debug" &&
      s.log_severity_screen != "Info" && s.log_severity_screen != "Warning" &&
      s.log_severity_screen != "Error" && s.log_severity_screen != "Fatal") {
    return c.Fail("spec.logSeverityScreen",
                  fmt::format("invalid logSeverityScreen {}: use Debug, Info, Warning, Error or "
                              "Fatal",
                              Quote(s.log_severity_screen)));
  }
  for (const auto& [field, list] :
       {std::tuple{"serviceClusterIPs", &s.service_cluster_ips},
        std::tuple{"serviceExternalIPs", &s.service_external_ips},
        std::tuple{"serviceLoadBalancerIPs", &s.service_load_balancer_ips}}) {
    for (size_t i = 0; i < list->size(); ++i) {
      const std::string path = PathKey(PathIndex(PathKey("spec", field), i), "cidr");
      if (!CheckCidr(c, path, (*list)[i].cidr, /*strict=*/false)) return false;
    }
  }
  return true;
}

constexpr auto kBGPConfigurationColumns = std::to_array<Column>({
    {"LOGSEVERITY", Column::kAlways,
     [](const Resource& r) { return Cell(r.bgp_configuration().log_severity_screen); }},
    {"MESHENABLED", Column::kAlways,
     [](const Resource& r) -> std::string {
       const std::optional<bool>& mesh = r.bgp_configuration().node_to_node_mesh_enabled;
       return mesh ? (*mesh ? "true" : "false") : kNoneCell;
     }},
    {"ASNUMBER", Column::kAlways,
     [](const Resource& r) -> std::string {
       const int64_t as = r.bgp_configuration().as_number;
       return as != 0 ? fmt::format("{}", as) : kNoneCell;
     }},
});

}  // namespace

extern constexpr KindInfo kBGPConfigurationKind{
    .kind = Kind::kBGPConfiguration,
    .name = "BGPConfiguration",
    .aliases = {"bgpconfigurations", "bgpconfig", "bgpconfigs"},
    .wire_name = "BGPConfiguration",
    .empty_spec = EmptySpec<BGPConfigurationSpec>,
    .check_name = CheckBGPConfigurationName,
    .apply_defaults = DefaultBGPConfiguration,
    .check = CheckBGPConfiguration,
    .columns = kBGPConfigurationColumns,
};

}  // namespace tabby::model
