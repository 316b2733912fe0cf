// Shared by the IPAM benchmarks (fabric_sim, ipam_allocators): a temporary directory that is
// removed on every path out of main, and an IP pool and IPAM configuration written the way a
// user's `tabbyctl apply` would.
#pragma once

#include <fmt/format.h>
#include <stdlib.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <string>
#include <system_error>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "datastore/datastore.h"
#include "datastore/resource_store.h"
#include "ipam/block.h"
#include "model/resources.h"
#include "stats.h"

namespace tabby::bench {

// A directory made with mkdtemp under /tmp holding a new datastore (DatastoreUrl), removed with
// everything in it when this goes away.
// Forked children must leave with _exit so that only the parent removes it.
class TempDir {
 public:
  static absl::StatusOr<TempDir> Create(const std::string& name) {
    std::string pattern = fmt::format("/tmp/tabby-{}-XXXXXX", name);
    if (mkdtemp(pattern.data()) == nullptr) {
      return absl::InternalError(fmt::format("mkdtemp {}: {}", pattern, std::strerror(errno)));
    }
    TempDir dir(std::move(pattern));
    auto store = datastore::Open(dir.DatastoreUrl(), {.create = true});
    if (!store.ok()) return store.status();
    return dir;
  }

  TempDir(TempDir&& other) noexcept : path_(std::exchange(other.path_, "")) {}
  TempDir& operator=(TempDir&&) = delete;
  TempDir(const TempDir&) = delete;
  ~TempDir() {
    if (path_.empty()) return;
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }

  const std::string& path() const { return path_; }
  // Created with the directory.
  std::string DatastoreUrl() const { return fmt::format("sqlite://{}/tabby.db", path_); }
  // Bytes in the directory (the database, its write-ahead log and shared memory).
  uint64_t Bytes() const {
    uint64_t total = 0;
    std::error_code ec;
    for (const auto& entry : std::filesystem::directory_iterator(path_, ec)) {
      if (entry.is_regular_file(ec)) total += entry.file_size(ec);
    }
    return total;
  }

 private:
  explicit TempDir(std::string path) : path_(std::move(path)) {}
  std::string path_;
};

// Creates an IPv4 pool for workloads (block_size 0: the default, /26).
inline absl::Status AddPool(datastore::Datastore& store, const std::string& name,
                            const std::string& cidr, int block_size = 0) {
  datastore::ResourceStore resources(store);
  model::Resource pool = model::MakeResource(model::Kind::kIPPool, name);
  pool.ip_pool().cidr = cidr;
  pool.ip_pool().block_size = block_size;
  return resources.Apply(std::move(pool)).status();
}

inline absl::Status SetIpamConfig(datastore::Datastore& store, const ipam::IpamConfig& config) {
  return store.Put(ipam::kConfigKey, ipam::EncodeConfig(config)).status();
}

}  // namespace tabby::bench
