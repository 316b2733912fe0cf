// The datastore contract on etcd v3, spoken through etcd's own gRPC API (KV, Watch, Lease,
// Maintenance), so that every host of a cluster shares one store.
//
// How the contract maps onto etcd:
//   revisions      etcd's store revision (one per write, as the contract asks)
//   Create/Update  a transaction comparing the key's create/mod revision; on failure it reads
//                  the key, so "absent" (kNotFound) and "changed" (kAborted) are told apart
//   Txn            one etcd transaction (etcd refuses more than --max-txn-ops, default 128)
//   List           paged ranges at one revision, so any size lists consistently
//   Watch          one gRPC stream per watch, with prev_kv; it resumes from the next revision
//                  on another member after a disconnect; Progress() follows progress requests
//   Leases         etcd's: the server keeps time and expires them
//
// Several endpoints: requests go to one member and move to the next when it fails (connection
// refused or reset, no leader, or no answer within kAttemptTimeout), with a bounded backoff;
// a request gives up after its deadline (EtcdOptions::request_timeout) with kUnavailable. Reads
// are retried on any member failure; writes only when the request cannot have been applied
// (UNAVAILABLE), since a retried write whose first attempt did commit would fail its compare.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "datastore/datastore.h"

namespace etcdserverpb {
class TxnRequest;
class TxnResponse;
}  // namespace etcdserverpb

namespace tabby::datastore {

struct EtcdOptions {
  std::vector<std::string> endpoints;  // "host:port", "[v6]:port"
  bool tls = false;                    // etcds://
  // PEM files for etcds://: the CA that signed the servers' certificates (empty: the system's
  // roots), and a client certificate and key (both or neither).
  std::string ca_file;
  std::string cert_file;
  std::string key_file;
  // How long one call may take in all, across members and retries.
  absl::Duration request_timeout = absl::Seconds(10);
};

// Parses etcd://host:port[,host:port...] and etcds://...[?ca=FILE&cert=FILE&key=FILE]. A missing
// port is 2379. InvalidArgument naming the URL and what is wrong.
absl::StatusOr<EtcdOptions> ParseEtcdUrl(std::string_view url);

class EtcdDatastore final : public Datastore {
 public:
  // Connects lazily: this fails only for bad options (unreadable TLS files); an unreachable
  // cluster shows as kUnavailable from the first call.
  static absl::StatusOr<std::unique_ptr<EtcdDatastore>> Connect(const EtcdOptions& options);
  ~EtcdDatastore() override;

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

  class Client;  // the members, their channels and the retry policy (etcd_datastore.cc)

 private:
  explicit EtcdDatastore(std::shared_ptr<Client> client);
  absl::StatusOr<Revision> Range(const std::string& prefix, bool keys_only, const Visitor& visit);
  absl::StatusOr<ListResult> Collect(const std::string& prefix, bool keys_only);
  // Runs `txn` (compares on `key`) with a read of `key` when a compare fails, to say why.
  absl::StatusOr<etcdserverpb::TxnResponse> KeyTxn(const std::string& what, const std::string& key,
                                                   etcdserverpb::TxnRequest txn);

  std::shared_ptr<Client> client_;  // shared with watches, which may outlive this handle
};

}  // namespace tabby::datastore
