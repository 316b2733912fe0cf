// The narrow seam between the dataplane logic and the kernel's nftables: run a script as one
// transaction, list our table. The real client uses libnftables; unit tests use a fake.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace tabby::dataplane {

class NftClient {
 public:
  virtual ~NftClient() = default;
  // Runs `script` (nft syntax, many commands) as one atomic transaction: all or nothing.
  virtual absl::Status Run(const std::string& script) = 0;
  // `nft -j list table <family> <name>`; nullopt if the table does not exist.
  virtual absl::StatusOr<std::optional<std::string>> ListTableJson(const std::string& family,
                                                                   const std::string& name) = 0;
};

// libnftables in the calling thread's network namespace. Not thread-safe.
std::unique_ptr<NftClient> MakeLibNftablesClient();

}  // namespace tabby::dataplane
