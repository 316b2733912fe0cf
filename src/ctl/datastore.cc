// tabbyctl datastore init | info: creating a datastore on purpose, and saying which one it is.
#include <fmt/format.h>

#include <ostream>

#include "base/status_macros.h"
#include "ctl/commands.h"
#include "datastore/cluster_identity.h"

namespace tabby::ctl {

int RunDatastoreInit(const std::string& url, Streams io) {
  auto existing = datastore::Open(url);
  if (existing.ok()) {
    auto identity = datastore::ReadClusterIdentity(**existing);
    if (!identity.ok()) return PrintError(io.err, MessageOf(identity.status()));
    io.out << fmt::format("Datastore {} is already initialized (cluster {})\n", url,
                          identity->cluster_guid);
    return 0;
  }
  // Only what is missing is created: a file that exists but is corrupt stays an error.
  if (existing.status().code() != absl::StatusCode::kNotFound &&
      existing.status().code() != absl::StatusCode::kFailedPrecondition) {
    return PrintError(io.err, MessageOf(existing.status()));
  }
  auto store = datastore::Open(url, {.create = true});
  if (!store.ok()) return PrintError(io.err, MessageOf(store.status()));
  auto identity = datastore::ReadClusterIdentity(**store);
  if (!identity.ok()) return PrintError(io.err, MessageOf(identity.status()));
  io.out << fmt::format("Initialized datastore {} (cluster {})\n", url, identity->cluster_guid);
  return 0;
}

int RunDatastoreInfo(const std::string& url, const DatastoreOpener& open, Streams io) {
  auto store = open();
  if (!store.ok()) return PrintError(io.err, MessageOf(store.status()));
  auto identity = datastore::ReadClusterIdentity(**store);
  if (!identity.ok()) return PrintError(io.err, MessageOf(identity.status()));
  auto revision = (*store)->CurrentRevision();
  if (!revision.ok()) return PrintError(io.err, MessageOf(revision.status()));
  io.out << fmt::format(
      "Datastore:     {}\nCluster GUID:  {}\nCreated:       {}\nRevision:      {}\n", url,
      identity->cluster_guid, identity->created, *revision);
  return 0;
}

}  // namespace tabby::ctl
