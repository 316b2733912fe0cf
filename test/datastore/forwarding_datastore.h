// A Datastore that passes every call to another one, for tests that step into one call (a
// racing writer, a failure at a chosen moment) by overriding just that method.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "datastore/datastore.h"

namespace tabby::datastore {

class ForwardingDatastore : public Datastore {
 public:
  explicit ForwardingDatastore(std::unique_ptr<Datastore> inner) : inner_(std::move(inner)) {}

  absl::StatusOr<std::optional<KeyValue>> Get(const std::string& key) override {
    return inner_->Get(key);
  }
  absl::StatusOr<ListResult> List(const std::string& prefix) override {
    return inner_->List(prefix);
  }
  absl::StatusOr<ListResult> ListKeys(const std::string& prefix) override {
    return inner_->ListKeys(prefix);
  }
  absl::StatusOr<Revision> CurrentRevision() override { return inner_->CurrentRevision(); }
  absl::StatusOr<Revision> Create(const std::string& key, const std::string& value,
                                  LeaseId lease) override {
    return inner_->Create(key, value, lease);
  }
  absl::StatusOr<Revision> Update(const std::string& key, const std::string& value,
                                  Revision expected, LeaseId lease) override {
    return inner_->Update(key, value, expected, lease);
  }
  absl::StatusOr<Revision> Put(const std::string& key, const std::string& value,
                               LeaseId lease) override {
    return inner_->Put(key, value, lease);
  }
  absl::StatusOr<Revision> Delete(const std::string& key, Revision expected) override {
    return inner_->Delete(key, expected);
  }
  absl::StatusOr<Revision> Txn(const std::vector<Compare>& compares,
                               const std::vector<TxnOp>& ops) override {
    return inner_->Txn(compares, ops);
  }
  absl::StatusOr<std::unique_ptr<Watch>> WatchPrefix(const std::string& prefix,
                                                     Revision after) override {
    return inner_->WatchPrefix(prefix, after);
  }
  absl::StatusOr<LeaseId> GrantLease(absl::Duration ttl) override {
    return inner_->GrantLease(ttl);
  }
  absl::Status KeepAlive(LeaseId lease) override { return inner_->KeepAlive(lease); }
  absl::Status RevokeLease(LeaseId lease) override { return inner_->RevokeLease(lease); }
  absl::Status Compact(Revision revision) override { return inner_->Compact(revision); }

 protected:
  Datastore& inner() { return *inner_; }

 private:
  std::unique_ptr<Datastore> inner_;
};

}  // namespace tabby::datastore
