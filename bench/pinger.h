// The ICMP prober the end-to-end benchmarks share: from inside a workload's namespace, it pings
// each target it is handed, from the moment the target's CNI ADD returned, until the target
// answers or a timeout passes, and records when the first reply came.
#pragma once

#include <arpa/inet.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <netinet/ip.h>
#include <netinet/ip_icmp.h>
#include <poll.h>
#include <sched.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <future>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"

namespace tabby::bench {

using Clock = std::chrono::steady_clock;

// One new workload's story.
struct Sample {
  bool added = false;
  double add_ms = 0;
  Clock::time_point returned;            // when ADD returned
  uint32_t address = 0;                  // host order
  std::optional<double> first_reply_ms;  // after `returned`
};

// The pinger: from inside a workload's namespace, sends ICMP echo requests to each target it is
// handed until that target answers (or times out), and records when. One thread, a raw socket,
// an eventfd to wake it when a target arrives. Identifiers are the target's index + 1, so a
// reply names its target even when two are pending.
class Pinger {
 public:
  Pinger(std::string netns_path, std::vector<Sample>& samples, int interval_us, int timeout_ms)
      : netns_path_(std::move(netns_path)),
        samples_(samples),
        interval_us_(interval_us),
        timeout_ms_(timeout_ms) {}

  absl::Status Start() {
    wake_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (wake_ < 0) return absl::InternalError(fmt::format("eventfd: {}", std::strerror(errno)));
    std::promise<absl::Status> ready;
    auto started = ready.get_future();
    thread_ = std::thread([this, &ready] { Run(ready); });
    return started.get();
  }

  void Add(size_t index) {
    {
      std::lock_guard lock(mutex_);
      incoming_.push_back(index);
    }
    uint64_t one = 1;
    (void)!write(wake_, &one, sizeof(one));
  }

  // After the last Add: returns once every target answered or timed out.
  void Finish() {
    finishing_ = true;
    uint64_t one = 1;
    (void)!write(wake_, &one, sizeof(one));
    if (thread_.joinable()) thread_.join();
    close(wake_);
  }

 private:
  struct Pending {
    size_t index;
    Clock::time_point next_send;
    uint16_t sequence = 0;
  };

  void Run(std::promise<absl::Status>& ready) {
    // setns moves only this thread into the pinger's namespace.
    int netns = open(netns_path_.c_str(), O_RDONLY | O_CLOEXEC);
    if (netns < 0 || setns(netns, CLONE_NEWNET) != 0) {
      ready.set_value(
          absl::InternalError(fmt::format("entering {}: {}", netns_path_, std::strerror(errno))));
      if (netns >= 0) close(netns);
      return;
    }
    close(netns);
    socket_ = socket(AF_INET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_ICMP);
    if (socket_ < 0) {
      ready.set_value(absl::InternalError(fmt::format("raw socket: {}", std::strerror(errno))));
      return;
    }
    ready.set_value(absl::OkStatus());
    const auto interval = std::chrono::microseconds(interval_us_);
    const auto timeout = std::chrono::milliseconds(timeout_ms_);
    std::map<uint16_t, Pending> pending;  // by ICMP identifier
    while (true) {
      {
        std::lock_guard lock(mutex_);
        for (size_t index : incoming_) {
          pending[static_cast<uint16_t>(index + 1)] = Pending{index, Clock::now()};
        }
        incoming_.clear();
      }
      if (pending.empty() && finishing_) break;
      Clock::time_point now = Clock::now();
      Clock::time_point next_wake = now + std::chrono::milliseconds(100);
      for (auto it = pending.begin(); it != pending.end();) {
        Pending& p = it->second;
        if (now - samples_[p.index].returned > timeout) {
          it = pending.erase(it);  // never answered: first_reply_ms stays empty
          continue;
        }
        if (now >= p.next_send) {
          SendEcho(samples_[p.index].address, it->first, p.sequence++);
          p.next_send = now + interval;
        }
        next_wake = std::min(next_wake, p.next_send);
        ++it;
      }
      pollfd fds[2] = {{socket_, POLLIN, 0}, {wake_, POLLIN, 0}};
      auto wait = std::chrono::duration_cast<std::chrono::microseconds>(next_wake - Clock::now());
      // poll takes milliseconds: round sub-millisecond waits up, but never block past a send
      // that is due (ppoll takes a timespec).
      timespec ts{0, std::max<long>(0, static_cast<long>(wait.count()) * 1000)};
      ppoll(fds, 2, &ts, nullptr);
      if (fds[1].revents & POLLIN) {
        uint64_t drained;
        (void)!read(wake_, &drained, sizeof(drained));
      }
      ReadReplies(pending);
    }
    close(socket_);
  }

  void SendEcho(uint32_t address, uint16_t id, uint16_t sequence) {
    icmphdr echo{};
    echo.type = ICMP_ECHO;
    echo.un.echo.id = htons(id);
    echo.un.echo.sequence = htons(sequence);
    echo.checksum = Checksum(&echo, sizeof(echo));
    sockaddr_in to{};
    to.sin_family = AF_INET;
    to.sin_addr.s_addr = htonl(address);
    (void)!sendto(socket_, &echo, sizeof(echo), 0, reinterpret_cast<sockaddr*>(&to), sizeof(to));
  }

  // Every reply waiting on the socket; a raw socket hands over the IP header too.
  void ReadReplies(std::map<uint16_t, Pending>& pending) {
    char buffer[1500];
    while (true) {
      ssize_t n = recv(socket_, buffer, sizeof(buffer), 0);
      if (n <= 0) return;
      const Clock::time_point now = Clock::now();
      if (static_cast<size_t>(n) < sizeof(iphdr)) continue;
      iphdr ip;
      std::memcpy(&ip, buffer, sizeof(ip));
      const size_t header = static_cast<size_t>(ip.ihl) * 4;
      if (static_cast<size_t>(n) < header + sizeof(icmphdr)) continue;
      icmphdr icmp;
      std::memcpy(&icmp, buffer + header, sizeof(icmp));
      if (icmp.type != ICMP_ECHOREPLY) continue;
      auto it = pending.find(ntohs(icmp.un.echo.id));
      if (it == pending.end()) continue;
      Sample& sample = samples_[it->second.index];
      if (ntohl(ip.saddr) != sample.address) continue;
      sample.first_reply_ms =
          std::chrono::duration<double, std::milli>(now - sample.returned).count();
      pending.erase(it);
    }
  }

  static uint16_t Checksum(const void* data, size_t length) {
    const auto* bytes = static_cast<const uint8_t*>(data);
    uint32_t sum = 0;
    for (size_t i = 0; i + 1 < length; i += 2)
      sum += static_cast<uint32_t>(bytes[i] << 8 | bytes[i + 1]);
    if (length % 2) sum += static_cast<uint32_t>(bytes[length - 1] << 8);
    while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
    return htons(static_cast<uint16_t>(~sum));
  }

  const std::string netns_path_;
  std::vector<Sample>& samples_;
  const int interval_us_;
  const int timeout_ms_;
  int socket_ = -1;
  int wake_ = -1;
  std::thread thread_;
  std::mutex mutex_;
  std::vector<size_t> incoming_;
  std::atomic<bool> finishing_ = false;
};

inline std::optional<uint32_t> ParseIpv4(const std::string& text) {
  in_addr a{};
  if (inet_pton(AF_INET, text.c_str(), &a) != 1) return std::nullopt;
  return ntohl(a.s_addr);
}

}  // namespace tabby::bench
