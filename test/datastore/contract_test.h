// The datastore contract as tests, run against every backend: a backend's test binary links
// contract_test.cc and instantiates DatastoreContractTest with its ContractBackend, e.g.
//
//   INSTANTIATE_TEST_SUITE_P(Sqlite, DatastoreContractTest,
//                            ::testing::Values(ContractBackend{"sqlite", &MakeSqliteStore}),
//                            ContractBackendName);
//
// Some tests fork child processes that open their own handle to the store under test (several
// processes sharing one store is how tabby runs: agent, CNI invocations, CLI). They fork while
// the parent holds no open handle, and the children only open a fresh handle and _exit().
#pragma once

#include <gtest/gtest.h>

#include <functional>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "base/clock.h"
#include "datastore/datastore.h"
#include "datastore/forked_children.h"

// Status assertions (gtest has none for absl::Status).
#define TABBY_CT_CONCAT_INNER(a, b) a##b
#define TABBY_CT_CONCAT(a, b) TABBY_CT_CONCAT_INNER(a, b)
#define EXPECT_OK(expr)                                                                  \
  do {                                                                                   \
    const ::absl::Status tabby_ct_status_ = ::tabby::datastore::testing::StatusOf(expr); \
    EXPECT_TRUE(tabby_ct_status_.ok()) << #expr << ": " << tabby_ct_status_;             \
  } while (0)
#define ASSERT_OK(expr)                                                                  \
  do {                                                                                   \
    const ::absl::Status tabby_ct_status_ = ::tabby::datastore::testing::StatusOf(expr); \
    ASSERT_TRUE(tabby_ct_status_.ok()) << #expr << ": " << tabby_ct_status_;             \
  } while (0)
#define ASSERT_OK_AND_ASSIGN(lhs, expr) \
  TABBY_CT_ASSIGN_IMPL(TABBY_CT_CONCAT(tabby_ct_result_, __LINE__), lhs, expr)
#define TABBY_CT_ASSIGN_IMPL(result, lhs, expr)                 \
  auto result = (expr);                                         \
  ASSERT_TRUE(result.ok()) << #expr << ": " << result.status(); \
  lhs = std::move(result).value()
#define EXPECT_CODE(expr, expected_code)                                                      \
  do {                                                                                        \
    const ::absl::Status tabby_ct_status_ = ::tabby::datastore::testing::StatusOf(expr);      \
    EXPECT_EQ(tabby_ct_status_.code(), (expected_code)) << #expr << ": " << tabby_ct_status_; \
  } while (0)

namespace tabby::datastore::testing {

inline absl::Status StatusOf(const absl::Status& status) { return status; }
template <typename T>
absl::Status StatusOf(const absl::StatusOr<T>& result) {
  return result.status();
}

// One store under test: created empty for one test, removed when destroyed. Holds no open
// handle itself.
class ContractStore {
 public:
  virtual ~ContractStore() = default;

  // A new handle to this store, reading time from `clock` (see clock_drives_leases). Also called
  // in forked child processes.
  virtual absl::StatusOr<std::unique_ptr<Datastore>> Connect(Clock& clock) = 0;

  // True if lease expiry follows the Clock given to Connect (SQLite); false if a server keeps
  // time (etcd), in which case the tests needing a FakeClock skip.
  virtual bool clock_drives_leases() const = 0;

  // False if a handle cannot be opened in a child forked from a process that used one (gRPC is
  // not fork-safe): the multi-process tests then run their "processes" as threads, each with its
  // own handle and connection.
  virtual bool fork_safe() const { return true; }

  // Makes `store` process expired leases now, as the agent does periodically (SQLite sweeps
  // lazily); a no-op for backends that expire leases on their own.
  virtual absl::Status ExpireLeases(Datastore& store) = 0;
};

struct ContractBackend {
  std::string name;  // the test name suffix: [A-Za-z0-9_]+
  std::function<absl::StatusOr<std::unique_ptr<ContractStore>>()> make_store;
};

std::string ContractBackendName(const ::testing::TestParamInfo<ContractBackend>& info);

class DatastoreContractTest : public ::testing::TestWithParam<ContractBackend> {
 protected:
  void SetUp() override;
  // Closes every handle, then removes the store; gtest runs it also after a failed test.
  void TearDown() override;

  // Another handle to the store, reading time from clock_. Fails the test (and returns nullptr)
  // if it cannot be opened.
  std::unique_ptr<Datastore> Connect();

  // How ForkedChildren runs "other processes" for this backend.
  forked::ForkedChildren::Mode ChildMode() const {
    return store_->fork_safe() ? forked::ForkedChildren::Mode::kProcesses
                               : forked::ForkedChildren::Mode::kThreads;
  }

  FakeClock clock_;
  std::unique_ptr<ContractStore> store_;
  std::unique_ptr<Datastore> ds_;  // the first handle
};

}  // namespace tabby::datastore::testing
