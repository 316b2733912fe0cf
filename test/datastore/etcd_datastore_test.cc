// What the etcd backend does beyond the shared contract (etcd_contract_test.cc): its URLs, leases
// that expire in real time on the server, and staying correct when members fail.
#include "datastore/etcd_datastore.h"

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "datastore/contract_test.h"
#include "support/etcd.h"

namespace tabby::datastore {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

TEST(EtcdUrlTest, ParsesEndpointsPortsAndTlsFiles) {
  absl::StatusOr<EtcdOptions> plain = ParseEtcdUrl("etcd://10.0.0.1:2379,etcd-2,[fd00::3]:23790/");
  ASSERT_TRUE(plain.ok()) << plain.status();
  EXPECT_FALSE(plain->tls);
  EXPECT_THAT(plain->endpoints, ElementsAre("10.0.0.1:2379", "etcd-2:2379", "[fd00::3]:23790"));

  absl::StatusOr<EtcdOptions> tls =
      ParseEtcdUrl("etcds://10.0.0.1:2379?ca=/etc/ca.pem&cert=/etc/c.pem&key=/etc/k.pem");
  ASSERT_TRUE(tls.ok()) << tls.status();
  EXPECT_TRUE(tls->tls);
  EXPECT_EQ(tls->ca_file, "/etc/ca.pem");
  EXPECT_EQ(tls->cert_file, "/etc/c.pem");
  EXPECT_EQ(tls->key_file, "/etc/k.pem");
}

TEST(EtcdUrlTest, RefusesMalformedUrlsNamingThem) {
  for (const std::string url :
       {"etcd://", "etcd://,", "etcd://host:0", "etcd://host:65536", "etcd://host:x",
        "etcd://host/path", "etcd://fd00::1:2379", "etcd://[fd00::1", "etcds://h?bogus=1",
        "etcds://h?ca=", "etcd://h?ca=/etc/ca.pem", "http://h:2379"}) {
    absl::StatusOr<EtcdOptions> parsed = ParseEtcdUrl(url);
    ASSERT_FALSE(parsed.ok()) << url;
    EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument) << parsed.status();
    EXPECT_THAT(std::string(parsed.status().message()), HasSubstr('"' + url + '"'));
  }
}

TEST(EtcdUrlTest, TlsFilesMustBeReadableAndComeInPairs) {
  EtcdOptions options{.endpoints = {"127.0.0.1:1"}, .tls = true, .ca_file = "/nonexistent.pem"};
  EXPECT_EQ(EtcdDatastore::Connect(options).status().code(), absl::StatusCode::kInvalidArgument);
  options = {.endpoints = {"127.0.0.1:1"}, .tls = true, .cert_file = "/etc/hostname"};
  EXPECT_THAT(std::string(EtcdDatastore::Connect(options).status().message()),
              HasSubstr("needs its key"));
}

class EtcdDatastoreTest : public ::testing::Test {
 protected:
  void StartCluster(int members) {
    absl::StatusOr<std::unique_ptr<test::EtcdCluster>> cluster = test::EtcdCluster::Start(members);
    ASSERT_TRUE(cluster.ok()) << cluster.status();
    cluster_ = std::move(cluster).value();
  }
  std::unique_ptr<EtcdDatastore> Connect(absl::Duration timeout = absl::Seconds(10)) {
    absl::StatusOr<EtcdOptions> options = ParseEtcdUrl(cluster_->Url());
    EXPECT_TRUE(options.ok()) << options.status();
    options->request_timeout = timeout;
    absl::StatusOr<std::unique_ptr<EtcdDatastore>> store = EtcdDatastore::Connect(*options);
    EXPECT_TRUE(store.ok()) << store.status();
    return store.ok() ? std::move(store).value() : nullptr;
  }

  std::unique_ptr<test::EtcdCluster> cluster_;
};

// Collects events until `count` arrived or 30 s passed.
std::vector<Event> Collect(Watch& watch, size_t count) {
  std::vector<Event> events;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (events.size() < count && std::chrono::steady_clock::now() < deadline) {
    absl::StatusOr<std::vector<Event>> batch = watch.Next(absl::Milliseconds(200));
    if (!batch.ok()) {
      ADD_FAILURE() << batch.status();
      break;
    }
    events.insert(events.end(), batch->begin(), batch->end());
  }
  return events;
}

TEST_F(EtcdDatastoreTest, OpenNamesAStoreWithoutACluster) {
  StartCluster(1);
  absl::StatusOr<std::unique_ptr<Datastore>> opened = Open(cluster_->Url());
  ASSERT_FALSE(opened.ok());
  EXPECT_EQ(opened.status().code(), absl::StatusCode::kFailedPrecondition) << opened.status();
  EXPECT_THAT(std::string(opened.status().message()), HasSubstr(cluster_->Url()));
  ASSERT_TRUE(Open(cluster_->Url(), {.create = true}).ok());
  EXPECT_TRUE(Open(cluster_->Url()).ok());
}

TEST_F(EtcdDatastoreTest, LeasesExpireOnTheServerWithDeleteEvents) {
  StartCluster(1);
  std::unique_ptr<EtcdDatastore> ds = Connect();
  ASSERT_NE(ds, nullptr);
  EXPECT_EQ(ds->GrantLease(absl::ZeroDuration()).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ds->Put("/x", "v", 424242).status().code(), absl::StatusCode::kNotFound);

  absl::StatusOr<LeaseId> lease = ds->GrantLease(absl::Seconds(2));
  ASSERT_TRUE(lease.ok()) << lease.status();
  absl::StatusOr<Revision> created = ds->Create("/l/a", "1", *lease);
  ASSERT_TRUE(created.ok()) << created.status();
  ASSERT_TRUE(ds->KeepAlive(*lease).ok());
  absl::StatusOr<std::unique_ptr<Watch>> watch = ds->WatchPrefix("/l/", *created);
  ASSERT_TRUE(watch.ok()) << watch.status();

  std::vector<Event> events = Collect(**watch, 1);  // etcd expires it within a few seconds
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].type, Event::Type::kDelete);
  EXPECT_EQ(events[0].kv.key, "/l/a");
  ASSERT_TRUE(events[0].prev.has_value());
  EXPECT_EQ(events[0].prev->lease, *lease);
  EXPECT_EQ(ds->KeepAlive(*lease).code(), absl::StatusCode::kNotFound);

  absl::StatusOr<LeaseId> revoked = ds->GrantLease(absl::Seconds(60));
  ASSERT_TRUE(revoked.ok());
  ASSERT_TRUE(ds->Put("/l/b", "2", *revoked).ok());
  ASSERT_TRUE(ds->RevokeLease(*revoked).ok());
  absl::StatusOr<std::optional<KeyValue>> gone = ds->Get("/l/b");
  ASSERT_TRUE(gone.ok());
  EXPECT_FALSE(gone->has_value());
  EXPECT_EQ(ds->RevokeLease(*revoked).code(), absl::StatusCode::kNotFound);
}

// Writes keep succeeding and a watch misses nothing while the member in use dies.
TEST_F(EtcdDatastoreTest, ClientsKeepWorkingWhenAMemberOfThreeDies) {
  StartCluster(3);
  std::unique_ptr<EtcdDatastore> ds = Connect();
  ASSERT_NE(ds, nullptr);
  absl::StatusOr<Revision> start = ds->CurrentRevision();
  ASSERT_TRUE(start.ok()) << start.status();
  absl::StatusOr<std::unique_ptr<Watch>> watch = ds->WatchPrefix("/f/", *start);
  ASSERT_TRUE(watch.ok()) << watch.status();

  constexpr int kWrites = 300;
  std::vector<std::string> errors;
  for (int i = 0; i < kWrites; ++i) {
    // Requests go to the first member until it fails: kill it a third of the way in.
    if (i == kWrites / 3) cluster_->Kill(0);
    absl::StatusOr<Revision> put = ds->Put(fmt::format("/f/{:04}", i), "v");
    if (!put.ok()) errors.push_back(std::string(put.status().message()));
  }
  EXPECT_THAT(errors, ::testing::IsEmpty());
  // A Put whose first attempt was cut off may have been applied and is repeated (same value, so
  // the same state): its key may appear twice in a row. Nothing else may repeat or go missing.
  absl::StatusOr<ListResult> listed = ds->List("/f/");
  ASSERT_TRUE(listed.ok()) << listed.status();
  ASSERT_EQ(listed->items.size(), size_t{kWrites});
  std::vector<Event> events = Collect(**watch, kWrites);
  std::vector<std::string> keys;
  for (size_t i = 0; i < events.size(); ++i) {
    if (i > 0) {
      EXPECT_GT(events[i].kv.mod_revision, events[i - 1].kv.mod_revision);
    }
    if (keys.empty() || keys.back() != events[i].kv.key) keys.push_back(events[i].kv.key);
  }
  ASSERT_EQ(keys.size(), size_t{kWrites});
  for (int i = 0; i < kWrites; ++i) EXPECT_EQ(keys[i], fmt::format("/f/{:04}", i));
  absl::StatusOr<std::vector<Event>> more = (*watch)->Next(absl::Milliseconds(300));
  ASSERT_TRUE(more.ok());
  EXPECT_TRUE(more->empty()) << "duplicated events after failover";
}

// With the whole cluster down, calls fail with kUnavailable after their deadline; when it
// returns, the same handle and watch carry on from where they were.
TEST_F(EtcdDatastoreTest, AWatchResumesAfterTheClusterComesBack) {
  StartCluster(1);
  std::unique_ptr<EtcdDatastore> ds = Connect(absl::Seconds(1));
  ASSERT_NE(ds, nullptr);
  absl::StatusOr<Revision> first = ds->Put("/o/before", "1");
  ASSERT_TRUE(first.ok()) << first.status();
  absl::StatusOr<std::unique_ptr<Watch>> watch = ds->WatchPrefix("/o/", *first);
  ASSERT_TRUE(watch.ok()) << watch.status();

  cluster_->Kill(0);
  absl::StatusOr<Revision> down = ds->Put("/o/down", "x");
  EXPECT_EQ(down.status().code(), absl::StatusCode::kUnavailable) << down.status();
  EXPECT_THAT(std::string(down.status().message()), HasSubstr(cluster_->ClientAddress(0)));
  absl::StatusOr<std::vector<Event>> none = (*watch)->Next(absl::Milliseconds(100));
  ASSERT_TRUE(none.ok()) << "a lost connection is retried, not reported: " << none.status();

  ASSERT_TRUE(cluster_->Restart(0).ok());
  std::unique_ptr<EtcdDatastore> writer = Connect();
  absl::StatusOr<Revision> after = writer->Put("/o/after", "2");
  ASSERT_TRUE(after.ok()) << after.status();
  std::vector<Event> events = Collect(**watch, 1);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].kv.key, "/o/after");
  EXPECT_EQ(events[0].kv.mod_revision, *after);
  // Progress follows too.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while ((*watch)->Progress() < *after && std::chrono::steady_clock::now() < deadline) {
    ASSERT_TRUE((*watch)->Next(absl::Milliseconds(100)).ok());
  }
  EXPECT_GE((*watch)->Progress(), *after);
}

// Progress moves past writes to other prefixes, so "current up to R" can be awaited.
TEST_F(EtcdDatastoreTest, ProgressFollowsWritesElsewhere) {
  StartCluster(1);
  std::unique_ptr<EtcdDatastore> ds = Connect();
  ASSERT_NE(ds, nullptr);
  absl::StatusOr<Revision> start = ds->CurrentRevision();
  ASSERT_TRUE(start.ok());
  absl::StatusOr<std::unique_ptr<Watch>> watch = ds->WatchPrefix("/mine/", *start);
  ASSERT_TRUE(watch.ok());
  absl::StatusOr<Revision> elsewhere = ds->Put("/other/k", "v");
  ASSERT_TRUE(elsewhere.ok());
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while ((*watch)->Progress() < *elsewhere && std::chrono::steady_clock::now() < deadline) {
    absl::StatusOr<std::vector<Event>> events = (*watch)->Next(absl::Milliseconds(100));
    ASSERT_TRUE(events.ok());
    EXPECT_TRUE(events->empty());
  }
  EXPECT_GE((*watch)->Progress(), *elsewhere);
}

}  // namespace
}  // namespace tabby::datastore
