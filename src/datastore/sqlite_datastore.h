// The embedded datastore backend: one SQLite database file in WAL mode, shared by every tabby
// process on the host (agent, concurrent CNI invocations, CLI).
//
// Schema (version kSqliteSchemaVersion, kept in PRAGMA user_version; a newer version is refused):
//   meta(id = 1, revision, compact_revision)   the store revision and the compaction point
//   kv(key UNIQUE, value, create_rev, mod_rev, lease)
//   events(rev, key, type, value, create_rev, lease, prev_*, ts_ms), UNIQUE(rev, key)
//   leases(id AUTOINCREMENT, ttl_ms, expires_at_ms)   ids are never reused
// Keys and values are BLOBs, so keys compare bytewise and prefix listing is a range scan.
//
// Writes run in `BEGIN IMMEDIATE` transactions (one writer at a time across processes, waiting up
// to `busy_timeout`, then kUnavailable). Each write advances meta.revision by one and appends its
// event rows in the same transaction, so the event log is exactly the sequence of committed
// revisions. Readers never block writers (WAL).
//
// Leases: expiry times are wall-clock milliseconds from the injected Clock, stored in the database
// since several processes share it. Expired leases are swept (their keys deleted, with delete
// events, one revision per lease) at the start of every write transaction, before Get/List return
// (so a listing never includes a key whose lease has expired), and by ExpireLeases(), which the
// agent calls periodically so that expiry events appear even when nothing else writes.
//
// Compaction: every `compact_every` revisions a write transaction drops the events more than
// `max_events` revisions old, older than `max_event_age`, or beyond the newest `max_event_bytes`;
// Compact() does it explicitly. An event's previous value is stored by reference to the event
// that wrote it while that one is in the log, and copied into it when compaction drops that one.
//
// Watches read the event log through their own connection, tracking the last revision scanned,
// so they never miss or repeat an event. They wake on inotify events for the database directory
// (a commit writes the -wal file, and tabby writers touch it once the commit is visible), check
// PRAGMA data_version, and also poll every `watch_poll_interval` as a safety net.
//
// Thread-safety: a SqliteDatastore is thread-safe (one connection guarded by a mutex). A Watch has
// its own connection, is used by one consumer thread, and may outlive the SqliteDatastore that
// created it. Handles must not be carried across fork(): a child process opens its own.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "base/clock.h"
#include "datastore/datastore.h"

namespace tabby::datastore {

inline constexpr int kSqliteSchemaVersion = 1;

struct SqliteOptions {
  // Create the file (and its directory) and the schema if they do not exist. Without it a
  // missing, empty or foreign file is an error: a mistyped path or a truncated database must
  // never look like an empty cluster.
  bool create = false;
  // Time for lease expiry and event timestamps; must outlive the store. nullptr: SystemClock.
  Clock* clock = nullptr;
  // How long a write waits for another process's write transaction before kUnavailable.
  absl::Duration busy_timeout = absl::Seconds(10);
  // Event history kept for watches: at most this many revisions back...
  int64_t max_events = 10'000;
  // ...and nothing older than this...
  absl::Duration max_event_age = absl::Minutes(5);
  // ...and no more than this many bytes of keys and values: an IPAM block is rewritten on every
  // allocation, so at 150 allocations a second the two bounds above still let the log grow to
  // hundreds of megabytes. A watcher that falls further behind is told so (kOutOfRange) and
  // lists again.
  int64_t max_event_bytes = 16 << 20;
  // Revisions between automatic compaction checks (each costs one scan of the event log, and the
  // log may exceed the bounds above by this many revisions between two checks).
  int64_t compact_every = 250;
  // Safety-net poll of watches in case an inotify event is missed.
  absl::Duration watch_poll_interval = absl::Seconds(2);
};

namespace internal {
class Connection;
}  // namespace internal

class SqliteDatastore final : public Datastore {
 public:
  // Opens the database at the absolute `path` (creating it, with its parent directory, only with
  // options.create). NotFound if it does not exist; FailedPrecondition if it is empty or holds no
  // tabby schema; DataLoss if SQLite finds it corrupt or truncated.
  static absl::StatusOr<std::unique_ptr<SqliteDatastore>> Open(const std::string& path,
                                                               const SqliteOptions& options = {});
  ~SqliteDatastore() override;

  SqliteDatastore(const SqliteDatastore&) = delete;
  SqliteDatastore& operator=(const SqliteDatastore&) = delete;

  absl::StatusOr<std::optional<KeyValue>> Get(const std::string& key) override;
  absl::StatusOr<ListResult> List(const std::string& prefix) override;
  absl::StatusOr<ListResult> ListKeys(const std::string& prefix) override;
  absl::StatusOr<Revision> ListEach(const std::string& prefix, const Visitor& visit) override;
  absl::StatusOr<Revision> CurrentRevision() override;
  absl::StatusOr<Revision> Create(const std::string& key, const std::string& value,
                                  LeaseId lease = 0) override;
  absl::StatusOr<Revision> Update(const std::string& key, const std::string& value,
                                  Revision expected, LeaseId lease = 0) override;
  absl::StatusOr<Revision> Put(const std::string& key, const std::string& value,
                               LeaseId lease = 0) override;
  absl::StatusOr<Revision> Delete(const std::string& key, Revision expected = 0) override;
  absl::StatusOr<Revision> Txn(const std::vector<Compare>& compares,
                               const std::vector<TxnOp>& ops) override;
  absl::StatusOr<std::unique_ptr<Watch>> WatchPrefix(const std::string& prefix,
                                                     Revision after) override;
  absl::StatusOr<LeaseId> GrantLease(absl::Duration ttl) override;
  absl::Status KeepAlive(LeaseId lease) override;
  absl::Status RevokeLease(LeaseId lease) override;
  absl::Status Compact(Revision revision) override;

  // Deletes the keys of every expired lease (with delete events) and the leases themselves.
  // Returns how many leases expired. Cheap (no write lock) when none has.
  absl::StatusOr<int> ExpireLeases();

  // The revision up to which events have been compacted away (0: none yet).
  absl::StatusOr<Revision> CompactedRevision();

  const std::string& path() const { return path_; }

 private:
  class WriteContext;
  SqliteDatastore(std::string path, const SqliteOptions& options,
                  std::unique_ptr<internal::Connection> conn);

  // Runs `body` in a write transaction after sweeping expired leases; see the .cc file.
  template <typename T, typename Body>
  absl::StatusOr<T> Write(Body&& body);
  // Runs `body` in a read transaction, or in a write transaction if a lease has expired.
  template <typename T, typename Body>
  absl::StatusOr<T> Read(Body&& body);

  const std::string path_;
  const std::string wal_path_;
  const SqliteOptions options_;
  Clock& clock_;
  std::mutex mu_;
  std::unique_ptr<internal::Connection> conn_;  // guarded by mu_
};

}  // namespace tabby::datastore
