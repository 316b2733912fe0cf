#include "datastore/etcd_datastore.h"

#include <fmt/format.h>
#include <grpcpp/grpcpp.h>
#include <spdlog/spdlog.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <deque>
#include <fstream>
#include <mutex>
#include <sstream>
#include <thread>
#include <utility>

#include "base/status_macros.h"
#include "base/unique_fd.h"
#include "datastore/keys.h"
#include "etcd/etcdserver/etcdserverpb/rpc.grpc.pb.h"

namespace tabby::datastore {
namespace {

namespace pb = ::etcdserverpb;

// One attempt at one member: long enough for a leader election in a healthy cluster (about a
// second with etcd's defaults), short enough that a member that accepts connections but cannot
// answer (partitioned, no quorum) costs little before the next one is tried.
constexpr absl::Duration kAttemptTimeout = absl::Seconds(3);
// Between rounds over every member, doubling up to the maximum.
constexpr absl::Duration kInitialBackoff = absl::Milliseconds(50);
constexpr absl::Duration kMaxBackoff = absl::Seconds(1);
// A watch stream that failed is reopened after this, doubling up to kMaxBackoff.
constexpr absl::Duration kWatchRetryBackoff = absl::Milliseconds(100);
// After a watch is (re)created from an older revision, how long its progress notifications are
// not trusted (see ReadStream).
constexpr absl::Duration kCatchUpGrace = absl::Seconds(1);
// How often Watch::Next asks the server how far the stream is complete (Progress()).
constexpr absl::Duration kProgressRequestInterval = absl::Milliseconds(200);
// Keys per page when listing.
constexpr int64_t kListPage = 2000;
constexpr int kDefaultPort = 2379;

std::string_view Scheme(bool tls) { return tls ? "etcds" : "etcd"; }

absl::StatusOr<std::string> ReadFile(const std::string& path, std::string_view what) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return absl::InvalidArgumentError(
        fmt::format("cannot read the {} file {}: {}", what, path, std::strerror(errno)));
  }
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// Maps a gRPC failure onto the contract's codes.
absl::StatusCode CodeOf(const grpc::Status& status) {
  switch (status.error_code()) {
    case grpc::StatusCode::UNAVAILABLE:
    case grpc::StatusCode::DEADLINE_EXCEEDED:
    case grpc::StatusCode::CANCELLED:
      return absl::StatusCode::kUnavailable;
    case grpc::StatusCode::NOT_FOUND:
      return absl::StatusCode::kNotFound;
    case grpc::StatusCode::INVALID_ARGUMENT:
      return absl::StatusCode::kInvalidArgument;
    case grpc::StatusCode::OUT_OF_RANGE:
      return absl::StatusCode::kOutOfRange;
    case grpc::StatusCode::RESOURCE_EXHAUSTED:
      return absl::StatusCode::kResourceExhausted;
    case grpc::StatusCode::FAILED_PRECONDITION:
      return absl::StatusCode::kFailedPrecondition;
    case grpc::StatusCode::PERMISSION_DENIED:
      return absl::StatusCode::kPermissionDenied;
    case grpc::StatusCode::UNAUTHENTICATED:
      return absl::StatusCode::kUnauthenticated;
    default:
      return absl::StatusCode::kInternal;
  }
}

// What repeating a call after a failure that may have come after the server applied it does.
enum class Retry {
  kRead,       // nothing: reads are repeated on any member failure
  kSameState,  // the same final state (Put, keep-alive, compaction; a repeated lease grant
               // leaves a lease nobody uses, which expires): repeated too
  kWrite,      // a compare would now fail: repeated only when it cannot have been applied
};

// Whether the request certainly did not reach etcd's log: no connection, or etcd's "no leader"
// (refused before proposing, thanks to RequireLeader). Everything else that fails a write
// (a reset connection, "request timed out, possibly due to previous leader failure", a deadline)
// may come after it committed. etcd's own client draws the same line.
bool CertainlyNotApplied(const grpc::Status& status) {
  if (status.error_code() != grpc::StatusCode::UNAVAILABLE) return false;
  const std::string& message = status.error_message();
  for (std::string_view sign : {"no leader", "failed to connect", "Connection refused",
                                "connection attempt timed out", "No route to host"}) {
    if (message.find(sign) != std::string::npos) return true;
  }
  return false;
}

// Whether a failed attempt may be repeated on another member.
bool Retryable(const grpc::Status& status, Retry retry) {
  switch (status.error_code()) {
    case grpc::StatusCode::UNAVAILABLE:
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      return retry != Retry::kWrite || CertainlyNotApplied(status);
    default:
      return false;
  }
}

KeyValue FromProto(const ::mvccpb::KeyValue& kv) {
  return KeyValue{kv.key(), kv.value(), kv.create_revision(), kv.mod_revision(), kv.lease()};
}

// A range request for every key under `prefix` ("" = every key).
void SetPrefixRange(const std::string& prefix, std::string* key, std::string* range_end) {
  if (prefix.empty()) {
    *key = std::string(1, '\0');
    *range_end = std::string(1, '\0');
    return;
  }
  *key = prefix;
  std::optional<std::string> end = keys::PrefixEnd(prefix);
  *range_end = end ? *end : std::string(1, '\0');
}

// Asks the member to refuse at once (UNAVAILABLE, "no leader") when it has no leader, instead of
// holding the request until an election ends or the deadline passes (etcd's "hasleader"
// metadata, clientv3.WithRequireLeader). The request then moves to another member. On a watch
// stream it makes the member cancel the stream when it loses its leader.
void RequireLeader(grpc::ClientContext& context) { context.AddMetadata("hasleader", "true"); }

int64_t TtlSeconds(absl::Duration ttl) {
  return static_cast<int64_t>(absl::ToDoubleSeconds(absl::Ceil(ttl, absl::Seconds(1))));
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// URL.

absl::StatusOr<EtcdOptions> ParseEtcdUrl(std::string_view url) {
  EtcdOptions options;
  auto bad = [&](std::string_view why) {
    return absl::InvalidArgumentError(
        fmt::format("datastore URL \"{}\": {} (expected etcd://host:port[,host:port...] or "
                    "etcds://host:port[,...][?ca=FILE&cert=FILE&key=FILE])",
                    url, why));
  };
  std::string_view rest;
  if (url.starts_with("etcd://")) {
    rest = url.substr(7);
  } else if (url.starts_with("etcds://")) {
    options.tls = true;
    rest = url.substr(8);
  } else {
    return bad("not an etcd URL");
  }
  std::string_view query;
  if (size_t mark = rest.find('?'); mark != std::string_view::npos) {
    query = rest.substr(mark + 1);
    rest = rest.substr(0, mark);
  }
  if (!rest.empty() && rest.back() == '/') rest.remove_suffix(1);
  if (rest.find('/') != std::string_view::npos) return bad("an etcd URL has no path");
  if (rest.empty()) return bad("no endpoint");
  while (!rest.empty()) {
    size_t comma = rest.find(',');
    std::string_view endpoint = rest.substr(0, comma);
    rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
    if (endpoint.empty()) return bad("an empty endpoint");
    std::string_view host = endpoint;
    std::string_view port;
    if (endpoint.front() == '[') {
      size_t close = endpoint.find(']');
      if (close == std::string_view::npos) return bad(fmt::format("\"{}\": no ']'", endpoint));
      host = endpoint.substr(0, close + 1);
      std::string_view after = endpoint.substr(close + 1);
      if (!after.empty()) {
        if (after.front() != ':') return bad(fmt::format("\"{}\": expected :port", endpoint));
        port = after.substr(1);
      }
    } else if (size_t colon = endpoint.rfind(':'); colon != std::string_view::npos) {
      host = endpoint.substr(0, colon);
      port = endpoint.substr(colon + 1);
      if (host.find(':') != std::string_view::npos) {
        return bad(fmt::format("\"{}\": write an IPv6 address in brackets, [addr]:port", endpoint));
      }
    }
    if (host.empty() || host == "[]") return bad(fmt::format("\"{}\": no host", endpoint));
    int port_number = kDefaultPort;
    if (!port.empty() || endpoint.back() == ':') {
      port_number = 0;
      for (char ch : port) {
        if (ch < '0' || ch > '9' || port_number > 65535) {
          port_number = -1;
          break;
        }
        port_number = port_number * 10 + (ch - '0');
      }
      if (port.empty() || port_number < 1 || port_number > 65535) {
        return bad(fmt::format("\"{}\": the port must be 1-65535", endpoint));
      }
    }
    options.endpoints.push_back(fmt::format("{}:{}", host, port_number));
  }
  while (!query.empty()) {
    size_t amp = query.find('&');
    std::string_view item = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    if (item.empty()) continue;
    size_t eq = item.find('=');
    std::string_view name = item.substr(0, eq);
    std::string value(eq == std::string_view::npos ? "" : item.substr(eq + 1));
    std::string* field = name == "ca"     ? &options.ca_file
                         : name == "cert" ? &options.cert_file
                         : name == "key"  ? &options.key_file
                                          : nullptr;
    if (field == nullptr) {
      return bad(fmt::format("unknown parameter \"{}\" (known: ca, cert, key)", name));
    }
    if (value.empty()) return bad(fmt::format("parameter \"{}\" needs a file", name));
    *field = value;
  }
  if (!options.tls &&
      (!options.ca_file.empty() || !options.cert_file.empty() || !options.key_file.empty())) {
    return bad("ca, cert and key are for TLS: use etcds://");
  }
  return options;
}

// ---------------------------------------------------------------------------------------------
// Client: the members and the retry policy. Shared by a handle and its watches.

class EtcdDatastore::Client {
 public:
  struct Member {
    std::string address;  // host:port
    std::shared_ptr<grpc::Channel> channel;
    std::unique_ptr<pb::KV::Stub> kv;
    std::unique_ptr<pb::Watch::Stub> watch;
    std::unique_ptr<pb::Lease::Stub> lease;
    std::unique_ptr<pb::Maintenance::Stub> maintenance;
  };

  static absl::StatusOr<std::shared_ptr<Client>> Make(const EtcdOptions& options) {
    if (options.endpoints.empty()) return absl::InvalidArgumentError("etcd: no endpoint");
    std::shared_ptr<grpc::ChannelCredentials> credentials;
    if (options.tls) {
      if (options.cert_file.empty() != options.key_file.empty()) {
        return absl::InvalidArgumentError(
            "etcd: a client certificate needs its key and a key its certificate (give both "
            "--etcd-cert and --etcd-key, or neither)");
      }
      grpc::SslCredentialsOptions ssl;
      if (!options.ca_file.empty()) {
        ASSIGN_OR_RETURN(ssl.pem_root_certs, ReadFile(options.ca_file, "CA"));
      }
      if (!options.cert_file.empty()) {
        ASSIGN_OR_RETURN(ssl.pem_cert_chain, ReadFile(options.cert_file, "client certificate"));
        ASSIGN_OR_RETURN(ssl.pem_private_key, ReadFile(options.key_file, "client key"));
      }
      credentials = grpc::SslCredentials(ssl);
    } else {
      credentials = grpc::InsecureChannelCredentials();
    }
    grpc::ChannelArguments args;
    // A watch stream on a member that vanished without closing its connections (host down,
    // partition) is found dead by keepalive pings. etcd refuses pings more often than every 5 s.
    args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, 10'000);
    args.SetInt(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 5'000);
    args.SetInt(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
    // Reconnect soon after a member returns (gRPC's default backoff grows to two minutes).
    // (GRPC_ARG_MIN_RECONNECT_BACKOFF_MS stays at its default: it is also the time a
    // connection attempt may take, and a short one fails every attempt to a busy member.)
    args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
    args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 2'000);
    // Each handle its own connections: gRPC would otherwise share one per address across the
    // process, so one handle's stalled stream could hold up another's calls.
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
    // Lists are paged; events of one transaction and values up to etcd's 1.5 MiB request limit
    // still make large messages.
    args.SetMaxReceiveMessageSize(256 << 20);
    auto client = std::shared_ptr<Client>(new Client(options));
    for (const std::string& address : options.endpoints) {
      auto member = std::make_unique<Member>();
      member->address = address;
      member->channel = grpc::CreateCustomChannel(address, credentials, args);
      member->kv = pb::KV::NewStub(member->channel);
      member->watch = pb::Watch::NewStub(member->channel);
      member->lease = pb::Lease::NewStub(member->channel);
      member->maintenance = pb::Maintenance::NewStub(member->channel);
      client->members_.push_back(std::move(member));
    }
    return client;
  }

  // The member requests go to now.
  Member& Current() { return *members_[current_.load() % members_.size()]; }
  // After `failed` failed: the next member, unless another caller moved on already.
  void MoveOn(const Member& failed) {
    size_t index = current_.load();
    if (members_[index % members_.size()].get() == &failed) {
      current_.compare_exchange_strong(index, index + 1);
    }
  }
  size_t size() const { return members_.size(); }
  const EtcdOptions& options() const { return options_; }
  std::string Describe() const {
    std::string text = fmt::format("{}://", Scheme(options_.tls));
    for (size_t i = 0; i < members_.size(); ++i) {
      if (i > 0) text += ',';
      text += members_[i]->address;
    }
    return text;
  }

  // Runs `attempt(member, context)` (a gRPC call) until it succeeds, fails for good, or the
  // request's deadline passes, moving to the next member after each failure.
  template <typename Attempt>
  absl::Status Call(std::string_view what, Retry retry, Attempt&& attempt) {
    const absl::Time deadline = absl::Now() + options_.request_timeout;
    absl::Duration backoff = kInitialBackoff;
    for (size_t tries = 1;; ++tries) {
      Member& member = Current();
      grpc::ClientContext context;
      RequireLeader(context);
      // A read that takes long is tried elsewhere; a write gets the whole deadline, since giving
      // up on it early leaves its outcome unknown.
      context.set_deadline(absl::ToChronoTime(
          retry == Retry::kRead ? std::min(deadline, absl::Now() + kAttemptTimeout) : deadline));
      grpc::Status status = attempt(member, context);
      if (status.ok()) return absl::OkStatus();
      const bool again = Retryable(status, retry) && absl::Now() < deadline;
      absl::Status error(
          CodeOf(status),
          fmt::format("etcd {}: {}: {}{}", member.address, what, status.error_message(),
                      retry == Retry::kWrite && !CertainlyNotApplied(status)
                          ? " (the write may or may not have been applied)"
                          : ""));
      if (!again) {
        if (tries > 1) {
          return absl::Status(error.code(), fmt::format("{} (after {} attempts on {})",
                                                        MessageOf(error), tries, Describe()));
        }
        return error;
      }
      // The first failure of a call is worth a warning; its retries are not (an outage would
      // repeat the same line every backoff step), and the final error goes to the caller.
      spdlog::log(tries == 1 ? spdlog::level::warn : spdlog::level::debug, "{}; trying {}",
                  MessageOf(error), size() > 1 ? "the next member" : "again");
      MoveOn(member);
      if (tries % size() == 0) {
        absl::SleepFor(std::min(backoff, deadline - absl::Now()));
        backoff = std::min(backoff * 2, kMaxBackoff);
      }
    }
  }

 private:
  explicit Client(EtcdOptions options) : options_(std::move(options)) {}

  EtcdOptions options_;
  std::vector<std::unique_ptr<Member>> members_;
  std::atomic<size_t> current_{0};
};

// ---------------------------------------------------------------------------------------------
// Watch: a reader thread per stream fills a queue; Next drains it.

namespace {

class EtcdWatch final : public Watch {
 public:
  EtcdWatch(std::shared_ptr<EtcdDatastore::Client> client, std::string prefix, Revision after,
            UniqueFd ready)
      : client_(std::move(client)),
        prefix_(std::move(prefix)),
        next_(after + 1),
        progress_(after),
        ready_(std::move(ready)) {
    reader_ = std::thread([this] { Read(); });
  }

  ~EtcdWatch() override {
    {
      std::lock_guard lock(mu_);
      stopping_ = true;
      if (context_ != nullptr) context_->TryCancel();
    }
    wake_.notify_all();
    reader_.join();
  }

  absl::StatusOr<std::vector<Event>> Next(absl::Duration timeout) override {
    std::unique_lock lock(mu_);
    RequestProgress(lock);
    wake_.wait_for(lock, absl::ToChronoNanoseconds(std::max(timeout, absl::ZeroDuration())),
                   [&] { return !queue_.empty() || !error_.ok(); });
    std::vector<Event> events(std::make_move_iterator(queue_.begin()),
                              std::make_move_iterator(queue_.end()));
    queue_.clear();
    uint64_t count;
    while (read(ready_.get(), &count, sizeof(count)) > 0) {
    }
    if (events.empty() && !error_.ok()) return error_;
    return events;
  }

  int ReadinessFd() const override { return ready_.get(); }

  Revision Progress() const override {
    std::lock_guard lock(mu_);
    return progress_;
  }

  // The first response of the stream: created, or refused (compacted revision). Lets WatchPrefix
  // report kOutOfRange at once, as the SQLite backend does.
  absl::Status WaitCreated(absl::Duration timeout) {
    std::unique_lock lock(mu_);
    wake_.wait_for(lock, absl::ToChronoNanoseconds(timeout),
                   [&] { return created_ || !error_.ok(); });
    if (!error_.ok() && error_.code() == absl::StatusCode::kOutOfRange) return error_;
    return absl::OkStatus();  // otherwise the stream keeps trying; Next reports
  }

 private:
  void Push(std::vector<Event> events, Revision progress) {
    {
      std::lock_guard lock(mu_);
      for (Event& event : events) queue_.push_back(std::move(event));
      progress_ = std::max(progress_, progress);
    }
    Signal();
  }

  void Fail(absl::Status error) {
    {
      std::lock_guard lock(mu_);
      error_ = std::move(error);
    }
    Signal();
  }

  void Signal() {
    uint64_t one = 1;
    (void)!write(ready_.get(), &one, sizeof(one));
    wake_.notify_all();
  }

  // At most every kProgressRequestInterval, asks the server for a progress notification: an
  // empty response whose header revision says "every event up to here has been sent".
  void RequestProgress(std::unique_lock<std::mutex>& lock) {
    if (stream_ == nullptr || !created_) return;
    const absl::Time now = absl::Now();
    if (now - last_progress_request_ < kProgressRequestInterval) return;
    last_progress_request_ = now;
    pb::WatchRequest request;
    request.mutable_progress_request();
    stream_->Write(request);  // a failed write shows as a failed Read in the reader
  }

  // The reader thread: opens the stream (again after failures, from the next revision, on the
  // next member) and turns responses into events.
  void Read() {
    absl::Duration backoff = kWatchRetryBackoff;
    for (;;) {
      EtcdDatastore::Client::Member& member = client_->Current();
      auto context = std::make_unique<grpc::ClientContext>();
      RequireLeader(*context);
      {
        std::lock_guard lock(mu_);
        if (stopping_) return;
        context_ = context.get();
      }
      auto stream = member.watch->Watch(context.get());
      pb::WatchRequest request;
      pb::WatchCreateRequest* create = request.mutable_create_request();
      SetPrefixRange(prefix_, create->mutable_key(), create->mutable_range_end());
      create->set_start_revision(next_);
      create->set_prev_kv(true);
      bool finished = false;
      if (stream->Write(request)) {
        {
          std::lock_guard lock(mu_);
          stream_ = stream.get();
        }
        finished = ReadStream(*stream, member, backoff);
      }
      {
        std::lock_guard lock(mu_);
        stream_ = nullptr;
        created_ = false;
      }
      grpc::Status status = stream->Finish();
      {
        std::lock_guard lock(mu_);
        context_ = nullptr;
        if (stopping_ || finished) return;
      }
      spdlog::warn("etcd {}: watch of \"{}\" lost ({}); resuming from revision {}{}",
                   member.address, keys::Printable(prefix_),
                   status.ok() ? "stream closed" : status.error_message(), next_,
                   client_->size() > 1 ? " on the next member" : "");
      client_->MoveOn(member);
      std::unique_lock lock(mu_);
      wake_.wait_for(lock, absl::ToChronoNanoseconds(backoff), [&] { return stopping_; });
      backoff = std::min(backoff * 2, kMaxBackoff);
    }
  }

  // Reads one stream until it ends. True when the watch is finished for good (compacted,
  // cancelled by the server).
  bool ReadStream(grpc::ClientReaderWriter<pb::WatchRequest, pb::WatchResponse>& stream,
                  const EtcdDatastore::Client::Member& member, absl::Duration& backoff) {
    pb::WatchResponse response;
    while (stream.Read(&response)) {
      if (response.compact_revision() > 0) {
        Fail(absl::OutOfRangeError(fmt::format(
            "etcd {}: watch of \"{}\" from revision {}: history up to revision {} has been "
            "compacted; list again and watch from the listing's revision",
            member.address, keys::Printable(prefix_), next_, response.compact_revision())));
        return true;
      }
      if (response.canceled()) {
        Fail(absl::InternalError(fmt::format("etcd {}: watch of \"{}\" cancelled by the server: {}",
                                             member.address, keys::Printable(prefix_),
                                             response.cancel_reason())));
        return true;
      }
      if (response.created()) {
        std::lock_guard lock(mu_);
        created_ = true;
        // etcd before 3.4.24 / 3.5.8 may answer a progress request with the current revision
        // while a new watch is still catching up on older events (etcd issue #15220): trust
        // progress only once the catch-up has had time to arrive.
        if (response.header().revision() >= next_) {
          trust_progress_after_ = absl::Now() + kCatchUpGrace;
        }
        backoff = kWatchRetryBackoff;
        wake_.notify_all();
        continue;
      }
      if (response.events_size() == 0) {
        // A progress notification: complete up to the header's revision.
        bool trusted;
        {
          std::lock_guard lock(mu_);
          trusted = absl::Now() >= trust_progress_after_;
        }
        if (trusted) Push({}, response.header().revision());
        continue;
      }
      std::vector<Event> events;
      events.reserve(response.events_size());
      for (const ::mvccpb::Event& in : response.events()) {
        Event event;
        event.type = in.type() == ::mvccpb::Event_EventType_DELETE ? Event::Type::kDelete
                                                                   : Event::Type::kPut;
        event.kv = FromProto(in.kv());
        if (event.type == Event::Type::kDelete) {
          event.kv.value.clear();
          event.kv.create_revision = 0;
          event.kv.lease = 0;
        }
        if (in.has_prev_kv()) event.prev = FromProto(in.prev_kv());
        next_ = std::max(next_, event.kv.mod_revision + 1);
        events.push_back(std::move(event));
      }
      Push(std::move(events), next_ - 1);
    }
    return false;
  }

  const std::shared_ptr<EtcdDatastore::Client> client_;
  const std::string prefix_;
  Revision next_;  // reader thread only: the first revision not yet received

  mutable std::mutex mu_;
  std::condition_variable wake_;
  std::deque<Event> queue_;
  absl::Status error_;
  Revision progress_;
  bool stopping_ = false;
  bool created_ = false;
  grpc::ClientContext* context_ = nullptr;
  grpc::ClientReaderWriter<pb::WatchRequest, pb::WatchResponse>* stream_ = nullptr;
  absl::Time last_progress_request_ = absl::InfinitePast();
  absl::Time trust_progress_after_ = absl::InfinitePast();
  UniqueFd ready_;  // eventfd: readable while events or an error wait
  std::thread reader_;
};

}  // namespace

// ---------------------------------------------------------------------------------------------
// The datastore.

absl::StatusOr<std::unique_ptr<EtcdDatastore>> EtcdDatastore::Connect(const EtcdOptions& options) {
  ASSIGN_OR_RETURN(std::shared_ptr<Client> client, Client::Make(options));
  return std::unique_ptr<EtcdDatastore>(new EtcdDatastore(std::move(client)));
}

EtcdDatastore::EtcdDatastore(std::shared_ptr<Client> client) : client_(std::move(client)) {}
EtcdDatastore::~EtcdDatastore() = default;

absl::StatusOr<std::optional<KeyValue>> EtcdDatastore::Get(const std::string& key) {
  const std::string what = fmt::format("get \"{}\"", keys::Printable(key));
  RETURN_IF_ERROR(Annotate(keys::Validate(key), what));
  pb::RangeRequest request;
  request.set_key(key);
  pb::RangeResponse response;
  RETURN_IF_ERROR(client_->Call(what, Retry::kRead, [&](auto& member, auto& context) {
    return member.kv->Range(&context, request, &response);
  }));
  if (response.kvs_size() == 0) return std::optional<KeyValue>();
  return std::optional<KeyValue>(FromProto(response.kvs(0)));
}

absl::StatusOr<Revision> EtcdDatastore::Range(const std::string& prefix, bool keys_only,
                                              const Visitor& visit) {
  const std::string what = fmt::format("list prefix \"{}\"", keys::Printable(prefix));
  RETURN_IF_ERROR(Annotate(keys::ValidatePrefix(prefix), what));
  Revision revision = 0;
  pb::RangeRequest request;
  SetPrefixRange(prefix, request.mutable_key(), request.mutable_range_end());
  request.set_keys_only(keys_only);
  request.set_limit(kListPage);
  request.set_sort_order(pb::RangeRequest_SortOrder_ASCEND);
  request.set_sort_target(pb::RangeRequest_SortTarget_KEY);
  for (;;) {
    pb::RangeResponse response;
    RETURN_IF_ERROR(client_->Call(what, Retry::kRead, [&](auto& member, auto& context) {
      return member.kv->Range(&context, request, &response);
    }));
    if (revision == 0) {
      // Every later page at the first page's revision: one consistent listing.
      revision = response.header().revision();
      request.set_revision(revision);
    }
    for (const ::mvccpb::KeyValue& kv : response.kvs()) RETURN_IF_ERROR(visit(FromProto(kv)));
    if (!response.more() || response.kvs_size() == 0) break;
    request.set_key(response.kvs(response.kvs_size() - 1).key() + std::string(1, '\0'));
  }
  return revision;
}

absl::StatusOr<ListResult> EtcdDatastore::Collect(const std::string& prefix, bool keys_only) {
  ListResult result;
  ASSIGN_OR_RETURN(result.revision, Range(prefix, keys_only, keys::AppendTo(result.items)));
  return result;
}

absl::StatusOr<ListResult> EtcdDatastore::List(const std::string& prefix) {
  return Collect(prefix, false);
}

absl::StatusOr<ListResult> EtcdDatastore::ListKeys(const std::string& prefix) {
  return Collect(prefix, true);
}

// Page by page (kListPage keys), so only one page is held at a time.
absl::StatusOr<Revision> EtcdDatastore::ListEach(const std::string& prefix, const Visitor& visit) {
  return Range(prefix, false, visit);
}

absl::StatusOr<Revision> EtcdDatastore::CurrentRevision() {
  pb::RangeRequest request;
  request.set_key(std::string(1, '\0'));
  request.set_count_only(true);
  pb::RangeResponse response;
  RETURN_IF_ERROR(client_->Call(
      "read the current revision", Retry::kRead,
      [&](auto& member, auto& context) { return member.kv->Range(&context, request, &response); }));
  return response.header().revision();
}

absl::StatusOr<etcdserverpb::TxnResponse> EtcdDatastore::KeyTxn(const std::string& what,
                                                                const std::string& key,
                                                                etcdserverpb::TxnRequest txn) {
  txn.add_failure()->mutable_request_range()->set_key(key);
  pb::TxnResponse response;
  RETURN_IF_ERROR(client_->Call(what, Retry::kWrite, [&](auto& member, auto& context) {
    return member.kv->Txn(&context, txn, &response);
  }));
  return response;
}

namespace {

void AddCompare(pb::TxnRequest& txn, const std::string& key, pb::Compare_CompareTarget target,
                Revision revision) {
  pb::Compare* compare = txn.add_compare();
  compare->set_key(key);
  compare->set_result(pb::Compare_CompareResult_EQUAL);
  compare->set_target(target);
  if (target == pb::Compare_CompareTarget_CREATE) {
    compare->set_create_revision(revision);
  } else {
    compare->set_mod_revision(revision);
  }
}

void AddPut(google::protobuf::RepeatedPtrField<pb::RequestOp>* ops, const std::string& key,
            const std::string& value, LeaseId lease) {
  pb::PutRequest* put = ops->Add()->mutable_request_put();
  put->set_key(key);
  put->set_value(value);
  put->set_lease(lease);
}

void AddDelete(google::protobuf::RepeatedPtrField<pb::RequestOp>* ops, const std::string& key) {
  ops->Add()->mutable_request_delete_range()->set_key(key);
}

// Why a one-key transaction comparing the key's mod_revision failed: the key is absent
// (kNotFound) or at another revision (kAborted).
absl::Status ModRevisionMismatch(const std::string& what, const pb::TxnResponse& response) {
  const auto& found = response.responses(0).response_range();
  if (found.kvs_size() == 0) return absl::NotFoundError(fmt::format("{}: no such key", what));
  return absl::AbortedError(
      fmt::format("{}: the key is at mod_revision {}", what, found.kvs(0).mod_revision()));
}

}  // namespace

absl::StatusOr<Revision> EtcdDatastore::Create(const std::string& key, const std::string& value,
                                               LeaseId lease) {
  const std::string what = fmt::format("create \"{}\"", keys::Printable(key));
  RETURN_IF_ERROR(Annotate(keys::Validate(key), what));
  pb::TxnRequest txn;
  AddCompare(txn, key, pb::Compare_CompareTarget_CREATE, 0);
  AddPut(txn.mutable_success(), key, value, lease);
  ASSIGN_OR_RETURN(pb::TxnResponse response, KeyTxn(what, key, std::move(txn)));
  if (!response.succeeded()) {
    const auto& found = response.responses(0).response_range();
    Revision mod = found.kvs_size() > 0 ? found.kvs(0).mod_revision() : 0;
    return absl::AlreadyExistsError(fmt::format("{}: key exists (mod_revision {})", what, mod));
  }
  return response.header().revision();
}

absl::StatusOr<Revision> EtcdDatastore::Update(const std::string& key, const std::string& value,
                                               Revision expected, LeaseId lease) {
  const std::string what =
      fmt::format("update \"{}\" at mod_revision {}", keys::Printable(key), expected);
  RETURN_IF_ERROR(Annotate(keys::Validate(key), what));
  if (expected <= 0) {
    return absl::InvalidArgumentError(
        fmt::format("{}: the expected mod_revision must be positive", what));
  }
  pb::TxnRequest txn;
  AddCompare(txn, key, pb::Compare_CompareTarget_MOD, expected);
  AddPut(txn.mutable_success(), key, value, lease);
  ASSIGN_OR_RETURN(pb::TxnResponse response, KeyTxn(what, key, std::move(txn)));
  if (!response.succeeded()) return ModRevisionMismatch(what, response);
  return response.header().revision();
}

absl::StatusOr<Revision> EtcdDatastore::Put(const std::string& key, const std::string& value,
                                            LeaseId lease) {
  const std::string what = fmt::format("put \"{}\"", keys::Printable(key));
  RETURN_IF_ERROR(Annotate(keys::Validate(key), what));
  pb::PutRequest request;
  request.set_key(key);
  request.set_value(value);
  request.set_lease(lease);
  pb::PutResponse response;
  RETURN_IF_ERROR(client_->Call(what, Retry::kSameState, [&](auto& member, auto& context) {
    return member.kv->Put(&context, request, &response);
  }));
  return response.header().revision();
}

absl::StatusOr<Revision> EtcdDatastore::Delete(const std::string& key, Revision expected) {
  const std::string what =
      expected > 0 ? fmt::format("delete \"{}\" at mod_revision {}", keys::Printable(key), expected)
                   : fmt::format("delete \"{}\"", keys::Printable(key));
  RETURN_IF_ERROR(Annotate(keys::Validate(key), what));
  if (expected < 0) {
    return absl::InvalidArgumentError(fmt::format("{}: negative mod_revision", what));
  }
  pb::TxnRequest txn;
  // The compare makes the delete conditional; without `expected` it only tells absent keys
  // apart, which a plain DeleteRange would report as "deleted 0".
  AddCompare(txn, key, pb::Compare_CompareTarget_MOD, expected);
  txn.mutable_compare(0)->set_result(expected > 0 ? pb::Compare_CompareResult_EQUAL
                                                  : pb::Compare_CompareResult_NOT_EQUAL);
  AddDelete(txn.mutable_success(), key);
  ASSIGN_OR_RETURN(pb::TxnResponse response, KeyTxn(what, key, std::move(txn)));
  if (!response.succeeded()) return ModRevisionMismatch(what, response);
  return response.header().revision();
}

absl::StatusOr<Revision> EtcdDatastore::Txn(const std::vector<Compare>& compares,
                                            const std::vector<TxnOp>& ops) {
  const std::string what = keys::DescribeTxn(compares, ops);
  RETURN_IF_ERROR(Annotate(keys::ValidateTxn(compares, ops), what));
  pb::TxnRequest txn;
  for (const Compare& compare : compares) {
    AddCompare(txn, compare.key, pb::Compare_CompareTarget_MOD, compare.mod_revision);
    // On failure, read every compared key to say which compare failed.
    txn.add_failure()->mutable_request_range()->set_key(compare.key);
  }
  for (const TxnOp& op : ops) {
    if (op.type == TxnOp::Type::kPut) {
      AddPut(txn.mutable_success(), op.key, op.value, op.lease);
    } else {
      AddDelete(txn.mutable_success(), op.key);
    }
  }
  pb::TxnResponse response;
  RETURN_IF_ERROR(client_->Call(what, Retry::kWrite, [&](auto& member, auto& context) {
    return member.kv->Txn(&context, txn, &response);
  }));
  if (!response.succeeded()) {
    for (int i = 0; i < response.responses_size() && i < static_cast<int>(compares.size()); ++i) {
      const auto& found = response.responses(i).response_range();
      Revision actual = found.kvs_size() > 0 ? found.kvs(0).mod_revision() : 0;
      if (actual != compares[i].mod_revision) {
        return absl::AbortedError(
            fmt::format("{}: \"{}\" is at mod_revision {} (0: absent), expected {}", what,
                        keys::Printable(compares[i].key), actual, compares[i].mod_revision));
      }
    }
    return absl::AbortedError(fmt::format("{}: a compare failed", what));
  }
  return response.header().revision();
}

absl::StatusOr<std::unique_ptr<Watch>> EtcdDatastore::WatchPrefix(const std::string& prefix,
                                                                  Revision after) {
  const std::string what =
      fmt::format("watch prefix \"{}\" after revision {}", keys::Printable(prefix), after);
  RETURN_IF_ERROR(Annotate(keys::ValidatePrefix(prefix), what));
  if (after < 0) return absl::InvalidArgumentError(fmt::format("{}: negative revision", what));
  int fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (fd < 0) {
    return absl::InternalError(fmt::format("{}: eventfd: {}", what, std::strerror(errno)));
  }
  auto watch = std::make_unique<EtcdWatch>(client_, prefix, after, UniqueFd(fd));
  RETURN_IF_ERROR(watch->WaitCreated(kAttemptTimeout));
  return std::unique_ptr<Watch>(std::move(watch));
}

absl::StatusOr<LeaseId> EtcdDatastore::GrantLease(absl::Duration ttl) {
  const std::string what = fmt::format("grant a lease of {}", absl::FormatDuration(ttl));
  if (ttl <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError(fmt::format("{}: the TTL must be positive", what));
  }
  pb::LeaseGrantRequest request;
  request.set_ttl(TtlSeconds(ttl));
  pb::LeaseGrantResponse response;
  RETURN_IF_ERROR(client_->Call(what, Retry::kSameState, [&](auto& member, auto& context) {
    return member.lease->LeaseGrant(&context, request, &response);
  }));
  if (!response.error().empty()) {
    return absl::UnavailableError(fmt::format("etcd: {}: {}", what, response.error()));
  }
  return response.id();
}

absl::Status EtcdDatastore::KeepAlive(LeaseId lease) {
  const std::string what = fmt::format("keep lease {:x} alive", lease);
  pb::LeaseKeepAliveResponse response;
  RETURN_IF_ERROR(client_->Call(what, Retry::kSameState, [&](auto& member, auto& context) {
    auto stream = member.lease->LeaseKeepAlive(&context);
    pb::LeaseKeepAliveRequest request;
    request.set_id(lease);
    if (stream->Write(request) && stream->Read(&response)) {
      stream->WritesDone();
      context.TryCancel();  // the stream is for one exchange; do not wait for the server's end
      stream->Finish();
      return grpc::Status::OK;
    }
    return stream->Finish();
  }));
  if (response.ttl() <= 0) {
    return absl::NotFoundError(fmt::format("etcd: {}: the lease expired or was revoked", what));
  }
  return absl::OkStatus();
}

absl::Status EtcdDatastore::RevokeLease(LeaseId lease) {
  const std::string what = fmt::format("revoke lease {:x}", lease);
  pb::LeaseRevokeRequest request;
  request.set_id(lease);
  pb::LeaseRevokeResponse response;
  return client_->Call(what, Retry::kWrite, [&](auto& member, auto& context) {
    return member.lease->LeaseRevoke(&context, request, &response);
  });
}

absl::Status EtcdDatastore::Compact(Revision revision) {
  const std::string what = fmt::format("compact up to revision {}", revision);
  pb::CompactionRequest request;
  request.set_revision(revision);
  pb::CompactionResponse response;
  absl::Status status = client_->Call(what, Retry::kSameState, [&](auto& member, auto& context) {
    return member.kv->Compact(&context, request, &response);
  });
  if (status.code() == absl::StatusCode::kOutOfRange) {
    // Below an earlier compaction: nothing to do, as the contract says. Above the current
    // revision: the caller's mistake.
    if (status.message().find("future revision") != std::string_view::npos) {
      return absl::InvalidArgumentError(status.message());
    }
    return absl::OkStatus();
  }
  return status;
}

}  // namespace tabby::datastore
