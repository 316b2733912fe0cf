#include "dataplane/netlink.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <linux/neighbour.h>
#include <net/if.h>
#include <netlink/netlink.h>
#include <netlink/route/addr.h>
#include <netlink/route/link.h>
#include <netlink/route/link/veth.h>
#include <netlink/route/link/vxlan.h>
#include <netlink/route/neighbour.h>
#include <netlink/route/route.h>
#include <sched.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>

#include "base/files.h"
#include "base/status_macros.h"

namespace tabby::dataplane {
namespace {

absl::Status NlError(std::string_view what, int err) {
  int code = err < 0 ? -err : err;
  absl::StatusCode status_code = absl::StatusCode::kInternal;
  if (code == NLE_OBJ_NOTFOUND || code == NLE_NODEV) status_code = absl::StatusCode::kNotFound;
  if (code == NLE_EXIST) status_code = absl::StatusCode::kAlreadyExists;
  if (code == NLE_PERM) status_code = absl::StatusCode::kPermissionDenied;
  return absl::Status(status_code, fmt::format("{}: {}", what, nl_geterror(code)));
}

// RAII for libnl objects.
template <typename T, void (*Free)(T*)>
struct NlFree {
  void operator()(T* p) const { Free(p); }
};
template <typename T, void (*Free)(T*)>
using NlPtr = std::unique_ptr<T, NlFree<T, Free>>;
using LinkPtr = NlPtr<rtnl_link, rtnl_link_put>;
using AddrPtr = NlPtr<nl_addr, nl_addr_put>;
using RtAddrPtr = NlPtr<rtnl_addr, rtnl_addr_put>;
using RoutePtr = NlPtr<rtnl_route, rtnl_route_put>;
using CachePtr = NlPtr<nl_cache, nl_cache_free>;
using NeighPtr = NlPtr<rtnl_neigh, rtnl_neigh_put>;

absl::StatusOr<AddrPtr> ParseMac(const std::string& mac) {
  nl_addr* parsed = nullptr;
  if (nl_addr_parse(mac.c_str(), AF_LLC, &parsed) < 0) {
    return absl::InvalidArgumentError(fmt::format("invalid MAC address {}", mac));
  }
  return AddrPtr(parsed);
}

std::string MacText(nl_addr* mac) {
  char buffer[64];
  return mac == nullptr ? "" : nl_addr2str(mac, buffer, sizeof(buffer));
}

AddrPtr ToNlAddr(const IpAddress& address, int prefix_length) {
  AddrPtr addr(
      nl_addr_build(address.is_v4() ? AF_INET : AF_INET6, address.bytes(), address.byte_length()));
  nl_addr_set_prefixlen(addr.get(), prefix_length);
  return addr;
}

std::optional<IpAddress> FromNlAddr(nl_addr* addr) {
  if (addr == nullptr) return std::nullopt;
  int family = nl_addr_get_family(addr);
  if (family != AF_INET && family != AF_INET6) return std::nullopt;
  auto fam = family == AF_INET ? IpAddress::Family::kV4 : IpAddress::Family::kV6;
  unsigned length = nl_addr_get_len(addr);
  uint8_t bytes[16] = {};
  if (length > 16) return std::nullopt;
  std::memcpy(bytes, nl_addr_get_binary_addr(addr), length);
  return IpAddress::FromBytes(fam, bytes);
}

}  // namespace

absl::StatusOr<std::unique_ptr<Netlink>> Netlink::Open() {
  nl_sock* socket = nl_socket_alloc();
  if (socket == nullptr) return absl::ResourceExhaustedError("cannot allocate netlink socket");
  int err = nl_connect(socket, NETLINK_ROUTE);
  if (err < 0) {
    nl_socket_free(socket);
    return NlError("cannot connect rtnetlink socket", err);
  }
  return std::unique_ptr<Netlink>(new Netlink(socket));
}

Netlink::~Netlink() { nl_socket_free(socket_); }

absl::StatusOr<int> Netlink::IndexOf(const std::string& name) {
  rtnl_link* raw = nullptr;
  int err = rtnl_link_get_kernel(socket_, 0, name.c_str(), &raw);
  if (err < 0) return NlError(fmt::format("interface {}", name), err);
  LinkPtr link(raw);
  return rtnl_link_get_ifindex(link.get());
}

uint32_t Netlink::port_id() const { return nl_socket_get_local_port(socket_); }

absl::StatusOr<LinkInfo> Netlink::GetLink(const std::string& name) {
  rtnl_link* raw = nullptr;
  int err = rtnl_link_get_kernel(socket_, 0, name.c_str(), &raw);
  if (err < 0) return NlError(fmt::format("interface {}", name), err);
  LinkPtr link(raw);
  LinkInfo info;
  info.index = rtnl_link_get_ifindex(link.get());
  info.name = name;
  info.up = (rtnl_link_get_flags(link.get()) & IFF_UP) != 0;
  info.mtu = static_cast<int>(rtnl_link_get_mtu(link.get()));
  if (const char* alias = rtnl_link_get_ifalias(link.get())) info.alias = alias;
  if (nl_addr* mac = rtnl_link_get_addr(link.get())) info.mac = MacText(mac);
  return info;
}

absl::Status Netlink::CreateVeth(const std::string& name, const std::string& peer_name,
                                 int peer_netns_fd, int mtu, const std::string& mac,
                                 const std::string& alias) {
  LinkPtr link(rtnl_link_veth_alloc());
  if (link.get() == nullptr) return absl::ResourceExhaustedError("cannot allocate veth");
  rtnl_link_set_name(link.get(), name.c_str());
  if (!alias.empty()) rtnl_link_set_ifalias(link.get(), alias.c_str());
  if (mtu > 0) rtnl_link_set_mtu(link.get(), static_cast<unsigned>(mtu));
  AddrPtr mac_addr;
  if (!mac.empty()) {
    ASSIGN_OR_RETURN(mac_addr, ParseMac(mac));
    rtnl_link_set_addr(link.get(), mac_addr.get());
  }
  rtnl_link* peer = rtnl_link_veth_get_peer(link.get());
  rtnl_link_set_name(peer, peer_name.c_str());
  if (mtu > 0) rtnl_link_set_mtu(peer, static_cast<unsigned>(mtu));
  rtnl_link_set_ns_fd(peer, peer_netns_fd);
  int err = rtnl_link_add(socket_, link.get(), NLM_F_CREATE | NLM_F_EXCL);
  rtnl_link_put(peer);
  if (err < 0) return NlError(fmt::format("cannot create veth pair {} / {}", name, peer_name), err);
  if (alias.empty()) return absl::OkStatus();
  // The kernel ignores IFLA_IFALIAS in a request that creates a link: set it in a second one.
  // Without it the pair would not name its owner, so it does not stay without one.
  LinkPtr change(rtnl_link_alloc());
  rtnl_link_set_ifalias(change.get(), alias.c_str());
  absl::Status aliased = ChangeLink(name, change.get(), fmt::format("set the alias of {}", name));
  if (!aliased.ok()) (void)DeleteLink(name);
  return aliased;
}

absl::Status Netlink::ChangeLink(const std::string& name, rtnl_link* change,
                                 const std::string& what) {
  ASSIGN_OR_RETURN(int index, IndexOf(name));
  LinkPtr old_link(rtnl_link_alloc());
  rtnl_link_set_ifindex(old_link.get(), index);
  int err = rtnl_link_change(socket_, old_link.get(), change, 0);
  if (err < 0) return NlError(fmt::format("cannot {}", what), err);
  return absl::OkStatus();
}

absl::Status Netlink::DeleteLink(const std::string& name) {
  LinkPtr link(rtnl_link_alloc());
  rtnl_link_set_name(link.get(), name.c_str());
  int err = rtnl_link_delete(socket_, link.get());
  if (err < 0) return NlError(fmt::format("cannot delete interface {}", name), err);
  return absl::OkStatus();
}

absl::Status Netlink::DeleteLinkIndex(int index) {
  LinkPtr link(rtnl_link_alloc());
  rtnl_link_set_ifindex(link.get(), index);
  int err = rtnl_link_delete(socket_, link.get());
  if (err < 0) return NlError(fmt::format("cannot delete interface #{}", index), err);
  return absl::OkStatus();
}

absl::Status Netlink::RenameLink(const std::string& name, const std::string& new_name) {
  LinkPtr change(rtnl_link_alloc());
  rtnl_link_set_name(change.get(), new_name.c_str());
  return ChangeLink(name, change.get(), fmt::format("rename interface {} to {}", name, new_name));
}

absl::Status Netlink::SetLinkUp(const std::string& name) {
  LinkPtr change(rtnl_link_alloc());
  rtnl_link_set_flags(change.get(), IFF_UP);
  return ChangeLink(name, change.get(), fmt::format("set interface {} up", name));
}

absl::Status Netlink::SetLinkMtu(const std::string& name, int mtu) {
  LinkPtr change(rtnl_link_alloc());
  rtnl_link_set_mtu(change.get(), static_cast<unsigned>(mtu));
  return ChangeLink(name, change.get(), fmt::format("set the MTU of {} to {}", name, mtu));
}

absl::Status Netlink::CreateVxlan(const VxlanLink& vxlan) {
  LinkPtr link(rtnl_link_vxlan_alloc());
  if (link.get() == nullptr) return absl::ResourceExhaustedError("cannot allocate vxlan");
  rtnl_link_set_name(link.get(), vxlan.name.c_str());
  if (vxlan.mtu > 0) rtnl_link_set_mtu(link.get(), static_cast<unsigned>(vxlan.mtu));
  AddrPtr mac;
  if (!vxlan.mac.empty()) {
    ASSIGN_OR_RETURN(mac, ParseMac(vxlan.mac));
    rtnl_link_set_addr(link.get(), mac.get());
  }
  AddrPtr local = ToNlAddr(vxlan.local, vxlan.local.bit_length());
  rtnl_link_vxlan_set_id(link.get(), vxlan.vni);
  rtnl_link_vxlan_set_local(link.get(), local.get());
  rtnl_link_vxlan_set_port(link.get(), vxlan.port);
  rtnl_link_vxlan_set_learning(link.get(), 0);
  int err = rtnl_link_add(socket_, link.get(), NLM_F_CREATE | NLM_F_EXCL);
  if (err < 0) return NlError(fmt::format("cannot create VXLAN device {}", vxlan.name), err);
  return absl::OkStatus();
}

absl::StatusOr<VxlanLink> Netlink::GetVxlan(const std::string& name) {
  rtnl_link* raw = nullptr;
  int err = rtnl_link_get_kernel(socket_, 0, name.c_str(), &raw);
  if (err < 0) return NlError(fmt::format("interface {}", name), err);
  LinkPtr link(raw);
  if (!rtnl_link_is_vxlan(link.get())) {
    return absl::FailedPreconditionError(fmt::format("{} is not a VXLAN device", name));
  }
  VxlanLink out;
  out.name = name;
  out.mtu = static_cast<int>(rtnl_link_get_mtu(link.get()));
  out.mac = MacText(rtnl_link_get_addr(link.get()));
  rtnl_link_vxlan_get_id(link.get(), &out.vni);
  uint32_t port = 0;
  rtnl_link_vxlan_get_port(link.get(), &port);
  out.port = static_cast<uint16_t>(port);
  nl_addr* local = nullptr;
  if (rtnl_link_vxlan_get_local(link.get(), &local) == 0) {
    AddrPtr owned(local);
    if (std::optional<IpAddress> address = FromNlAddr(local)) out.local = *address;
  }
  return out;
}

namespace {

// A neighbour or FDB request for `entry` on interface `index`.
absl::StatusOr<NeighPtr> BuildNeighbour(int index, const Neighbour& entry, bool fdb) {
  NeighPtr neigh(rtnl_neigh_alloc());
  rtnl_neigh_set_ifindex(neigh.get(), index);
  AddrPtr dst = ToNlAddr(entry.address, entry.address.bit_length());
  rtnl_neigh_set_dst(neigh.get(), dst.get());
  if (!entry.mac.empty()) {
    ASSIGN_OR_RETURN(AddrPtr mac, ParseMac(entry.mac));
    rtnl_neigh_set_lladdr(neigh.get(), mac.get());
  }
  rtnl_neigh_set_state(neigh.get(), NUD_PERMANENT);
  if (fdb) {
    rtnl_neigh_set_family(neigh.get(), AF_BRIDGE);
    rtnl_neigh_set_flags(neigh.get(), NTF_SELF);
  } else {
    rtnl_neigh_set_family(neigh.get(), entry.address.is_v4() ? AF_INET : AF_INET6);
  }
  return neigh;
}

}  // namespace

absl::Status Netlink::ReplaceNeighbour(const std::string& interface_name,
                                       const Neighbour& neighbour) {
  ASSIGN_OR_RETURN(int index, IndexOf(interface_name));
  ASSIGN_OR_RETURN(NeighPtr neigh, BuildNeighbour(index, neighbour, /*fdb=*/false));
  int err = rtnl_neigh_add(socket_, neigh.get(), NLM_F_CREATE | NLM_F_REPLACE);
  if (err < 0) {
    return NlError(fmt::format("cannot add neighbour {} lladdr {} on {}",
                               neighbour.address.ToString(), neighbour.mac, interface_name),
                   err);
  }
  return absl::OkStatus();
}

absl::Status Netlink::DeleteNeighbour(const std::string& interface_name, const IpAddress& address) {
  ASSIGN_OR_RETURN(int index, IndexOf(interface_name));
  ASSIGN_OR_RETURN(NeighPtr neigh, BuildNeighbour(index, {address, "", true}, /*fdb=*/false));
  int err = rtnl_neigh_delete(socket_, neigh.get(), 0);
  if (err < 0) {
    return NlError(
        fmt::format("cannot delete neighbour {} on {}", address.ToString(), interface_name), err);
  }
  return absl::OkStatus();
}

absl::Status Netlink::ReplaceFdb(const std::string& interface_name, const Neighbour& entry) {
  ASSIGN_OR_RETURN(int index, IndexOf(interface_name));
  ASSIGN_OR_RETURN(NeighPtr neigh, BuildNeighbour(index, entry, /*fdb=*/true));
  // NLM_F_APPEND, as `bridge fdb append`: a MAC may have an entry per destination.
  int err = rtnl_neigh_add(socket_, neigh.get(), NLM_F_CREATE | NLM_F_APPEND);
  if (err < 0 && err != -NLE_EXIST) {
    return NlError(fmt::format("cannot add FDB entry {} dst {} on {}", entry.mac,
                               entry.address.ToString(), interface_name),
                   err);
  }
  return absl::OkStatus();
}

absl::Status Netlink::DeleteFdb(const std::string& interface_name, const Neighbour& entry) {
  ASSIGN_OR_RETURN(int index, IndexOf(interface_name));
  ASSIGN_OR_RETURN(NeighPtr neigh, BuildNeighbour(index, entry, /*fdb=*/true));
  int err = rtnl_neigh_delete(socket_, neigh.get(), 0);
  if (err < 0) {
    return NlError(fmt::format("cannot delete FDB entry {} dst {} on {}", entry.mac,
                               entry.address.ToString(), interface_name),
                   err);
  }
  return absl::OkStatus();
}

namespace {

// The entries of `family` (AF_BRIDGE: FDB) on interface `index`.
absl::StatusOr<std::vector<Neighbour>> ListNeighbourEntries(nl_sock* socket, int index,
                                                            int family) {
  nl_cache* raw = nullptr;
  int err = rtnl_neigh_alloc_cache_flags(socket, &raw, NL_CACHE_AF_ITER);
  if (err < 0) return NlError("cannot list neighbours", err);
  CachePtr cache(raw);
  std::vector<Neighbour> out;
  for (nl_object* obj = nl_cache_get_first(cache.get()); obj; obj = nl_cache_get_next(obj)) {
    auto* neigh = reinterpret_cast<rtnl_neigh*>(obj);
    if (rtnl_neigh_get_ifindex(neigh) != index) continue;
    const int entry_family = rtnl_neigh_get_family(neigh);
    if (family == AF_BRIDGE ? entry_family != AF_BRIDGE
                            : entry_family != AF_INET && entry_family != AF_INET6) {
      continue;
    }
    std::optional<IpAddress> address = FromNlAddr(rtnl_neigh_get_dst(neigh));
    if (!address) continue;  // an FDB entry without a destination (the device's own MAC)
    out.push_back({*address, MacText(rtnl_neigh_get_lladdr(neigh)),
                   (rtnl_neigh_get_state(neigh) & NUD_PERMANENT) != 0});
  }
  return out;
}

}  // namespace

absl::StatusOr<std::vector<Neighbour>> Netlink::ListNeighbours(const std::string& interface_name) {
  ASSIGN_OR_RETURN(int index, IndexOf(interface_name));
  return ListNeighbourEntries(socket_, index, AF_INET);
}

absl::StatusOr<std::vector<Neighbour>> Netlink::ListFdb(const std::string& interface_name) {
  ASSIGN_OR_RETURN(int index, IndexOf(interface_name));
  return ListNeighbourEntries(socket_, index, AF_BRIDGE);
}

absl::Status Netlink::AddAddress(const std::string& interface_name, const IpNetwork& address) {
  ASSIGN_OR_RETURN(int index, IndexOf(interface_name));
  RtAddrPtr addr(rtnl_addr_alloc());
  rtnl_addr_set_ifindex(addr.get(), index);
  AddrPtr local = ToNlAddr(address.address(), address.prefix_length());
  rtnl_addr_set_local(addr.get(), local.get());
  if (address.is_v4()) rtnl_addr_set_prefixlen(addr.get(), address.prefix_length());
  if (!address.is_v4()) {
    // No duplicate address detection: the address is ours by allocation, and DAD would leave it
    // tentative (unusable) for a second or more.
    rtnl_addr_set_flags(addr.get(), IFA_F_NODAD);
  }
  int err = rtnl_addr_add(socket_, addr.get(), NLM_F_REPLACE);
  if (err < 0) {
    return NlError(fmt::format("cannot add address {} to {}", address.ToString(), interface_name),
                   err);
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<IpNetwork>> Netlink::ListAddresses(const std::string& interface_name) {
  ASSIGN_OR_RETURN(int index, IndexOf(interface_name));
  nl_cache* raw = nullptr;
  int err = rtnl_addr_alloc_cache(socket_, &raw);
  if (err < 0) return NlError("cannot list addresses", err);
  CachePtr cache(raw);
  std::vector<IpNetwork> out;
  for (nl_object* obj = nl_cache_get_first(cache.get()); obj; obj = nl_cache_get_next(obj)) {
    auto* addr = reinterpret_cast<rtnl_addr*>(obj);
    if (rtnl_addr_get_ifindex(addr) != index) continue;
    nl_addr* local = rtnl_addr_get_local(addr);
    auto ip = FromNlAddr(local);
    if (ip) out.emplace_back(*ip, rtnl_addr_get_prefixlen(addr));
  }
  return out;
}

namespace {

// fe80::/10.
bool IsIpv6LinkLocal(const IpAddress& address) {
  if (address.is_v4()) return false;
  const std::string text = address.ToString();
  return text.size() > 3 && text[0] == 'f' && text[1] == 'e' &&
         (text[2] == '8' || text[2] == '9' || text[2] == 'a' || text[2] == 'b');
}

absl::StatusOr<RoutePtr> BuildRoute(const Route& route, int index) {
  RoutePtr r(rtnl_route_alloc());
  AddrPtr dst = ToNlAddr(route.destination.address(), route.destination.prefix_length());
  rtnl_route_set_family(r.get(), route.destination.is_v4() ? AF_INET : AF_INET6);
  rtnl_route_set_dst(r.get(), dst.get());
  rtnl_route_set_table(r.get(), RT_TABLE_MAIN);
  rtnl_route_set_protocol(r.get(), static_cast<uint8_t>(route.protocol));
  if (route.blackhole) {
    rtnl_route_set_type(r.get(), RTN_BLACKHOLE);
    return r;
  }
  rtnl_route_set_type(r.get(), RTN_UNICAST);
  rtnl_route_set_scope(r.get(), route.link_scope ? RT_SCOPE_LINK : RT_SCOPE_UNIVERSE);
  rtnl_nexthop* nh = rtnl_route_nh_alloc();
  rtnl_route_nh_set_ifindex(nh, index);
  if (route.gateway) {
    AddrPtr gw = ToNlAddr(*route.gateway, route.gateway->bit_length());
    rtnl_route_nh_set_gateway(nh, gw.get());
    // A gateway that is not on any subnet of the interface (169.254.1.1) is reachable on-link.
    // An IPv6 link-local gateway always is, and IPv6 checks the on-link flag against the routes
    // of other interfaces (fe80::/64 is on every one), so it gets none.
    if (!IsIpv6LinkLocal(*route.gateway)) rtnl_route_nh_set_flags(nh, RTNH_F_ONLINK);
  }
  rtnl_route_add_nexthop(r.get(), nh);
  return r;
}

}  // namespace

absl::Status Netlink::ReplaceRoute(const Route& route) {
  int index = 0;
  if (!route.blackhole) {
    ASSIGN_OR_RETURN(index, IndexOf(route.interface_name));
  }
  ASSIGN_OR_RETURN(RoutePtr r, BuildRoute(route, index));
  int err = rtnl_route_add(socket_, r.get(), NLM_F_CREATE | NLM_F_REPLACE);
  if (err < 0) {
    return NlError(fmt::format("cannot add route to {} via {}", route.destination.ToString(),
                               route.blackhole ? "blackhole" : route.interface_name),
                   err);
  }
  return absl::OkStatus();
}

absl::Status Netlink::DeleteRoute(const Route& route) {
  int index = 0;
  if (!route.blackhole && !route.interface_name.empty()) {
    auto found = IndexOf(route.interface_name);
    if (found.ok()) index = *found;
  }
  ASSIGN_OR_RETURN(RoutePtr r, BuildRoute(route, index));
  int err = rtnl_route_delete(socket_, r.get(), 0);
  if (err < 0) {
    return NlError(fmt::format("cannot delete route to {}", route.destination.ToString()), err);
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<Route>> Netlink::ListRoutes(std::optional<int> protocol) {
  nl_cache* raw = nullptr;
  int err = rtnl_route_alloc_cache(socket_, AF_UNSPEC, 0, &raw);
  if (err < 0) return NlError("cannot list routes", err);
  CachePtr cache(raw);
  nl_cache* link_raw = nullptr;
  err = rtnl_link_alloc_cache(socket_, AF_UNSPEC, &link_raw);
  if (err < 0) return NlError("cannot list links", err);
  CachePtr links(link_raw);
  std::vector<Route> out;
  for (nl_object* obj = nl_cache_get_first(cache.get()); obj; obj = nl_cache_get_next(obj)) {
    auto* r = reinterpret_cast<rtnl_route*>(obj);
    if (rtnl_route_get_table(r) != RT_TABLE_MAIN) continue;
    if (protocol && rtnl_route_get_protocol(r) != *protocol) continue;
    auto dst = FromNlAddr(rtnl_route_get_dst(r));
    if (!dst) continue;
    Route route;
    route.destination = IpNetwork(*dst, nl_addr_get_prefixlen(rtnl_route_get_dst(r)));
    route.protocol = rtnl_route_get_protocol(r);
    route.blackhole = rtnl_route_get_type(r) == RTN_BLACKHOLE;
    route.link_scope = rtnl_route_get_scope(r) == RT_SCOPE_LINK;
    if (rtnl_route_get_nnexthops(r) > 0) {
      rtnl_nexthop* nh = rtnl_route_nexthop_n(r, 0);
      char name[IFNAMSIZ] = {};
      if (rtnl_link_i2name(links.get(), rtnl_route_nh_get_ifindex(nh), name, sizeof(name))) {
        route.interface_name = name;
      }
      route.gateway = FromNlAddr(rtnl_route_nh_get_gateway(nh));
    }
    out.push_back(std::move(route));
  }
  return out;
}

absl::StatusOr<std::unique_ptr<NetnsGuard>> NetnsGuard::Enter(const std::string& netns_path) {
  int original = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
  if (original < 0) {
    return absl::InternalError(
        fmt::format("cannot open current network namespace: {}", std::strerror(errno)));
  }
  int target = open(netns_path.c_str(), O_RDONLY | O_CLOEXEC);
  if (target < 0) {
    int err = errno;
    close(original);
    return absl::Status(
        err == ENOENT ? absl::StatusCode::kNotFound : absl::StatusCode::kInternal,
        fmt::format("cannot open network namespace {}: {}", netns_path, std::strerror(err)));
  }
  int rc = setns(target, CLONE_NEWNET);
  int err = errno;
  close(target);
  if (rc != 0) {
    close(original);
    return absl::InternalError(
        fmt::format("cannot enter network namespace {}: {}", netns_path, std::strerror(err)));
  }
  return std::unique_ptr<NetnsGuard>(new NetnsGuard(original));
}

NetnsGuard::~NetnsGuard() {
  // Returning to the original namespace cannot reasonably fail; if it did, continuing in the
  // wrong namespace would configure the wrong host, so stop.
  if (setns(original_fd_, CLONE_NEWNET) != 0) std::abort();
  close(original_fd_);
}

absl::Status WriteSysctl(const std::string& key, const std::string& value) {
  std::string path = "/proc/sys/" + key;
  std::ofstream out(path);
  if (!out) {
    return absl::InternalError(
        fmt::format("cannot open sysctl {}: {}", path, std::strerror(errno)));
  }
  out << value;
  out.flush();
  if (!out) {
    return absl::InternalError(
        fmt::format("cannot write {} to sysctl {}: {}", value, path, std::strerror(errno)));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> ReadSysctl(const std::string& key) {
  ASSIGN_OR_RETURN(std::string value, ReadFile("/proc/sys/" + key));
  while (!value.empty() && (value.back() == '\n' || value.back() == ' ')) value.pop_back();
  return value;
}

}  // namespace tabby::dataplane
