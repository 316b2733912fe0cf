// The narrow seam between the dataplane logic and the kernel's nftables: run a script as one
// transaction, change set elements as one transaction, list our table. The real client uses
// libnftables for scripts and listing, libnftnl + libmnl for elements; unit tests use a fake.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace tabby::dataplane {

class NftClient {
 public:
  virtual ~NftClient() = default;
  // Runs `script` (nft syntax, many commands) as one atomic transaction: all or nothing.
  virtual absl::Status Run(const std::string& script) = 0;
  // One set element added or deleted: the element's key as nftables stores it (each field of a
  // concatenation in network byte order, padded to a multiple of 4 bytes).
  struct ElementChange {
    std::string set;
    bool add = true;
    std::vector<uint8_t> key;
  };
  // Applies `changes` to sets of table `family` `table` as one atomic transaction (a netlink
  // batch), without the read-back of the whole table that libnftables does before every script:
  // what a change costs is then what it changes. The default says Unimplemented, and the caller
  // runs the same change as a script instead.
  virtual absl::Status ApplyElements(const std::string& family, const std::string& table,
                                     const std::vector<ElementChange>& changes);
  // `nft -j list table <family> <name>`; nullopt if the table does not exist.
  virtual absl::StatusOr<std::optional<std::string>> ListTableJson(const std::string& family,
                                                                   const std::string& name) = 0;
};

// libnftables in the calling thread's network namespace. Not thread-safe.
std::unique_ptr<NftClient> MakeLibNftablesClient();

}  // namespace tabby::dataplane
