#include "datastore/contract_test.h"

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "datastore/forked_children.h"

namespace tabby::datastore::testing {

using absl::StatusCode;

std::string ContractBackendName(const ::testing::TestParamInfo<ContractBackend>& info) {
  return info.param.name;
}

void DatastoreContractTest::SetUp() {
  absl::StatusOr<std::unique_ptr<ContractStore>> store = GetParam().make_store();
  ASSERT_TRUE(store.ok()) << "creating the store under test: " << store.status();
  store_ = std::move(store).value();
  ds_ = Connect();
  ASSERT_NE(ds_, nullptr);
}

void DatastoreContractTest::TearDown() {
  ds_.reset();
  store_.reset();
}

std::unique_ptr<Datastore> DatastoreContractTest::Connect() {
  absl::StatusOr<std::unique_ptr<Datastore>> handle = store_->Connect(clock_);
  if (!handle.ok()) {
    ADD_FAILURE() << "connecting to the store under test: " << handle.status();
    return nullptr;
  }
  return std::move(handle).value();
}

namespace {

// Collects events until `count` have arrived or `timeout` passes (then fails the test).
std::vector<Event> Collect(Watch& watch, size_t count, absl::Duration timeout = absl::Seconds(20)) {
  std::vector<Event> events;
  const auto deadline = std::chrono::steady_clock::now() + absl::ToChronoNanoseconds(timeout);
  while (events.size() < count && std::chrono::steady_clock::now() < deadline) {
    absl::StatusOr<std::vector<Event>> batch = watch.Next(absl::Milliseconds(500));
    if (!batch.ok()) {
      ADD_FAILURE() << "Watch::Next: " << batch.status();
      return events;
    }
    events.insert(events.end(), batch->begin(), batch->end());
  }
  EXPECT_EQ(events.size(), count) << "events received before the deadline";
  return events;
}

// Asserts that nothing more arrives within a short while.
void ExpectNoMoreEvents(Watch& watch) {
  absl::StatusOr<std::vector<Event>> more = watch.Next(absl::Milliseconds(50));
  ASSERT_TRUE(more.ok()) << more.status();
  EXPECT_TRUE(more->empty()) << "unexpected event for key " << more->front().kv.key;
}

std::vector<std::string> Keys(const ListResult& list) {
  std::vector<std::string> keys;
  for (const KeyValue& kv : list.items) keys.push_back(kv.key);
  return keys;
}

// "put /a@5" / "delete /a@6": compact descriptions for comparing event sequences.
std::string Describe(const Event& event) {
  return fmt::format("{} {}@{}", event.type == Event::Type::kPut ? "put" : "delete", event.kv.key,
                     event.kv.mod_revision);
}
std::vector<std::string> Describe(const std::vector<Event>& events) {
  std::vector<std::string> out;
  for (const Event& event : events) out.push_back(Describe(event));
  return out;
}

using forked::ChildFail;
using forked::ForkedChildren;
using forked::WaitChild;

// ---------------------------------------------------------------------------------------------
// Single-key semantics.

TEST_P(DatastoreContractTest, EmptyStore) {
  ASSERT_OK_AND_ASSIGN(std::optional<KeyValue> kv, ds_->Get("/missing"));
  EXPECT_FALSE(kv.has_value());
  ASSERT_OK_AND_ASSIGN(ListResult list, ds_->List(""));
  EXPECT_TRUE(list.items.empty());
  ASSERT_OK_AND_ASSIGN(Revision rev, ds_->CurrentRevision());
  EXPECT_GE(rev, 0);
  EXPECT_EQ(list.revision, rev);
}

TEST_P(DatastoreContractTest, CreateThenGet) {
  ASSERT_OK_AND_ASSIGN(Revision before, ds_->CurrentRevision());
  ASSERT_OK_AND_ASSIGN(Revision rev, ds_->Create("/k", "v1"));
  EXPECT_EQ(rev, before + 1);
  ASSERT_OK_AND_ASSIGN(std::optional<KeyValue> kv, ds_->Get("/k"));
  ASSERT_TRUE(kv.has_value());
  EXPECT_EQ(kv->key, "/k");
  EXPECT_EQ(kv->value, "v1");
  EXPECT_EQ(kv->create_revision, rev);
  EXPECT_EQ(kv->mod_revision, rev);
  EXPECT_EQ(kv->lease, 0);
  ASSERT_OK_AND_ASSIGN(Revision now, ds_->CurrentRevision());
  EXPECT_EQ(now, rev);
}

TEST_P(DatastoreContractTest, CreateOfExistingKeyIsAlreadyExists) {
  ASSERT_OK(ds_->Create("/k", "v1"));
  ASSERT_OK_AND_ASSIGN(Revision before, ds_->CurrentRevision());
  EXPECT_CODE(ds_->Create("/k", "v2"), StatusCode::kAlreadyExists);
  ASSERT_OK_AND_ASSIGN(std::optional<KeyValue> kv, ds_->Get("/k"));
  ASSERT_TRUE(kv.has_value());
  EXPECT_EQ(kv->value, "v1");
  ASSERT_OK_AND_ASSIGN(Revision after, ds_->CurrentRevision());
  EXPECT_EQ(after, before) << "a refused write must not advance the revision";
}

TEST_P(DatastoreContractTest, UpdateIsCompareAndSwap) {
  ASSERT_OK_AND_ASSIGN(Revision created, ds_->Create("/k", "v1"));
  ASSERT_OK_AND_ASSIGN(Revision updated, ds_->Update("/k", "v2", created));
  EXPECT_EQ(updated, created + 1);
  ASSERT_OK_AND_ASSIGN(std::optional<KeyValue> kv, ds_->Get("/k"));
  ASSERT_TRUE(kv.has_value());
  EXPECT_EQ(kv->value, "v2");
  EXPECT_EQ(kv->create_revision, created);
  EXPECT_EQ(kv->mod_revision, updated);

  // A stale expectation loses, and changes nothing.
  EXPECT_CODE(ds_->Update("/k", "v3", created), StatusCode::kAborted);
  ASSERT_OK_AND_ASSIGN(kv, ds_->Get("/k"));
  EXPECT_EQ(kv->value, "v2");
  ASSERT_OK_AND_ASSIGN(Revision now, ds_->CurrentRevision());
  EXPECT_EQ(now, updated);

  EXPECT_CODE(ds_->Update("/absent", "v", updated), StatusCode::kNotFound);
}

TEST_P(DatastoreContractTest, PutCreatesOrReplaces) {
  ASSERT_OK_AND_ASSIGN(Revision first, ds_->Put("/k", "v1"));
  ASSERT_OK_AND_ASSIGN(Revision second, ds_->Put("/k", "v2"));
  EXPECT_EQ(second, first + 1);
  ASSERT_OK_AND_ASSIGN(std::optional<KeyValue> kv, ds_->Get("/k"));
  ASSERT_TRUE(kv.has_value());
  EXPECT_EQ(kv->value, "v2");
  EXPECT_EQ(kv->create_revision, first);
  EXPECT_EQ(kv->mod_revision, second);
}

TEST_P(DatastoreContractTest, DeleteSemantics) {
  EXPECT_CODE(ds_->Delete("/k"), StatusCode::kNotFound);
  ASSERT_OK_AND_ASSIGN(Revision created, ds_->Create("/k", "v1"));
  ASSERT_OK_AND_ASSIGN(Revision updated, ds_->Put("/k", "v2"));
  EXPECT_CODE(ds_->Delete("/k", created), StatusCode::kAborted);
  ASSERT_OK_AND_ASSIGN(std::optional<KeyValue> kv, ds_->Get("/k"));
  EXPECT_TRUE(kv.has_value()) << "a failed conditional delete must keep the key";

  ASSERT_OK_AND_ASSIGN(Revision deleted, ds_->Delete("/k", updated));
  EXPECT_EQ(deleted, updated + 1);
  ASSERT_OK_AND_ASSIGN(kv, ds_->Get("/k"));
  EXPECT_FALSE(kv.has_value());
  EXPECT_CODE(ds_->Delete("/k"), StatusCode::kNotFound);

  // Re-creating starts a new life: a new create_revision.
  ASSERT_OK_AND_ASSIGN(Revision recreated, ds_->Create("/k", "v3"));
  ASSERT_OK_AND_ASSIGN(kv, ds_->Get("/k"));
  ASSERT_TRUE(kv.has_value());
  EXPECT_EQ(kv->create_revision, recreated);

  // Unconditional delete.
  ASSERT_OK(ds_->Delete("/k"));
  ASSERT_OK_AND_ASSIGN(kv, ds_->Get("/k"));
  EXPECT_FALSE(kv.has_value());
}

TEST_P(DatastoreContractTest, MalformedKeysAreInvalidArgument) {
  const std::string nul("/a\0b", 4);
  for (const std::string& key : {std::string(), nul}) {
    SCOPED_TRACE(::testing::PrintToString(key));
    EXPECT_CODE(ds_->Get(key), StatusCode::kInvalidArgument);
    EXPECT_CODE(ds_->Create(key, "v"), StatusCode::kInvalidArgument);
    EXPECT_CODE(ds_->Put(key, "v"), StatusCode::kInvalidArgument);
    EXPECT_CODE(ds_->Update(key, "v", 1), StatusCode::kInvalidArgument);
    EXPECT_CODE(ds_->Delete(key), StatusCode::kInvalidArgument);
  }
}

TEST_P(DatastoreContractTest, ValuesAreBinarySafe) {
  const std::string binary("\0\x01\xff\n\"'", 6);
  ASSERT_OK(ds_->Put("/binary", binary));
  ASSERT_OK(ds_->Put("/empty", ""));
  ASSERT_OK(ds_->Put("/big", std::string(1 << 20, 'x')));
  ASSERT_OK_AND_ASSIGN(std::optional<KeyValue> kv, ds_->Get("/binary"));
  ASSERT_TRUE(kv.has_value());
  EXPECT_EQ(kv->value, binary);
  ASSERT_OK_AND_ASSIGN(kv, ds_->Get("/empty"));
  ASSERT_TRUE(kv.has_value());
  EXPECT_EQ(kv->value, "");
  ASSERT_OK_AND_ASSIGN(kv, ds_->Get("/big"));
  ASSERT_TRUE(kv.has_value());
  EXPECT_EQ(kv->value.size(), size_t{1} << 20);
}

TEST_P(DatastoreContractTest, EverySuccessfulWriteAdvancesTheRevisionByOne) {
  ASSERT_OK_AND_ASSIGN(Revision rev, ds_->CurrentRevision());
  auto expect_next = [&](absl::StatusOr<Revision> result) {
    ASSERT_TRUE(result.ok()) << result.status();
    EXPECT_EQ(*result, rev + 1);
    rev = *result;
  };
  expect_next(ds_->Create("/a", "1"));
  expect_next(ds_->Put("/b", "1"));
  expect_next(ds_->Update("/a", "2", rev - 1));
  EXPECT_CODE(ds_->Update("/a", "3", 1'000'000), StatusCode::kAborted);
  EXPECT_CODE(ds_->Create("/b", "2"), StatusCode::kAlreadyExists);
  EXPECT_CODE(ds_->Delete("/zzz"), StatusCode::kNotFound);
  expect_next(ds_->Put("/a", "4"));
  expect_next(ds_->Delete("/b"));
  ASSERT_OK_AND_ASSIGN(Revision now, ds_->CurrentRevision());
  EXPECT_EQ(now, rev);
}

TEST_P(DatastoreContractTest, SecondHandleSeesWritesAndConflicts) {
  std::unique_ptr<Datastore> other = Connect();
  ASSERT_NE(other, nullptr);
  ASSERT_OK_AND_ASSIGN(Revision created, ds_->Create("/k", "v1"));
  ASSERT_OK_AND_ASSIGN(std::optional<KeyValue> kv, other->Get("/k"));
  ASSERT_TRUE(kv.has_value());
  EXPECT_EQ(kv->value, "v1");
  ASSERT_OK(other->Update("/k", "v2", created));
  EXPECT_CODE(ds_->Update("/k", "v3", created), StatusCode::kAborted);
  EXPECT_CODE(ds_->Create("/k", "v4"), StatusCode::kAlreadyExists);
  ASSERT_OK_AND_ASSIGN(Revision a, ds_->CurrentRevision());
  ASSERT_OK_AND_ASSIGN(Revision b, other->CurrentRevision());
  EXPECT_EQ(a, b);
}

// ---------------------------------------------------------------------------------------------
// Listing.

TEST_P(DatastoreContractTest, ListByPrefix) {
  const std::vector<std::string> keys = {"/a",     "/a/1",         "/a/2",   "/ab",
                                         "/a\xff", "/a\xff\xff",   "/b",     "/a0",
                                         "\xff",   "\xff\xff\x01", "/a\x7f", "/a\x80"};
  for (const std::string& key : keys) ASSERT_OK(ds_->Create(key, "v:" + key));
  ASSERT_OK_AND_ASSIGN(Revision rev, ds_->CurrentRevision());

  ASSERT_OK_AND_ASSIGN(ListResult all, ds_->List(""));
  std::vector<std::string> sorted = keys;
  std::sort(sorted.begin(), sorted.end());  // std::string orders bytes as unsigned, like memcmp
  EXPECT_EQ(Keys(all), sorted);
  EXPECT_EQ(all.revision, rev);
  for (const KeyValue& kv : all.items) EXPECT_EQ(kv.value, "v:" + kv.key);

  ASSERT_OK_AND_ASSIGN(ListResult a, ds_->List("/a"));
  EXPECT_EQ(Keys(a), (std::vector<std::string>{"/a", "/a/1", "/a/2", "/a0", "/ab", "/a\x7f",
                                               "/a\x80", "/a\xff", "/a\xff\xff"}));
  ASSERT_OK_AND_ASSIGN(ListResult a_slash, ds_->List("/a/"));
  EXPECT_EQ(Keys(a_slash), (std::vector<std::string>{"/a/1", "/a/2"}));
  ASSERT_OK_AND_ASSIGN(ListResult ab, ds_->List("/ab"));
  EXPECT_EQ(Keys(ab), (std::vector<std::string>{"/ab"}));
  ASSERT_OK_AND_ASSIGN(ListResult a_ff, ds_->List("/a\xff"));
  EXPECT_EQ(Keys(a_ff), (std::vector<std::string>{"/a\xff", "/a\xff\xff"}));
  ASSERT_OK_AND_ASSIGN(ListResult ff, ds_->List("\xff"));
  EXPECT_EQ(Keys(ff), (std::vector<std::string>{"\xff", "\xff\xff\x01"}));
  ASSERT_OK_AND_ASSIGN(ListResult ffff, ds_->List("\xff\xff"));
  EXPECT_EQ(Keys(ffff), (std::vector<std::string>{"\xff\xff\x01"}));
  ASSERT_OK_AND_ASSIGN(ListResult exact, ds_->List("/a/1"));
  EXPECT_EQ(Keys(exact), (std::vector<std::string>{"/a/1"}));
  ASSERT_OK_AND_ASSIGN(ListResult none, ds_->List("/c"));
  EXPECT_TRUE(none.items.empty());
  EXPECT_EQ(none.revision, rev);
  ASSERT_OK_AND_ASSIGN(ListResult longer, ds_->List("/a/1/x"));
  EXPECT_TRUE(longer.items.empty());
}

// ListEach hands out what List would, one item at a time, from one snapshot: a write made by
// another client while the visit is under way is not part of it.
TEST_P(DatastoreContractTest, ListEachVisitsOneSnapshotInKeyOrder) {
  std::unique_ptr<Datastore> other = Connect();
  ASSERT_NE(other, nullptr);
  // More than one page of an etcd range (2,000 keys), in transactions of 100 (etcd's limit is
  // 128 operations).
  for (int first = 0; first < 2100; first += 100) {
    std::vector<TxnOp> puts;
    for (int i = first; i < first + 100; ++i) {
      puts.push_back(TxnOp::Put(fmt::format("/e/{:05}", i), "v"));
    }
    ASSERT_OK(ds_->Txn({}, puts));
  }
  ASSERT_OK(ds_->Create("/f", "outside the prefix"));
  ASSERT_OK_AND_ASSIGN(ListResult listed, ds_->List("/e/"));
  std::vector<KeyValue> visited;
  absl::Status concurrent_write;
  ASSERT_OK_AND_ASSIGN(Revision revision, ds_->ListEach("/e/", [&](KeyValue&& kv) {
    if (visited.empty()) concurrent_write = other->Create("/e/00000-later", "x").status();
    visited.push_back(std::move(kv));
    return absl::OkStatus();
  }));
  ASSERT_OK(concurrent_write);
  EXPECT_EQ(revision, listed.revision);
  ASSERT_EQ(visited.size(), listed.items.size());
  for (size_t i = 0; i < visited.size(); ++i) {
    EXPECT_EQ(visited[i].key, listed.items[i].key);
    EXPECT_EQ(visited[i].value, listed.items[i].value);
    EXPECT_EQ(visited[i].mod_revision, listed.items[i].mod_revision);
    EXPECT_EQ(visited[i].create_revision, listed.items[i].create_revision);
  }
  // The write is there for the next listing.
  ASSERT_OK_AND_ASSIGN(ListResult after, ds_->List("/e/"));
  EXPECT_EQ(after.items.size(), listed.items.size() + 1);
}

TEST_P(DatastoreContractTest, ListEachStopsAtTheVisitorsError) {
  for (const char* key : {"/s/1", "/s/2", "/s/3"}) ASSERT_OK(ds_->Create(key, "v"));
  int visits = 0;
  auto listed = ds_->ListEach("/s/", [&](KeyValue&&) {
    return ++visits == 2 ? absl::DataLossError("the visitor's own error") : absl::OkStatus();
  });
  EXPECT_EQ(listed.status(), absl::DataLossError("the visitor's own error"));
  EXPECT_EQ(visits, 2);
}

TEST_P(DatastoreContractTest, ListReportsRevisionsOfEachKey) {
  ASSERT_OK_AND_ASSIGN(Revision r1, ds_->Create("/p/1", "a"));
  ASSERT_OK_AND_ASSIGN(Revision r2, ds_->Create("/p/2", "b"));
  ASSERT_OK_AND_ASSIGN(Revision r3, ds_->Put("/p/1", "c"));
  ASSERT_OK_AND_ASSIGN(ListResult list, ds_->List("/p/"));
  ASSERT_EQ(list.items.size(), 2u);
  EXPECT_EQ(list.items[0].create_revision, r1);
  EXPECT_EQ(list.items[0].mod_revision, r3);
  EXPECT_EQ(list.items[0].value, "c");
  EXPECT_EQ(list.items[1].create_revision, r2);
  EXPECT_EQ(list.items[1].mod_revision, r2);
  EXPECT_EQ(list.revision, r3);
}

// ---------------------------------------------------------------------------------------------
// Watching.

TEST_P(DatastoreContractTest, WatchAfterListSeesExactlyTheLaterEventsInOrder) {
  std::unique_ptr<Datastore> other = Connect();
  ASSERT_NE(other, nullptr);
  ASSERT_OK(ds_->Create("/w/before", "x"));
  ASSERT_OK_AND_ASSIGN(ListResult list, ds_->List("/w/"));
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Watch> watch, ds_->WatchPrefix("/w/", list.revision));

  std::vector<std::string> expected;
  for (int i = 0; i < 10; ++i) {
    Datastore& writer = i % 2 == 0 ? *ds_ : *other;
    ASSERT_OK_AND_ASSIGN(Revision rev,
                         writer.Put(fmt::format("/w/{}", i % 3), fmt::format("{}", i)));
    expected.push_back(fmt::format("put /w/{}@{}", i % 3, rev));
  }
  ASSERT_OK_AND_ASSIGN(Revision rev, other->Delete("/w/before"));
  expected.push_back(fmt::format("delete /w/before@{}", rev));

  std::vector<Event> events = Collect(*watch, expected.size());
  EXPECT_EQ(Describe(events), expected);
  ExpectNoMoreEvents(*watch);

  // Values and revisions of put events are those of the write.
  for (size_t i = 0; i + 1 < events.size(); ++i) {
    EXPECT_EQ(events[i].kv.value, fmt::format("{}", i));
  }
}

TEST_P(DatastoreContractTest, WatchFromAnOlderRevisionReplaysHistory) {
  ASSERT_OK_AND_ASSIGN(Revision start, ds_->CurrentRevision());
  ASSERT_OK_AND_ASSIGN(Revision r1, ds_->Create("/h/a", "1"));
  ASSERT_OK_AND_ASSIGN(Revision r2, ds_->Put("/h/a", "2"));
  ASSERT_OK_AND_ASSIGN(Revision r3, ds_->Delete("/h/a"));
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Watch> all, ds_->WatchPrefix("/h/", start));
  EXPECT_EQ(
      Describe(Collect(*all, 3)),
      (std::vector<std::string>{fmt::format("put /h/a@{}", r1), fmt::format("put /h/a@{}", r2),
                                fmt::format("delete /h/a@{}", r3)}));
  ExpectNoMoreEvents(*all);
  // Strictly after the given revision.
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Watch> tail, ds_->WatchPrefix("/h/", r2));
  EXPECT_EQ(Describe(Collect(*tail, 1)),
            (std::vector<std::string>{fmt::format("delete /h/a@{}", r3)}));
  ExpectNoMoreEvents(*tail);
}

TEST_P(DatastoreContractTest, WatchIsFilteredByPrefix) {
  ASSERT_OK_AND_ASSIGN(Revision start, ds_->CurrentRevision());
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Watch> watch, ds_->WatchPrefix("/a/", start));
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Watch> ff, ds_->WatchPrefix("/a\xff", start));
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Watch> everything, ds_->WatchPrefix("", start));
  ASSERT_OK(ds_->Put("/a", "no"));
  ASSERT_OK(ds_->Put("/ab", "no"));
  ASSERT_OK_AND_ASSIGN(Revision r1, ds_->Put("/a/1", "yes"));
  ASSERT_OK(ds_->Put("/b/1", "no"));
  ASSERT_OK(ds_->Put("/a\xff\xff", "ff"));
  ASSERT_OK_AND_ASSIGN(Revision r2, ds_->Put("/a/2", "yes"));
  EXPECT_EQ(
      Describe(Collect(*watch, 2)),
      (std::vector<std::string>{fmt::format("put /a/1@{}", r1), fmt::format("put /a/2@{}", r2)}));
  ExpectNoMoreEvents(*watch);
  EXPECT_EQ(Collect(*ff, 1).at(0).kv.key, "/a\xff\xff");
  ExpectNoMoreEvents(*ff);
  EXPECT_EQ(Collect(*everything, 6).size(), 6u);
  ExpectNoMoreEvents(*everything);
}

TEST_P(DatastoreContractTest, NextTimesOutWithNoEvents) {
  ASSERT_OK(ds_->Put("/other", "x"));
  ASSERT_OK_AND_ASSIGN(Revision rev, ds_->CurrentRevision());
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Watch> watch, ds_->WatchPrefix("/quiet/", rev));
  ASSERT_OK_AND_ASSIGN(std::vector<Event> events, watch->Next(absl::Milliseconds(100)));
  EXPECT_TRUE(events.empty());
  ASSERT_OK(ds_->Put("/other", "y"));  // not under the prefix
  ASSERT_OK_AND_ASSIGN(events, watch->Next(absl::Milliseconds(100)));
  EXPECT_TRUE(events.empty());
  ASSERT_OK_AND_ASSIGN(events, watch->Next(absl::ZeroDuration()));
  EXPECT_TRUE(events.empty());
}

TEST_P(DatastoreContractTest, EventsCarryPreviousValues) {
  ASSERT_OK_AND_ASSIGN(Revision start, ds_->CurrentRevision());
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Watch> watch, ds_->WatchPrefix("/e/", start));
  ASSERT_OK_AND_ASSIGN(Revision r1, ds_->Create("/e/k", "one"));
  ASSERT_OK_AND_ASSIGN(Revision r2, ds_->Update("/e/k", "two", r1));
  ASSERT_OK_AND_ASSIGN(Revision r3, ds_->Delete("/e/k"));
  std::vector<Event> events = Collect(*watch, 3);
  ASSERT_EQ(events.size(), 3u);

  EXPECT_EQ(events[0].type, Event::Type::kPut);
  EXPECT_EQ(events[0].kv.value, "one");
  EXPECT_EQ(events[0].kv.create_revision, r1);
  EXPECT_EQ(events[0].kv.mod_revision, r1);
  EXPECT_FALSE(events[0].prev.has_value());

  EXPECT_EQ(events[1].type, Event::Type::kPut);
  EXPECT_EQ(events[1].kv.value, "two");
  EXPECT_EQ(events[1].kv.create_revision, r1);
  EXPECT_EQ(events[1].kv.mod_revision, r2);
  ASSERT_TRUE(events[1].prev.has_value());
  EXPECT_EQ(events[1].prev->key, "/e/k");
  EXPECT_EQ(events[1].prev->value, "one");
  EXPECT_EQ(events[1].prev->mod_revision, r1);

  EXPECT_EQ(events[2].type, Event::Type::kDelete);
  EXPECT_EQ(events[2].kv.key, "/e/k");
  EXPECT_EQ(events[2].kv.value, "");
  EXPECT_EQ(events[2].kv.mod_revision, r3);
  ASSERT_TRUE(events[2].prev.has_value());
  EXPECT_EQ(events[2].prev->value, "two");
  EXPECT_EQ(events[2].prev->create_revision, r1);
  EXPECT_EQ(events[2].prev->mod_revision, r2);
}

// A backend may keep a previous value by reference to the event that wrote it; compacting
// that event away must not lose it from the events that remain.
TEST_P(DatastoreContractTest, PreviousValuesOutliveTheCompactionOfTheirEvents) {
  ASSERT_OK_AND_ASSIGN(Revision r1, ds_->Create("/p/a", "a1"));
  ASSERT_OK_AND_ASSIGN(Revision r2, ds_->Create("/p/b", "b1"));
  ASSERT_OK_AND_ASSIGN(Revision r3, ds_->Update("/p/a", "a2", r1));
  ASSERT_OK_AND_ASSIGN(Revision r4, ds_->Update("/p/a", "a3", r3));
  ASSERT_OK_AND_ASSIGN(Revision r5, ds_->Delete("/p/b"));
  ASSERT_OK(ds_->Compact(r3));  // drops r1..r3: a2 (r4's previous value) and b1 (r5's)
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Watch> watch, ds_->WatchPrefix("/p/", r3));
  std::vector<Event> events = Collect(*watch, 2);
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].kv.mod_revision, r4);
  ASSERT_TRUE(events[0].prev.has_value());
  EXPECT_EQ(events[0].prev->value, "a2");
  EXPECT_EQ(events[0].prev->mod_revision, r3);
  EXPECT_EQ(events[1].type, Event::Type::kDelete);
  EXPECT_EQ(events[1].kv.mod_revision, r5);
  ASSERT_TRUE(events[1].prev.has_value());
  EXPECT_EQ(events[1].prev->value, "b1");
  EXPECT_EQ(events[1].prev->mod_revision, r2);
}

TEST_P(DatastoreContractTest, WatchFromACompactedRevisionIsOutOfRange) {
  ASSERT_OK_AND_ASSIGN(Revision start, ds_->CurrentRevision());
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Watch> behind, ds_->WatchPrefix("/c/", start));
  for (int i = 0; i < 5; ++i) ASSERT_OK(ds_->Put("/c/k", fmt::format("{}", i)));
  ASSERT_OK_AND_ASSIGN(Revision rev, ds_->CurrentRevision());
  absl::Status compacted = ds_->Compact(rev - 1);
  if (compacted.code() == StatusCode::kUnimplemented) GTEST_SKIP() << compacted;
  ASSERT_OK(compacted);

  // A new watch from before the compaction point: refused at once or by its first Next.
  absl::StatusOr<std::unique_ptr<Watch>> old = ds_->WatchPrefix("/c/", start);
  if (old.ok()) {
    EXPECT_CODE((*old)->Next(absl::Seconds(5)), StatusCode::kOutOfRange);
  } else {
    EXPECT_EQ(old.status().code(), StatusCode::kOutOfRange) << old.status();
  }
  // A watch that fell behind finds out on Next, and stays finished. A backend that streams
  // events to the client as they happen (etcd) delivered them before the compaction: that watch
  // never fell behind, and must return exactly those events.
  absl::StatusOr<std::vector<Event>> pending = behind->Next(absl::Seconds(5));
  if (pending.ok()) {
    std::vector<Event> events = *pending;
    std::vector<Event> rest = Collect(*behind, 5 - events.size());
    events.insert(events.end(), rest.begin(), rest.end());
    ASSERT_EQ(events.size(), 5u);
    for (size_t i = 0; i < events.size(); ++i) {
      EXPECT_EQ(Describe(events[i]), fmt::format("put /c/k@{}", start + 1 + i));
    }
  } else {
    EXPECT_EQ(pending.status().code(), StatusCode::kOutOfRange) << pending.status();
    EXPECT_CODE(behind->Next(absl::ZeroDuration()), StatusCode::kOutOfRange);
  }

  // From the compaction point itself nothing is missing.
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Watch> fresh, ds_->WatchPrefix("/c/", rev - 1));
  EXPECT_EQ(Describe(Collect(*fresh, 1)),
            (std::vector<std::string>{fmt::format("put /c/k@{}", rev)}));
  // Compacting again to an earlier revision is a no-op.
  EXPECT_OK(ds_->Compact(rev - 2));
}

TEST_P(DatastoreContractTest, BlockedWatcherIsWokenByWriteFromAnotherHandle) {
  std::unique_ptr<Datastore> other = Connect();
  ASSERT_NE(other, nullptr);
  ASSERT_OK_AND_ASSIGN(Revision rev, ds_->CurrentRevision());
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Watch> watch, ds_->WatchPrefix("/wake/", rev));
  absl::Status write_status;
  std::thread writer([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    write_status = other->Put("/wake/up", "now").status();
  });
  absl::StatusOr<std::vector<Event>> events = watch->Next(absl::Seconds(10));
  writer.join();
  ASSERT_OK(write_status);
  ASSERT_TRUE(events.ok()) << events.status();
  ASSERT_EQ(events->size(), 1u);
  EXPECT_EQ(events->front().kv.key, "/wake/up");
}

TEST_P(DatastoreContractTest, BlockedWatcherIsWokenByWriteFromAnotherProcess) {
  ASSERT_OK_AND_ASSIGN(Revision rev, ds_->CurrentRevision());
  ds_.reset();  // no handle may be open across fork()
  ForkedChildren child(
      1,
      [&](int) {
        std::this_thread::sleep_for(std::chrono::milliseconds(100));  // let the parent block
        FakeClock clock;
        absl::StatusOr<std::unique_ptr<Datastore>> ds = store_->Connect(clock);
        if (!ds.ok()) return ChildFail(3, std::string(ds.status().ToString()));
        absl::StatusOr<Revision> put = (*ds)->Put("/wake/up", "from child");
        if (!put.ok()) return ChildFail(4, std::string(put.status().ToString()));
        return 0;
      },
      ChildMode());
  ds_ = Connect();
  ASSERT_NE(ds_, nullptr);
  absl::StatusOr<std::unique_ptr<Watch>> watch = ds_->WatchPrefix("/wake/", rev);
  child.Release();
  absl::StatusOr<std::vector<Event>> events =
      watch.ok() ? (*watch)->Next(absl::Seconds(10)) : watch.status();
  EXPECT_EQ(child.Wait(), std::vector<int>{0});
  ASSERT_TRUE(events.ok()) << events.status();
  ASSERT_EQ(events->size(), 1u);
  EXPECT_EQ(events->front().kv.key, "/wake/up");
  EXPECT_EQ(events->front().kv.value, "from child");
}

// ---------------------------------------------------------------------------------------------
// Many processes.

// One child of ManyProcessesShareOneStore: `iterations` CAS increments of /mp/counter and as many
// creates of its own keys. Returns the exit code.
int CounterChild(ContractStore& store, int index, int iterations) {
  FakeClock clock;
  absl::StatusOr<std::unique_ptr<Datastore>> opened = store.Connect(clock);
  if (!opened.ok()) return ChildFail(2, std::string(opened.status().ToString()));
  Datastore& ds = **opened;
  for (int i = 0; i < iterations; ++i) {
    for (;;) {
      absl::StatusOr<std::optional<KeyValue>> kv = ds.Get("/mp/counter");
      if (!kv.ok() || !kv->has_value()) {
        return ChildFail(3, fmt::format("get counter: {}", kv.status().ToString()));
      }
      int value = std::stoi((*kv)->value);
      absl::StatusOr<Revision> updated =
          ds.Update("/mp/counter", std::to_string(value + 1), (*kv)->mod_revision);
      if (updated.ok()) break;
      if (updated.status().code() != StatusCode::kAborted) {
        return ChildFail(4, fmt::format("update counter: {}", updated.status().ToString()));
      }
    }
    absl::StatusOr<Revision> created =
        ds.Create(fmt::format("/mp/unique/{}/{:04}", index, i), std::to_string(i));
    if (!created.ok()) {
      return ChildFail(5, fmt::format("create: {}", created.status().ToString()));
    }
  }
  return 0;
}

TEST_P(DatastoreContractTest, ManyProcessesShareOneStore) {
  constexpr int kProcesses = 8;
  constexpr int kIterations = 200;
  constexpr size_t kWrites = 2 * kProcesses * kIterations;
  ASSERT_OK(ds_->Create("/mp/counter", "0"));
  ASSERT_OK_AND_ASSIGN(Revision start, ds_->CurrentRevision());

  // Children open their own handles; none may be open here across fork().
  ds_.reset();
  ForkedChildren children(
      kProcesses, [&](int i) { return CounterChild(*store_, i, kIterations); }, ChildMode());
  ASSERT_EQ(children.size(), size_t{kProcesses});

  // Watch while the children run.
  ds_ = Connect();
  absl::StatusOr<std::unique_ptr<Watch>> watch =
      ds_ != nullptr ? ds_->WatchPrefix("/mp/", start) : absl::InternalError("no handle");
  children.Release();
  std::vector<Event> live;
  if (watch.ok()) {
    live = Collect(**watch, kWrites, absl::Seconds(120));
  } else {
    ADD_FAILURE() << watch.status();
  }
  for (int code : children.Wait(::testing::Test::HasFailure())) EXPECT_EQ(code, 0);
  ASSERT_NE(ds_, nullptr);

  // No lost update: the counter went up by one per increment, in revision order.
  ASSERT_OK_AND_ASSIGN(std::optional<KeyValue> counter, ds_->Get("/mp/counter"));
  ASSERT_TRUE(counter.has_value());
  EXPECT_EQ(counter->value, std::to_string(kProcesses * kIterations));
  ASSERT_OK_AND_ASSIGN(ListResult unique, ds_->List("/mp/unique/"));
  EXPECT_EQ(unique.items.size(), size_t{kProcesses * kIterations});
  ASSERT_OK_AND_ASSIGN(Revision end, ds_->CurrentRevision());
  EXPECT_EQ(end, start + static_cast<Revision>(kWrites));

  // The live watcher saw every revision exactly once, in order.
  ASSERT_EQ(live.size(), kWrites);
  int next_counter = 1;
  std::set<std::string> created;
  for (size_t i = 0; i < live.size(); ++i) {
    const Event& event = live[i];
    ASSERT_EQ(event.kv.mod_revision, start + 1 + static_cast<Revision>(i)) << "event " << i;
    ASSERT_EQ(event.type, Event::Type::kPut);
    if (event.kv.key == "/mp/counter") {
      ASSERT_EQ(event.kv.value, std::to_string(next_counter)) << "lost or repeated increment";
      ASSERT_TRUE(event.prev.has_value());
      EXPECT_EQ(event.prev->value, std::to_string(next_counter - 1));
      ++next_counter;
    } else {
      EXPECT_TRUE(created.insert(event.kv.key).second) << "duplicate event for " << event.kv.key;
      EXPECT_FALSE(event.prev.has_value());
    }
  }
  EXPECT_EQ(next_counter, kProcesses * kIterations + 1);
  EXPECT_EQ(created.size(), size_t{kProcesses * kIterations});

  // The event log holds the same sequence for a watcher that starts afterwards.
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Watch> replay, ds_->WatchPrefix("/mp/", start));
  EXPECT_EQ(Describe(Collect(*replay, kWrites)), Describe(live));
  ExpectNoMoreEvents(*replay);
  ExpectNoMoreEvents(**watch);
}

// ---------------------------------------------------------------------------------------------
// Transactions.

TEST_P(DatastoreContractTest, TxnAppliesEveryWriteAtOneRevision) {
  ASSERT_OK_AND_ASSIGN(Revision a_rev, ds_->Create("/t/a", "1"));
  ASSERT_OK(ds_->Create("/t/gone", "x"));
  ASSERT_OK_AND_ASSIGN(ListResult before, ds_->List("/t/"));
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Watch> watch, ds_->WatchPrefix("/t/", before.revision));

  ASSERT_OK_AND_ASSIGN(Revision rev, ds_->Txn({{"/t/a", a_rev}, {"/t/b", 0}},
                                              {TxnOp::Put("/t/a", "2"), TxnOp::Put("/t/b", "new"),
                                               TxnOp::Delete("/t/gone")}));
  EXPECT_EQ(rev, before.revision + 1) << "a transaction is one revision";
  ASSERT_OK_AND_ASSIGN(ListResult after, ds_->List("/t/"));
  EXPECT_EQ(Keys(after), (std::vector<std::string>{"/t/a", "/t/b"}));
  EXPECT_EQ(after.items[0].value, "2");
  EXPECT_EQ(after.items[0].mod_revision, rev);
  EXPECT_EQ(after.items[1].create_revision, rev);
  EXPECT_EQ(
      Describe(Collect(*watch, 3)),
      (std::vector<std::string>{fmt::format("put /t/a@{}", rev), fmt::format("put /t/b@{}", rev),
                                fmt::format("delete /t/gone@{}", rev)}));
  ExpectNoMoreEvents(*watch);
}

TEST_P(DatastoreContractTest, TxnWritesNothingWhenACompareFails) {
  ASSERT_OK_AND_ASSIGN(Revision a_rev, ds_->Create("/t/a", "1"));
  ASSERT_OK(ds_->Put("/t/a", "changed"));  // a_rev is stale now
  ASSERT_OK_AND_ASSIGN(Revision start, ds_->CurrentRevision());

  absl::StatusOr<Revision> stale =
      ds_->Txn({{"/t/a", a_rev}}, {TxnOp::Put("/t/a", "lost"), TxnOp::Put("/t/c", "lost")});
  EXPECT_EQ(stale.status().code(), absl::StatusCode::kAborted) << stale.status();
  EXPECT_THAT(std::string(stale.status().message()), ::testing::HasSubstr("/t/a"));
  absl::StatusOr<Revision> exists = ds_->Txn({{"/t/a", 0}}, {TxnOp::Put("/t/c", "lost")});
  EXPECT_EQ(exists.status().code(), absl::StatusCode::kAborted) << exists.status();
  absl::StatusOr<Revision> absent = ds_->Txn({{"/t/none", 7}}, {TxnOp::Put("/t/c", "lost")});
  EXPECT_EQ(absent.status().code(), absl::StatusCode::kAborted) << absent.status();

  ASSERT_OK_AND_ASSIGN(Revision end, ds_->CurrentRevision());
  EXPECT_EQ(end, start);
  ASSERT_OK_AND_ASSIGN(std::optional<KeyValue> c, ds_->Get("/t/c"));
  EXPECT_FALSE(c.has_value());
}

TEST_P(DatastoreContractTest, TxnRefusesMalformedRequests) {
  EXPECT_EQ(ds_->Txn({}, {}).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ds_->Txn({}, {TxnOp::Put("/t/a", "1"), TxnOp::Delete("/t/a")}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ds_->Txn({}, {TxnOp::Put(std::string("/t/\0", 4), "1")}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ds_->Txn({{"", 0}}, {TxnOp::Put("/t/a", "1")}).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_P(DatastoreContractTest, ListKeysOmitsValues) {
  ASSERT_OK(ds_->Create("/k/a", "a large value"));
  ASSERT_OK_AND_ASSIGN(Revision b_rev, ds_->Create("/k/b", "another"));
  ASSERT_OK(ds_->Create("/other", "x"));
  ASSERT_OK_AND_ASSIGN(ListResult keys, ds_->ListKeys("/k/"));
  EXPECT_EQ(Keys(keys), (std::vector<std::string>{"/k/a", "/k/b"}));
  EXPECT_EQ(keys.items[0].value, "");
  EXPECT_EQ(keys.items[1].mod_revision, b_rev);
  EXPECT_EQ(keys.revision, b_rev + 1);
}

// ---------------------------------------------------------------------------------------------
// Leases (driven by the FakeClock where the backend allows).

// The first statement of lease tests that advance the FakeClock.
#define SKIP_UNLESS_CLOCK_DRIVES_LEASES()                                       \
  if (!store_->clock_drives_leases()) {                                         \
    GTEST_SKIP() << "lease expiry of this backend does not follow a FakeClock"; \
  }

TEST_P(DatastoreContractTest, LeaseExpiryDeletesKeysWithDeleteEvents) {
  SKIP_UNLESS_CLOCK_DRIVES_LEASES();
  ASSERT_OK_AND_ASSIGN(LeaseId lease, ds_->GrantLease(absl::Seconds(10)));
  ASSERT_OK_AND_ASSIGN(Revision r1, ds_->Create("/l/a", "1", lease));
  ASSERT_OK_AND_ASSIGN(Revision r2, ds_->Put("/l/b", "2", lease));
  ASSERT_OK(ds_->Put("/l/kept", "3"));
  ASSERT_OK_AND_ASSIGN(std::optional<KeyValue> kv, ds_->Get("/l/a"));
  ASSERT_TRUE(kv.has_value());
  EXPECT_EQ(kv->lease, lease);
  ASSERT_OK_AND_ASSIGN(Revision rev, ds_->CurrentRevision());
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Watch> watch, ds_->WatchPrefix("/l/", rev));

  clock_.Advance(absl::Seconds(9));
  ASSERT_OK_AND_ASSIGN(kv, ds_->Get("/l/a"));
  EXPECT_TRUE(kv.has_value()) << "expired early";

  clock_.Advance(absl::Seconds(1));
  ASSERT_OK(store_->ExpireLeases(*ds_));
  std::vector<Event> events = Collect(*watch, 2);
  ASSERT_EQ(events.size(), 2u);
  // Order within one revision is unspecified.
  std::sort(events.begin(), events.end(), [](const Event& a, const Event& b) {
    return std::tie(a.kv.mod_revision, a.kv.key) < std::tie(b.kv.mod_revision, b.kv.key);
  });
  EXPECT_EQ(events[0].type, Event::Type::kDelete);
  EXPECT_EQ(events[0].kv.key, "/l/a");
  ASSERT_TRUE(events[0].prev.has_value());
  EXPECT_EQ(events[0].prev->mod_revision, r1);
  EXPECT_EQ(events[0].prev->lease, lease);
  EXPECT_EQ(events[1].type, Event::Type::kDelete);
  EXPECT_EQ(events[1].kv.key, "/l/b");
  ASSERT_TRUE(events[1].prev.has_value());
  EXPECT_EQ(events[1].prev->mod_revision, r2);
  EXPECT_GT(events[0].kv.mod_revision, rev);
  EXPECT_GE(events[1].kv.mod_revision, events[0].kv.mod_revision);
  ExpectNoMoreEvents(*watch);

  ASSERT_OK_AND_ASSIGN(ListResult list, ds_->List("/l/"));
  EXPECT_EQ(Keys(list), (std::vector<std::string>{"/l/kept"}));
  EXPECT_CODE(ds_->KeepAlive(lease), StatusCode::kNotFound);
  EXPECT_CODE(ds_->Create("/l/c", "x", lease), StatusCode::kNotFound);
}

TEST_P(DatastoreContractTest, LeaseReadsNeverReturnKeysOfExpiredLeases) {
  SKIP_UNLESS_CLOCK_DRIVES_LEASES();
  std::unique_ptr<Datastore> other = Connect();
  ASSERT_NE(other, nullptr);
  ASSERT_OK_AND_ASSIGN(LeaseId lease, ds_->GrantLease(absl::Seconds(5)));
  ASSERT_OK(ds_->Create("/r/a", "1", lease));
  clock_.Advance(absl::Seconds(6));
  // No explicit expiry step: Get and List must not show the key anyway.
  ASSERT_OK_AND_ASSIGN(std::optional<KeyValue> kv, other->Get("/r/a"));
  EXPECT_FALSE(kv.has_value());
  ASSERT_OK_AND_ASSIGN(ListResult list, ds_->List("/r/"));
  EXPECT_TRUE(list.items.empty());
  // Writes see it gone too.
  ASSERT_OK(ds_->Create("/r/a", "2"));
}

TEST_P(DatastoreContractTest, LeaseKeepAliveExtendsTheLease) {
  SKIP_UNLESS_CLOCK_DRIVES_LEASES();
  ASSERT_OK_AND_ASSIGN(LeaseId lease, ds_->GrantLease(absl::Seconds(10)));
  ASSERT_OK(ds_->Create("/k/a", "1", lease));
  clock_.Advance(absl::Seconds(8));
  ASSERT_OK(ds_->KeepAlive(lease));
  clock_.Advance(absl::Seconds(8));
  ASSERT_OK_AND_ASSIGN(std::optional<KeyValue> kv, ds_->Get("/k/a"));
  EXPECT_TRUE(kv.has_value()) << "KeepAlive did not extend the lease";
  ASSERT_OK(ds_->KeepAlive(lease));
  clock_.Advance(absl::Seconds(10));
  ASSERT_OK_AND_ASSIGN(kv, ds_->Get("/k/a"));
  EXPECT_FALSE(kv.has_value());
  EXPECT_CODE(ds_->KeepAlive(lease), StatusCode::kNotFound);
}

TEST_P(DatastoreContractTest, LeaseKeepAliveOfExpiredLeaseIsNotFound) {
  SKIP_UNLESS_CLOCK_DRIVES_LEASES();
  ASSERT_OK_AND_ASSIGN(LeaseId lease, ds_->GrantLease(absl::Seconds(1)));
  clock_.Advance(absl::Seconds(2));
  // Nothing has swept the lease yet: KeepAlive itself must notice the expiry.
  EXPECT_CODE(ds_->KeepAlive(lease), StatusCode::kNotFound);
  EXPECT_CODE(ds_->KeepAlive(lease + 1000), StatusCode::kNotFound);
}

TEST_P(DatastoreContractTest, LeaseRevokeDeletesEveryKeyOfTheLease) {
  SKIP_UNLESS_CLOCK_DRIVES_LEASES();
  ASSERT_OK_AND_ASSIGN(LeaseId lease, ds_->GrantLease(absl::Seconds(60)));
  ASSERT_OK_AND_ASSIGN(LeaseId other_lease, ds_->GrantLease(absl::Seconds(60)));
  EXPECT_NE(lease, other_lease);
  ASSERT_OK(ds_->Create("/v/1", "a", lease));
  ASSERT_OK(ds_->Create("/v/2", "b", lease));
  ASSERT_OK(ds_->Create("/v/3", "c", lease));
  ASSERT_OK(ds_->Create("/v/other", "d", other_lease));
  // Put without a lease detaches the key from it.
  ASSERT_OK(ds_->Create("/v/detached", "e", lease));
  ASSERT_OK(ds_->Put("/v/detached", "f"));
  ASSERT_OK_AND_ASSIGN(Revision rev, ds_->CurrentRevision());
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Watch> watch, ds_->WatchPrefix("/v/", rev));

  ASSERT_OK(ds_->RevokeLease(lease));
  std::vector<Event> events = Collect(*watch, 3);
  std::vector<std::string> keys;
  for (const Event& event : events) {
    EXPECT_EQ(event.type, Event::Type::kDelete);
    EXPECT_GT(event.kv.mod_revision, rev);
    keys.push_back(event.kv.key);
  }
  std::sort(keys.begin(), keys.end());  // order within one revision is unspecified
  EXPECT_EQ(keys, (std::vector<std::string>{"/v/1", "/v/2", "/v/3"}));
  ExpectNoMoreEvents(*watch);
  ASSERT_OK_AND_ASSIGN(ListResult list, ds_->List("/v/"));
  EXPECT_EQ(Keys(list), (std::vector<std::string>{"/v/detached", "/v/other"}));

  EXPECT_CODE(ds_->KeepAlive(lease), StatusCode::kNotFound);
  EXPECT_CODE(ds_->RevokeLease(lease), StatusCode::kNotFound);
  EXPECT_OK(ds_->KeepAlive(other_lease));
}

TEST_P(DatastoreContractTest, LeasesAreSharedBetweenHandles) {
  SKIP_UNLESS_CLOCK_DRIVES_LEASES();
  std::unique_ptr<Datastore> other = Connect();
  ASSERT_NE(other, nullptr);
  ASSERT_OK_AND_ASSIGN(LeaseId lease, ds_->GrantLease(absl::Seconds(10)));
  ASSERT_OK(other->Create("/s/a", "1", lease));
  clock_.Advance(absl::Seconds(8));
  ASSERT_OK(other->KeepAlive(lease));
  clock_.Advance(absl::Seconds(8));
  ASSERT_OK_AND_ASSIGN(std::optional<KeyValue> kv, ds_->Get("/s/a"));
  EXPECT_TRUE(kv.has_value());
  ASSERT_OK(other->RevokeLease(lease));
  ASSERT_OK_AND_ASSIGN(kv, ds_->Get("/s/a"));
  EXPECT_FALSE(kv.has_value());
}

TEST_P(DatastoreContractTest, LeaseInvalidArguments) {
  SKIP_UNLESS_CLOCK_DRIVES_LEASES();
  EXPECT_CODE(ds_->GrantLease(absl::ZeroDuration()), StatusCode::kInvalidArgument);
  EXPECT_CODE(ds_->GrantLease(absl::Seconds(-1)), StatusCode::kInvalidArgument);
  EXPECT_CODE(ds_->Create("/x", "v", 424242), StatusCode::kNotFound);
  EXPECT_CODE(ds_->Put("/x", "v", 424242), StatusCode::kNotFound);
  ASSERT_OK_AND_ASSIGN(std::optional<KeyValue> kv, ds_->Get("/x"));
  EXPECT_FALSE(kv.has_value());
}

}  // namespace
}  // namespace tabby::datastore::testing
