#include "dataplane/nft_client.h"

#include <fmt/format.h>
#include <libmnl/libmnl.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <nftables/libnftables.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <cerrno>
#include <cstring>
#include <tuple>

#include "dataplane/nft_netlink.h"

namespace tabby::dataplane {

namespace {

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

  // Sends `batch` and waits for the acknowledgement of its last message, which the kernel
  // delivers after the commit, together with an error for each message that failed (errors
  // need no request). Returns the first error, naming what `describe(seq)` says the message
  // was. An error answering the begin marker (the kernel refused or aborted the whole batch)
  // ends the wait.
  template <typename Describe>
  absl::Status Transact(const NetlinkBatch& batch, Describe describe) {
    int fd = mnl_socket_get_fd(socket_);
    Drain();  // answers a failed earlier call left behind must not count for this one
    // A send buffer that holds the whole batch (the kernel takes a batch in one message) and a
    // receive buffer for some hundred errors; more than that overflows, which is a failure too.
    // Root may exceed the system limits; others get what they get.
    for (auto [force, plain, bytes] :
         {std::tuple{SO_SNDBUFFORCE, SO_SNDBUF, static_cast<int>(batch.bytes.size())},
          std::tuple{SO_RCVBUFFORCE, SO_RCVBUF, 1 << 20}}) {
      if (setsockopt(fd, SOL_SOCKET, force, &bytes, sizeof(bytes)) != 0) {
        setsockopt(fd, SOL_SOCKET, plain, &bytes, sizeof(bytes));
      }
    }
    if (mnl_socket_sendto(socket_, batch.bytes.data(), batch.bytes.size()) < 0) {
      return absl::InternalError(
          fmt::format("cannot send an nftables batch: {}", std::strerror(errno)));
    }
    std::vector<char> buffer(1 << 16);
    absl::Status first_error;
    for (;;) {
      ssize_t n = mnl_socket_recvfrom(socket_, buffer.data(), buffer.size());
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && errno == ENOBUFS) {
        return absl::InternalError(fmt::format(
            "nftables transaction failed with more errors than could be read{}",
            first_error.ok() ? "" : fmt::format(" ({})", std::string(first_error.message()))));
      }
      if (n < 0) {
        return absl::InternalError(
            fmt::format("no answer to an nftables batch: {}", std::strerror(errno)));
      }
      int remaining = static_cast<int>(n);
      for (auto* nlh = reinterpret_cast<const nlmsghdr*>(buffer.data());
           mnl_nlmsg_ok(nlh, remaining); nlh = mnl_nlmsg_next(nlh, &remaining)) {
        if (nlh->nlmsg_type != NLMSG_ERROR) continue;
        const auto* error = static_cast<const nlmsgerr*>(mnl_nlmsg_get_payload(nlh));
        if (nlh->nlmsg_seq == batch.begin_seq && error->error != 0) {
          return absl::InternalError(fmt::format(
              "nftables transaction refused: {}{}", std::strerror(-error->error),
              first_error.ok() ? "" : fmt::format(" ({})", std::string(first_error.message()))));
        }
        if (nlh->nlmsg_seq <= batch.begin_seq || nlh->nlmsg_seq > batch.last_seq) continue;
        if (error->error != 0 && first_error.ok()) {
          first_error = absl::InternalError(fmt::format("nftables transaction failed: {}: {}",
                                                        describe(nlh->nlmsg_seq),
                                                        std::strerror(-error->error)));
        }
        if (nlh->nlmsg_seq == batch.last_seq) return first_error;
      }
    }
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

  absl::Status Commit(const NftTransaction& transaction) override {
    if (transaction.empty()) return absl::OkStatus();
    absl::StatusOr<NetlinkBatch> batch = EncodeBatch(transaction, sequence_);
    if (!batch.ok()) return batch.status();
    sequence_ = batch->last_seq + 2;  // past the end marker
    if (absl::Status opened = socket_.Open(); !opened.ok()) return opened;
    return socket_.Transact(*batch, [&](uint32_t seq) {
      const uint32_t message = seq - batch->begin_seq - 1;
      if (message >= batch->op_of_message.size()) return std::string("a message of the batch");
      const NftOp& op = transaction.ops[batch->op_of_message[message]];
      NftTransaction one{transaction.family, transaction.table, {op}};
      std::string text = one.Script();
      if (!text.empty() && text.back() == '\n') text.pop_back();
      if (text.size() > 300) text = text.substr(0, 300) + "...";
      return text;
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
