// The datastore contract: keyed values with revisions, shaped after etcd v3 so that the embedded
// SQLite backend and the etcd backend are interchangeable behind one interface.
//
// Revisions: the store has one revision counter. Every successful write (create, update, put,
// delete, lease expiry) increments it by exactly one; a key's mod_revision is the revision of the
// write that produced its current value. Revisions never go backwards and are never reused.
//
// Watch: events are delivered in revision order, each exactly once, starting strictly after the
// revision given, e.g. the revision returned by List. This gives "list then watch" with no missed
// and no duplicated events.
//
// Errors (absl::StatusCode):
//   kNotFound          key absent (Get returns nullopt instead; Update/Delete report it)
//   kAlreadyExists     Create of a key that exists
//   kAborted           compare-and-swap lost: the key's mod_revision differs from the expected one
//   kOutOfRange        Watch from a revision that has been compacted away: re-list and re-watch
//   kUnavailable       backend unreachable or busy beyond its timeout: retry later
//   kInvalidArgument   malformed key, URL or argument
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "base/clock.h"

namespace tabby::datastore {

using Revision = int64_t;
using LeaseId = int64_t;

struct KeyValue {
  std::string key;
  std::string value;
  Revision create_revision = 0;
  Revision mod_revision = 0;
  LeaseId lease = 0;  // 0 = not attached to a lease
};

struct ListResult {
  std::vector<KeyValue> items;  // sorted by key
  Revision revision = 0;        // store revision the listing is consistent with
};

struct Event {
  enum class Type { kPut, kDelete };
  Type type = Type::kPut;
  // For kPut the new value; for kDelete the key with an empty value, and mod_revision set to the
  // revision of the deletion.
  KeyValue kv;
  // The value before this event, when the backend knows it (both backends do).
  std::optional<KeyValue> prev;
};

// A condition of a transaction on one key: its mod_revision equals `mod_revision`, where 0 means
// the key must be absent.
struct Compare {
  std::string key;
  Revision mod_revision = 0;
};

// A write in a transaction.
struct TxnOp {
  enum class Type { kPut, kDelete };
  Type type = Type::kPut;
  std::string key;
  std::string value;  // kPut only
  LeaseId lease = 0;  // kPut only

  static TxnOp Put(std::string key, std::string value, LeaseId lease = 0) {
    return TxnOp{Type::kPut, std::move(key), std::move(value), lease};
  }
  static TxnOp Delete(std::string key) { return TxnOp{Type::kDelete, std::move(key), "", 0}; }
};

// A stream of events for keys under a prefix. Not thread-safe: one consumer.
class Watch {
 public:
  virtual ~Watch() = default;
  // Blocks until at least one event is available or `timeout` passes. Returns the events
  // available now (possibly several revisions' worth, in order), or an empty vector on timeout.
  // kOutOfRange if the stream fell behind compaction; the watch is then finished.
  virtual absl::StatusOr<std::vector<Event>> Next(absl::Duration timeout) = 0;
  // A file descriptor that becomes readable when Next may have something to return, for callers
  // that multiplex; -1 if the backend has none.
  virtual int ReadinessFd() const { return -1; }
  // The revision up to which the stream is complete: every event under the prefix at or before
  // it has been returned by Next. It moves past the last event when later revisions touched
  // other prefixes (as etcd's watch progress notifications do), so a consumer can say "current
  // up to R" of a store whose latest writes were not its business. 0 if the backend cannot tell.
  virtual Revision Progress() const { return 0; }
};

class Datastore {
 public:
  virtual ~Datastore() = default;

  virtual absl::StatusOr<std::optional<KeyValue>> Get(const std::string& key) = 0;

  // All keys starting with `prefix`, sorted by key.
  virtual absl::StatusOr<ListResult> List(const std::string& prefix) = 0;

  // The same without the values (each item's value is empty): for callers that need to know
  // which keys exist under a prefix of large values.
  virtual absl::StatusOr<ListResult> ListKeys(const std::string& prefix) {
    auto listing = List(prefix);
    if (listing.ok()) {
      for (auto& kv : listing->items) kv.value.clear();
    }
    return listing;
  }

  // Calls `visit` for every key starting with `prefix`, in key order, from one consistent
  // snapshot, and returns that snapshot's revision. Unlike List, a backend hands out one item at
  // a time where it can, so a caller that keeps less than the values (the agent's resync decodes
  // each into its indexes) never holds the whole listing: at 100,000 workloads that is tens of
  // MB of JSON. An error from `visit` stops the listing and is returned; after any error the
  // items visited so far are not a whole listing. `visit` must not call back into the datastore.
  using Visitor = std::function<absl::Status(KeyValue&& kv)>;
  virtual absl::StatusOr<Revision> ListEach(const std::string& prefix, const Visitor& visit);

  // Current store revision.
  virtual absl::StatusOr<Revision> CurrentRevision() = 0;

  // Creates `key`; kAlreadyExists if present. Returns the new mod_revision.
  virtual absl::StatusOr<Revision> Create(const std::string& key, const std::string& value,
                                          LeaseId lease = 0) = 0;

  // Replaces `key` if its mod_revision equals `expected` (kAborted otherwise, kNotFound if absent).
  virtual absl::StatusOr<Revision> Update(const std::string& key, const std::string& value,
                                          Revision expected, LeaseId lease = 0) = 0;

  // Creates or replaces `key` unconditionally.
  virtual absl::StatusOr<Revision> Put(const std::string& key, const std::string& value,
                                       LeaseId lease = 0) = 0;

  // Deletes `key`. With `expected` > 0, only if its mod_revision equals it (kAborted otherwise).
  // kNotFound if absent. Returns the revision of the deletion.
  virtual absl::StatusOr<Revision> Delete(const std::string& key, Revision expected = 0) = 0;

  // Atomically: if every compare holds, applies `ops` in order at one new revision (every event
  // of the transaction carries it) and returns it; otherwise writes nothing and returns kAborted
  // naming the first compare that failed. `ops` must be non-empty and name each key at most
  // once; deleting an absent key is a no-op (guard it with a compare if it matters). This is
  // how several keys change together: a block of addresses and the handle that holds one.
  virtual absl::StatusOr<Revision> Txn(const std::vector<Compare>& compares,
                                       const std::vector<TxnOp>& ops) = 0;

  // Streams events for keys under `prefix` with revision > `after`.
  virtual absl::StatusOr<std::unique_ptr<Watch>> WatchPrefix(const std::string& prefix,
                                                             Revision after) = 0;

  // Leases: keys attached to a lease are deleted (with delete events) when it expires or is
  // revoked. A lease expires `ttl` after it was granted or last kept alive.
  virtual absl::StatusOr<LeaseId> GrantLease(absl::Duration ttl) = 0;
  virtual absl::Status KeepAlive(LeaseId lease) = 0;  // kNotFound if expired or revoked
  virtual absl::Status RevokeLease(LeaseId lease) = 0;

  // Discards the event history up to and including `revision` (<= CurrentRevision()); watches
  // from an earlier revision then fail with kOutOfRange. Compacting to or below an earlier
  // compaction is a no-op. SQLite also compacts on its own; etcd does so when started with
  // --auto-compaction-retention (tabby never compacts it).
  virtual absl::Status Compact(Revision revision) {
    return absl::UnimplementedError("compaction not supported by this datastore");
  }
};

// Where to find the datastore, in order: --datastore flag, $TABBY_DATASTORE, this default.
inline constexpr char kDefaultDatastoreUrl[] = "sqlite:///var/lib/tabby/tabby.db";

struct OpenOptions {
  // Create the datastore if it does not exist yet: its directory and file (SQLite) and its
  // cluster identity (cluster_identity.h). Only `tabbyctl datastore init` and the first tabbyd
  // on the default path do. Without it, a datastore that does not exist, is empty or holds no
  // cluster identity is an error saying so, never an empty cluster.
  bool create = false;
  // Time for lease expiry; must outlive the datastore and its watches. nullptr: SystemClock.
  Clock* clock = nullptr;
  // How long one call to a networked backend (etcd) may keep retrying before it reports
  // kUnavailable; zero: the backend's default (10 s). The CNI plugin, which a runtime waits on,
  // uses less.
  absl::Duration request_timeout = absl::ZeroDuration();
};

// Opens a datastore from a URL: sqlite:///absolute/path, etcd://host:port[,host:port...] or
// etcds://host:port[,...][?ca=FILE&cert=FILE&key=FILE] (etcd_datastore.h).
// InvalidArgument for a malformed URL; NotFound when it does not exist; FailedPrecondition when
// it holds no tabby cluster; DataLoss when it is corrupt; each naming the URL.
absl::StatusOr<std::unique_ptr<Datastore>> Open(const std::string& url,
                                                const OpenOptions& options = {});
// The same, reading time (lease expiry) from `clock`.
absl::StatusOr<std::unique_ptr<Datastore>> Open(const std::string& url, Clock& clock);

// The URL to use given an optional explicit flag value: flag, else $TABBY_DATASTORE, else default.
std::string ResolveUrl(const std::string& flag_value);

// `url` with the TLS files of --etcd-ca, --etcd-cert and --etcd-key (empty: not given) added to
// its query where the URL does not name them already. InvalidArgument if a file is given for a
// URL that is not etcds://.
absl::StatusOr<std::string> WithEtcdTlsFiles(const std::string& url, const std::string& ca_file,
                                             const std::string& cert_file,
                                             const std::string& key_file);

}  // namespace tabby::datastore
