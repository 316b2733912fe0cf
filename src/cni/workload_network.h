// How a workload is wired to its host: routed, not bridged. A veth pair per workload; the
// container side holds the workload's /32 and /128 and a default route via 169.254.1.1 (IPv4)
// and the host veth's link-local address (IPv6); the host side answers ARP for 169.254.1.1 by
// proxy ARP and owns that link-local address (its MAC is fixed, so the address is too), and the
// host routes each workload address to its veth. No bridge, no L2 between workloads: everything
// is routed, so ping and traceroute explain the network.
//
// An interface so the plugin's logic is unit-testable; the Linux implementation is exercised in
// network namespaces by the integration tests.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "base/ip.h"
#include "dataplane/workload_routes.h"

namespace tabby::cni {

inline constexpr char kHostVethMac[] = "ee:ee:ee:ee:ee:ee";
inline constexpr const char* kIpv4Gateway = dataplane::kWorkloadGatewayV4;
// The IPv6 link-local address the kernel derives (EUI-64) from kHostVethMac.
inline constexpr char kIpv6Gateway[] = "fe80::ecee:eeff:feee:eeee";

struct WorkloadWiring {
  std::string owner;  // the container the pair belongs to, recorded on the host end
  std::string netns_path;
  std::string container_ifname;
  std::string host_ifname;
  int mtu = 1500;
  std::vector<IpNetwork> addresses;  // host prefixes
};

struct WiredWorkload {
  std::string host_mac;
  std::string container_mac;
};

class WorkloadNetwork {
 public:
  virtual ~WorkloadNetwork() = default;
  // Creates and configures both ends. Replaces a leftover host interface of the same name.
  // On failure, removes what it created.
  virtual absl::StatusOr<WiredWorkload> Setup(const WorkloadWiring& wiring) = 0;
  // Removes the pair by its host end if it belongs to `owner`. An absent interface, or one a
  // newer container of the same workload owns now, is left alone and is not an error. An
  // interface that records no owner counts as `owner`'s.
  virtual absl::Status Teardown(const std::string& host_ifname, const std::string& owner) = 0;
  // OK if everything Setup creates is present; otherwise FailedPrecondition saying what is not.
  virtual absl::Status Check(const WorkloadWiring& wiring) = 0;
  virtual bool NetnsExists(const std::string& netns_path) = 0;
};

std::unique_ptr<WorkloadNetwork> MakeLinuxWorkloadNetwork();

}  // namespace tabby::cni
