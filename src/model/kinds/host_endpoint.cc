#include "model/kinds/host_endpoint.h"

#include <fmt/format.h>

#include <array>

#include "model/check.h"
#include "model/kind_registry.h"
#include "model/table_cells.h"
#include "model/yaml_json.h"

namespace tabby::model {
namespace {

using internal::Checker;
using internal::IsInterfaceName;
using internal::PathIndex;
using internal::Quote;

void DefaultHostEndpoint(Resource& r) {
  for (std::string& address : r.host_endpoint().expected_ips) {
    internal::CanonicalizeAddress(address);
  }
}

bool CheckHostEndpoint(Checker& c, const Resource& r) {
  const HostEndpointSpec& s = r.host_endpoint();
  if (!CheckEndpointNode(c, s.node)) return false;
  if (s.interface_name.empty() && s.expected_ips.empty()) {
    return c.Fail("spec.interfaceName",
                  "required field is missing: a host endpoint names its interface "
                  "(interfaceName, or \"*\" for all of them) or its addresses (expectedIPs)");
  }
  if (!s.interface_name.empty() && s.interface_name != "*") {
    if (!IsInterfaceName(s.interface_name)) {
      return c.Fail("spec.interfaceName",
                    fmt::format("invalid interfaceName {}: 1-15 characters of alphanumerics, "
                                "'_', '.' and '-', or \"*\" for every interface",
                                Quote(s.interface_name)));
    }
    if (s.interface_name.starts_with(kWorkloadInterfacePrefix)) {
      return c.Fail("spec.interfaceName",
                    fmt::format("invalid interfaceName {}: interfaces named {}<suffix> are "
                                "workloads'; their policy is the workload endpoint's",
                                Quote(s.interface_name), kWorkloadInterfacePrefix));
    }
  }
  for (size_t i = 0; i < s.expected_ips.size(); ++i) {
    if (!CheckAddress(c, PathIndex("spec.expectedIPs", i), s.expected_ips[i], std::nullopt)) {
      return false;
    }
  }
  return CheckProfileNames(c, s.profiles);
}

constexpr auto kHostEndpointColumns = std::to_array<Column>({
    {"NODE", Column::kAlways, [](const Resource& r) { return Cell(r.host_endpoint().node); }},
    {"INTERFACE", Column::kAlways,
     [](const Resource& r) { return Cell(r.host_endpoint().interface_name); }},
    {"EXPECTEDIPS", Column::kAlways,
     [](const Resource& r) { return Join(r.host_endpoint().expected_ips); }},
    {"PROFILES", Column::kWideOnly,
     [](const Resource& r) { return Join(r.host_endpoint().profiles); }},
    {"LABELS", Column::kWideOnly, MetadataLabelsCell},
});

}  // namespace

extern constexpr KindInfo kHostEndpointKind{
    .kind = Kind::kHostEndpoint,
    .name = "HostEndpoint",
    .aliases = {"hostendpoints", "hep", "heps"},
    .wire_name = "HostEndpoint",
    .empty_spec = EmptySpec<HostEndpointSpec>,
    .apply_defaults = DefaultHostEndpoint,
    .check = CheckHostEndpoint,
    .columns = kHostEndpointColumns,
};

}  // namespace tabby::model
