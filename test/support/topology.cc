#include "support/topology.h"

#include <fmt/format.h>

#include "base/status_macros.h"

namespace tabby::test {

std::vector<std::string> Workload::networks() const {
  std::vector<std::string> out = {ipv4 + "/32"};
  if (ipv6) out.push_back(*ipv6 + "/128");
  return out;
}

absl::StatusOr<std::unique_ptr<Host>> Host::Create() {
  ASSIGN_OR_RETURN(ScopedNetns netns, ScopedNetns::Create());
  std::unique_ptr<Host> host(new Host(std::move(netns)));
  const ScopedNetns& ns = host->netns_;
  RETURN_IF_ERROR(ns.Sysctl("net.ipv4.ip_forward", "1"));
  RETURN_IF_ERROR(ns.Sysctl("net.ipv6.conf.all.forwarding", "1"));
  // A veth pair with both ends here stands in for the uplink (the kernel has no dummy driver).
  RETURN_IF_ERROR(
      ns.RunOk({"ip", "link", "add", "uplink0", "type", "veth", "peer", "name", "uplink1"}));
  RETURN_IF_ERROR(ns.RunOk({"ip", "link", "set", "uplink1", "up"}));
  RETURN_IF_ERROR(ns.RunOk({"ip", "link", "set", "uplink0", "up"}));
  RETURN_IF_ERROR(ns.RunOk({"ip", "route", "add", "default", "dev", "uplink0"}));
  // As the CNI plugin does: the gateway address routed to lo, so proxy ARP answers for it.
  RETURN_IF_ERROR(
      ns.RunOk({"ip", "route", "add", std::string(kWorkloadGateway4) + "/32", "dev", "lo"}));
  return host;
}

absl::StatusOr<const Workload*> Host::AddWorkload(const std::string& name, const std::string& ipv4,
                                                  std::optional<std::string> ipv6) {
  if (name.empty() || name.size() > 10) {
    return absl::InvalidArgumentError(
        fmt::format("workload name '{}' must have 1 to 10 characters", name));
  }
  if (workloads_.contains(name)) {
    return absl::AlreadyExistsError(fmt::format("workload {} exists", name));
  }
  ASSIGN_OR_RETURN(ScopedNetns netns, ScopedNetns::Create());
  auto workload = std::make_unique<Workload>(
      Workload{name, "tabby" + name, ipv4, std::move(ipv6), std::move(netns)});
  const ScopedNetns& host = netns_;
  const ScopedNetns& container = workload->netns;
  const std::string& veth = workload->interface_name;

  // The pair is created inside the host namespace with its peer directly in the workload's, so
  // its names never meet the names of other tests' interfaces.
  RETURN_IF_ERROR(host.RunOk({"ip", "link", "add", veth, "address", kHostVethMac, "type", "veth",
                              "peer", "name", "eth0", "netns", container.name()}));
  // No duplicate address detection, so addresses are usable at once.
  RETURN_IF_ERROR(host.Sysctl(fmt::format("net.ipv6.conf.{}.accept_dad", veth), "0"));
  RETURN_IF_ERROR(container.Sysctl("net.ipv6.conf.eth0.accept_dad", "0"));
  RETURN_IF_ERROR(host.Sysctl(fmt::format("net.ipv4.conf.{}.proxy_arp", veth), "1"));
  RETURN_IF_ERROR(host.Sysctl(fmt::format("net.ipv4.neigh.{}.proxy_delay", veth), "0"));
  RETURN_IF_ERROR(host.Sysctl(fmt::format("net.ipv4.conf.{}.forwarding", veth), "1"));
  RETURN_IF_ERROR(host.Sysctl(fmt::format("net.ipv6.conf.{}.forwarding", veth), "1"));
  RETURN_IF_ERROR(host.RunOk({"ip", "link", "set", veth, "up"}));
  RETURN_IF_ERROR(container.RunOk({"ip", "link", "set", "eth0", "up"}));

  RETURN_IF_ERROR(container.RunOk({"ip", "addr", "add", ipv4 + "/32", "dev", "eth0"}));
  RETURN_IF_ERROR(
      container.RunOk({"ip", "route", "add", kWorkloadGateway4, "dev", "eth0", "scope", "link"}));
  RETURN_IF_ERROR(
      container.RunOk({"ip", "route", "add", "default", "via", kWorkloadGateway4, "dev", "eth0"}));
  RETURN_IF_ERROR(host.RunOk({"ip", "route", "add", ipv4 + "/32", "dev", veth, "scope", "link"}));
  if (workload->ipv6) {
    const std::string& ipv6_address = *workload->ipv6;
    RETURN_IF_ERROR(container.RunOk(
        {"ip", "-6", "addr", "add", ipv6_address + "/128", "dev", "eth0", "nodad"}));
    RETURN_IF_ERROR(container.RunOk(
        {"ip", "-6", "route", "add", "default", "via", kHostVethLinkLocal, "dev", "eth0"}));
    RETURN_IF_ERROR(host.RunOk({"ip", "-6", "route", "add", ipv6_address + "/128", "dev", veth}));
  }
  const Workload* out = workload.get();
  workloads_.emplace(name, std::move(workload));
  return out;
}

}  // namespace tabby::test
