// The datastore contract run against the SQLite backend, one fresh database per test.
#include <memory>
#include <string>

#include "datastore/contract_test.h"
#include "datastore/sqlite_datastore.h"
#include "datastore/temp_dir.h"

namespace tabby::datastore::testing {
namespace {

class SqliteContractStore final : public ContractStore {
 public:
  static absl::StatusOr<std::unique_ptr<ContractStore>> Make() {
    absl::StatusOr<TempDir> dir = TempDir::Create();
    if (!dir.ok()) return dir.status();
    return std::unique_ptr<ContractStore>(new SqliteContractStore(std::move(dir).value()));
  }

  absl::StatusOr<std::unique_ptr<Datastore>> Connect(Clock& clock) override {
    SqliteOptions options;
    options.clock = &clock;
    options.create = true;
    // In a directory that does not exist yet: the backend creates it.
    absl::StatusOr<std::unique_ptr<SqliteDatastore>> store =
        SqliteDatastore::Open(dir_.path() + "/state/tabby.db", options);
    if (!store.ok()) return store.status();
    return std::unique_ptr<Datastore>(std::move(store).value());
  }

  bool clock_drives_leases() const override { return true; }

  absl::Status ExpireLeases(Datastore& store) override {
    return dynamic_cast<SqliteDatastore&>(store).ExpireLeases().status();
  }

 private:
  explicit SqliteContractStore(TempDir dir) : dir_(std::move(dir)) {}
  TempDir dir_;
};

INSTANTIATE_TEST_SUITE_P(Sqlite, DatastoreContractTest,
                         ::testing::Values(ContractBackend{"sqlite", &SqliteContractStore::Make}),
                         ContractBackendName);

}  // namespace
}  // namespace tabby::datastore::testing
