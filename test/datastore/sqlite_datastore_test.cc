// What the contract does not cover: the SQLite backend's URL handling, files, schema versioning,
// locking, compaction policy, lease sweeping and watch notification.
#include "datastore/sqlite_datastore.h"

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "datastore/contract_test.h"
#include "datastore/forked_children.h"
#include "datastore/temp_dir.h"

namespace tabby::datastore::testing {
namespace {

using absl::StatusCode;

class SqliteDatastoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<TempDir> dir = TempDir::Create();
    ASSERT_TRUE(dir.ok()) << dir.status();
    dir_.emplace(std::move(dir).value());
    path_ = dir_->path() + "/db/tabby.db";
  }

  absl::StatusOr<std::unique_ptr<SqliteDatastore>> OpenStore(SqliteOptions options = {}) {
    if (options.clock == nullptr) options.clock = &clock_;
    options.create = true;
    return SqliteDatastore::Open(path_, options);
  }

  // Runs `sql` on a raw connection of its own.
  void RawExec(const std::string& sql) {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(path_.c_str(), &db), SQLITE_OK);
    char* error = nullptr;
    int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &error);
    EXPECT_EQ(rc, SQLITE_OK) << (error != nullptr ? error : "");
    sqlite3_free(error);
    sqlite3_close(db);
  }

  FakeClock clock_;
  std::optional<TempDir> dir_;
  std::string path_;
};

std::vector<Event> Drain(Watch& watch, size_t count) {
  std::vector<Event> events;
  for (int i = 0; i < 100 && events.size() < count; ++i) {
    absl::StatusOr<std::vector<Event>> batch = watch.Next(absl::Seconds(1));
    if (!batch.ok()) {
      ADD_FAILURE() << batch.status();
      break;
    }
    events.insert(events.end(), batch->begin(), batch->end());
  }
  return events;
}

TEST(SqliteUrlTest, OpenAcceptsAbsoluteSqliteUrls) {
  absl::StatusOr<TempDir> dir = TempDir::Create();
  ASSERT_TRUE(dir.ok());
  FakeClock clock;
  ASSERT_OK_AND_ASSIGN(
      std::unique_ptr<Datastore> ds,
      Open("sqlite://" + dir->path() + "/new/sub/dir/t.db", {.create = true, .clock = &clock}));
  ASSERT_OK(ds->Put("/k", "v"));
  struct stat st;
  ASSERT_EQ(stat((dir->path() + "/new/sub/dir").c_str(), &st), 0);
  EXPECT_TRUE(S_ISDIR(st.st_mode));
  EXPECT_EQ(st.st_mode & 0022, 0u) << "directory writable by group or others";
  ASSERT_EQ(stat((dir->path() + "/new/sub/dir/t.db").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0022, 0u) << "database writable by group or others";
}

// A datastore is created only on purpose: a mistyped path, an emptied file or one that holds no
// cluster is an error that says so, and nothing is created by looking.
TEST(SqliteUrlTest, OpenWithoutCreateRefusesWhatIsNotADatastore) {
  absl::StatusOr<TempDir> dir = TempDir::Create();
  ASSERT_TRUE(dir.ok());
  const std::string missing = "sqlite://" + dir->path() + "/tabbyy/tabby.db";
  absl::StatusOr<std::unique_ptr<Datastore>> ds = Open(missing);
  ASSERT_FALSE(ds.ok());
  EXPECT_EQ(ds.status().code(), StatusCode::kNotFound) << ds.status();
  EXPECT_NE(ds.status().message().find("does not exist"), std::string::npos) << ds.status();
  EXPECT_NE(ds.status().message().find("tabbyctl datastore init"), std::string::npos);
  struct stat st;
  EXPECT_NE(stat((dir->path() + "/tabbyy").c_str(), &st), 0) << "created a directory";

  const std::string path = dir->path() + "/tabby.db";
  const std::string url = "sqlite://" + path;
  {
    ASSERT_OK_AND_ASSIGN(std::unique_ptr<Datastore> created, Open(url, {.create = true}));
    ASSERT_OK(created->Put("/tabby/v1/resources/ippool/p", "{}"));
  }
  EXPECT_OK(Open(url).status());
  // Emptied by truncation: said so, not "locked" and not an empty cluster.
  ASSERT_EQ(truncate(path.c_str(), 0), 0);
  ds = Open(url);
  ASSERT_FALSE(ds.ok());
  EXPECT_EQ(ds.status().code(), StatusCode::kFailedPrecondition) << ds.status();
  EXPECT_NE(ds.status().message().find("is empty (0 bytes): it was truncated"), std::string::npos)
      << ds.status();
  // A database with the schema but no cluster identity (an older tabby's, or emptied by hand).
  const std::string bare = dir->path() + "/bare.db";
  {
    SqliteOptions options;
    options.create = true;
    ASSERT_OK(SqliteDatastore::Open(bare, options).status());
  }
  ds = Open("sqlite://" + bare);
  ASSERT_FALSE(ds.ok());
  EXPECT_EQ(ds.status().code(), StatusCode::kFailedPrecondition) << ds.status();
  EXPECT_NE(ds.status().message().find("holds no tabby cluster"), std::string::npos) << ds.status();
}

TEST(SqliteUrlTest, OpenRejectsOtherUrls) {
  for (const std::string url : {"sqlite://relative/path.db", "sqlite:", "", "/var/lib/tabby.db",
                                "http://example.com", "sqlite://host/abs.db"}) {
    absl::StatusOr<std::unique_ptr<Datastore>> ds = Open(url);
    ASSERT_FALSE(ds.ok()) << url;
    EXPECT_EQ(ds.status().code(), StatusCode::kInvalidArgument) << ds.status();
    std::string message(ds.status().message());
    EXPECT_NE(message.find('"' + url + '"'), std::string::npos) << message;
    EXPECT_NE(message.find("sqlite:///"), std::string::npos) << message;
  }
  // etcd URLs go to the etcd backend, which has its own rules (etcd_datastore_test.cc).
  absl::StatusOr<std::unique_ptr<Datastore>> etcd = Open("etcd://");
  EXPECT_EQ(etcd.status().code(), StatusCode::kInvalidArgument) << etcd.status();
  EXPECT_NE(std::string(etcd.status().message()).find("no endpoint"), std::string::npos)
      << etcd.status();
}

TEST(SqliteUrlTest, ResolveUrlPrefersFlagThenEnvironment) {
  const char* saved = std::getenv("TABBY_DATASTORE");
  std::string saved_value = saved != nullptr ? saved : "";
  unsetenv("TABBY_DATASTORE");
  EXPECT_EQ(ResolveUrl(""), kDefaultDatastoreUrl);
  setenv("TABBY_DATASTORE", "sqlite:///env.db", 1);
  EXPECT_EQ(ResolveUrl(""), "sqlite:///env.db");
  EXPECT_EQ(ResolveUrl("sqlite:///flag.db"), "sqlite:///flag.db");
  if (saved != nullptr) {
    setenv("TABBY_DATASTORE", saved_value.c_str(), 1);
  } else {
    unsetenv("TABBY_DATASTORE");
  }
}

TEST_F(SqliteDatastoreTest, RefusesNewerSchemaVersions) {
  { ASSERT_OK(OpenStore()); }
  RawExec(fmt::format("PRAGMA user_version={}", kSqliteSchemaVersion + 1));
  absl::StatusOr<std::unique_ptr<SqliteDatastore>> ds = OpenStore();
  ASSERT_FALSE(ds.ok());
  EXPECT_EQ(ds.status().code(), StatusCode::kFailedPrecondition) << ds.status();
  EXPECT_NE(std::string(ds.status().message()).find("newer"), std::string::npos) << ds.status();
  EXPECT_NE(std::string(ds.status().message()).find(path_), std::string::npos) << ds.status();
}

TEST_F(SqliteDatastoreTest, RefusesForeignDatabases) {
  ASSERT_EQ(system(("mkdir -p " + dir_->path() + "/db").c_str()), 0);
  RawExec("CREATE TABLE kv (x INTEGER)");
  absl::StatusOr<std::unique_ptr<SqliteDatastore>> ds = OpenStore();
  EXPECT_FALSE(ds.ok());
}

TEST_F(SqliteDatastoreTest, UsesWalMode) {
  { ASSERT_OK(OpenStore()); }
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path_.c_str(), &db), SQLITE_OK);
  sqlite3_stmt* stmt = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &stmt, nullptr), SQLITE_OK);
  ASSERT_EQ(sqlite3_step(stmt), SQLITE_ROW);
  EXPECT_STREQ(reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0)), "wal");
  sqlite3_finalize(stmt);
  sqlite3_close(db);
}

TEST_F(SqliteDatastoreTest, WriteLockHeldBeyondTimeoutIsUnavailable) {
  SqliteOptions options;
  options.busy_timeout = absl::Milliseconds(200);
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<SqliteDatastore> ds, OpenStore(options));
  ASSERT_OK(ds->Put("/k", "v1"));

  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path_.c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr), SQLITE_OK);
  absl::StatusOr<Revision> put = ds->Put("/k", "v2");
  EXPECT_EQ(put.status().code(), StatusCode::kUnavailable) << put.status();
  EXPECT_NE(std::string(put.status().message()).find("/k"), std::string::npos) << put.status();
  // Readers are not blocked by a writer.
  ASSERT_OK_AND_ASSIGN(std::optional<KeyValue> kv, ds->Get("/k"));
  ASSERT_TRUE(kv.has_value());
  EXPECT_EQ(kv->value, "v1");
  ASSERT_EQ(sqlite3_exec(db, "COMMIT", nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(db);
  EXPECT_OK(ds->Put("/k", "v3"));
}

TEST_F(SqliteDatastoreTest, ConcurrentFirstOpenFromManyProcesses) {
  constexpr int kProcesses = 6;
  forked::ForkedChildren children(kProcesses, [&](int i) {
    FakeClock clock;
    SqliteOptions options;
    options.clock = &clock;
    options.create = true;
    absl::StatusOr<std::unique_ptr<SqliteDatastore>> ds = SqliteDatastore::Open(path_, options);
    if (!ds.ok()) return forked::ChildFail(2, ds.status().ToString());
    absl::StatusOr<Revision> created = (*ds)->Create(fmt::format("/first/{}", i), "x");
    if (!created.ok()) return forked::ChildFail(3, created.status().ToString());
    return 0;
  });
  ASSERT_EQ(children.size(), size_t{kProcesses});
  for (int code : children.Wait()) EXPECT_EQ(code, 0);
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<SqliteDatastore> ds, OpenStore());
  ASSERT_OK_AND_ASSIGN(ListResult list, ds->List("/first/"));
  EXPECT_EQ(list.items.size(), size_t{kProcesses});
  EXPECT_EQ(list.revision, kProcesses);
}

TEST_F(SqliteDatastoreTest, ThreadsShareOneHandle) {
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<SqliteDatastore> ds, OpenStore());
  constexpr int kThreads = 4;
  constexpr int kWrites = 100;
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kWrites; ++i) {
        if (!ds->Put(fmt::format("/t/{}/{}", t, i), "v").ok()) ++failures;
        if (!ds->List(fmt::format("/t/{}/", t)).ok()) ++failures;
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(failures.load(), 0);
  ASSERT_OK_AND_ASSIGN(Revision rev, ds->CurrentRevision());
  EXPECT_EQ(rev, kThreads * kWrites);
}

TEST_F(SqliteDatastoreTest, CompactsByCountDuringWrites) {
  SqliteOptions options;
  options.max_events = 10;
  options.compact_every = 5;
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<SqliteDatastore> ds, OpenStore(options));
  for (int i = 0; i < 32; ++i) ASSERT_OK(ds->Put("/k", fmt::format("{}", i)));
  ASSERT_OK_AND_ASSIGN(Revision compacted, ds->CompactedRevision());
  EXPECT_EQ(compacted, 30 - 10);  // the last check ran at revision 30
  EXPECT_CODE(ds->WatchPrefix("/", 5), StatusCode::kOutOfRange);
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Watch> watch, ds->WatchPrefix("/", compacted));
  EXPECT_EQ(Drain(*watch, 12).size(), 12u);
}

TEST_F(SqliteDatastoreTest, CompactsByAgeDuringWrites) {
  SqliteOptions options;
  options.max_event_age = absl::Minutes(10);
  options.compact_every = 4;
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<SqliteDatastore> ds, OpenStore(options));
  for (int i = 0; i < 3; ++i) ASSERT_OK(ds->Put("/old", fmt::format("{}", i)));
  clock_.Advance(absl::Minutes(11));
  ASSERT_OK(ds->Put("/new", "a"));  // revision 4: a compaction check
  ASSERT_OK_AND_ASSIGN(Revision compacted, ds->CompactedRevision());
  EXPECT_EQ(compacted, 3);
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Watch> watch, ds->WatchPrefix("/", 3));
  std::vector<Event> events = Drain(*watch, 1);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].kv.key, "/new");
}

TEST_F(SqliteDatastoreTest, CompactsBySizeDuringWrites) {
  SqliteOptions options;
  options.max_event_bytes = 10 << 10;
  options.compact_every = 1;
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<SqliteDatastore> ds, OpenStore(options));
  auto value = [](int i) { return fmt::format("{:04}", i) + std::string(996, 'x'); };
  for (int i = 1; i <= 20; ++i) ASSERT_OK(ds->Put("/k", value(i)));
  // Each event is 1,002 bytes of key and value (its previous value is a reference): revisions
  // 11..20 fit in 10 KiB, 10 does not.
  ASSERT_OK_AND_ASSIGN(Revision compacted, ds->CompactedRevision());
  EXPECT_EQ(compacted, 10);
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Watch> watch, ds->WatchPrefix("/", compacted));
  std::vector<Event> events = Drain(*watch, 10);
  ASSERT_EQ(events.size(), 10u);
  for (int i = 0; i < 10; ++i) {
    EXPECT_EQ(events[i].kv.value, value(11 + i));
    ASSERT_TRUE(events[i].prev.has_value());
    EXPECT_EQ(events[i].prev->value, value(10 + i));
  }
}

TEST_F(SqliteDatastoreTest, CompactRejectsFutureRevisions) {
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<SqliteDatastore> ds, OpenStore());
  ASSERT_OK(ds->Put("/k", "v"));
  EXPECT_CODE(ds->Compact(5), StatusCode::kInvalidArgument);
  EXPECT_OK(ds->Compact(1));
  ASSERT_OK_AND_ASSIGN(Revision compacted, ds->CompactedRevision());
  EXPECT_EQ(compacted, 1);
}

TEST_F(SqliteDatastoreTest, ExpireLeasesReportsHowManyExpired) {
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<SqliteDatastore> ds, OpenStore());
  ASSERT_OK_AND_ASSIGN(LeaseId a, ds->GrantLease(absl::Seconds(5)));
  ASSERT_OK_AND_ASSIGN(LeaseId b, ds->GrantLease(absl::Seconds(5)));
  ASSERT_OK_AND_ASSIGN(LeaseId c, ds->GrantLease(absl::Seconds(50)));
  ASSERT_OK(ds->Create("/a/1", "x", a));
  ASSERT_OK(ds->Create("/a/2", "x", a));
  ASSERT_OK(ds->Create("/c/1", "x", c));
  (void)b;  // a lease without keys expires without a revision
  ASSERT_OK_AND_ASSIGN(int none, ds->ExpireLeases());
  EXPECT_EQ(none, 0);
  clock_.Advance(absl::Seconds(5));
  ASSERT_OK_AND_ASSIGN(Revision before, ds->CurrentRevision());
  ASSERT_OK_AND_ASSIGN(int expired, ds->ExpireLeases());
  EXPECT_EQ(expired, 2);
  ASSERT_OK_AND_ASSIGN(Revision after, ds->CurrentRevision());
  EXPECT_EQ(after, before + 1) << "one revision per expired lease that had keys";
  ASSERT_OK_AND_ASSIGN(int again, ds->ExpireLeases());
  EXPECT_EQ(again, 0);
  ASSERT_OK_AND_ASSIGN(ListResult list, ds->List("/"));
  ASSERT_EQ(list.items.size(), 1u);
  EXPECT_EQ(list.items[0].key, "/c/1");
}

TEST_F(SqliteDatastoreTest, LeaseIdsAreNotReused) {
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<SqliteDatastore> ds, OpenStore());
  ASSERT_OK_AND_ASSIGN(LeaseId a, ds->GrantLease(absl::Seconds(5)));
  ASSERT_OK(ds->RevokeLease(a));
  ASSERT_OK_AND_ASSIGN(LeaseId b, ds->GrantLease(absl::Seconds(5)));
  EXPECT_NE(a, b);
  EXPECT_CODE(ds->KeepAlive(a), StatusCode::kNotFound);
}

TEST_F(SqliteDatastoreTest, RefusedWriteKeepsTheLeaseSweep) {
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<SqliteDatastore> ds, OpenStore());
  ASSERT_OK_AND_ASSIGN(LeaseId lease, ds->GrantLease(absl::Seconds(1)));
  ASSERT_OK(ds->Create("/leased", "x", lease));
  ASSERT_OK(ds->Create("/k", "x"));
  clock_.Advance(absl::Seconds(1));
  EXPECT_CODE(ds->Create("/k", "y"), StatusCode::kAlreadyExists);
  ASSERT_OK_AND_ASSIGN(int expired, ds->ExpireLeases());
  EXPECT_EQ(expired, 0) << "the refused Create should have committed the sweep";
}

TEST_F(SqliteDatastoreTest, WatchBatchesLargeBacklogsWithoutSplittingRevisions) {
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<SqliteDatastore> ds, OpenStore());
  ASSERT_OK_AND_ASSIGN(LeaseId lease, ds->GrantLease(absl::Seconds(60)));
  constexpr int kLeased = 1500;
  constexpr int kPuts = 1200;
  for (int i = 0; i < kLeased; ++i) ASSERT_OK(ds->Put(fmt::format("/b/l/{:05}", i), "x", lease));
  ASSERT_OK_AND_ASSIGN(Revision start, ds->CurrentRevision());
  for (int i = 0; i < kPuts; ++i) ASSERT_OK(ds->Put("/b/p", fmt::format("{}", i)));
  ASSERT_OK(ds->RevokeLease(lease));  // one revision, kLeased events
  ASSERT_OK(ds->Put("/b/last", "x"));

  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Watch> watch, ds->WatchPrefix("/b/", start));
  std::vector<Event> all;
  int batches = 0;
  while (all.size() < size_t{kPuts + kLeased + 1}) {
    ASSERT_OK_AND_ASSIGN(std::vector<Event> batch, watch->Next(absl::Seconds(5)));
    ASSERT_FALSE(batch.empty());
    ++batches;
    // The readiness fd stays readable while a backlog remains.
    if (all.size() + batch.size() < size_t{kPuts + kLeased + 1}) {
      pollfd pfd{watch->ReadinessFd(), POLLIN, 0};
      EXPECT_EQ(poll(&pfd, 1, 5000), 1);
    }
    all.insert(all.end(), batch.begin(), batch.end());
  }
  EXPECT_GE(batches, 3);
  ASSERT_EQ(all.size(), size_t{kPuts + kLeased + 1});
  for (int i = 0; i < kPuts; ++i) {
    EXPECT_EQ(all[i].kv.mod_revision, start + 1 + i);
    EXPECT_EQ(all[i].kv.value, fmt::format("{}", i));
  }
  for (int i = 0; i < kLeased; ++i) {
    const Event& event = all[kPuts + i];
    EXPECT_EQ(event.type, Event::Type::kDelete);
    EXPECT_EQ(event.kv.mod_revision, start + kPuts + 1);
    EXPECT_EQ(event.kv.key, fmt::format("/b/l/{:05}", i));
  }
  EXPECT_EQ(all.back().kv.key, "/b/last");
  ASSERT_OK_AND_ASSIGN(std::vector<Event> more, watch->Next(absl::ZeroDuration()));
  EXPECT_TRUE(more.empty());
}

TEST_F(SqliteDatastoreTest, InotifyWakesWatchersWithoutTheSafetyPoll) {
  SqliteOptions options;
  options.watch_poll_interval = absl::Hours(1);  // only inotify can deliver within Next(10s)
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<SqliteDatastore> ds, OpenStore(options));
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<SqliteDatastore> writer, OpenStore());
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Watch> watch, ds->WatchPrefix("/", 0));
  ASSERT_OK_AND_ASSIGN(std::vector<Event> none, watch->Next(absl::ZeroDuration()));
  EXPECT_TRUE(none.empty());
  for (int round = 0; round < 3; ++round) {
    absl::Status put;
    std::thread thread([&] {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      put = writer->Put("/k", fmt::format("{}", round)).status();
    });
    absl::StatusOr<std::vector<Event>> events = watch->Next(absl::Seconds(10));
    thread.join();
    ASSERT_OK(put);
    ASSERT_TRUE(events.ok()) << events.status();
    ASSERT_EQ(events->size(), 1u);
    EXPECT_EQ(events->front().kv.value, fmt::format("{}", round));
  }
}

TEST_F(SqliteDatastoreTest, ReadinessFdSignalsNewEvents) {
  SqliteOptions options;
  options.watch_poll_interval = absl::Hours(1);
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<SqliteDatastore> ds, OpenStore(options));
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Watch> watch, ds->WatchPrefix("/", 0));
  ASSERT_GE(watch->ReadinessFd(), 0);
  ASSERT_OK_AND_ASSIGN(std::vector<Event> none, watch->Next(absl::ZeroDuration()));
  EXPECT_TRUE(none.empty());
  ASSERT_OK(ds->Put("/k", "v"));
  pollfd pfd{watch->ReadinessFd(), POLLIN, 0};
  ASSERT_EQ(poll(&pfd, 1, 10000), 1);
  ASSERT_OK_AND_ASSIGN(std::vector<Event> events, watch->Next(absl::ZeroDuration()));
  ASSERT_EQ(events.size(), 1u);
}

TEST_F(SqliteDatastoreTest, WatchOutlivesItsDatastore) {
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<SqliteDatastore> ds, OpenStore());
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Watch> watch, ds->WatchPrefix("/", 0));
  ds.reset();
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<SqliteDatastore> writer, OpenStore());
  ASSERT_OK(writer->Put("/k", "v"));
  EXPECT_EQ(Drain(*watch, 1).size(), 1u);
}

TEST_F(SqliteDatastoreTest, ErrorsNameTheKeyAndTheOperation) {
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<SqliteDatastore> ds, OpenStore());
  ASSERT_OK(ds->Create("/some/key", "v"));
  absl::StatusOr<Revision> again = ds->Create("/some/key", "v");
  ASSERT_EQ(again.status().code(), StatusCode::kAlreadyExists);
  std::string message(again.status().message());
  EXPECT_NE(message.find("create"), std::string::npos) << message;
  EXPECT_NE(message.find("/some/key"), std::string::npos) << message;
  absl::StatusOr<Revision> binary = ds->Delete(std::string("/x\x01", 3));
  EXPECT_NE(std::string(binary.status().message()).find("\\x01"), std::string::npos)
      << binary.status();
}

}  // namespace
}  // namespace tabby::datastore::testing
