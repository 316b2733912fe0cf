#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "base/status_macros.h"
#include "cni/workload_network.h"
#include "dataplane/netlink.h"

namespace tabby::cni {
namespace {

using dataplane::Netlink;
using dataplane::NetnsGuard;
using dataplane::Route;
using dataplane::WriteSysctl;

// The host end's alias names the container that created it, so that DEL can tell its own
// interface from one a newer container of the same workload (same name) owns, without a
// datastore read, and can start removing it at once.
std::string OwnerAlias(const std::string& owner) { return "tabby container " + owner; }

bool HasV6(const WorkloadWiring& wiring) {
  for (const auto& a : wiring.addresses) {
    if (!a.is_v4()) return true;
  }
  return false;
}

absl::Status ConfigureHostSide(Netlink& host, const WorkloadWiring& wiring) {
  const std::string& dev = wiring.host_ifname;
  // Proxy ARP answers the workload's ARP for 169.254.1.1 (or anything) with our MAC, at once.
  RETURN_IF_ERROR(WriteSysctl(fmt::format("net/ipv4/conf/{}/proxy_arp", dev), "1"));
  RETURN_IF_ERROR(WriteSysctl(fmt::format("net/ipv4/neigh/{}/proxy_delay", dev), "0"));
  RETURN_IF_ERROR(WriteSysctl(fmt::format("net/ipv4/conf/{}/forwarding", dev), "1"));
  RETURN_IF_ERROR(WriteSysctl("net/ipv4/ip_forward", "1"));
  if (HasV6(wiring)) {
    RETURN_IF_ERROR(WriteSysctl(fmt::format("net/ipv6/conf/{}/disable_ipv6", dev), "0"));
    // No DAD, so the link-local gateway address is usable immediately.
    RETURN_IF_ERROR(WriteSysctl(fmt::format("net/ipv6/conf/{}/accept_dad", dev), "0"));
    RETURN_IF_ERROR(WriteSysctl(fmt::format("net/ipv6/conf/{}/accept_ra", dev), "0"));
    RETURN_IF_ERROR(WriteSysctl(fmt::format("net/ipv6/conf/{}/forwarding", dev), "1"));
    RETURN_IF_ERROR(WriteSysctl("net/ipv6/conf/all/forwarding", "1"));
  } else {
    // An IPv4-only workload needs nothing IPv6 on the host side; without it the interface
    // skips link-local addressing and duplicate address detection.
    RETURN_IF_ERROR(WriteSysctl(fmt::format("net/ipv6/conf/{}/disable_ipv6", dev), "1"));
  }
  // The gateway's route to lo lets proxy ARP answer for it (see GatewayOnLoopback).
  RETURN_IF_ERROR(host.SetLinkUp("lo"));  // a route via lo needs lo up (always so on real hosts)
  RETURN_IF_ERROR(host.ReplaceRoute(dataplane::GatewayOnLoopback()));
  return host.SetLinkUp(dev);
}

absl::StatusOr<std::string> ConfigureContainerSide(const WorkloadWiring& wiring) {
  ASSIGN_OR_RETURN(auto guard, NetnsGuard::Enter(wiring.netns_path));
  ASSIGN_OR_RETURN(auto netlink, Netlink::Open());
  const std::string& dev = wiring.container_ifname;
  if (HasV6(wiring)) {
    RETURN_IF_ERROR(WriteSysctl(fmt::format("net/ipv6/conf/{}/disable_ipv6", dev), "0"));
    RETURN_IF_ERROR(WriteSysctl(fmt::format("net/ipv6/conf/{}/accept_dad", dev), "0"));
  }
  RETURN_IF_ERROR(netlink->SetLinkUp(dev));
  for (const auto& address : wiring.addresses) {
    RETURN_IF_ERROR(netlink->AddAddress(dev, address));
  }
  bool has4 = false, has6 = false;
  for (const auto& a : wiring.addresses) (a.is_v4() ? has4 : has6) = true;
  if (has4) {
    IpAddress gateway = *IpAddress::Parse(kIpv4Gateway);
    RETURN_IF_ERROR(netlink->ReplaceRoute(Route{IpNetwork::Host(gateway), dev, std::nullopt,
                                                /*link_scope=*/true}));
    RETURN_IF_ERROR(
        netlink->ReplaceRoute(Route{*IpNetwork::Parse("0.0.0.0/0"), dev, gateway, false}));
  }
  if (has6) {
    RETURN_IF_ERROR(netlink->ReplaceRoute(
        Route{*IpNetwork::Parse("::/0"), dev, *IpAddress::Parse(kIpv6Gateway), false}));
  }
  ASSIGN_OR_RETURN(auto link, netlink->GetLink(dev));
  return link.mac;
}

class LinuxWorkloadNetwork final : public WorkloadNetwork {
 public:
  absl::StatusOr<WiredWorkload> Setup(const WorkloadWiring& wiring) override {
    ASSIGN_OR_RETURN(auto host, Netlink::Open());
    // A leftover interface of the same name (an earlier sandbox of the same workload whose DEL
    // never came) is replaced.
    absl::Status removed = host->DeleteLink(wiring.host_ifname);
    if (!removed.ok() && removed.code() != absl::StatusCode::kNotFound) return removed;

    int netns_fd = open(wiring.netns_path.c_str(), O_RDONLY | O_CLOEXEC);
    if (netns_fd < 0) {
      return absl::NotFoundError(fmt::format("cannot open network namespace {}: {}",
                                             wiring.netns_path, std::strerror(errno)));
    }
    absl::Status created = host->CreateVeth(wiring.host_ifname, wiring.container_ifname, netns_fd,
                                            wiring.mtu, kHostVethMac, OwnerAlias(wiring.owner));
    close(netns_fd);
    RETURN_IF_ERROR(created);

    auto wired = Configure(*host, wiring);
    if (!wired.ok()) (void)host->DeleteLink(wiring.host_ifname);  // leave nothing behind
    return wired;
  }

  absl::Status Teardown(const std::string& host_ifname, const std::string& owner) override {
    ASSIGN_OR_RETURN(auto host, Netlink::Open());
    auto link = host->GetLink(host_ifname);
    if (!link.ok()) {
      return link.status().code() == absl::StatusCode::kNotFound ? absl::OkStatus() : link.status();
    }
    if (!link->alias.empty() && link->alias != OwnerAlias(owner)) return absl::OkStatus();
    // By index, so that an interface a concurrent ADD just put in its place survives.
    absl::Status removed = host->DeleteLinkIndex(link->index);
    if (removed.code() == absl::StatusCode::kNotFound) return absl::OkStatus();
    return removed;
  }

  absl::Status Check(const WorkloadWiring& wiring) override {
    ASSIGN_OR_RETURN(auto host, Netlink::Open());
    auto link = host->GetLink(wiring.host_ifname);
    if (!link.ok()) {
      return absl::FailedPreconditionError(
          fmt::format("host interface {} is missing", wiring.host_ifname));
    }
    if (!link->up) {
      return absl::FailedPreconditionError(
          fmt::format("host interface {} is down", wiring.host_ifname));
    }
    ASSIGN_OR_RETURN(auto routes, host->ListRoutes());
    for (const auto& address : wiring.addresses) {
      bool routed = false;
      for (const auto& r : routes) {
        routed = routed || (r.destination == address && r.interface_name == wiring.host_ifname);
      }
      if (!routed) {
        return absl::FailedPreconditionError(fmt::format("the host has no route to {} via {}",
                                                         address.ToString(), wiring.host_ifname));
      }
    }
    if (!NetnsExists(wiring.netns_path)) {
      return absl::FailedPreconditionError(
          fmt::format("network namespace {} is gone", wiring.netns_path));
    }
    ASSIGN_OR_RETURN(auto guard, NetnsGuard::Enter(wiring.netns_path));
    ASSIGN_OR_RETURN(auto inside, Netlink::Open());
    auto container = inside->GetLink(wiring.container_ifname);
    if (!container.ok()) {
      return absl::FailedPreconditionError(
          fmt::format("interface {} is missing in {}", wiring.container_ifname, wiring.netns_path));
    }
    ASSIGN_OR_RETURN(auto addresses, inside->ListAddresses(wiring.container_ifname));
    for (const auto& address : wiring.addresses) {
      if (std::find(addresses.begin(), addresses.end(), address) == addresses.end()) {
        return absl::FailedPreconditionError(fmt::format(
            "address {} is missing on {}", address.ToString(), wiring.container_ifname));
      }
    }
    return absl::OkStatus();
  }

  bool NetnsExists(const std::string& netns_path) override {
    struct stat st {};
    return !netns_path.empty() && stat(netns_path.c_str(), &st) == 0;
  }

 private:
  absl::StatusOr<WiredWorkload> Configure(Netlink& host, const WorkloadWiring& wiring) {
    RETURN_IF_ERROR(ConfigureHostSide(host, wiring));
    ASSIGN_OR_RETURN(std::string container_mac, ConfigureContainerSide(wiring));
    for (const auto& address : wiring.addresses) {
      RETURN_IF_ERROR(
          host.ReplaceRoute(Route{address, wiring.host_ifname, std::nullopt, /*link_scope=*/true}));
    }
    ASSIGN_OR_RETURN(auto link, host.GetLink(wiring.host_ifname));
    return WiredWorkload{link.mac, container_mac};
  }
};

}  // namespace

std::unique_ptr<WorkloadNetwork> MakeLinuxWorkloadNetwork() {
  return std::make_unique<LinuxWorkloadNetwork>();
}

}  // namespace tabby::cni
