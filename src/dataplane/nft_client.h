// The narrow seam between the dataplane logic and the kernel's nftables: commit a transaction,
// run a script, list a table. The real client sends transactions as netlink batches (libnftnl +
// libmnl) and uses libnftables for scripts and listings; unit tests use a fake.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "dataplane/nft_transaction.h"

namespace tabby::dataplane {

class NftClient {
 public:
  virtual ~NftClient() = default;
  // Applies `transaction` as one atomic netlink batch: all or nothing. What a change costs is
  // what it changes: no read-back of the table.
  virtual absl::Status Commit(const NftTransaction& transaction) = 0;
  // Runs `script` (nft syntax) through libnftables as one transaction. For tables other than
  // tabby's own (natOutgoing), which change rarely and are small.
  virtual absl::Status Run(const std::string& script) = 0;
  // `nft -j list table <family> <name>`; nullopt if the table does not exist.
  virtual absl::StatusOr<std::optional<std::string>> ListTableJson(const std::string& family,
                                                                   const std::string& name) = 0;
};

// libnftables in the calling thread's network namespace. Not thread-safe.
std::unique_ptr<NftClient> MakeLibNftablesClient();

}  // namespace tabby::dataplane
