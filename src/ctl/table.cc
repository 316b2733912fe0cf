#include "ctl/table.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "model/kubernetes.h"

namespace tabby::ctl {
namespace {

using model::Kind;
using model::Resource;

constexpr char kNone[] = "<none>";

std::string Cell(std::string value) { return value.empty() ? kNone : value; }

std::string Join(const std::vector<std::string>& items) {
  return Cell(fmt::format("{}", fmt::join(items, ",")));
}

std::string LabelsText(const model::Labels& labels) {
  std::vector<std::string> items;
  for (const auto& [key, value] : labels) items.push_back(fmt::format("{}={}", key, value));
  return Join(items);
}

std::string BoolText(bool value) { return value ? "true" : "false"; }

std::string SelectorText(const std::string& selector) {
  return selector.empty() ? "all()" : selector;
}

std::string OrderText(const std::optional<double>& order) {
  if (!order) return kNone;
  if (std::trunc(*order) == *order && std::abs(*order) < 1e15) {
    return fmt::format("{}", static_cast<long long>(*order));
  }
  return fmt::format("{}", *order);
}

std::vector<std::string> Headers(Kind kind, bool wide) {
  switch (kind) {
    case Kind::kIPPool:
      if (wide) {
        return {"NAME",      "CIDR",     "SELECTOR",         "NAT",           "IPIPMODE",
                "VXLANMODE", "DISABLED", "DISABLEBGPEXPORT", "ASSIGNMENTMODE"};
      }
      return {"NAME", "CIDR", "SELECTOR"};
    case Kind::kNetworkPolicy:
    case Kind::kGlobalNetworkPolicy:
      if (wide) return {"NAME", "TIER", "ORDER", "SELECTOR", "TYPES"};
      return {"NAME", "TIER"};
    case Kind::kProfile:
      if (wide) return {"NAME", "LABELS"};
      return {"NAME"};
    case Kind::kWorkloadEndpoint:
      if (wide) {
        return {"NAME", "WORKLOAD", "NODE", "NETWORKS", "INTERFACE", "PROFILES", "LABELS"};
      }
      return {"NAME", "WORKLOAD", "NODE", "NETWORKS", "INTERFACE"};
    case Kind::kNode:
      if (wide) return {"NAME", "ASN", "IPV4", "IPV6"};
      return {"NAME"};
    case Kind::kClusterConfiguration:
      if (wide) {
        return {"NAME",       "DEFAULTENDPOINTPOLICY", "LOGPREFIX", "ENDPOINTTOHOST", "FAILSAFEIN",
                "FAILSAFEOUT"};
      }
      return {"NAME", "DEFAULTENDPOINTPOLICY"};
    case Kind::kHostEndpoint:
      if (wide) return {"NAME", "NODE", "INTERFACE", "EXPECTEDIPS", "PROFILES", "LABELS"};
      return {"NAME", "NODE", "INTERFACE", "EXPECTEDIPS"};
    case Kind::kNamespace:
      if (wide) return {"NAME", "LABELS"};
      return {"NAME"};
    case Kind::kKubernetesNetworkPolicy:
      if (wide) return {"NAME", "PODSELECTOR", "TYPES"};
      return {"NAME", "TYPES"};
  }
  return {"NAME"};
}

std::vector<std::string> Row(const Resource& r, bool wide) {
  const std::string& name = r.metadata.name;
  switch (r.kind) {
    case Kind::kIPPool: {
      const model::IPPoolSpec& s = r.ip_pool();
      std::vector<std::string> row = {name, Cell(s.cidr), SelectorText(s.node_selector)};
      if (wide) {
        row.insert(row.end(),
                   {BoolText(s.nat_outgoing), Cell(s.ipip_mode), Cell(s.vxlan_mode),
                    BoolText(s.disabled), BoolText(s.disable_bgp_export), Cell(s.assignment_mode)});
      }
      return row;
    }
    case Kind::kNetworkPolicy:
    case Kind::kGlobalNetworkPolicy: {
      const model::PolicySpec& s = r.policy();
      std::vector<std::string> row = {name, Cell(s.tier)};
      if (wide) {
        std::vector<std::string> types;
        for (model::PolicyType type : s.types) {
          types.emplace_back(model::PolicyTypeName(type));
        }
        row.insert(row.end(), {OrderText(s.order), SelectorText(s.selector), Join(types)});
      }
      return row;
    }
    case Kind::kProfile: {
      std::vector<std::string> row = {name};
      if (wide) row.push_back(LabelsText(r.profile().labels_to_apply));
      return row;
    }
    case Kind::kWorkloadEndpoint: {
      const model::WorkloadEndpointSpec& s = r.workload_endpoint();
      std::vector<std::string> row = {name, Cell(s.workload), Cell(s.node), Join(s.ip_networks),
                                      Cell(s.interface_name)};
      if (wide) row.insert(row.end(), {Join(s.profiles), LabelsText(r.metadata.labels)});
      return row;
    }
    case Kind::kNode: {
      std::vector<std::string> row = {name};
      if (wide) {
        const std::optional<model::NodeBgpSpec>& bgp = r.node().bgp;
        row.push_back(bgp && bgp->as_number != 0 ? fmt::format("{}", bgp->as_number) : kNone);
        row.push_back(Cell(bgp ? bgp->ipv4_address : ""));
        row.push_back(Cell(bgp ? bgp->ipv6_address : ""));
      }
      return row;
    }
    case Kind::kClusterConfiguration: {
      const model::ClusterConfigurationSpec& s = r.cluster_configuration();
      std::vector<std::string> row = {name, Cell(s.default_endpoint_policy)};
      if (wide) {
        auto ports = [](const std::optional<std::vector<model::ProtoPort>>& list) {
          std::vector<std::string> items;
          for (const auto& p : list.value_or(std::vector<model::ProtoPort>{})) {
            items.push_back(fmt::format(
                "{}:{}",
                p.protocol.name.empty() ? std::to_string(p.protocol.number) : p.protocol.name,
                p.port));
          }
          return Join(items);
        };
        row.insert(row.end(),
                   {Cell(s.log_prefix), Cell(s.default_endpoint_to_host_action),
                    ports(s.failsafe_inbound_host_ports), ports(s.failsafe_outbound_host_ports)});
      }
      return row;
    }
    case Kind::kHostEndpoint: {
      const model::HostEndpointSpec& s = r.host_endpoint();
      std::vector<std::string> row = {name, Cell(s.node), Cell(s.interface_name),
                                      Join(s.expected_ips)};
      if (wide) row.insert(row.end(), {Join(s.profiles), LabelsText(r.metadata.labels)});
      return row;
    }
    case Kind::kNamespace: {
      std::vector<std::string> row = {name};
      if (wide) row.push_back(LabelsText(r.metadata.labels));
      return row;
    }
    case Kind::kKubernetesNetworkPolicy: {
      const model::KubernetesNetworkPolicySpec& s = r.kubernetes_network_policy();
      std::vector<std::string> types;
      for (model::PolicyType type : s.policy_types) types.emplace_back(model::PolicyTypeName(type));
      std::vector<std::string> row = {name};
      if (wide) row.push_back(model::LabelSelectorText(s.pod_selector));
      row.push_back(Join(types));
      return row;
    }
  }
  return {name};
}

}  // namespace

Table MakeTable(Kind kind, const std::vector<Resource>& resources, bool wide, bool with_namespace) {
  bool namespace_column = with_namespace && model::IsNamespaced(kind);
  Table table;
  table.headers = Headers(kind, wide);
  if (namespace_column) table.headers.insert(table.headers.begin(), "NAMESPACE");
  for (const Resource& resource : resources) {
    std::vector<std::string> row = Row(resource, wide);
    if (namespace_column) row.insert(row.begin(), Cell(resource.metadata.namespace_name));
    table.rows.push_back(std::move(row));
  }
  return table;
}

std::string RenderTable(const Table& table) {
  std::vector<size_t> widths(table.headers.size(), 0);
  auto measure = [&widths](const std::vector<std::string>& row) {
    for (size_t i = 0; i < row.size() && i < widths.size(); ++i) {
      widths[i] = std::max(widths[i], row[i].size());
    }
  };
  measure(table.headers);
  for (const auto& row : table.rows) measure(row);
  std::string out;
  auto render = [&](const std::vector<std::string>& row) {
    std::string line;
    for (size_t i = 0; i < row.size() && i < widths.size(); ++i) {
      if (i + 1 < row.size()) {
        line += fmt::format("{:<{}}", row[i], widths[i] + 3);
      } else {
        line += row[i];
      }
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    out += line;
    out += '\n';
  };
  render(table.headers);
  for (const auto& row : table.rows) render(row);
  return out;
}

}  // namespace tabby::ctl
