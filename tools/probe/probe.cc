// tabby-probe: real traffic for end-to-end tests and the demo. One binary, no dependencies
// beyond libc and fmt. Every wait is bounded (poll() with a deadline), so a probe never hangs.
//
//   tabby-probe serve [--tcp P[,P...]] [--udp P[,P...]] [--sink P[,P...]] [--echo P[,P...]]
//                     [--bind ADDR]
//       TCP: accept, send "tabby-probe NAME\n", close. UDP: answer every datagram with that line.
//       Sink: accept, read and discard until the peer closes. Echo: accept, send back every byte
//       read until the peer closes. NAME is $TABBY_PROBE_NAME or the host name. Prints "ready"
//       once every socket listens; runs until killed.
//   tabby-probe connect --tcp|--udp ADDR PORT [--timeout-ms N] [--source ADDR]
//       Exit 0 and print the reply; exit 1 with a one-line reason on stderr otherwise.
//   tabby-probe stream ADDR PORT [--seconds N] [--source ADDR]
//       Writes continuously for N seconds (or until SIGTERM/SIGINT), printing "progress BYTES"
//       about every 100 ms, then "sent BYTES" and "intact" or "broken: REASON". Broken means a
//       reset, an error, or 2 s without progress; exit 1 then.
//   tabby-probe matrix [--tcp P[,P..]] [--udp P[,P..]] [--timeout-ms N]
//                      [--udp-source-port-base B] NAME=ADDR...
//       From here, probes to every target on every port, all at once: one line per probe,
//       (with B, the UDP probes send from ports B, B+1, ... in order, so that successive matrices
//       given distinct bases never reuse a UDP flow that conntrack still remembers),
//       "NAME PROTO/PORT ok" or "NAME PROTO/PORT --" (with a single --tcp/--port P and no --udp,
//       the shorter "NAME ok"). --port P means --tcp P.
//   tabby-probe rr ADDR PORT [--seconds N]
//       TCP request/response against an --echo port: one connection, one byte each way per
//       transaction, back to back for N seconds (default 5). Prints "transactions T per-second R".
//   tabby-probe crr ADDR PORT [--seconds N]
//       TCP connection rate against a --tcp port: connect, read the line, close, back to back for
//       N seconds. Prints "connections C per-second R". Both exit 1 on the first failure.
#include <arpa/inet.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "base/unique_fd.h"

namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

constexpr int kDefaultTimeoutMs = 1000;
constexpr milliseconds kStallLimit(2000);

void Usage() {
  fmt::print(stderr,
             "usage:\n"
             "  tabby-probe serve [--tcp P[,P..]] [--udp P[,P..]] [--sink P[,P..]]\n"
             "                    [--echo P[,P..]] [--bind ADDR]\n"
             "  tabby-probe connect --tcp|--udp ADDR PORT [--timeout-ms N] [--source ADDR]\n"
             "  tabby-probe stream ADDR PORT [--seconds N] [--source ADDR]\n"
             "  tabby-probe matrix [--tcp P,..] [--udp P,..] [--timeout-ms N]\n"
             "                     [--udp-source-port-base B] NAME=ADDR...\n"
             "  tabby-probe rr ADDR PORT [--seconds N]\n"
             "  tabby-probe crr ADDR PORT [--seconds N]\n");
}

using Fd = tabby::UniqueFd;

// A socket address of either family.
struct Address {
  sockaddr_storage storage{};
  socklen_t length = 0;
  int family() const { return storage.ss_family; }
  const sockaddr* get() const { return reinterpret_cast<const sockaddr*>(&storage); }
};

std::optional<Address> ParseAddress(const std::string& text, int port) {
  Address a;
  auto* v4 = reinterpret_cast<sockaddr_in*>(&a.storage);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&a.storage);
  if (inet_pton(AF_INET, text.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(static_cast<uint16_t>(port));
    a.length = sizeof(sockaddr_in);
    return a;
  }
  std::string bare = text;
  if (bare.size() > 2 && bare.front() == '[' && bare.back() == ']') {
    bare = bare.substr(1, bare.size() - 2);
  }
  if (inet_pton(AF_INET6, bare.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(static_cast<uint16_t>(port));
    a.length = sizeof(sockaddr_in6);
    return a;
  }
  return std::nullopt;
}

std::optional<int> ParseInt(std::string_view text, int min, int max) {
  if (text.empty()) return std::nullopt;
  int value = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    value = value * 10 + (c - '0');
    if (value > max) return std::nullopt;
  }
  if (value < min) return std::nullopt;
  return value;
}

std::optional<std::vector<int>> ParsePorts(std::string_view list) {
  std::vector<int> ports;
  while (!list.empty()) {
    size_t comma = list.find(',');
    auto port = ParseInt(list.substr(0, comma), 1, 65535);
    if (!port) return std::nullopt;
    ports.push_back(*port);
    if (comma == std::string_view::npos) break;
    list.remove_prefix(comma + 1);
  }
  if (ports.empty()) return std::nullopt;
  return ports;
}

std::string ErrnoText(int err) {
  switch (err) {
    case ECONNREFUSED:
      return "connection refused";
    case ECONNRESET:
      return "connection reset";
    case EPIPE:
      return "broken pipe";
    case ETIMEDOUT:
      return "timed out";
    case EHOSTUNREACH:
      return "host unreachable";
    case ENETUNREACH:
      return "network unreachable";
    default:
      return std::strerror(err);
  }
}

int RemainingMs(Clock::time_point deadline) {
  auto left = std::chrono::duration_cast<milliseconds>(deadline - Clock::now()).count();
  return left < 0 ? 0 : static_cast<int>(left);
}

// Waits for `events` on `fd` until `deadline`. False on timeout.
bool PollUntil(int fd, short events, Clock::time_point deadline) {
  while (true) {
    pollfd p{fd, events, 0};
    int rc = poll(&p, 1, RemainingMs(deadline));
    if (rc > 0) return true;
    if (rc == 0) return false;
    if (errno != EINTR) return false;
  }
}

struct Outcome {
  bool ok = false;
  std::string text;  // the reply, or the reason it failed
};

// A non-blocking socket of `target`'s family, bound to `source` if given.
// Binds to `source` (an address) and/or `source_port` when given; the kernel picks otherwise.
std::optional<Fd> OpenSocket(const Address& target, int type, const std::string& source,
                             std::string& error, int source_port = 0) {
  Fd fd(socket(target.family(), type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd.valid()) {
    error = fmt::format("socket: {}", ErrnoText(errno));
    return std::nullopt;
  }
  if (!source.empty() || source_port != 0) {
    const std::string any = target.family() == AF_INET ? "0.0.0.0" : "::";
    auto local = ParseAddress(source.empty() ? any : source, source_port);
    if (!local || local->family() != target.family()) {
      error = fmt::format("bad source address {}", source);
      return std::nullopt;
    }
    if (bind(fd.get(), local->get(), local->length) != 0) {
      error = fmt::format("bind {}: {}", source, ErrnoText(errno));
      return std::nullopt;
    }
  }
  return fd;
}

// Reads until end of file (TCP) and returns the first line.
Outcome ReadReply(int fd, Clock::time_point deadline) {
  std::string reply;
  char buffer[512];
  while (reply.find('\n') == std::string::npos) {
    if (!PollUntil(fd, POLLIN, deadline)) return {false, "timed out waiting for the reply"};
    ssize_t n = recv(fd, buffer, sizeof(buffer), 0);
    if (n > 0) {
      reply.append(buffer, static_cast<size_t>(n));
    } else if (n == 0) {
      break;
    } else if (errno != EINTR && errno != EAGAIN) {
      return {false, ErrnoText(errno)};
    }
  }
  if (reply.empty()) return {false, "connection closed without a reply"};
  return {true, reply.substr(0, reply.find('\n'))};
}

// Connects without blocking past `deadline`; returns the connected socket or the reason.
std::optional<Fd> ConnectTcp(const Address& target, const std::string& source,
                             Clock::time_point deadline, std::string& error) {
  auto fd = OpenSocket(target, SOCK_STREAM, source, error);
  if (!fd) return std::nullopt;
  if (connect(fd->get(), target.get(), target.length) != 0 && errno != EINPROGRESS) {
    error = ErrnoText(errno);
    return std::nullopt;
  }
  if (!PollUntil(fd->get(), POLLOUT, deadline)) {
    error = "timed out connecting";
    return std::nullopt;
  }
  int so_error = 0;
  socklen_t len = sizeof(so_error);
  getsockopt(fd->get(), SOL_SOCKET, SO_ERROR, &so_error, &len);
  if (so_error != 0) {
    error = ErrnoText(so_error);
    return std::nullopt;
  }
  return fd;
}

Outcome ProbeTcp(const Address& target, const std::string& source, int timeout_ms) {
  Clock::time_point deadline = Clock::now() + milliseconds(timeout_ms);
  std::string error;
  auto fd = ConnectTcp(target, source, deadline, error);
  if (!fd) return {false, error};
  return ReadReply(fd->get(), deadline);
}

Outcome ProbeUdp(const Address& target, const std::string& source, int timeout_ms,
                 int source_port = 0) {
  Clock::time_point deadline = Clock::now() + milliseconds(timeout_ms);
  std::string error;
  auto fd = OpenSocket(target, SOCK_DGRAM, source, error, source_port);
  if (!fd) return {false, error};
  // Connected, so that an ICMP port-unreachable reports as "connection refused" and only the
  // target's answers are accepted.
  if (connect(fd->get(), target.get(), target.length) != 0) return {false, ErrnoText(errno)};
  static constexpr char kPing[] = "ping\n";
  if (send(fd->get(), kPing, sizeof(kPing) - 1, 0) < 0) return {false, ErrnoText(errno)};
  char buffer[512];
  while (true) {
    if (!PollUntil(fd->get(), POLLIN, deadline)) return {false, "timed out waiting for the echo"};
    ssize_t n = recv(fd->get(), buffer, sizeof(buffer), 0);
    if (n >= 0) {
      std::string reply(buffer, static_cast<size_t>(n));
      return {true, reply.substr(0, reply.find('\n'))};
    }
    if (errno != EINTR && errno != EAGAIN) return {false, ErrnoText(errno)};
  }
}

// ---------------------------------------------------------------------------------------------
// serve

struct Listener {
  Fd fd;
  enum Kind { kTcp, kUdp, kSink, kEcho } kind;
  int port;
};

std::optional<Fd> Listen(int type, int port, const std::string& bind_address, std::string& error) {
  auto open_bound = [&](int family, const std::string& address) -> std::optional<Fd> {
    Fd fd(socket(family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    if (!fd.valid()) {
      error = fmt::format("socket: {}", ErrnoText(errno));
      return std::nullopt;
    }
    int one = 1;
    int zero = 0;
    setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (family == AF_INET6) {
      if (address.empty()) setsockopt(fd.get(), IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
      setsockopt(fd.get(), IPPROTO_IPV6, IPV6_RECVPKTINFO, &one, sizeof(one));
    } else {
      setsockopt(fd.get(), IPPROTO_IP, IP_PKTINFO, &one, sizeof(one));
    }
    auto local =
        ParseAddress(address.empty() ? (family == AF_INET6 ? "::" : "0.0.0.0") : address, port);
    if (!local) {
      error = fmt::format("bad bind address {}", address);
      return std::nullopt;
    }
    if (bind(fd.get(), local->get(), local->length) != 0) {
      error = fmt::format("bind port {}: {}", port, ErrnoText(errno));
      return std::nullopt;
    }
    if (type == SOCK_STREAM && listen(fd.get(), 128) != 0) {
      error = fmt::format("listen port {}: {}", port, ErrnoText(errno));
      return std::nullopt;
    }
    return fd;
  };
  if (!bind_address.empty()) {
    auto parsed = ParseAddress(bind_address, port);
    if (!parsed) {
      error = fmt::format("bad bind address {}", bind_address);
      return std::nullopt;
    }
    return open_bound(parsed->family(), bind_address);
  }
  // Dual stack; IPv4 only where IPv6 is disabled.
  if (auto fd = open_bound(AF_INET6, "")) return fd;
  return open_bound(AF_INET, "");
}

// Answers a datagram from the address it was sent to, so that replies from a workload with
// several addresses come from the one the client talked to.
void AnswerDatagram(int fd, const std::string& line) {
  char buffer[2048];
  char control[256];
  sockaddr_storage peer{};
  iovec in{buffer, sizeof(buffer)};
  msghdr msg{};
  msg.msg_name = &peer;
  msg.msg_namelen = sizeof(peer);
  msg.msg_iov = &in;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof(control);
  if (recvmsg(fd, &msg, 0) < 0) return;
  char reply_control[256] = {};
  msghdr out{};
  iovec data{const_cast<char*>(line.data()), line.size()};
  out.msg_name = &peer;
  out.msg_namelen = msg.msg_namelen;
  out.msg_iov = &data;
  out.msg_iovlen = 1;
  for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_PKTINFO) {
      in6_pktinfo info{};
      std::memcpy(&info, CMSG_DATA(c), sizeof(info));
      info.ipi6_ifindex = 0;
      out.msg_control = reply_control;
      out.msg_controllen = CMSG_SPACE(sizeof(info));
      cmsghdr* r = CMSG_FIRSTHDR(&out);
      r->cmsg_level = IPPROTO_IPV6;
      r->cmsg_type = IPV6_PKTINFO;
      r->cmsg_len = CMSG_LEN(sizeof(info));
      std::memcpy(CMSG_DATA(r), &info, sizeof(info));
      break;
    }
    if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO) {
      in_pktinfo info{};
      std::memcpy(&info, CMSG_DATA(c), sizeof(info));
      in_pktinfo reply{};
      reply.ipi_spec_dst = info.ipi_addr;
      out.msg_control = reply_control;
      out.msg_controllen = CMSG_SPACE(sizeof(reply));
      cmsghdr* r = CMSG_FIRSTHDR(&out);
      r->cmsg_level = IPPROTO_IP;
      r->cmsg_type = IP_PKTINFO;
      r->cmsg_len = CMSG_LEN(sizeof(reply));
      std::memcpy(CMSG_DATA(r), &reply, sizeof(reply));
      break;
    }
  }
  if (sendmsg(fd, &out, 0) < 0) {
    // Without the source hint (e.g. it is gone): let routing pick.
    out.msg_control = nullptr;
    out.msg_controllen = 0;
    (void)!sendmsg(fd, &out, 0);
  }
}

int Serve(const std::vector<std::string>& args) {
  std::vector<int> tcp, udp, sink, echo;
  std::string bind_address;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (i + 1 >= args.size()) {
      Usage();
      return 2;
    }
    const std::string& value = args[++i];
    if (a == "--bind") {
      bind_address = value;
      continue;
    }
    auto ports = ParsePorts(value);
    if (!ports) {
      fmt::print(stderr, "tabby-probe serve: bad port list '{}'\n", value);
      return 2;
    }
    if (a == "--tcp") {
      tcp.insert(tcp.end(), ports->begin(), ports->end());
    } else if (a == "--udp") {
      udp.insert(udp.end(), ports->begin(), ports->end());
    } else if (a == "--sink") {
      sink.insert(sink.end(), ports->begin(), ports->end());
    } else if (a == "--echo") {
      echo.insert(echo.end(), ports->begin(), ports->end());
    } else {
      Usage();
      return 2;
    }
  }
  if (tcp.empty() && udp.empty() && sink.empty() && echo.empty()) {
    Usage();
    return 2;
  }
  std::string name;
  if (const char* env = std::getenv("TABBY_PROBE_NAME"); env != nullptr && env[0] != '\0') {
    name = env;
  } else {
    char host[256] = {};
    gethostname(host, sizeof(host) - 1);
    name = host;
  }
  std::string line = fmt::format("tabby-probe {}\n", name);

  std::vector<Listener> listeners;
  auto add = [&](const std::vector<int>& ports, Listener::Kind kind) {
    for (int port : ports) {
      std::string error;
      auto fd =
          Listen(kind == Listener::kUdp ? SOCK_DGRAM : SOCK_STREAM, port, bind_address, error);
      if (!fd) {
        fmt::print(stderr, "tabby-probe serve: {}\n", error);
        return false;
      }
      listeners.push_back(Listener{std::move(*fd), kind, port});
    }
    return true;
  };
  if (!add(tcp, Listener::kTcp) || !add(udp, Listener::kUdp) || !add(sink, Listener::kSink) ||
      !add(echo, Listener::kEcho)) {
    return 1;
  }
  fmt::print("ready\n");
  std::fflush(stdout);

  struct Accepted {
    Fd fd;
    bool echo;  // echo every byte back; otherwise discard it
  };
  std::vector<Accepted> sinks;  // accepted sink and echo connections
  std::vector<pollfd> fds;
  char buffer[65536];
  while (true) {
    fds.clear();
    for (const auto& l : listeners) fds.push_back({l.fd.get(), POLLIN, 0});
    for (const auto& s : sinks) fds.push_back({s.fd.get(), POLLIN, 0});
    if (poll(fds.data(), fds.size(), -1) < 0) {
      if (errno == EINTR) continue;
      fmt::print(stderr, "tabby-probe serve: poll: {}\n", ErrnoText(errno));
      return 1;
    }
    for (size_t i = 0; i < listeners.size(); ++i) {
      if ((fds[i].revents & POLLIN) == 0) continue;
      Listener& l = listeners[i];
      if (l.kind == Listener::kUdp) {
        AnswerDatagram(l.fd.get(), line);
        continue;
      }
      Fd conn(accept4(l.fd.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC));
      if (!conn.valid()) continue;
      if (l.kind == Listener::kTcp) {
        (void)!send(conn.get(), line.data(), line.size(), MSG_NOSIGNAL);
        // A clean close (FIN), not a reset: the client has sent nothing we left unread.
      } else {
        if (l.kind == Listener::kEcho) {
          int one = 1;
          setsockopt(conn.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        }
        sinks.push_back(Accepted{std::move(conn), l.kind == Listener::kEcho});
      }
    }
    // Sinks: read and discard (or echo); drop those the peer closed or reset. Echo replies are
    // small (request/response), so a send that would block is not expected: it ends the
    // connection rather than buffering.
    std::vector<Accepted> open_sinks;
    for (size_t j = 0; j < sinks.size(); ++j) {
      bool keep = true;
      // Connections accepted in this round have no pollfd yet.
      const size_t slot = listeners.size() + j;
      if (slot < fds.size() && fds[slot].revents != 0) {
        while (true) {
          ssize_t n = recv(sinks[j].fd.get(), buffer, sizeof(buffer), 0);
          if (n > 0 && sinks[j].echo &&
              send(sinks[j].fd.get(), buffer, static_cast<size_t>(n), MSG_NOSIGNAL) != n) {
            keep = false;
            break;
          }
          if (n > 0) continue;
          if (n < 0 && (errno == EAGAIN || errno == EINTR)) break;
          keep = false;  // end of file or error
          break;
        }
      }
      if (keep) open_sinks.push_back(std::move(sinks[j]));
    }
    sinks = std::move(open_sinks);
  }
}

// ---------------------------------------------------------------------------------------------
// connect, matrix

struct CommonOptions {
  int timeout_ms = kDefaultTimeoutMs;
  std::string source;
  int seconds = 5;
  std::vector<std::string> positional;
  std::string protocol;  // "tcp" or "udp"
};

std::optional<CommonOptions> ParseCommon(const std::vector<std::string>& args) {
  CommonOptions o;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    auto value = [&]() -> std::optional<std::string> {
      if (i + 1 >= args.size()) return std::nullopt;
      return args[++i];
    };
    if (a == "--tcp" || a == "--udp") {
      o.protocol = a.substr(2);
    } else if (a == "--timeout-ms" || a == "--seconds") {
      auto v = value();
      auto n = v ? ParseInt(*v, 0, 3600000) : std::nullopt;
      if (!n) return std::nullopt;
      (a == "--timeout-ms" ? o.timeout_ms : o.seconds) = *n;
    } else if (a == "--source") {
      auto v = value();
      if (!v) return std::nullopt;
      o.source = *v;
    } else if (a.rfind("--", 0) == 0) {
      return std::nullopt;
    } else {
      o.positional.push_back(a);
    }
  }
  return o;
}

int Connect(const std::vector<std::string>& args) {
  auto o = ParseCommon(args);
  if (!o || o->protocol.empty() || o->positional.size() != 2) {
    Usage();
    return 2;
  }
  auto port = ParseInt(o->positional[1], 1, 65535);
  auto target = port ? ParseAddress(o->positional[0], *port) : std::nullopt;
  if (!target) {
    fmt::print(stderr, "tabby-probe connect: bad address or port {} {}\n", o->positional[0],
               o->positional[1]);
    return 2;
  }
  Outcome outcome = o->protocol == "tcp" ? ProbeTcp(*target, o->source, o->timeout_ms)
                                         : ProbeUdp(*target, o->source, o->timeout_ms);
  if (!outcome.ok) {
    fmt::print(stderr, "{} {} port {}: {}\n", o->protocol, o->positional[0], *port, outcome.text);
    return 1;
  }
  fmt::print("{}\n", outcome.text);
  return 0;
}

// Probes every target on every port at once (one thread each), so that a matrix costs one
// timeout, not one per denied pair. Lines come out in the order of the targets, then the ports.
int Matrix(const std::vector<std::string>& args) {
  // Its own parse: --tcp and --udp take port lists here; --port P is --tcp P.
  std::vector<int> tcp_ports, udp_ports;
  int timeout_ms = kDefaultTimeoutMs;
  int udp_source_port_base = 0;
  std::vector<std::string> targets;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    bool has_value = i + 1 < args.size();
    if ((a == "--tcp" || a == "--udp" || a == "--port") && has_value) {
      auto ports = ParsePorts(args[++i]);
      if (!ports) {
        Usage();
        return 2;
      }
      auto& into = a == "--udp" ? udp_ports : tcp_ports;
      into.insert(into.end(), ports->begin(), ports->end());
    } else if (a == "--timeout-ms" && has_value) {
      auto n = ParseInt(args[++i], 1, 3600000);
      if (!n) {
        Usage();
        return 2;
      }
      timeout_ms = *n;
    } else if (a == "--udp-source-port-base" && has_value) {
      auto n = ParseInt(args[++i], 1, 65535);
      if (!n) {
        Usage();
        return 2;
      }
      udp_source_port_base = *n;
    } else if (a.rfind("--", 0) == 0) {
      Usage();
      return 2;
    } else {
      targets.push_back(a);
    }
  }
  if (targets.empty() || (tcp_ports.empty() && udp_ports.empty())) {
    Usage();
    return 2;
  }
  struct Probe {
    std::string name;
    std::string protocol;
    int port = 0;
    Address target;
    int source_port = 0;  // UDP with --udp-source-port-base: a port of its own
    bool ok = false;
  };
  std::vector<Probe> probes;
  int next_udp_source = 0;
  for (const auto& item : targets) {
    size_t eq = item.find('=');
    for (const auto& [protocol, ports] : {std::pair{"tcp", &tcp_ports}, {"udp", &udp_ports}}) {
      for (int port : *ports) {
        auto target =
            eq == std::string::npos ? std::nullopt : ParseAddress(item.substr(eq + 1), port);
        if (!target) {
          fmt::print(stderr, "tabby-probe matrix: bad target '{}' (want NAME=ADDR)\n", item);
          return 2;
        }
        int source_port = 0;
        if (udp_source_port_base != 0 && std::string_view(protocol) == "udp") {
          source_port = udp_source_port_base + next_udp_source++;
          if (source_port > 65535) {
            fmt::print(stderr, "tabby-probe matrix: --udp-source-port-base too high\n");
            return 2;
          }
        }
        probes.push_back(Probe{item.substr(0, eq), protocol, port, *target, source_port});
      }
    }
  }
  std::vector<std::thread> threads;
  for (auto& probe : probes) {
    threads.emplace_back([&probe, timeout_ms] {
      probe.ok =
          (probe.protocol == "tcp" ? ProbeTcp(probe.target, "", timeout_ms)
                                   : ProbeUdp(probe.target, "", timeout_ms, probe.source_port))
              .ok;
    });
  }
  for (auto& thread : threads) thread.join();
  // The classic form (one TCP port) prints "NAME ok"; with more, "NAME tcp/80 ok".
  bool classic = udp_ports.empty() && tcp_ports.size() == 1;
  for (const auto& probe : probes) {
    if (classic) {
      fmt::print("{} {}\n", probe.name, probe.ok ? "ok" : "--");
    } else {
      fmt::print("{} {}/{} {}\n", probe.name, probe.protocol, probe.port, probe.ok ? "ok" : "--");
    }
  }
  return 0;
}

// ---------------------------------------------------------------------------------------------
// stream

int Stream(const std::vector<std::string>& args) {
  auto o = ParseCommon(args);
  if (!o || o->positional.size() != 2) {
    Usage();
    return 2;
  }
  auto port = ParseInt(o->positional[1], 1, 65535);
  auto target = port ? ParseAddress(o->positional[0], *port) : std::nullopt;
  if (!target) {
    fmt::print(stderr, "tabby-probe stream: bad address or port\n");
    return 2;
  }
  // SIGTERM / SIGINT end the stream cleanly, read from a signalfd in the poll loop.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  sigprocmask(SIG_BLOCK, &stop_signals, nullptr);
  Fd stop(signalfd(-1, &stop_signals, SFD_NONBLOCK | SFD_CLOEXEC));

  std::string error;
  auto fd = ConnectTcp(*target, o->source, Clock::now() + kStallLimit, error);
  if (!fd) {
    fmt::print("sent 0\nbroken: {}\n", error);
    return 1;
  }
  std::vector<char> chunk(65536, 'x');
  uint64_t sent = 0;
  std::string broken;
  Clock::time_point end = Clock::now() + std::chrono::seconds(o->seconds);
  Clock::time_point last_progress = Clock::now();
  Clock::time_point next_report = Clock::now();
  while (broken.empty()) {
    Clock::time_point now = Clock::now();
    if (now >= end) break;
    if (now >= next_report) {
      fmt::print("progress {}\n", sent);
      std::fflush(stdout);
      next_report = now + milliseconds(100);
    }
    if (now - last_progress > kStallLimit) {
      broken = "no progress for 2 s";
      break;
    }
    pollfd p[2] = {{fd->get(), POLLOUT, 0}, {stop.get(), POLLIN, 0}};
    int wait_ms = std::min(
        {RemainingMs(end), RemainingMs(next_report), RemainingMs(last_progress + kStallLimit) + 1});
    int rc = poll(p, 2, wait_ms);
    if (rc < 0 && errno != EINTR) {
      broken = fmt::format("poll: {}", ErrnoText(errno));
      break;
    }
    if (p[1].revents & POLLIN) break;  // asked to stop
    if (p[0].revents & (POLLERR | POLLHUP)) {
      int so_error = 0;
      socklen_t len = sizeof(so_error);
      getsockopt(fd->get(), SOL_SOCKET, SO_ERROR, &so_error, &len);
      broken = so_error != 0 ? ErrnoText(so_error) : "connection closed by peer";
      break;
    }
    if (p[0].revents & POLLOUT) {
      ssize_t n = send(fd->get(), chunk.data(), chunk.size(), MSG_NOSIGNAL);
      if (n > 0) {
        sent += static_cast<uint64_t>(n);
        last_progress = Clock::now();
      } else if (n < 0 && errno != EAGAIN && errno != EINTR) {
        broken = ErrnoText(errno);
      }
    }
  }
  if (broken.empty()) {
    // Everything written must reach the sink: half-close and wait for its close in return.
    shutdown(fd->get(), SHUT_WR);
    Clock::time_point deadline = Clock::now() + kStallLimit;
    char buffer[256];
    while (true) {
      if (!PollUntil(fd->get(), POLLIN, deadline)) {
        broken = "the sink did not confirm the end of the stream within 2 s";
        break;
      }
      ssize_t n = recv(fd->get(), buffer, sizeof(buffer), 0);
      if (n == 0) break;
      if (n < 0 && errno != EAGAIN && errno != EINTR) {
        broken = ErrnoText(errno);
        break;
      }
    }
  }
  fmt::print("progress {}\nsent {}\n", sent, sent);
  if (!broken.empty()) {
    fmt::print("broken: {}\n", broken);
    fmt::print(stderr, "stream to {} port {} broke after {} bytes: {}\n", o->positional[0], *port,
               sent, broken);
    return 1;
  }
  fmt::print("intact\n");
  return 0;
}

// ---------------------------------------------------------------------------------------------
// rr, crr: transaction rates for benchmarks

// Parses "ADDR PORT [--seconds N]" for rr and crr; prints usage and returns nullopt if bad.
std::optional<std::pair<Address, CommonOptions>> ParseRateArgs(
    const char* command, const std::vector<std::string>& args) {
  auto o = ParseCommon(args);
  if (!o || o->positional.size() != 2 || o->seconds < 1) {
    Usage();
    return std::nullopt;
  }
  auto port = ParseInt(o->positional[1], 1, 65535);
  auto target = port ? ParseAddress(o->positional[0], *port) : std::nullopt;
  if (!target) {
    fmt::print(stderr, "tabby-probe {}: bad address or port {} {}\n", command, o->positional[0],
               o->positional[1]);
    return std::nullopt;
  }
  return std::pair{*target, *o};
}

void PrintRate(const char* what, uint64_t count, Clock::time_point start) {
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  fmt::print("{} {} per-second {:.0f}\n", what, count, static_cast<double>(count) / seconds);
}

int RequestResponse(const std::vector<std::string>& args) {
  auto parsed = ParseRateArgs("rr", args);
  if (!parsed) return 2;
  auto& [target, o] = *parsed;
  std::string error;
  auto fd = ConnectTcp(target, o.source, Clock::now() + kStallLimit, error);
  if (!fd) {
    fmt::print(stderr, "rr {}: {}\n", o.positional[0], error);
    return 1;
  }
  int one = 1;
  setsockopt(fd->get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  uint64_t transactions = 0;
  const Clock::time_point start = Clock::now();
  const Clock::time_point end = start + std::chrono::seconds(o.seconds);
  // The hot loop: one byte out, one byte back. Non-blocking socket, so wait with poll only when
  // the reply is not there yet (on loopback-speed paths it often is not).
  char byte = 'x';
  while (Clock::now() < end) {
    if (send(fd->get(), &byte, 1, MSG_NOSIGNAL) != 1) {
      fmt::print(stderr, "rr {}: send: {}\n", o.positional[0], ErrnoText(errno));
      return 1;
    }
    while (true) {
      ssize_t n = recv(fd->get(), &byte, 1, 0);
      if (n == 1) break;
      if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
        fmt::print(stderr, "rr {}: {}\n", o.positional[0],
                   n == 0 ? "connection closed by peer" : ErrnoText(errno));
        return 1;
      }
      if (!PollUntil(fd->get(), POLLIN, Clock::now() + kStallLimit)) {
        fmt::print(stderr, "rr {}: no reply within 2 s\n", o.positional[0]);
        return 1;
      }
    }
    ++transactions;
  }
  PrintRate("transactions", transactions, start);
  return 0;
}

int ConnectRate(const std::vector<std::string>& args) {
  auto parsed = ParseRateArgs("crr", args);
  if (!parsed) return 2;
  auto& [target, o] = *parsed;
  uint64_t connections = 0;
  const Clock::time_point start = Clock::now();
  const Clock::time_point end = start + std::chrono::seconds(o.seconds);
  while (Clock::now() < end) {
    // The server closes first and this side closes only after its FIN, so the TIME_WAIT state
    // stays on the server: a client full of TIME_WAIT sockets would measure the kernel's
    // search for a free port, not the path.
    const Clock::time_point deadline = Clock::now() + kStallLimit;
    std::string error;
    auto fd = ConnectTcp(target, o.source, deadline, error);
    Outcome outcome = fd ? ReadReply(fd->get(), deadline) : Outcome{false, error};
    if (outcome.ok) {
      char rest[64];
      ssize_t n;
      while ((n = recv(fd->get(), rest, sizeof(rest), 0)) != 0) {
        if (n < 0 && errno != EAGAIN && errno != EINTR) break;
        if (n < 0 && !PollUntil(fd->get(), POLLIN, deadline)) {
          outcome = {false, "the server did not close after its reply"};
          break;
        }
      }
    }
    if (!outcome.ok) {
      fmt::print(stderr, "crr {} after {} connections: {}\n", o.positional[0], connections,
                 outcome.text);
      return 1;
    }
    ++connections;
  }
  PrintRate("connections", connections, start);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  signal(SIGPIPE, SIG_IGN);
  if (argc < 2) {
    Usage();
    return 2;
  }
  std::string command = argv[1];
  std::vector<std::string> args(argv + 2, argv + argc);
  if (command == "serve") return Serve(args);
  if (command == "connect") return Connect(args);
  if (command == "stream") return Stream(args);
  if (command == "matrix") return Matrix(args);
  if (command == "rr") return RequestResponse(args);
  if (command == "crr") return ConnectRate(args);
  Usage();
  return 2;
}
