#include "support/fabric.h"

#include <fmt/format.h>

namespace tabby::test {

absl::StatusOr<std::unique_ptr<Fabric>> Fabric::Create(int hosts, std::vector<int> second_subnet) {
  absl::StatusOr<ScopedNetns> tor = ScopedNetns::Create();
  if (!tor.ok()) return tor.status();
  std::unique_ptr<Fabric> fabric(new Fabric(std::move(*tor), std::move(second_subnet)));
  const ScopedNetns& t = fabric->tor_;
  for (const std::vector<std::string>& command : std::vector<std::vector<std::string>>{
           {"ip", "link", "add", "br0", "type", "bridge"},
           {"ip", "addr", "add", fmt::format("{}/24", kTorIpv4), "dev", "br0"},
           {"ip", "-6", "addr", "add", fmt::format("{}/64", kTorIpv6), "dev", "br0", "nodad"},
           {"ip", "link", "set", "br0", "up"},
           {"ip", "link", "add", "br1", "type", "bridge"},
           {"ip", "addr", "add", "198.51.100.254/24", "dev", "br1"},
           {"ip", "-6", "addr", "add", "2001:db8:1::fe/64", "dev", "br1", "nodad"},
           {"ip", "link", "set", "br1", "up"},
           {"sysctl", "-qw", "net.ipv4.ip_forward=1"},
           {"sysctl", "-qw", "net.ipv6.conf.all.forwarding=1"}}) {
    if (absl::Status done = t.RunOk(command); !done.ok()) return done;
  }
  for (int i = 0; i < hosts; ++i) {
    absl::StatusOr<ScopedNetns> host = ScopedNetns::Create();
    if (!host.ok()) return host.status();
    const std::string port = fmt::format("p{}", i);
    for (const std::vector<std::string>& command : std::vector<std::vector<std::string>>{
             {"ip", "link", "add", port, "type", "veth", "peer", "name", "eth0", "netns",
              host->name()},
             {"ip", "link", "set", port, "master", fabric->OnSecondSubnet(i) ? "br1" : "br0"},
             {"ip", "link", "set", port, "up"}}) {
      if (absl::Status done = t.RunOk(command); !done.ok()) return done;
    }
    for (const std::vector<std::string>& command : std::vector<std::vector<std::string>>{
             {"ip", "addr", "add", fabric->Ipv4Of(i) + "/24", "dev", "eth0"},
             {"ip", "-6", "addr", "add", fabric->Ipv6Of(i) + "/64", "dev", "eth0", "nodad"},
             {"ip", "link", "set", "eth0", "up"},
             {"ip", "route", "add", "default", "via",
              fabric->OnSecondSubnet(i) ? "198.51.100.254" : kTorIpv4},
             {"ip", "-6", "route", "add", "default", "via",
              fabric->OnSecondSubnet(i) ? "2001:db8:1::fe" : kTorIpv6, "dev", "eth0"}}) {
      if (absl::Status done = host->RunOk(command); !done.ok()) return done;
    }
    fabric->hosts_.push_back(std::move(*host));
  }
  return fabric;
}

}  // namespace tabby::test
