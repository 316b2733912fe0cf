#include "dataplane/change_monitor.h"

#include <arpa/inet.h>
#include <fmt/format.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <sys/socket.h>

#include <array>
#include <cerrno>
#include <cstring>

namespace tabby::dataplane {
namespace {

absl::StatusOr<UniqueFd> Subscribe(int protocol, const std::vector<int>& groups,
                                   std::string_view what) {
  UniqueFd fd(socket(AF_NETLINK, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, protocol));
  if (!fd.valid()) {
    return absl::InternalError(fmt::format("{} netlink socket: {}", what, std::strerror(errno)));
  }
  // Bursts (thousands of set elements in one transaction) must not overrun it easily.
  int size = 4 << 20;
  (void)setsockopt(fd.get(), SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof(size));
  sockaddr_nl address{};
  address.nl_family = AF_NETLINK;
  if (bind(fd.get(), reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0) {
    return absl::InternalError(
        fmt::format("binding {} netlink socket: {}", what, std::strerror(errno)));
  }
  for (int group : groups) {
    if (setsockopt(fd.get(), SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, &group, sizeof(group)) != 0) {
      return absl::PermissionDeniedError(fmt::format(
          "subscribing to {} notifications (group {}): {}", what, group, std::strerror(errno)));
    }
  }
  return fd;
}

// Calls `on_message` for each netlink message pending on `fd`; false if messages were lost.
template <typename OnMessage>
bool ReadAll(int fd, OnMessage on_message) {
  alignas(nlmsghdr) std::array<char, 64 * 1024> buffer;
  while (true) {
    ssize_t n = recv(fd, buffer.data(), buffer.size(), MSG_DONTWAIT);
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno != ENOBUFS;  // EAGAIN: drained
    }
    int length = static_cast<int>(n);
    for (auto* header = reinterpret_cast<nlmsghdr*>(buffer.data()); NLMSG_OK(header, length);
         header = NLMSG_NEXT(header, length)) {
      on_message(*header);
    }
  }
}

// NFTA_GEN_PROC_PID of a NEWGEN message, or 0.
pid_t CommittingPid(const nlmsghdr& header) {
  const size_t offset = NLMSG_LENGTH(sizeof(nfgenmsg));
  if (header.nlmsg_len < offset) return 0;
  const char* cursor = reinterpret_cast<const char*>(&header) + NLMSG_ALIGN(offset);
  int remaining = static_cast<int>(header.nlmsg_len - NLMSG_ALIGN(offset));
  for (auto* attr = reinterpret_cast<const nlattr*>(cursor);
       remaining >= static_cast<int>(sizeof(nlattr)) && attr->nla_len >= sizeof(nlattr) &&
       attr->nla_len <= remaining;) {
    if ((attr->nla_type & NLA_TYPE_MASK) == NFTA_GEN_PROC_PID &&
        attr->nla_len >= NLA_HDRLEN + sizeof(uint32_t)) {
      uint32_t pid;
      std::memcpy(&pid, reinterpret_cast<const char*>(attr) + NLA_HDRLEN, sizeof(pid));
      return static_cast<pid_t>(ntohl(pid));
    }
    int step = NLA_ALIGN(attr->nla_len);
    remaining -= step;
    attr = reinterpret_cast<const nlattr*>(reinterpret_cast<const char*>(attr) + step);
  }
  return 0;
}

}  // namespace

absl::StatusOr<std::unique_ptr<ChangeMonitor>> ChangeMonitor::Open(
    std::set<uint32_t> own_route_ports, std::set<pid_t> own_nft_pids) {
  auto nft = Subscribe(NETLINK_NETFILTER, {NFNLGRP_NFTABLES}, "nftables");
  if (!nft.ok()) return nft.status();
  auto route = Subscribe(NETLINK_ROUTE, {RTNLGRP_IPV4_ROUTE, RTNLGRP_IPV6_ROUTE}, "route");
  if (!route.ok()) return route.status();
  return std::unique_ptr<ChangeMonitor>(new ChangeMonitor(
      std::move(*nft), std::move(*route), std::move(own_route_ports), std::move(own_nft_pids)));
}

ChangeMonitor::Changes ChangeMonitor::Drain() {
  Changes changes;
  bool complete = ReadAll(nft_.get(), [&](const nlmsghdr& header) {
    if (header.nlmsg_type != ((NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_NEWGEN)) return;
    pid_t pid = CommittingPid(header);
    if (own_nft_pids_.contains(pid)) return;
    changes.nftables = true;
    changes.nft_writers.insert(pid);
  });
  if (!complete) {
    changes.nftables = true;
    changes.nft_writers.insert(0);
  }
  complete = ReadAll(route_.get(), [&](const nlmsghdr& header) {
    if (header.nlmsg_type != RTM_NEWROUTE && header.nlmsg_type != RTM_DELROUTE) return;
    if (header.nlmsg_len < NLMSG_LENGTH(sizeof(rtmsg))) return;
    const auto* route = reinterpret_cast<const rtmsg*>(NLMSG_DATA(&header));
    if (route->rtm_table != RT_TABLE_MAIN) return;  // local-table routes follow addresses
    if (own_route_ports_.contains(header.nlmsg_pid)) return;
    changes.routes = true;
  });
  if (!complete) changes.routes = true;
  return changes;
}

}  // namespace tabby::dataplane
