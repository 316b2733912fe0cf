// Links, addresses and routes over rtnetlink (libnl-route), in the network namespace that was
// current when the Netlink object was opened: a socket stays bound to its namespace, so a caller
// can open one per namespace and use them side by side.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "base/ip.h"

struct nl_sock;  // libnl
struct rtnl_link;

namespace tabby::dataplane {

// Route protocol number marking routes tabby owns (see /etc/iproute2/rt_protos).
inline constexpr int kRouteProtocol = 0xc5;  // 197

struct Route {
  IpNetwork destination;
  std::string interface_name;  // empty for a blackhole route
  std::optional<IpAddress> gateway;
  bool link_scope = false;  // scope link (directly attached)
  bool blackhole = false;
  int protocol = kRouteProtocol;
};

struct LinkInfo {
  int index = 0;
  std::string name;
  std::string mac;  // aa:bb:cc:dd:ee:ff
  bool up = false;
  int mtu = 0;
  std::string alias;  // IFLA_IFALIAS, empty if unset
};

// A VXLAN device as tabby uses it: unicast only (no learning, no flooding: every remote VTEP is a
// static FDB entry), encapsulating from `local`.
struct VxlanLink {
  std::string name;
  uint32_t vni = 0;
  uint16_t port = 0;  // UDP destination port
  IpAddress local;
  int mtu = 0;
  std::string mac;  // aa:bb:cc:dd:ee:ff
};

// A neighbour (ARP/NDP) entry, or with `fdb` a bridge forwarding entry of a VXLAN device (the
// remote VTEP `address` that frames for `mac` are sent to).
struct Neighbour {
  IpAddress address;
  std::string mac;
  bool permanent = false;
  friend auto operator<=>(const Neighbour&, const Neighbour&) = default;
};

class Netlink {
 public:
  // A socket in the calling thread's current network namespace.
  static absl::StatusOr<std::unique_ptr<Netlink>> Open();
  ~Netlink();
  Netlink(const Netlink&) = delete;
  Netlink& operator=(const Netlink&) = delete;

  // This socket's netlink port id: route notifications caused by its requests carry it.
  uint32_t port_id() const;

  // kNotFound if there is no such link.
  absl::StatusOr<LinkInfo> GetLink(const std::string& name);
  // Creates a veth pair: `name` here, `peer_name` in the namespace `peer_netns_fd`.
  // `alias` (IFLA_IFALIAS, may be empty) is set on the `name` end.
  absl::Status CreateVeth(const std::string& name, const std::string& peer_name, int peer_netns_fd,
                          int mtu, const std::string& mac, const std::string& alias = "");
  // kNotFound if absent.
  absl::Status DeleteLink(const std::string& name);
  // Deletes by index: kNotFound if that interface is gone, even if another took its name.
  absl::Status DeleteLinkIndex(int index);
  absl::Status RenameLink(const std::string& name, const std::string& new_name);
  absl::Status SetLinkUp(const std::string& name);
  absl::Status SetLinkMtu(const std::string& name, int mtu);

  // Creates a VXLAN device (down). kAlreadyExists if the name is taken.
  absl::Status CreateVxlan(const VxlanLink& link);
  // The VXLAN device `name` as it is (mtu and mac from the link); kNotFound if there is none,
  // kFailedPrecondition if `name` is not a VXLAN device.
  absl::StatusOr<VxlanLink> GetVxlan(const std::string& name);

  // Permanent neighbour entries (family of `address`) on `interface_name`.
  absl::Status ReplaceNeighbour(const std::string& interface_name, const Neighbour& neighbour);
  absl::Status DeleteNeighbour(const std::string& interface_name, const IpAddress& address);
  absl::StatusOr<std::vector<Neighbour>> ListNeighbours(const std::string& interface_name);
  // Bridge FDB entries of a VXLAN device: frames for `mac` go to the VTEP at `address`.
  absl::Status ReplaceFdb(const std::string& interface_name, const Neighbour& entry);
  absl::Status DeleteFdb(const std::string& interface_name, const Neighbour& entry);
  // The device's own FDB entries that send to a remote VTEP (a MAC and a destination).
  absl::StatusOr<std::vector<Neighbour>> ListFdb(const std::string& interface_name);

  absl::Status AddAddress(const std::string& interface_name, const IpNetwork& address);
  absl::StatusOr<std::vector<IpNetwork>> ListAddresses(const std::string& interface_name);

  // Creates or replaces the route to `route.destination` (in the main table).
  absl::Status ReplaceRoute(const Route& route);
  // kNotFound if absent.
  absl::Status DeleteRoute(const Route& route);
  // Routes of the main table, optionally only those with `protocol`.
  absl::StatusOr<std::vector<Route>> ListRoutes(std::optional<int> protocol = std::nullopt);

 private:
  explicit Netlink(::nl_sock* socket) : socket_(socket) {}
  absl::StatusOr<int> IndexOf(const std::string& name);
  // Applies the attributes set in `change` to the link `name`; `what` is for the message.
  absl::Status ChangeLink(const std::string& name, ::rtnl_link* change, const std::string& what);
  ::nl_sock* socket_;
};

// Enters a network namespace for the lifetime of the guard and returns to the original one on
// destruction. Changes the calling thread's namespace: use from single-threaded code (the CNI
// plugin) or a dedicated thread.
class NetnsGuard {
 public:
  static absl::StatusOr<std::unique_ptr<NetnsGuard>> Enter(const std::string& netns_path);
  ~NetnsGuard();
  NetnsGuard(const NetnsGuard&) = delete;
  NetnsGuard& operator=(const NetnsGuard&) = delete;

 private:
  explicit NetnsGuard(int original_fd) : original_fd_(original_fd) {}
  int original_fd_;
};

// Writes a sysctl under /proc/sys (e.g. "net/ipv4/conf/eth0/proxy_arp") in the current network
// namespace.
absl::Status WriteSysctl(const std::string& key, const std::string& value);
absl::StatusOr<std::string> ReadSysctl(const std::string& key);

}  // namespace tabby::dataplane
