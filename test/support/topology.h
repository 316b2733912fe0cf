// A host and its workloads, each a network namespace, wired exactly as tabby's CNI plugin wires
// a workload (for dataplane tests that do not involve the CNI plugin):
//
//   workload netns                         host netns
//   eth0  ADDR/32, ADDR6/128 (nodad)  <->  tabby<name>  MAC ee:ee:ee:ee:ee:ee
//   169.254.1.1 dev eth0 scope link        proxy_arp=1, neigh proxy_delay=0, forwarding=1
//   default via 169.254.1.1 dev eth0       ADDR/32 dev tabby<name> scope link
//   default via fe80::ecee:eeff:feee:eeee  ADDR6/128 dev tabby<name>
//                                          ip_forward=1, ipv6 all.forwarding=1
//
// Proxy ARP answers for 169.254.1.1 only if the host has a route to it through another
// interface; like the CNI plugin, the host routes 169.254.1.1/32 to lo. The host also gets an
// uplink `uplink0` (one end of a veth pair whose other end, uplink1, is in the host too) holding
// its default route and room for its own addresses (a multi-host test may replace that route).
//
// Destruction deletes every workload namespace (and with it the veth pairs), then the host's.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "support/netns.h"

namespace tabby::test {

inline constexpr char kWorkloadGateway4[] = "169.254.1.1";
inline constexpr char kHostVethMac[] = "ee:ee:ee:ee:ee:ee";
inline constexpr char kHostVethLinkLocal[] = "fe80::ecee:eeff:feee:eeee";

struct Workload {
  std::string name;
  std::string interface_name;  // host side of the veth: "tabby" + name
  std::string ipv4;
  std::optional<std::string> ipv6;
  ScopedNetns netns;

  // "ADDR/32" and, with IPv6, "ADDR6/128": the endpoint's ipNetworks.
  std::vector<std::string> networks() const;
};

class Host {
 public:
  static absl::StatusOr<std::unique_ptr<Host>> Create();
  Host(const Host&) = delete;
  Host& operator=(const Host&) = delete;

  const ScopedNetns& netns() const { return netns_; }

  // A workload with interface tabby<name> (name at most 10 characters, so that it fits IFNAMSIZ).
  absl::StatusOr<const Workload*> AddWorkload(const std::string& name, const std::string& ipv4,
                                              std::optional<std::string> ipv6 = std::nullopt);
  // The workload named `name`; it must exist.
  const Workload& workload(const std::string& name) const { return *workloads_.at(name); }
  // Deletes a workload's namespace and with it its veth pair and host routes.
  void RemoveWorkload(const std::string& name) { workloads_.erase(name); }

 private:
  explicit Host(ScopedNetns netns) : netns_(std::move(netns)) {}
  ScopedNetns netns_;
  // Declared after netns_, so workloads go first.
  std::map<std::string, std::unique_ptr<Workload>> workloads_;
};

}  // namespace tabby::test
