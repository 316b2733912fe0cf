#include "dataplane/change_monitor.h"

#include <arpa/inet.h>
#include <fmt/format.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <poll.h>
#include <sys/socket.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <optional>

namespace tabby::dataplane {
namespace {

absl::StatusOr<UniqueFd> OpenNetlink(int protocol, const std::vector<int>& groups,
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

// A 32-bit attribute (NFTA_GEN_ID, NFTA_GEN_PROC_PID) of a NEWGEN message.
std::optional<uint32_t> GenAttribute(const nlmsghdr& header, uint16_t type) {
  const size_t offset = NLMSG_LENGTH(sizeof(nfgenmsg));
  if (header.nlmsg_len < offset) return std::nullopt;
  const char* cursor = reinterpret_cast<const char*>(&header) + NLMSG_ALIGN(offset);
  int remaining = static_cast<int>(header.nlmsg_len - NLMSG_ALIGN(offset));
  for (auto* attr = reinterpret_cast<const nlattr*>(cursor);
       remaining >= static_cast<int>(sizeof(nlattr)) && attr->nla_len >= sizeof(nlattr) &&
       attr->nla_len <= remaining;) {
    if ((attr->nla_type & NLA_TYPE_MASK) == type &&
        attr->nla_len >= NLA_HDRLEN + sizeof(uint32_t)) {
      uint32_t value;
      std::memcpy(&value, reinterpret_cast<const char*>(attr) + NLA_HDRLEN, sizeof(value));
      return ntohl(value);
    }
    int step = NLA_ALIGN(attr->nla_len);
    remaining -= step;
    attr = reinterpret_cast<const nlattr*>(reinterpret_cast<const char*>(attr) + step);
  }
  return std::nullopt;
}

constexpr uint16_t kNewGen = (NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_NEWGEN;

}  // namespace

absl::StatusOr<std::unique_ptr<ChangeMonitor>> ChangeMonitor::Open(
    std::set<uint32_t> own_route_ports, std::set<pid_t> own_nft_pids) {
  auto nft = OpenNetlink(NETLINK_NETFILTER, {NFNLGRP_NFTABLES}, "nftables");
  if (!nft.ok()) return nft.status();
  auto route = OpenNetlink(NETLINK_ROUTE, {RTNLGRP_IPV4_ROUTE, RTNLGRP_IPV6_ROUTE}, "route");
  if (!route.ok()) return route.status();
  auto generation = OpenNetlink(NETLINK_NETFILTER, {}, "nftables generation");
  if (!generation.ok()) return generation.status();
  return std::unique_ptr<ChangeMonitor>(
      new ChangeMonitor(std::move(*nft), std::move(*route), std::move(*generation),
                        std::move(own_route_ports), std::move(own_nft_pids)));
}

absl::StatusOr<uint32_t> ChangeMonitor::Generation() {
  struct {
    nlmsghdr header;
    nfgenmsg body;
  } request{};
  request.header.nlmsg_len = NLMSG_LENGTH(sizeof(nfgenmsg));
  request.header.nlmsg_type = (NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_GETGEN;
  request.header.nlmsg_flags = NLM_F_REQUEST;
  request.header.nlmsg_seq = ++generation_seq_;
  request.body.nfgen_family = AF_UNSPEC;
  request.body.version = NFNETLINK_V0;
  if (send(generation_.get(), &request, request.header.nlmsg_len, 0) < 0) {
    return absl::InternalError(
        fmt::format("asking nftables for its generation: {}", std::strerror(errno)));
  }
  // The reply may trail stale ones of an earlier request that timed out: match the sequence.
  while (true) {
    pollfd readable{.fd = generation_.get(), .events = POLLIN, .revents = 0};
    if (poll(&readable, 1, 1000) <= 0) {
      return absl::DeadlineExceededError("nftables did not report its generation");
    }
    std::optional<uint32_t> generation;
    bool complete = ReadAll(generation_.get(), [&](const nlmsghdr& header) {
      if (header.nlmsg_type == kNewGen && header.nlmsg_seq == generation_seq_) {
        generation = GenAttribute(header, NFTA_GEN_ID);
      }
    });
    if (!complete) return absl::InternalError("nftables generation reply lost");
    if (generation) return *generation;
  }
}

void ChangeMonitor::BeginOwnCommit() {
  auto before = Generation();
  if (!before.ok()) return;  // stay subscribed: the commit is heard, and ignored by its pid
  int group = NFNLGRP_NFTABLES;
  if (setsockopt(nft_.get(), SOL_NETLINK, NETLINK_DROP_MEMBERSHIP, &group, sizeof(group)) != 0) {
    return;
  }
  generation_before_ = *before;
}

void ChangeMonitor::EndOwnCommit(uint32_t commits) {
  if (!generation_before_) return;
  int group = NFNLGRP_NFTABLES;
  if (setsockopt(nft_.get(), SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, &group, sizeof(group)) != 0) {
    unheard_commits_ = true;  // cannot happen for a group this socket was in; look again
  }
  // Commits are serialised in the kernel and each advances the generation by one: any
  // advance beyond this process's own commits is someone else's, made while not listening.
  // Read after rejoining, so a commit in between is counted or heard (or both, harmlessly).
  auto after = Generation();
  if (!after.ok() || *after - *generation_before_ != commits) unheard_commits_ = true;
  generation_before_.reset();
}

ChangeMonitor::Changes ChangeMonitor::Drain() {
  Changes changes;
  if (unheard_commits_) {
    changes.nftables = true;
    changes.nft_writers.insert(0);
    unheard_commits_ = false;
  }
  bool complete = ReadAll(nft_.get(), [&](const nlmsghdr& header) {
    if (header.nlmsg_type != kNewGen) return;
    auto pid = static_cast<pid_t>(GenAttribute(header, NFTA_GEN_PROC_PID).value_or(0));
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
