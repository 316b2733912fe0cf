#include "dataplane/nft_client.h"

#include <fmt/format.h>
#include <libmnl/libmnl.h>
#include <libnftnl/common.h>
#include <libnftnl/set.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <nftables/libnftables.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <cerrno>
#include <cstring>
#include <map>
#include <tuple>

#include "absl/cleanup/cleanup.h"

namespace tabby::dataplane {

absl::Status NftClient::ApplyElements(const std::string&, const std::string&,
                                      const std::vector<ElementChange>&) {
  return absl::UnimplementedError("this client changes set elements only through scripts");
}

namespace {

constexpr size_t kElementsPerMessage = 1024;

// The netfilter family number of an nft family name, or -1.
int FamilyNumber(const std::string& family) {
  if (family == "inet") return NFPROTO_INET;
  if (family == "ip") return NFPROTO_IPV4;
  if (family == "ip6") return NFPROTO_IPV6;
  return -1;
}

// A netlink socket for nf_tables batches, opened in the network namespace of the thread that
// first uses it.
class NetfilterSocket {
 public:
  NetfilterSocket() = default;
  ~NetfilterSocket() {
    if (socket_ != nullptr) mnl_socket_close(socket_);
  }
  NetfilterSocket(const NetfilterSocket&) = delete;
  NetfilterSocket& operator=(const NetfilterSocket&) = delete;

  absl::Status Open() {
    if (socket_ != nullptr) return absl::OkStatus();
    mnl_socket* nl = mnl_socket_open(NETLINK_NETFILTER);
    if (nl == nullptr) {
      return absl::InternalError(
          fmt::format("cannot open a netfilter netlink socket: {}", std::strerror(errno)));
    }
    if (mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0) {
      int error = errno;
      mnl_socket_close(nl);
      return absl::InternalError(
          fmt::format("cannot bind a netfilter netlink socket: {}", std::strerror(error)));
    }
    int fd = mnl_socket_get_fd(nl);
    // A kernel that never answers must not hang the agent: waits are bounded.
    timeval timeout{.tv_sec = 10, .tv_usec = 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
    // Error answers carry only the failed message's header, not the whole (large) message.
    int one = 1;
    setsockopt(fd, SOL_NETLINK, NETLINK_CAP_ACK, &one, sizeof(one));
    socket_ = nl;
    return absl::OkStatus();
  }

  // Sends one batch whose messages between the begin and end markers carry sequence numbers
  // [first_seq, last_seq] and each ask for an acknowledgement; waits for all of them. Returns
  // the first error, naming what `describe(seq)` says the message was. An error answering the
  // begin marker (`begin_seq`: the kernel refused or aborted the whole batch) ends the wait.
  template <typename Describe>
  absl::Status Transact(const char* batch, size_t size, uint32_t begin_seq, uint32_t first_seq,
                        uint32_t last_seq, Describe describe) {
    int fd = mnl_socket_get_fd(socket_);
    Drain();  // answers a failed earlier call left behind must not count for this one
    // Buffers sized for this batch and its answers, or the kernel refuses the batch or drops
    // answers; an answer takes about 1 KB of receive buffer (its socket buffer's true size), as
    // nft reckons too. Root may exceed the system limits; others get what they get.
    const int messages = static_cast<int>(last_seq - first_seq + 1);
    for (auto [force, plain, bytes] :
         {std::tuple{SO_SNDBUFFORCE, SO_SNDBUF, static_cast<int>(size)},
          std::tuple{SO_RCVBUFFORCE, SO_RCVBUF, messages * 1024 + (1 << 16)}}) {
      if (setsockopt(fd, SOL_SOCKET, force, &bytes, sizeof(bytes)) != 0) {
        setsockopt(fd, SOL_SOCKET, plain, &bytes, sizeof(bytes));
      }
    }
    if (mnl_socket_sendto(socket_, batch, size) < 0) {
      return absl::InternalError(
          fmt::format("cannot send an nftables batch: {}", std::strerror(errno)));
    }
    std::vector<char> buffer(1 << 16);
    absl::Status first_error;
    int answered = 0;
    while (answered < messages) {
      ssize_t n = mnl_socket_recvfrom(socket_, buffer.data(), buffer.size());
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) {
        return absl::InternalError(
            fmt::format("no answer to an nftables batch ({} of {} messages answered): {}", answered,
                        messages, std::strerror(errno)));
      }
      int remaining = static_cast<int>(n);
      for (auto* nlh = reinterpret_cast<const nlmsghdr*>(buffer.data());
           mnl_nlmsg_ok(nlh, remaining); nlh = mnl_nlmsg_next(nlh, &remaining)) {
        if (nlh->nlmsg_type != NLMSG_ERROR) continue;
        const auto* error = static_cast<const nlmsgerr*>(mnl_nlmsg_get_payload(nlh));
        if (nlh->nlmsg_seq == begin_seq && error->error != 0) {
          return absl::InternalError(fmt::format(
              "nftables transaction refused: {}{}", std::strerror(-error->error),
              first_error.ok() ? "" : fmt::format(" ({})", std::string(first_error.message()))));
        }
        if (nlh->nlmsg_seq < first_seq || nlh->nlmsg_seq > last_seq) continue;
        ++answered;
        if (error->error != 0 && first_error.ok()) {
          first_error = absl::InternalError(fmt::format("nftables transaction failed: {}: {}",
                                                        describe(nlh->nlmsg_seq),
                                                        std::strerror(-error->error)));
        }
      }
    }
    return first_error;
  }

 private:
  void Drain() {
    std::vector<char> buffer(1 << 16);
    while (recv(mnl_socket_get_fd(socket_), buffer.data(), buffer.size(), MSG_DONTWAIT) > 0) {
    }
  }

  mnl_socket* socket_ = nullptr;
};

class LibNftablesClient final : public NftClient {
 public:
  LibNftablesClient() : ctx_(nft_ctx_new(NFT_CTX_DEFAULT)) {
    nft_ctx_buffer_output(ctx_);
    nft_ctx_buffer_error(ctx_);
  }
  ~LibNftablesClient() override { nft_ctx_free(ctx_); }
  LibNftablesClient(const LibNftablesClient&) = delete;
  LibNftablesClient& operator=(const LibNftablesClient&) = delete;

  absl::Status Run(const std::string& script) override {
    nft_ctx_output_set_flags(ctx_, 0);
    int rc = nft_run_cmd_from_buffer(ctx_, script.c_str());
    std::string error = nft_ctx_get_error_buffer(ctx_);
    nft_ctx_get_output_buffer(ctx_);  // discard
    if (rc != 0) {
      return absl::InternalError(fmt::format("nftables transaction failed: {}", error));
    }
    return absl::OkStatus();
  }

  absl::StatusOr<std::optional<std::string>> ListTableJson(const std::string& family,
                                                           const std::string& name) override {
    nft_ctx_output_set_flags(ctx_, NFT_CTX_OUTPUT_JSON);
    std::string command = fmt::format("list table {} {}", family, name);
    int rc = nft_run_cmd_from_buffer(ctx_, command.c_str());
    std::string output = nft_ctx_get_output_buffer(ctx_);
    std::string error = nft_ctx_get_error_buffer(ctx_);
    nft_ctx_output_set_flags(ctx_, 0);
    if (rc != 0) {
      if (error.find("No such file or directory") != std::string::npos) return std::nullopt;
      return absl::InternalError(
          fmt::format("cannot list nftables table {} {}: {}", family, name, error));
    }
    return std::optional<std::string>(std::move(output));
  }

  // One batch: begin, a message per run of at most kElementsPerMessage changes to the same set
  // in the same direction (deletions and additions keep the caller's order), end.
  absl::Status ApplyElements(const std::string& family, const std::string& table,
                             const std::vector<ElementChange>& changes) override {
    if (changes.empty()) return absl::OkStatus();
    int family_number = FamilyNumber(family);
    if (family_number < 0) {
      return absl::InvalidArgumentError(fmt::format("unknown nftables family {}", family));
    }
    if (absl::Status opened = socket_.Open(); !opened.ok()) return opened;
    // Room for every message at its largest (headers, names, one nested attribute per element)
    // below the batch's limit, and one more message of headroom above it: libmnl writes a
    // message before it checks the limit.
    size_t limit = 4096;
    for (const auto& change : changes) limit += change.key.size() + 128 + change.set.size();
    const size_t headroom = kElementsPerMessage * 160 + 4096;
    std::vector<char> buffer(limit + headroom);
    mnl_nlmsg_batch* batch = mnl_nlmsg_batch_start(buffer.data(), limit);
    if (batch == nullptr) return absl::ResourceExhaustedError("cannot start an nftables batch");
    absl::Cleanup stop = [batch] { mnl_nlmsg_batch_stop(batch); };
    auto current = [&] { return static_cast<char*>(mnl_nlmsg_batch_current(batch)); };
    auto next = [&]() -> absl::Status {
      if (mnl_nlmsg_batch_next(batch)) return absl::OkStatus();
      return absl::InternalError("nftables batch larger than its buffer (a bug)");
    };
    const uint32_t begin_seq = sequence_++;
    nftnl_batch_begin(current(), begin_seq);
    if (absl::Status s = next(); !s.ok()) return s;
    const uint32_t first_seq = sequence_;
    std::map<uint32_t, std::string> described;  // message sequence -> what it did
    for (size_t i = 0; i < changes.size();) {
      const ElementChange& first = changes[i];
      nftnl_set* set = nftnl_set_alloc();
      if (set == nullptr) return absl::ResourceExhaustedError("out of memory");
      absl::Cleanup free_set = [set] { nftnl_set_free(set); };
      nftnl_set_set_str(set, NFTNL_SET_TABLE, table.c_str());
      nftnl_set_set_str(set, NFTNL_SET_NAME, first.set.c_str());
      size_t end = i;
      while (end < changes.size() && end - i < kElementsPerMessage &&
             changes[end].set == first.set && changes[end].add == first.add) {
        nftnl_set_elem* element = nftnl_set_elem_alloc();
        if (element == nullptr) return absl::ResourceExhaustedError("out of memory");
        nftnl_set_elem_set(element, NFTNL_SET_ELEM_KEY, changes[end].key.data(),
                           static_cast<uint32_t>(changes[end].key.size()));
        nftnl_set_elem_add(set, element);
        ++end;
      }
      uint32_t seq = sequence_++;
      nlmsghdr* nlh = nftnl_nlmsg_build_hdr(
          current(), first.add ? NFT_MSG_NEWSETELEM : NFT_MSG_DELSETELEM,
          static_cast<uint16_t>(family_number),
          static_cast<uint16_t>((first.add ? NLM_F_CREATE : 0) | NLM_F_ACK), seq);
      nftnl_set_elems_nlmsg_build_payload(nlh, set);
      described[seq] =
          fmt::format("{} {} element(s) {} set {} {} {}", first.add ? "adding" : "deleting",
                      end - i, first.add ? "to" : "from", family, table, first.set);
      if (absl::Status s = next(); !s.ok()) return s;
      i = end;
    }
    const uint32_t last_seq = sequence_ - 1;
    nftnl_batch_end(current(), sequence_++);
    if (absl::Status s = next(); !s.ok()) return s;
    return socket_.Transact(
        static_cast<const char*>(mnl_nlmsg_batch_head(batch)), mnl_nlmsg_batch_size(batch),
        begin_seq, first_seq, last_seq, [&](uint32_t seq) {
          auto it = described.find(seq);
          return it == described.end() ? std::string("a message of the batch") : it->second;
        });
  }

 private:
  nft_ctx* ctx_;
  NetfilterSocket socket_;
  uint32_t sequence_ = 1;
};

}  // namespace

std::unique_ptr<NftClient> MakeLibNftablesClient() { return std::make_unique<LibNftablesClient>(); }

}  // namespace tabby::dataplane
