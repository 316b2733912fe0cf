// A small data centre for multi-host tests (the recipe in shared/TESTING.md): a "tor" network
// namespace with a bridge, and hosts, each a namespace attached to the bridge by a veth pair:
//
//   host i: eth0 192.0.2.<i+1>/24, 2001:db8::<i+1>/64, default routes via the tor
//   tor:    br0  192.0.2.254/24,   2001:db8::fe/64 (forwarding on)
//
// Everything goes away with the Fabric (namespaces, and with them the links).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "support/netns.h"

namespace tabby::test {

class Fabric {
 public:
  static absl::StatusOr<std::unique_ptr<Fabric>> Create(int hosts);

  const ScopedNetns& tor() const { return tor_; }
  const ScopedNetns& host(int i) const { return hosts_.at(i); }
  int size() const { return static_cast<int>(hosts_.size()); }

  static std::string HostIpv4(int i) { return "192.0.2." + std::to_string(i + 1); }
  static std::string HostIpv6(int i) { return "2001:db8::" + std::to_string(i + 1); }
  static constexpr char kTorIpv4[] = "192.0.2.254";
  static constexpr char kTorIpv6[] = "2001:db8::fe";

 private:
  explicit Fabric(ScopedNetns tor) : tor_(std::move(tor)) {}
  ScopedNetns tor_;
  std::vector<ScopedNetns> hosts_;
};

}  // namespace tabby::test
