// The datastore contract run against a real etcd (Debian etcd-server) started for this test
// process, one fresh key space per test: each test's store is a cluster of its own.
#include <memory>
#include <string>

#include "datastore/contract_test.h"
#include "datastore/etcd_datastore.h"
#include "support/etcd.h"

namespace tabby::datastore::testing {
namespace {

class EtcdContractStore final : public ContractStore {
 public:
  static absl::StatusOr<std::unique_ptr<ContractStore>> Make() {
    absl::StatusOr<std::unique_ptr<test::EtcdCluster>> cluster = test::EtcdCluster::Start();
    if (!cluster.ok()) return cluster.status();
    return std::unique_ptr<ContractStore>(new EtcdContractStore(std::move(cluster).value()));
  }

  absl::StatusOr<std::unique_ptr<Datastore>> Connect(Clock& clock) override {
    absl::StatusOr<EtcdOptions> options = ParseEtcdUrl(cluster_->Url());
    if (!options.ok()) return options.status();
    absl::StatusOr<std::unique_ptr<EtcdDatastore>> store = EtcdDatastore::Connect(*options);
    if (!store.ok()) return store.status();
    return std::unique_ptr<Datastore>(std::move(store).value());
  }

  // gRPC cannot run in a child forked from a process that used it.
  bool fork_safe() const override { return false; }

  // etcd keeps lease time itself.
  bool clock_drives_leases() const override { return false; }
  absl::Status ExpireLeases(Datastore&) override { return absl::OkStatus(); }

 private:
  explicit EtcdContractStore(std::unique_ptr<test::EtcdCluster> cluster)
      : cluster_(std::move(cluster)) {}
  std::unique_ptr<test::EtcdCluster> cluster_;
};

INSTANTIATE_TEST_SUITE_P(Etcd, DatastoreContractTest,
                         ::testing::Values(ContractBackend{"etcd", &EtcdContractStore::Make}),
                         ContractBackendName);

}  // namespace
}  // namespace tabby::datastore::testing
