#include "calc/analysis.h"

#include <fmt/format.h>

#include <algorithm>
#include <numeric>

#include "base/hash.h"

namespace tabby::calc {
namespace {

std::string DisplayOf(const model::Resource& endpoint) {
  const auto& spec = endpoint.workload_endpoint();
  const std::string& name = !spec.pod.empty()        ? spec.pod
                            : !spec.workload.empty() ? spec.workload
                                                     : endpoint.metadata.name;
  return fmt::format("{}/{}", endpoint.metadata.namespace_name, name);
}

std::optional<IpAddress> AddressOfFamily(const Workload& workload, bool v4) {
  for (const auto& network : workload.addresses) {
    if (network.is_v4() == v4) return network.address();
  }
  return std::nullopt;
}

}  // namespace

PolicyAnalysis::PolicyAnalysis(const std::vector<model::Resource>& resources)
    : resources_(resources) {
  struct Entry {
    Workload workload;
    std::string interface;
  };
  std::vector<Entry> entries;
  for (auto& resource : resources_) {
    if (resource.kind != model::Kind::kWorkloadEndpoint) continue;
    auto& spec = resource.workload_endpoint();
    Entry entry;
    entry.workload.key =
        fmt::format("{}/{}", resource.metadata.namespace_name, resource.metadata.name);
    entry.workload.display = DisplayOf(resource);
    entry.workload.namespace_name = resource.metadata.namespace_name;
    entry.workload.node = spec.node;
    for (const auto& text : spec.ip_networks) {
      auto network = IpNetwork::Parse(text);
      if (network.ok()) entry.workload.addresses.push_back(*network);
    }
    // Endpoints written by hand may have no interface; the calculator keys programs by one.
    if (spec.interface_name.empty()) {
      spec.interface_name = "an" + StableHashHex(entry.workload.key, 13);
    }
    entry.interface = spec.interface_name;
    entries.push_back(std::move(entry));
  }
  std::sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) {
    return std::tie(a.workload.display, a.workload.key) <
           std::tie(b.workload.display, b.workload.key);
  });
  for (auto& entry : entries) {
    workloads_.push_back(std::move(entry.workload));
    interfaces_.push_back(std::move(entry.interface));
  }
}

absl::StatusOr<Party> PolicyAnalysis::Resolve(const std::string& text) const {
  if (auto address = IpAddress::Parse(text); address.ok()) {
    for (size_t i = 0; i < workloads_.size(); ++i) {
      for (const auto& network : workloads_[i].addresses) {
        if (network.address() == *address) return Party{i, *address, workloads_[i].display};
      }
    }
    return Party{std::nullopt, *address, address->ToString()};
  }
  std::vector<size_t> matches;
  for (size_t i = 0; i < workloads_.size(); ++i) {
    const Workload& w = workloads_[i];
    if (w.display == text || w.key == text) return PartyOf(i);
    std::string_view short_name = std::string_view(w.display).substr(w.namespace_name.size() + 1);
    std::string_view endpoint_name = std::string_view(w.key).substr(w.namespace_name.size() + 1);
    if (short_name == text || endpoint_name == text) matches.push_back(i);
  }
  if (matches.size() == 1) return PartyOf(matches[0]);
  if (matches.size() > 1) {
    std::vector<std::string> names;
    for (size_t i : matches) names.push_back(workloads_[i].display);
    return absl::InvalidArgumentError(
        fmt::format("\"{}\" names {} workloads ({}): say which, as namespace/name", text,
                    matches.size(), fmt::join(names, ", ")));
  }
  return absl::NotFoundError(fmt::format(
      "no workload is called \"{}\" (give namespace/name, an endpoint name or an address)", text));
}

Party PolicyAnalysis::PartyOf(size_t workload) const {
  return Party{workload, std::nullopt, workloads_[workload].display};
}

const DesiredState& PolicyAnalysis::StateOf(const std::string& node) {
  auto& calculator = calculators_[node];
  if (!calculator) {
    calculator = std::make_unique<Calculator>(node);
    for (const auto& resource : resources_) calculator->Upsert(resource);
    calculator->Flush();
  }
  return calculator->state();
}

const EndpointProgram* PolicyAnalysis::ProgramOf(size_t workload) {
  const DesiredState& state = StateOf(workloads_[workload].node);
  auto it = state.endpoints.find(interfaces_[workload]);
  return it == state.endpoints.end() ? nullptr : &it->second;
}

Explanation PolicyAnalysis::Explain(const Party& source, const Party& destination, uint8_t protocol,
                                    uint16_t port) {
  Explanation out;
  out.source = source;
  out.destination = destination;
  // The packet: the first family both ends have an address of.
  auto address_of = [&](const Party& party, bool v4) -> std::optional<IpAddress> {
    if (party.address) {
      if (party.address->is_v4() == v4) return party.address;
      return std::nullopt;
    }
    return AddressOfFamily(workloads_[*party.workload], v4);
  };
  bool formed = false;
  for (bool v4 : {true, false}) {
    auto from = address_of(source, v4), to = address_of(destination, v4);
    if (!from || !to) continue;
    out.packet.source = *from;
    out.packet.destination = *to;
    formed = true;
    break;
  }
  if (!formed) {
    out.problem = fmt::format("{} and {} have no address family in common", source.display,
                              destination.display);
    return out;
  }
  out.packet.protocol = protocol;
  if (protocol == 1 || protocol == 58) {
    out.packet.icmp_type = protocol == 1 ? 8 : 128;  // echo request
    out.packet.icmp_code = 0;
  } else {
    out.packet.destination_port = port;
  }
  if (source.workload && destination.workload && *source.workload == *destination.workload) {
    out.same_workload = true;
    out.allowed = true;
    return out;
  }
  // Egress at the source's host, ingress at the destination's; an address that is no
  // workload's has no side of its own.
  auto judge =
      [&](const Party& party,
          DirectionProgram EndpointProgram::*direction) -> std::optional<DirectionVerdict> {
    if (!party.workload) return std::nullopt;
    const EndpointProgram* program = ProgramOf(*party.workload);
    if (program == nullptr) {
      return DirectionVerdict{
          false, "denied: the endpoint has no program, so its interface passes nothing", {}};
    }
    return EvaluateDirection(StateOf(workloads_[*party.workload].node), program->*direction,
                             out.packet);
  };
  out.egress = judge(source, &EndpointProgram::egress);
  out.ingress = judge(destination, &EndpointProgram::ingress);
  out.allowed = (!out.egress || out.egress->allowed) && (!out.ingress || out.ingress->allowed);
  return out;
}

}  // namespace tabby::calc
