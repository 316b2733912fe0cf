#include "datastore/sqlite_datastore.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sqlite3.h>
#include <sys/epoll.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <climits>
#include <cstring>
#include <random>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

#include "base/files.h"
#include "base/status_macros.h"
#include "base/unique_fd.h"
#include "datastore/keys.h"

namespace tabby::datastore {
namespace internal {
namespace {

using keys::PrefixEnd;
using keys::Printable;
using SteadyClock = std::chrono::steady_clock;

constexpr int kEventPut = 0;
constexpr int kEventDelete = 1;
// Events returned by one Watch::Next at most (all events of one revision are never split).
constexpr int kWatchBatch = 1000;
// Poll interval of watches when inotify is unavailable (e.g. out of inotify instances).
constexpr absl::Duration kFallbackPollInterval = absl::Milliseconds(100);

constexpr char kSchema[] = R"sql(
CREATE TABLE meta (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  revision INTEGER NOT NULL,
  compact_revision INTEGER NOT NULL
);
INSERT INTO meta (id, revision, compact_revision) VALUES (1, 0, 0);
CREATE TABLE kv (
  key BLOB NOT NULL UNIQUE,
  value BLOB NOT NULL,
  create_rev INTEGER NOT NULL,
  mod_rev INTEGER NOT NULL,
  lease INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX kv_by_lease ON kv (lease) WHERE lease != 0;
CREATE TABLE events (
  rev INTEGER NOT NULL,
  key BLOB NOT NULL,
  type INTEGER NOT NULL,
  value BLOB NOT NULL,
  create_rev INTEGER NOT NULL,
  lease INTEGER NOT NULL,
  prev_value BLOB,
  prev_create_rev INTEGER,
  prev_mod_rev INTEGER,
  prev_lease INTEGER,
  ts_ms INTEGER NOT NULL,
  UNIQUE (rev, key)
);
CREATE INDEX events_by_time ON events (ts_ms, rev);
CREATE TABLE leases (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  ttl_ms INTEGER NOT NULL,
  expires_at_ms INTEGER NOT NULL
);
CREATE INDEX leases_by_expiry ON leases (expires_at_ms);
)sql";

absl::StatusCode CodeOf(int rc) {
  switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
    case SQLITE_CANTOPEN:
    case SQLITE_PROTOCOL:
      return absl::StatusCode::kUnavailable;
    case SQLITE_PERM:
    case SQLITE_READONLY:
    case SQLITE_AUTH:
      return absl::StatusCode::kPermissionDenied;
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
      return absl::StatusCode::kDataLoss;
    case SQLITE_FULL:
    case SQLITE_NOMEM:
      return absl::StatusCode::kResourceExhausted;
    default:
      return absl::StatusCode::kInternal;
  }
}

bool IsLogicalError(const absl::Status& status) {
  switch (status.code()) {
    case absl::StatusCode::kNotFound:
    case absl::StatusCode::kAlreadyExists:
    case absl::StatusCode::kAborted:
    case absl::StatusCode::kInvalidArgument:
      return true;
    default:
      return false;
  }
}

std::string Dirname(const std::string& path) {
  size_t slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

absl::Status ErrnoError(std::string_view what, int err) {
  return absl::InternalError(fmt::format("{}: {}", what, std::strerror(err)));
}

}  // namespace

class Connection;

// A prepared statement borrowed from a Connection's cache; reset when this goes away.
class Statement {
 public:
  Statement(Connection& conn, sqlite3_stmt* stmt) : conn_(&conn), stmt_(stmt) {}
  Statement(Statement&& other) noexcept
      : conn_(other.conn_), stmt_(std::exchange(other.stmt_, nullptr)), bind_rc_(other.bind_rc_) {}
  Statement& operator=(Statement&&) = delete;
  ~Statement() {
    if (stmt_ != nullptr) {
      sqlite3_reset(stmt_);
      sqlite3_clear_bindings(stmt_);
    }
  }

  Statement& Int(int index, int64_t value) {
    Check(sqlite3_bind_int64(stmt_, index, value));
    return *this;
  }
  Statement& Blob(int index, std::string_view value) {
    // A NULL pointer would bind SQL NULL; an empty value must be an empty blob.
    Check(sqlite3_bind_blob64(stmt_, index, value.empty() ? "" : value.data(), value.size(),
                              SQLITE_TRANSIENT));
    return *this;
  }
  Statement& Null(int index) {
    Check(sqlite3_bind_null(stmt_, index));
    return *this;
  }

  // True when a row is available, false when the statement is done.
  absl::StatusOr<bool> Step();
  // Steps to completion, ignoring rows.
  absl::Status Run() {
    for (;;) {
      ASSIGN_OR_RETURN(bool row, Step());
      if (!row) return absl::OkStatus();
    }
  }

  int64_t ColumnInt(int col) const { return sqlite3_column_int64(stmt_, col); }
  bool ColumnIsNull(int col) const { return sqlite3_column_type(stmt_, col) == SQLITE_NULL; }
  std::string ColumnBlob(int col) const {
    const void* data = sqlite3_column_blob(stmt_, col);
    int size = sqlite3_column_bytes(stmt_, col);
    if (data == nullptr || size <= 0) return std::string();
    return std::string(static_cast<const char*>(data), static_cast<size_t>(size));
  }

 private:
  void Check(int rc) {
    if (rc != SQLITE_OK && bind_rc_ == SQLITE_OK) bind_rc_ = rc;
  }

  Connection* conn_;
  sqlite3_stmt* stmt_;
  int bind_rc_ = SQLITE_OK;
};

// One SQLite connection with a statement cache and a busy handler that backs off briefly (locks
// are held for well under a millisecond) up to the busy timeout. Not thread-safe.
class Connection {
 public:
  // Opens `path`, switches to WAL mode and checks the schema; with `create`, creates the file
  // and the schema if they do not exist.
  static absl::StatusOr<std::unique_ptr<Connection>> Open(const std::string& path,
                                                          absl::Duration busy_timeout,
                                                          bool create = false);

  ~Connection() {
    for (auto& [sql, stmt] : cache_) sqlite3_finalize(stmt);
    cache_.clear();
    sqlite3_close_v2(db_);
  }
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  absl::Status Error(int rc, std::string_view what) const {
    std::string detail = sqlite3_errmsg(db_);
    if ((rc & 0xff) == SQLITE_BUSY) {
      detail += fmt::format(" (gave up after waiting {} for other processes)",
                            absl::FormatDuration(busy_timeout_));
    }
    if ((rc & 0xff) == SQLITE_CORRUPT || (rc & 0xff) == SQLITE_NOTADB) {
      detail += " (the database file is corrupt or truncated: restore it from a backup)";
    }
    return absl::Status(CodeOf(rc),
                        fmt::format("{} in {}: {} (sqlite code {})", what, path_, detail, rc));
  }

  absl::Status Exec(const char* sql) {
    int rc = sqlite3_exec(db_, sql, nullptr, nullptr, nullptr);
    if (rc != SQLITE_OK) return Error(rc, fmt::format("executing \"{}\"", sql));
    return absl::OkStatus();
  }

  absl::StatusOr<Statement> Prepare(const char* sql) {
    auto it = cache_.find(sql);
    if (it == cache_.end()) {
      sqlite3_stmt* stmt = nullptr;
      int rc = sqlite3_prepare_v3(db_, sql, -1, SQLITE_PREPARE_PERSISTENT, &stmt, nullptr);
      if (rc != SQLITE_OK) {
        sqlite3_finalize(stmt);
        return Error(rc, fmt::format("preparing \"{}\"", sql));
      }
      it = cache_.emplace(sql, stmt).first;
    }
    return Statement(*this, it->second);
  }

  // The single integer result of `sql` (0 when it returns NULL or no row).
  absl::StatusOr<int64_t> QueryInt(const char* sql) {
    ASSIGN_OR_RETURN(Statement stmt, Prepare(sql));
    ASSIGN_OR_RETURN(bool row, stmt.Step());
    return row ? stmt.ColumnInt(0) : 0;
  }

  const std::string& path() const { return path_; }
  sqlite3* db() const { return db_; }

 private:
  Connection(sqlite3* db, std::string path, absl::Duration busy_timeout)
      : db_(db),
        path_(std::move(path)),
        busy_timeout_(busy_timeout),
        busy_timeout_chrono_(absl::ToChronoNanoseconds(busy_timeout)),
        rng_(std::random_device()()) {}

  absl::Status EnableWal();
  absl::Status InitSchema(bool create);

  static int OnBusy(void* self, int count) {
    auto* conn = static_cast<Connection*>(self);
    SteadyClock::time_point now = SteadyClock::now();
    if (count == 0) conn->busy_since_ = now;
    if (now - conn->busy_since_ >= conn->busy_timeout_chrono_) return 0;
    // 50us doubling to 3.2ms, with jitter so that waiting processes do not retry in lockstep.
    int64_t max_us = int64_t{50} << std::min(count, 6);
    std::uniform_int_distribution<int64_t> jitter(max_us / 2, max_us);
    std::this_thread::sleep_for(std::chrono::microseconds(jitter(conn->rng_)));
    return 1;
  }

  sqlite3* db_;
  std::string path_;
  absl::Duration busy_timeout_;
  std::chrono::nanoseconds busy_timeout_chrono_;
  SteadyClock::time_point busy_since_;
  std::minstd_rand rng_;
  std::unordered_map<std::string, sqlite3_stmt*> cache_;
};

absl::StatusOr<bool> Statement::Step() {
  if (bind_rc_ != SQLITE_OK) {
    return conn_->Error(bind_rc_, fmt::format("binding parameters of \"{}\"", sqlite3_sql(stmt_)));
  }
  int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  return conn_->Error(rc, fmt::format("executing \"{}\"", sqlite3_sql(stmt_)));
}

absl::StatusOr<std::unique_ptr<Connection>> Connection::Open(const std::string& path,
                                                             absl::Duration busy_timeout,
                                                             bool create) {
  if (!create) {
    struct stat st {};
    if (stat(path.c_str(), &st) != 0) {
      if (errno == ENOENT) return absl::NotFoundError(fmt::format("{} does not exist", path));
      return absl::UnavailableError(fmt::format("{}: {}", path, std::strerror(errno)));
    }
    if (st.st_size == 0) {
      return absl::FailedPreconditionError(fmt::format(
          "{} is empty (0 bytes): it was truncated, or it is not a tabby datastore", path));
    }
  }
  sqlite3* db = nullptr;
  int rc = sqlite3_open_v2(
      path.c_str(), &db,
      SQLITE_OPEN_READWRITE | (create ? SQLITE_OPEN_CREATE : 0) | SQLITE_OPEN_NOMUTEX, nullptr);
  if (db == nullptr) {
    return absl::ResourceExhaustedError(fmt::format("opening {}: out of memory", path));
  }
  std::unique_ptr<Connection> conn(new Connection(db, path, busy_timeout));
  if (rc != SQLITE_OK) return conn->Error(rc, "opening database");
  sqlite3_extended_result_codes(db, 1);
  sqlite3_busy_handler(db, &Connection::OnBusy, conn.get());
  // Short-lived processes (every CNI invocation) would otherwise checkpoint the whole WAL,
  // fsync and delete it when they close the last connection: milliseconds per process. The
  // automatic checkpoints that writes trigger keep the WAL bounded instead.
  sqlite3_db_config(db, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, nullptr);
  int persist_wal = 1;
  sqlite3_file_control(db, "main", SQLITE_FCNTL_PERSIST_WAL, &persist_wal);
  RETURN_IF_ERROR(conn->EnableWal());
  // WAL with synchronous=NORMAL never corrupts and survives process crashes; a power loss may
  // lose the last commits, after which every workload on the host restarts anyway.
  RETURN_IF_ERROR(conn->Exec("PRAGMA synchronous=NORMAL"));
  // The WAL file is kept (above) and would otherwise stay as large as it ever grew, e.g. while a
  // long read held a checkpoint back; a checkpoint that resets it truncates it to this size.
  RETURN_IF_ERROR(conn->Exec("PRAGMA journal_size_limit=4194304"));
  RETURN_IF_ERROR(conn->InitSchema(create));
  return conn;
}

absl::Status Connection::EnableWal() {
  // Switching a new database to WAL needs an exclusive lock, which processes opening it at the
  // same moment contend for, sometimes without the busy handler being consulted: retry.
  SteadyClock::time_point deadline = SteadyClock::now() + busy_timeout_chrono_;
  for (int attempt = 0;; ++attempt) {
    sqlite3_stmt* stmt = nullptr;
    int rc = sqlite3_prepare_v2(db_, "PRAGMA journal_mode=WAL", -1, &stmt, nullptr);
    std::string mode;
    if (rc == SQLITE_OK) {
      rc = sqlite3_step(stmt);
      if (rc == SQLITE_ROW) {
        const unsigned char* text = sqlite3_column_text(stmt, 0);
        mode = text != nullptr ? reinterpret_cast<const char*>(text) : "";
        rc = SQLITE_OK;
      }
    }
    sqlite3_finalize(stmt);
    if (rc == SQLITE_OK) {
      if (mode == "wal") return absl::OkStatus();
      return absl::FailedPreconditionError(fmt::format(
          "{}: cannot switch the database to WAL mode (journal mode is \"{}\"); WAL needs a "
          "local filesystem with shared memory support",
          path_, mode));
    }
    if ((rc & 0xff) != SQLITE_BUSY && (rc & 0xff) != SQLITE_LOCKED) {
      return Error(rc, "switching to WAL mode");
    }
    if (SteadyClock::now() >= deadline) return Error(rc, "switching to WAL mode");
    std::this_thread::sleep_for(std::chrono::microseconds(200 << std::min(attempt, 5)));
  }
}

absl::Status Connection::InitSchema(bool create) {
  ASSIGN_OR_RETURN(int64_t version, QueryInt("PRAGMA user_version"));
  if (version == kSqliteSchemaVersion) return absl::OkStatus();
  if (version == 0 && !create) {
    return absl::FailedPreconditionError(fmt::format(
        "{} holds no tabby datastore (no schema): it was truncated, or it is another program's "
        "database",
        path_));
  }
  if (version > kSqliteSchemaVersion) {
    return absl::FailedPreconditionError(fmt::format(
        "{}: database schema version {} is newer than version {} supported by this tabby "
        "binary; upgrade tabby (or point it at another database)",
        path_, version, kSqliteSchemaVersion));
  }
  // Version 0: a new database. Another process may be initializing it right now: decide under
  // the write lock.
  RETURN_IF_ERROR(Exec("BEGIN IMMEDIATE"));
  absl::StatusOr<int64_t> again = QueryInt("PRAGMA user_version");
  absl::Status status = again.status();
  if (status.ok() && *again == 0) {
    status = Exec(kSchema);
    if (status.ok()) {
      status = Exec(fmt::format("PRAGMA user_version={}", kSqliteSchemaVersion).c_str());
    }
  } else if (status.ok() && *again != kSqliteSchemaVersion) {
    status = absl::FailedPreconditionError(
        fmt::format("{}: unexpected database schema version {}", path_, *again));
  }
  if (!status.ok()) {
    sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
    return Annotate(status, "creating the datastore schema");
  }
  return Exec("COMMIT");
}

// BEGIN on construction via Begin(), ROLLBACK on destruction unless committed.
class Transaction {
 public:
  explicit Transaction(Connection& conn) : conn_(conn) {}
  ~Transaction() {
    if (open_) sqlite3_exec(conn_.db(), "ROLLBACK", nullptr, nullptr, nullptr);
  }
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;

  // `write`: take the database write lock now (BEGIN IMMEDIATE) instead of at the first write,
  // so the transaction never fails half-way because another process wrote first.
  absl::Status Begin(bool write) {
    RETURN_IF_ERROR(conn_.Exec(write ? "BEGIN IMMEDIATE" : "BEGIN"));
    open_ = true;
    return absl::OkStatus();
  }
  absl::Status Commit() {
    RETURN_IF_ERROR(conn_.Exec("COMMIT"));
    open_ = false;
    return absl::OkStatus();
  }

 private:
  Connection& conn_;
  bool open_ = false;
};

namespace {

std::optional<KeyValue> KeyValueIfAny(const Statement& stmt, int first_col,
                                      const std::string& key) {
  // Columns from first_col: value, create_rev, mod_rev, lease; NULL mod_rev means absent.
  if (stmt.ColumnIsNull(first_col + 2)) return std::nullopt;
  KeyValue kv;
  kv.key = key;
  kv.value = stmt.ColumnBlob(first_col);
  kv.create_revision = stmt.ColumnInt(first_col + 1);
  kv.mod_revision = stmt.ColumnInt(first_col + 2);
  kv.lease = stmt.ColumnInt(first_col + 3);
  return kv;
}

// The columns EventFromRow reads and the rows they come from, spliced into SQL literals. An
// event stores its previous value by reference (prev_value NULL, prev_mod_rev set) while the
// event that wrote that value is still in the log: an IPAM block rewritten on every allocation
// would otherwise be stored twice per event. Compaction copies the value into the events that
// still refer to an event it drops (CompactThrough).
#define TABBY_EVENT_COLUMNS                                                                 \
  "e.rev, e.key, e.type, e.value, e.create_rev, e.lease, coalesce(e.prev_value, p.value), " \
  "e.prev_create_rev, e.prev_mod_rev, e.prev_lease"
#define TABBY_EVENTS_FROM                                                                     \
  " FROM events e LEFT JOIN events p ON e.prev_value IS NULL AND p.rev = e.prev_mod_rev AND " \
  "p.key = e.key "

Event EventFromRow(const Statement& stmt) {
  Event event;
  event.type = stmt.ColumnInt(2) == kEventDelete ? Event::Type::kDelete : Event::Type::kPut;
  event.kv.key = stmt.ColumnBlob(1);
  event.kv.value = stmt.ColumnBlob(3);
  event.kv.create_revision = stmt.ColumnInt(4);
  event.kv.mod_revision = stmt.ColumnInt(0);
  event.kv.lease = stmt.ColumnInt(5);
  event.prev = KeyValueIfAny(stmt, 6, event.kv.key);
  return event;
}

absl::StatusOr<bool> AnyLeaseExpired(Connection& conn, int64_t now_ms) {
  ASSIGN_OR_RETURN(Statement stmt,
                   conn.Prepare("SELECT 1 FROM leases WHERE expires_at_ms <= ? LIMIT 1"));
  stmt.Int(1, now_ms);
  return stmt.Step();
}

absl::StatusOr<Revision> ReadRevision(Connection& conn) {
  return conn.QueryInt("SELECT revision FROM meta WHERE id = 1");
}

absl::StatusOr<std::optional<KeyValue>> ReadKey(Connection& conn, const std::string& key) {
  ASSIGN_OR_RETURN(Statement stmt,
                   conn.Prepare("SELECT value, create_rev, mod_rev, lease FROM kv WHERE key = ?"));
  stmt.Blob(1, key);
  ASSIGN_OR_RETURN(bool row, stmt.Step());
  if (!row) return std::nullopt;
  return KeyValueIfAny(stmt, 0, key);
}

// Visits the rows under `prefix` in key order and returns the revision they are consistent with.
absl::StatusOr<Revision> VisitPrefix(Connection& conn, const std::string& prefix, bool keys_only,
                                     const Datastore::Visitor& visit) {
  ASSIGN_OR_RETURN(Revision revision, ReadRevision(conn));
  std::optional<std::string> end = PrefixEnd(prefix);
  // Two statements rather than "(? IS NULL OR key < ?)", which would defeat the range scan.
  // Keys-only listings read the same index range without loading the values.
  static constexpr const char* kSelect[2][2] = {
      {"SELECT key, value, create_rev, mod_rev, lease FROM kv WHERE key >= ?1 ORDER BY key",
       "SELECT key, value, create_rev, mod_rev, lease FROM kv WHERE key >= ?1 AND key < ?2 "
       "ORDER BY key"},
      {"SELECT key, x'', create_rev, mod_rev, lease FROM kv WHERE key >= ?1 ORDER BY key",
       "SELECT key, x'', create_rev, mod_rev, lease FROM kv WHERE key >= ?1 AND key < ?2 "
       "ORDER BY key"}};
  ASSIGN_OR_RETURN(Statement stmt, conn.Prepare(kSelect[keys_only][end.has_value()]));
  stmt.Blob(1, prefix);
  if (end) stmt.Blob(2, *end);
  for (;;) {
    ASSIGN_OR_RETURN(bool row, stmt.Step());
    if (!row) break;
    RETURN_IF_ERROR(visit(*KeyValueIfAny(stmt, 1, stmt.ColumnBlob(0))));
  }
  return revision;
}

absl::StatusOr<ListResult> ReadPrefix(Connection& conn, const std::string& prefix,
                                      bool keys_only = false) {
  ListResult result;
  ASSIGN_OR_RETURN(result.revision,
                   VisitPrefix(conn, prefix, keys_only, keys::AppendTo(result.items)));
  return result;
}

}  // namespace

// Reads the event log of one database through its own connection. See the header comment.
class SqliteWatch final : public Watch {
 public:
  static absl::StatusOr<std::unique_ptr<SqliteWatch>> Start(const std::string& path,
                                                            const std::string& prefix,
                                                            Revision after,
                                                            const SqliteOptions& options) {
    ASSIGN_OR_RETURN(std::unique_ptr<Connection> conn,
                     Connection::Open(path, options.busy_timeout));
    std::unique_ptr<SqliteWatch> watch(new SqliteWatch(std::move(conn), prefix, after));
    RETURN_IF_ERROR(watch->SetUpNotification(Dirname(path), options.watch_poll_interval));
    return watch;
  }

  absl::StatusOr<std::vector<Event>> Next(absl::Duration timeout) override {
    if (!finished_.ok()) return finished_;
    const bool forever = timeout == absl::InfiniteDuration();
    const SteadyClock::time_point deadline =
        forever ? SteadyClock::time_point::max()
                : SteadyClock::now() +
                      absl::ToChronoNanoseconds(std::max(timeout, absl::ZeroDuration()));
    for (;;) {
      // Drain notifications before reading, so a commit racing with the read re-arms them.
      Drain();
      absl::StatusOr<std::vector<Event>> events = Poll();
      if (!events.ok()) {
        if (events.status().code() == absl::StatusCode::kOutOfRange) finished_ = events.status();
        return events;
      }
      if (!events->empty()) return events;
      int wait_ms = -1;
      if (!forever) {
        SteadyClock::duration left = deadline - SteadyClock::now();
        if (left <= SteadyClock::duration::zero()) return events;
        auto ms = std::chrono::ceil<std::chrono::milliseconds>(left).count();
        wait_ms = static_cast<int>(std::min<int64_t>(ms, INT_MAX));
      }
      epoll_event ready;
      int n = epoll_wait(epoll_.get(), &ready, 1, wait_ms);
      if (n < 0 && errno != EINTR) {
        return ErrnoError(fmt::format("waiting for changes to {}", conn_->path()), errno);
      }
    }
  }

  int ReadinessFd() const override { return epoll_.get(); }
  Revision Progress() const override { return position_; }

 private:
  SqliteWatch(std::unique_ptr<Connection> conn, const std::string& prefix, Revision after)
      : conn_(std::move(conn)), prefix_(prefix), end_(PrefixEnd(prefix)), position_(after) {}

  absl::Status SetUpNotification(const std::string& dir, absl::Duration poll_interval) {
    epoll_ = UniqueFd(epoll_create1(EPOLL_CLOEXEC));
    if (!epoll_.valid()) return ErrnoError("creating an epoll instance for a watch", errno);
    timer_ = UniqueFd(timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC));
    if (!timer_.valid()) return ErrnoError("creating a timerfd for a watch", errno);
    // Without inotify (e.g. out of instances, fs.inotify.max_user_instances) fall back to polling.
    inotify_ = UniqueFd(inotify_init1(IN_NONBLOCK | IN_CLOEXEC));
    if (inotify_.valid() &&
        inotify_add_watch(inotify_.get(), dir.c_str(),
                          IN_MODIFY | IN_ATTRIB | IN_CLOSE_WRITE | IN_CREATE | IN_MOVED_TO) < 0) {
      inotify_.Reset();
    }
    if (!inotify_.valid()) poll_interval = std::min(poll_interval, kFallbackPollInterval);
    poll_interval_ = std::max(poll_interval, absl::Milliseconds(1));
    for (int fd : {timer_.get(), inotify_.get()}) {
      if (fd < 0) continue;
      epoll_event ev{};
      ev.events = EPOLLIN;
      ev.data.fd = fd;
      if (epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, fd, &ev) != 0) {
        return ErrnoError("adding a descriptor to a watch's epoll set", errno);
      }
    }
    return ArmTimer(/*now=*/false);
  }

  // The safety-net poll every poll_interval_; with `now`, also fire at once (more is pending).
  absl::Status ArmTimer(bool now) {
    auto to_timespec = [](absl::Duration d) {
      timespec ts = absl::ToTimespec(d);
      return ts;
    };
    itimerspec spec{};
    spec.it_interval = to_timespec(poll_interval_);
    spec.it_value = now ? timespec{0, 1} : spec.it_interval;
    if (timerfd_settime(timer_.get(), 0, &spec, nullptr) != 0) {
      return ErrnoError("arming a watch's poll timer", errno);
    }
    return absl::OkStatus();
  }

  void Drain() {
    std::array<char, 4096> buffer;
    if (inotify_.valid()) {
      while (read(inotify_.get(), buffer.data(), buffer.size()) > 0) {
      }
    }
    uint64_t expirations;
    while (read(timer_.get(), &expirations, sizeof(expirations)) > 0) {
    }
  }

  // The events committed since the last call, up to kWatchBatch of them.
  absl::StatusOr<std::vector<Event>> Poll() {
    std::vector<Event> events;
    // data_version changes whenever another connection (this one never writes) commits.
    ASSIGN_OR_RETURN(int64_t data_version, conn_->QueryInt("PRAGMA data_version"));
    if (data_version == data_version_ && !more_pending_) return events;

    Transaction txn(*conn_);
    RETURN_IF_ERROR(txn.Begin(/*write=*/false));
    ASSIGN_OR_RETURN(Statement meta,
                     conn_->Prepare("SELECT revision, compact_revision FROM meta WHERE id = 1"));
    ASSIGN_OR_RETURN(bool row, meta.Step());
    if (!row) return absl::DataLossError(fmt::format("{}: meta row missing", conn_->path()));
    const Revision revision = meta.ColumnInt(0);
    const Revision compacted = meta.ColumnInt(1);
    if (compacted > position_) {
      return absl::OutOfRangeError(fmt::format(
          "watch of prefix \"{}\" in {}: events after revision {} were compacted (up to "
          "revision {}); list again and watch from the listing's revision",
          Printable(prefix_), conn_->path(), position_, compacted));
    }
    if (revision > position_) {
      ASSIGN_OR_RETURN(Statement stmt,
                       conn_->Prepare(end_ ? "SELECT " TABBY_EVENT_COLUMNS TABBY_EVENTS_FROM
                                             "WHERE e.rev > ?1 AND e.rev <= ?2 AND e.key >= ?3 "
                                             "AND e.key < ?4 ORDER BY e.rev, e.key LIMIT ?5"
                                           : "SELECT " TABBY_EVENT_COLUMNS TABBY_EVENTS_FROM
                                             "WHERE e.rev > ?1 AND e.rev <= ?2 AND e.key >= ?3 "
                                             "ORDER BY e.rev, e.key LIMIT ?5"));
      stmt.Int(1, position_).Int(2, revision).Blob(3, prefix_).Int(5, kWatchBatch + 1);
      if (end_) stmt.Blob(4, *end_);
      for (;;) {
        ASSIGN_OR_RETURN(bool more, stmt.Step());
        if (!more) break;
        events.push_back(EventFromRow(stmt));
      }
      Revision scanned = revision;
      if (events.size() > kWatchBatch) {
        // Stop before the revision of the first event left out, unless it is the only one.
        scanned = events.back().kv.mod_revision - 1;
        while (!events.empty() && events.back().kv.mod_revision > scanned) events.pop_back();
        if (events.empty()) {
          scanned += 1;
          RETURN_IF_ERROR(ReadWholeRevision(scanned, events));
        }
      }
      position_ = scanned;
    }
    RETURN_IF_ERROR(txn.Commit());
    data_version_ = data_version;
    more_pending_ = position_ < revision;
    if (more_pending_) RETURN_IF_ERROR(ArmTimer(/*now=*/true));
    return events;
  }

  // All events of `rev` under the prefix (one revoke may delete more than a batch of keys).
  absl::Status ReadWholeRevision(Revision rev, std::vector<Event>& events) {
    ASSIGN_OR_RETURN(Statement stmt, conn_->Prepare("SELECT " TABBY_EVENT_COLUMNS TABBY_EVENTS_FROM
                                                    "WHERE e.rev = ?1 AND e.key >= ?2 "
                                                    "ORDER BY e.key"));
    stmt.Int(1, rev).Blob(2, prefix_);
    for (;;) {
      ASSIGN_OR_RETURN(bool more, stmt.Step());
      if (!more) return absl::OkStatus();
      Event event = EventFromRow(stmt);
      if (end_ && event.kv.key >= *end_) return absl::OkStatus();
      events.push_back(std::move(event));
    }
  }

  std::unique_ptr<Connection> conn_;
  const std::string prefix_;
  const std::optional<std::string> end_;
  Revision position_;  // every event up to here has been delivered or did not match
  int64_t data_version_ = -1;
  bool more_pending_ = false;
  absl::Status finished_;
  absl::Duration poll_interval_;
  UniqueFd epoll_;
  UniqueFd timer_;
  UniqueFd inotify_;
};

}  // namespace internal

using internal::Connection;
using internal::kEventDelete;
using internal::kEventPut;
using internal::Statement;
using internal::Transaction;

// The state of one write transaction: the revision counter and the mutations that advance it.
class SqliteDatastore::WriteContext {
 public:
  WriteContext(Connection& conn, int64_t now_ms) : conn_(conn), now_ms_(now_ms) {}

  absl::Status Load() {
    ASSIGN_OR_RETURN(Statement meta,
                     conn_.Prepare("SELECT revision, compact_revision FROM meta WHERE id = 1"));
    ASSIGN_OR_RETURN(bool row, meta.Step());
    if (!row) return absl::DataLossError(fmt::format("{}: meta row missing", conn_.path()));
    revision_ = start_revision_ = meta.ColumnInt(0);
    compacted_ = meta.ColumnInt(1);
    return absl::OkStatus();
  }

  Connection& conn() { return conn_; }
  int64_t now_ms() const { return now_ms_; }
  Revision revision() const { return revision_; }
  Revision start_revision() const { return start_revision_; }
  Revision compacted() const { return compacted_; }
  int swept() const { return swept_; }

  absl::StatusOr<Revision> NextRevision() {
    ASSIGN_OR_RETURN(Statement stmt, conn_.Prepare("UPDATE meta SET revision = ? WHERE id = 1"));
    stmt.Int(1, revision_ + 1);
    RETURN_IF_ERROR(stmt.Run());
    return ++revision_;
  }

  absl::Status CheckLease(LeaseId lease) {
    if (lease == 0) return absl::OkStatus();
    if (lease < 0) return absl::InvalidArgumentError(fmt::format("invalid lease id {}", lease));
    ASSIGN_OR_RETURN(Statement stmt, conn_.Prepare("SELECT 1 FROM leases WHERE id = ?"));
    stmt.Int(1, lease);
    ASSIGN_OR_RETURN(bool found, stmt.Step());
    if (!found) {
      return absl::NotFoundError(fmt::format("lease {} not found (expired or revoked)", lease));
    }
    return absl::OkStatus();
  }

  // Writes `key` = `value` at a new revision; `prev` is its current value, if any.
  absl::StatusOr<Revision> PutKey(const std::string& key, const std::string& value, LeaseId lease,
                                  const std::optional<KeyValue>& prev) {
    ASSIGN_OR_RETURN(Revision rev, NextRevision());
    RETURN_IF_ERROR(PutKeyAt(rev, key, value, lease, prev));
    return rev;
  }

  // Writes `key` = `value` at revision `rev`, already taken by the caller (a transaction).
  absl::Status PutKeyAt(Revision rev, const std::string& key, const std::string& value,
                        LeaseId lease, const std::optional<KeyValue>& prev) {
    Revision create_rev = prev ? prev->create_revision : rev;
    ASSIGN_OR_RETURN(
        Statement stmt,
        conn_.Prepare(prev ? "UPDATE kv SET value = ?2, create_rev = ?3, mod_rev = ?4, lease = ?5 "
                             "WHERE key = ?1"
                           : "INSERT INTO kv (key, value, create_rev, mod_rev, lease) "
                             "VALUES (?1, ?2, ?3, ?4, ?5)"));
    stmt.Blob(1, key).Blob(2, value).Int(3, create_rev).Int(4, rev).Int(5, lease);
    RETURN_IF_ERROR(stmt.Run());
    return AppendEvent(rev, kEventPut, key, value, create_rev, lease, prev);
  }

  absl::Status DeleteKeyAt(Revision rev, const KeyValue& prev) { return DeleteRow(rev, prev); }

  absl::StatusOr<Revision> DeleteKey(const KeyValue& prev) {
    ASSIGN_OR_RETURN(Revision rev, NextRevision());
    RETURN_IF_ERROR(DeleteRow(rev, prev));
    return rev;
  }

  // Deletes every key of `lease` at one new revision (none if it has no keys), then the lease.
  absl::Status RevokeLease(LeaseId lease) {
    std::vector<KeyValue> keys;
    {
      ASSIGN_OR_RETURN(
          Statement stmt,
          conn_.Prepare("SELECT key, value, create_rev, mod_rev, lease FROM kv WHERE lease = ? "
                        "ORDER BY key"));
      stmt.Int(1, lease);
      for (;;) {
        ASSIGN_OR_RETURN(bool row, stmt.Step());
        if (!row) break;
        keys.push_back(*internal::KeyValueIfAny(stmt, 1, stmt.ColumnBlob(0)));
      }
    }
    if (!keys.empty()) {
      ASSIGN_OR_RETURN(Revision rev, NextRevision());
      for (const KeyValue& kv : keys) RETURN_IF_ERROR(DeleteRow(rev, kv));
    }
    ASSIGN_OR_RETURN(Statement stmt, conn_.Prepare("DELETE FROM leases WHERE id = ?"));
    stmt.Int(1, lease);
    return stmt.Run();
  }

  // Revokes every lease expired by now. Returns how many.
  absl::StatusOr<int> SweepExpiredLeases() {
    std::vector<LeaseId> expired;
    {
      ASSIGN_OR_RETURN(
          Statement stmt,
          conn_.Prepare(
              "SELECT id FROM leases WHERE expires_at_ms <= ? ORDER BY expires_at_ms, id"));
      stmt.Int(1, now_ms_);
      for (;;) {
        ASSIGN_OR_RETURN(bool row, stmt.Step());
        if (!row) break;
        expired.push_back(stmt.ColumnInt(0));
      }
    }
    for (LeaseId lease : expired) {
      RETURN_IF_ERROR(Annotate(RevokeLease(lease), fmt::format("expiring lease {}", lease)));
    }
    swept_ += static_cast<int>(expired.size());
    return static_cast<int>(expired.size());
  }

  // Drops the events up to and including `revision`.
  absl::Status CompactThrough(Revision revision) {
    if (revision <= compacted_) return absl::OkStatus();
    {
      // Events kept that refer to a value only a dropped event holds get a copy of it: at most
      // one per key, its first event after the compaction point.
      ASSIGN_OR_RETURN(
          Statement stmt,
          conn_.Prepare("UPDATE events SET prev_value = (SELECT p.value FROM events p WHERE "
                        "p.rev = events.prev_mod_rev AND p.key = events.key) WHERE rev > ?1 AND "
                        "prev_value IS NULL AND prev_mod_rev IS NOT NULL AND prev_mod_rev <= ?1"));
      stmt.Int(1, revision);
      RETURN_IF_ERROR(stmt.Run());
    }
    {
      ASSIGN_OR_RETURN(Statement stmt, conn_.Prepare("DELETE FROM events WHERE rev <= ?"));
      stmt.Int(1, revision);
      RETURN_IF_ERROR(stmt.Run());
    }
    ASSIGN_OR_RETURN(Statement stmt,
                     conn_.Prepare("UPDATE meta SET compact_revision = ? WHERE id = 1"));
    stmt.Int(1, revision);
    RETURN_IF_ERROR(stmt.Run());
    compacted_ = revision;
    return absl::OkStatus();
  }

  // Applies the retention policy when this transaction crossed a multiple of compact_every.
  absl::Status MaybeCompact(const SqliteOptions& options) {
    int64_t every = std::max<int64_t>(options.compact_every, 1);
    if (revision_ / every == start_revision_ / every) return absl::OkStatus();
    Revision target = revision_ - std::max<int64_t>(options.max_events, 0);
    ASSIGN_OR_RETURN(Statement stmt, conn_.Prepare("SELECT max(rev) FROM events WHERE ts_ms < ?"));
    stmt.Int(1, now_ms_ - absl::ToInt64Milliseconds(options.max_event_age));
    ASSIGN_OR_RETURN(bool row, stmt.Step());
    if (row && !stmt.ColumnIsNull(0)) target = std::max(target, stmt.ColumnInt(0));
    ASSIGN_OR_RETURN(Revision beyond_bytes, NewestRevisionBeyondBytes(options.max_event_bytes));
    target = std::max(target, beyond_bytes);
    return CompactThrough(std::min(target, revision_));
  }

  // The newest revision whose events, with every newer one, hold more than `bytes` of keys and
  // values (0 if the whole log holds less). length() of a BLOB reads only its record header.
  absl::StatusOr<Revision> NewestRevisionBeyondBytes(int64_t bytes) {
    ASSIGN_OR_RETURN(
        Statement stmt,
        conn_.Prepare("SELECT rev FROM (SELECT rev, sum(length(key) + length(value) + "
                      "coalesce(length(prev_value), 0)) OVER (ORDER BY rev DESC, key DESC) AS "
                      "newer FROM events) WHERE newer > ? ORDER BY rev DESC LIMIT 1"));
    stmt.Int(1, std::max<int64_t>(bytes, 0));
    ASSIGN_OR_RETURN(bool row, stmt.Step());
    return row ? stmt.ColumnInt(0) : Revision{0};
  }

 private:
  absl::Status DeleteRow(Revision rev, const KeyValue& prev) {
    {
      ASSIGN_OR_RETURN(Statement stmt, conn_.Prepare("DELETE FROM kv WHERE key = ?"));
      stmt.Blob(1, prev.key);
      RETURN_IF_ERROR(stmt.Run());
    }
    return AppendEvent(rev, kEventDelete, prev.key, "", 0, 0, prev);
  }

  absl::Status AppendEvent(Revision rev, int type, const std::string& key, const std::string& value,
                           Revision create_rev, LeaseId lease,
                           const std::optional<KeyValue>& prev) {
    ASSIGN_OR_RETURN(
        Statement stmt,
        conn_.Prepare("INSERT INTO events (rev, key, type, value, create_rev, lease, prev_value, "
                      "prev_create_rev, prev_mod_rev, prev_lease, ts_ms) "
                      "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"));
    stmt.Int(1, rev).Blob(2, key).Int(3, type).Blob(4, value).Int(5, create_rev).Int(6, lease);
    if (prev) {
      // By reference while the event that wrote the previous value is in the log (every write
      // appends one, so it is there unless compacted); see TABBY_EVENT_COLUMNS.
      if (prev->mod_revision > compacted_) {
        stmt.Null(7);
      } else {
        stmt.Blob(7, prev->value);
      }
      stmt.Int(8, prev->create_revision).Int(9, prev->mod_revision).Int(10, prev->lease);
    } else {
      stmt.Null(7).Null(8).Null(9).Null(10);
    }
    stmt.Int(11, now_ms_);
    return stmt.Run();
  }

  Connection& conn_;
  const int64_t now_ms_;
  Revision revision_ = 0;
  Revision start_revision_ = 0;
  Revision compacted_ = 0;
  int swept_ = 0;
};

SqliteDatastore::SqliteDatastore(std::string path, const SqliteOptions& options,
                                 std::unique_ptr<internal::Connection> conn)
    : path_(std::move(path)),
      wal_path_(path_ + "-wal"),
      options_(options),
      clock_(options.clock != nullptr ? *options.clock : SystemClock::Get()),
      conn_(std::move(conn)) {}

SqliteDatastore::~SqliteDatastore() = default;

absl::StatusOr<std::unique_ptr<SqliteDatastore>> SqliteDatastore::Open(
    const std::string& path, const SqliteOptions& options) {
  if (path.empty() || path[0] != '/') {
    return absl::InvalidArgumentError(
        fmt::format("SQLite datastore path \"{}\" is not absolute", path));
  }
  if (options.create) {
    std::string dir = internal::Dirname(path);
    RETURN_IF_ERROR(Annotate(MakeDirectories(dir, 0755),
                             fmt::format("creating the directory of datastore {}", path)));
  }
  ASSIGN_OR_RETURN(std::unique_ptr<Connection> conn,
                   Annotate(Connection::Open(path, options.busy_timeout, options.create),
                            fmt::format("opening datastore {}", path)));
  return std::unique_ptr<SqliteDatastore>(new SqliteDatastore(path, options, std::move(conn)));
}

template <typename T, typename Body>
absl::StatusOr<T> SqliteDatastore::Write(Body&& body) {
  // Caller holds mu_.
  Transaction txn(*conn_);
  RETURN_IF_ERROR(txn.Begin(/*write=*/true));
  WriteContext w(*conn_, absl::ToUnixMillis(clock_.Now()));
  RETURN_IF_ERROR(w.Load());
  ASSIGN_OR_RETURN(int swept, w.SweepExpiredLeases());
  absl::StatusOr<T> result = body(w);
  // A refused operation has written nothing; keep the lease sweep if there was one. Any other
  // failure may have written half of something: roll back (Transaction's destructor).
  if (!result.ok() && (!internal::IsLogicalError(result.status()) || swept == 0)) return result;
  RETURN_IF_ERROR(w.MaybeCompact(options_));
  RETURN_IF_ERROR(txn.Commit());
  // Wake watchers. The commit itself may not: a committing writer's last write(2) to the -wal
  // file comes before the commit becomes visible (in shared memory), so a watcher woken by it can
  // look too early. Touching the file afterwards is an inotify event (IN_ATTRIB) that follows
  // the commit. Best effort: watchers also poll.
  utimensat(AT_FDCWD, wal_path_.c_str(), nullptr, 0);
  return result;
}

template <typename T, typename Body>
absl::StatusOr<T> SqliteDatastore::Read(Body&& body) {
  // Caller holds mu_.
  {
    Transaction txn(*conn_);
    RETURN_IF_ERROR(txn.Begin(/*write=*/false));
    ASSIGN_OR_RETURN(bool expired,
                     internal::AnyLeaseExpired(*conn_, absl::ToUnixMillis(clock_.Now())));
    if (!expired) {
      absl::StatusOr<T> result = body(*conn_);
      if (result.ok()) RETURN_IF_ERROR(txn.Commit());
      return result;
    }
  }
  // A lease has expired: sweep it and read in one write transaction, so the result is consistent
  // with a revision that includes the expiry.
  return Write<T>([&](WriteContext& w) { return body(w.conn()); });
}

absl::StatusOr<std::optional<KeyValue>> SqliteDatastore::Get(const std::string& key) {
  const std::string what = fmt::format("get \"{}\"", keys::Printable(key));
  RETURN_IF_ERROR(Annotate(keys::Validate(key), what));
  std::lock_guard lock(mu_);
  return Annotate(
      Read<std::optional<KeyValue>>([&](Connection& conn) { return internal::ReadKey(conn, key); }),
      what);
}

absl::StatusOr<ListResult> SqliteDatastore::List(const std::string& prefix) {
  const std::string what = fmt::format("list prefix \"{}\"", keys::Printable(prefix));
  RETURN_IF_ERROR(Annotate(keys::ValidatePrefix(prefix), what));
  std::lock_guard lock(mu_);
  return Annotate(
      Read<ListResult>([&](Connection& conn) { return internal::ReadPrefix(conn, prefix); }), what);
}

absl::StatusOr<Revision> SqliteDatastore::ListEach(const std::string& prefix,
                                                   const Visitor& visit) {
  const std::string what = fmt::format("list prefix \"{}\"", keys::Printable(prefix));
  RETURN_IF_ERROR(Annotate(keys::ValidatePrefix(prefix), what));
  // One read transaction for the whole visit: the rows come from one snapshot (writers go on in
  // the WAL meanwhile). A visitor's own error is returned as it is.
  {
    std::lock_guard lock(mu_);
    Transaction txn(*conn_);
    RETURN_IF_ERROR(Annotate(txn.Begin(/*write=*/false), what));
    ASSIGN_OR_RETURN(
        bool expired,
        Annotate(internal::AnyLeaseExpired(*conn_, absl::ToUnixMillis(clock_.Now())), what));
    if (!expired) {
      absl::Status visitor_status;
      auto visited = internal::VisitPrefix(*conn_, prefix, /*keys_only=*/false, [&](KeyValue&& kv) {
        visitor_status = visit(std::move(kv));
        return visitor_status;
      });
      if (!visitor_status.ok()) return visitor_status;
      if (visited.ok()) RETURN_IF_ERROR(Annotate(txn.Commit(), what));
      return Annotate(std::move(visited), what);
    }
  }
  // A lease has expired: List sweeps its keys in a write transaction and collects the listing,
  // which is visited after that transaction, so the write lock is not held while the caller
  // works on each item.
  return Datastore::ListEach(prefix, visit);
}

absl::StatusOr<Revision> SqliteDatastore::CurrentRevision() {
  std::lock_guard lock(mu_);
  return Annotate(internal::ReadRevision(*conn_), "reading the current revision");
}

absl::StatusOr<Revision> SqliteDatastore::Create(const std::string& key, const std::string& value,
                                                 LeaseId lease) {
  const std::string what = fmt::format("create \"{}\"", keys::Printable(key));
  RETURN_IF_ERROR(Annotate(keys::Validate(key), what));
  std::lock_guard lock(mu_);
  return Annotate(Write<Revision>([&](WriteContext& w) -> absl::StatusOr<Revision> {
                    ASSIGN_OR_RETURN(std::optional<KeyValue> current,
                                     internal::ReadKey(w.conn(), key));
                    if (current) {
                      return absl::AlreadyExistsError(
                          fmt::format("key exists (mod_revision {})", current->mod_revision));
                    }
                    RETURN_IF_ERROR(w.CheckLease(lease));
                    return w.PutKey(key, value, lease, current);
                  }),
                  what);
}

absl::StatusOr<Revision> SqliteDatastore::Update(const std::string& key, const std::string& value,
                                                 Revision expected, LeaseId lease) {
  const std::string what =
      fmt::format("update \"{}\" at mod_revision {}", keys::Printable(key), expected);
  RETURN_IF_ERROR(Annotate(keys::Validate(key), what));
  if (expected <= 0) {
    return absl::InvalidArgumentError(
        fmt::format("{}: the expected mod_revision must be positive", what));
  }
  std::lock_guard lock(mu_);
  return Annotate(Write<Revision>([&](WriteContext& w) -> absl::StatusOr<Revision> {
                    ASSIGN_OR_RETURN(std::optional<KeyValue> current,
                                     internal::ReadKey(w.conn(), key));
                    if (!current) return absl::NotFoundError("key not found");
                    if (current->mod_revision != expected) {
                      return absl::AbortedError(
                          fmt::format("key was modified (mod_revision {})", current->mod_revision));
                    }
                    RETURN_IF_ERROR(w.CheckLease(lease));
                    return w.PutKey(key, value, lease, current);
                  }),
                  what);
}

absl::StatusOr<Revision> SqliteDatastore::Put(const std::string& key, const std::string& value,
                                              LeaseId lease) {
  const std::string what = fmt::format("put \"{}\"", keys::Printable(key));
  RETURN_IF_ERROR(Annotate(keys::Validate(key), what));
  std::lock_guard lock(mu_);
  return Annotate(Write<Revision>([&](WriteContext& w) -> absl::StatusOr<Revision> {
                    ASSIGN_OR_RETURN(std::optional<KeyValue> current,
                                     internal::ReadKey(w.conn(), key));
                    RETURN_IF_ERROR(w.CheckLease(lease));
                    return w.PutKey(key, value, lease, current);
                  }),
                  what);
}

absl::StatusOr<Revision> SqliteDatastore::Delete(const std::string& key, Revision expected) {
  const std::string what =
      expected > 0 ? fmt::format("delete \"{}\" at mod_revision {}", keys::Printable(key), expected)
                   : fmt::format("delete \"{}\"", keys::Printable(key));
  RETURN_IF_ERROR(Annotate(keys::Validate(key), what));
  std::lock_guard lock(mu_);
  return Annotate(Write<Revision>([&](WriteContext& w) -> absl::StatusOr<Revision> {
                    ASSIGN_OR_RETURN(std::optional<KeyValue> current,
                                     internal::ReadKey(w.conn(), key));
                    if (!current) return absl::NotFoundError("key not found");
                    if (expected > 0 && current->mod_revision != expected) {
                      return absl::AbortedError(
                          fmt::format("key was modified (mod_revision {})", current->mod_revision));
                    }
                    return w.DeleteKey(*current);
                  }),
                  what);
}

absl::StatusOr<ListResult> SqliteDatastore::ListKeys(const std::string& prefix) {
  const std::string what = fmt::format("list keys of prefix \"{}\"", keys::Printable(prefix));
  RETURN_IF_ERROR(Annotate(keys::ValidatePrefix(prefix), what));
  std::lock_guard lock(mu_);
  return Annotate(Read<ListResult>([&](Connection& conn) {
                    return internal::ReadPrefix(conn, prefix, /*keys_only=*/true);
                  }),
                  what);
}

absl::StatusOr<Revision> SqliteDatastore::Txn(const std::vector<Compare>& compares,
                                              const std::vector<TxnOp>& ops) {
  const std::string what = keys::DescribeTxn(compares, ops);
  RETURN_IF_ERROR(Annotate(keys::ValidateTxn(compares, ops), what));
  std::lock_guard lock(mu_);
  return Annotate(
      Write<Revision>([&](WriteContext& w) -> absl::StatusOr<Revision> {
        for (const auto& compare : compares) {
          ASSIGN_OR_RETURN(std::optional<KeyValue> current,
                           internal::ReadKey(w.conn(), compare.key));
          Revision actual = current ? current->mod_revision : 0;
          if (actual != compare.mod_revision) {
            return absl::AbortedError(
                fmt::format("\"{}\" is at mod_revision {} (0: absent), expected {}",
                            keys::Printable(compare.key), actual, compare.mod_revision));
          }
        }
        for (const auto& op : ops) {
          if (op.type == TxnOp::Type::kPut) RETURN_IF_ERROR(w.CheckLease(op.lease));
        }
        ASSIGN_OR_RETURN(Revision rev, w.NextRevision());
        for (const auto& op : ops) {
          ASSIGN_OR_RETURN(std::optional<KeyValue> current, internal::ReadKey(w.conn(), op.key));
          if (op.type == TxnOp::Type::kPut) {
            RETURN_IF_ERROR(w.PutKeyAt(rev, op.key, op.value, op.lease, current));
          } else if (current) {
            RETURN_IF_ERROR(w.DeleteKeyAt(rev, *current));
          }
        }
        return rev;
      }),
      what);
}

absl::StatusOr<std::unique_ptr<Watch>> SqliteDatastore::WatchPrefix(const std::string& prefix,
                                                                    Revision after) {
  const std::string what =
      fmt::format("watch prefix \"{}\" after revision {}", keys::Printable(prefix), after);
  RETURN_IF_ERROR(Annotate(keys::ValidatePrefix(prefix), what));
  if (after < 0) {
    return absl::InvalidArgumentError(fmt::format("{}: negative revision", what));
  }
  ASSIGN_OR_RETURN(Revision compacted, CompactedRevision());
  if (after < compacted) {
    return absl::OutOfRangeError(fmt::format(
        "{}: events up to revision {} were compacted; list again and watch from the listing's "
        "revision",
        what, compacted));
  }
  ASSIGN_OR_RETURN(std::unique_ptr<internal::SqliteWatch> watch,
                   Annotate(internal::SqliteWatch::Start(path_, prefix, after, options_), what));
  return std::unique_ptr<Watch>(std::move(watch));
}

absl::StatusOr<LeaseId> SqliteDatastore::GrantLease(absl::Duration ttl) {
  const std::string what = fmt::format("grant a lease of {}", absl::FormatDuration(ttl));
  if (ttl <= absl::ZeroDuration() || ttl > absl::Hours(24 * 365 * 100)) {
    return absl::InvalidArgumentError(
        fmt::format("{}: the TTL must be positive and at most 100 years", what));
  }
  const int64_t ttl_ms = absl::ToInt64Milliseconds(absl::Ceil(ttl, absl::Milliseconds(1)));
  std::lock_guard lock(mu_);
  return Annotate(Write<LeaseId>([&](WriteContext& w) -> absl::StatusOr<LeaseId> {
                    ASSIGN_OR_RETURN(Statement stmt,
                                     w.conn().Prepare("INSERT INTO leases (ttl_ms, expires_at_ms) "
                                                      "VALUES (?, ?)"));
                    stmt.Int(1, ttl_ms).Int(2, w.now_ms() + ttl_ms);
                    RETURN_IF_ERROR(stmt.Run());
                    return sqlite3_last_insert_rowid(w.conn().db());
                  }),
                  what);
}

absl::Status SqliteDatastore::KeepAlive(LeaseId lease) {
  const std::string what = fmt::format("keep lease {} alive", lease);
  std::lock_guard lock(mu_);
  return Annotate(Write<bool>([&](WriteContext& w) -> absl::StatusOr<bool> {
                    ASSIGN_OR_RETURN(
                        Statement stmt,
                        w.conn().Prepare("UPDATE leases SET expires_at_ms = ? + ttl_ms "
                                         "WHERE id = ?"));
                    stmt.Int(1, w.now_ms()).Int(2, lease);
                    RETURN_IF_ERROR(stmt.Run());
                    if (sqlite3_changes(w.conn().db()) == 0) {
                      return absl::NotFoundError("lease not found (expired or revoked)");
                    }
                    return true;
                  }).status(),
                  what);
}

absl::Status SqliteDatastore::RevokeLease(LeaseId lease) {
  const std::string what = fmt::format("revoke lease {}", lease);
  std::lock_guard lock(mu_);
  return Annotate(Write<bool>([&](WriteContext& w) -> absl::StatusOr<bool> {
                    if (lease <= 0) return absl::InvalidArgumentError("invalid lease id");
                    RETURN_IF_ERROR(w.CheckLease(lease));
                    RETURN_IF_ERROR(w.RevokeLease(lease));
                    return true;
                  }).status(),
                  what);
}

absl::Status SqliteDatastore::Compact(Revision revision) {
  const std::string what = fmt::format("compact {} through revision {}", path_, revision);
  std::lock_guard lock(mu_);
  return Annotate(Write<bool>([&](WriteContext& w) -> absl::StatusOr<bool> {
                    if (revision > w.revision()) {
                      return absl::InvalidArgumentError(fmt::format(
                          "revision is in the future (current revision {})", w.revision()));
                    }
                    RETURN_IF_ERROR(w.CompactThrough(revision));
                    return true;
                  }).status(),
                  what);
}

absl::StatusOr<int> SqliteDatastore::ExpireLeases() {
  const std::string what = fmt::format("expire leases in {}", path_);
  std::lock_guard lock(mu_);
  {
    // The common case, nothing expired, without the write lock.
    Transaction txn(*conn_);
    RETURN_IF_ERROR(Annotate(txn.Begin(/*write=*/false), what));
    ASSIGN_OR_RETURN(
        bool expired,
        Annotate(internal::AnyLeaseExpired(*conn_, absl::ToUnixMillis(clock_.Now())), what));
    if (!expired) return 0;
  }
  // Write() sweeps before running its body.
  return Annotate(Write<int>([&](WriteContext& w) -> absl::StatusOr<int> { return w.swept(); }),
                  what);
}

absl::StatusOr<Revision> SqliteDatastore::CompactedRevision() {
  std::lock_guard lock(mu_);
  return Annotate(conn_->QueryInt("SELECT compact_revision FROM meta WHERE id = 1"),
                  fmt::format("reading the compaction revision of {}", path_));
}

}  // namespace tabby::datastore
