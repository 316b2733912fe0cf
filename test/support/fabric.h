// A small data centre for multi-host tests (the recipe in shared/TESTING.md): a "tor" network
// namespace with a bridge, and hosts, each a namespace attached to the bridge by a veth pair:
//
//   host i: eth0 192.0.2.<i+1>/24, 2001:db8::<i+1>/64, default routes via the tor
//   tor:    br0  192.0.2.254/24,   2001:db8::fe/64 (forwarding on)
//
// Hosts listed in `second_subnet` sit on another bridge instead, one routed hop away:
//
//   host i: eth0 198.51.100.<i+1>/24, 2001:db8:1::<i+1>/64, default routes via the tor
//   tor:    br1  198.51.100.254/24,   2001:db8:1::fe/64
//
// Everything goes away with the Fabric (namespaces, and with them the links).
#pragma once

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "support/netns.h"

namespace tabby::test {

class Fabric {
 public:
  static absl::StatusOr<std::unique_ptr<Fabric>> Create(int hosts,
                                                        std::vector<int> second_subnet = {});

  const ScopedNetns& tor() const { return tor_; }
  const ScopedNetns& host(int i) const { return hosts_.at(i); }
  int size() const { return static_cast<int>(hosts_.size()); }

  // The addresses of host i on the first subnet.
  static std::string HostIpv4(int i) { return "192.0.2." + std::to_string(i + 1); }
  static std::string HostIpv6(int i) { return "2001:db8::" + std::to_string(i + 1); }
  // Host i's address, whichever subnet it is on.
  std::string Ipv4Of(int i) const {
    return OnSecondSubnet(i) ? "198.51.100." + std::to_string(i + 1) : HostIpv4(i);
  }
  std::string Ipv6Of(int i) const {
    return OnSecondSubnet(i) ? "2001:db8:1::" + std::to_string(i + 1) : HostIpv6(i);
  }
  bool OnSecondSubnet(int i) const {
    return std::find(second_subnet_.begin(), second_subnet_.end(), i) != second_subnet_.end();
  }
  static constexpr char kTorIpv4[] = "192.0.2.254";
  static constexpr char kTorIpv6[] = "2001:db8::fe";

 private:
  Fabric(ScopedNetns tor, std::vector<int> second_subnet)
      : tor_(std::move(tor)), second_subnet_(std::move(second_subnet)) {}
  ScopedNetns tor_;
  std::vector<int> second_subnet_;
  std::vector<ScopedNetns> hosts_;
};

}  // namespace tabby::test
