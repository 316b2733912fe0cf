// Typed access to resources in a Datastore. Keys:
//   /tabby/v1/resources/<kind>/<name>                 cluster-scoped kinds
//   /tabby/v1/resources/<kind>/<namespace>/<name>     namespaced kinds
// where <kind> is the lower-case kind name ("globalnetworkpolicy"). Values are the resource as
// compact JSON (model/codec.h) without resourceVersion, which is the key's mod_revision.
//
// Every write validates first, so what is stored always decodes. Thread-safety is that of the
// underlying Datastore.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "datastore/datastore.h"
#include "model/resources.h"

namespace tabby::datastore {

inline constexpr char kResourcePrefix[] = "/tabby/v1/resources/";

struct ResourceId {
  model::Kind kind = model::Kind::kIPPool;
  std::string namespace_name;
  std::string name;
  friend bool operator==(const ResourceId&, const ResourceId&) = default;
};

// A change to one resource, decoded from a datastore event.
struct ResourceEvent {
  ResourceId id;
  std::optional<model::Resource> resource;  // nullopt: deleted
  Revision revision = 0;
};

// Checks a write to one kind against the rest of the datastore, for rules that span keys (an IP
// pool may not shrink away from blocks in use). What it read is returned as compares, and any
// bookkeeping as extra writes, so that the check and the write land in one transaction: if
// anything it looked at changes first, the transaction aborts and the write is checked again.
class WriteGuard {
 public:
  virtual ~WriteGuard() = default;
  struct Conditions {
    std::vector<Compare> compares;
    std::vector<TxnOp> ops;
  };
  // `stored` is what is there now (nullopt: nothing), `proposed` what would be (nullopt: a
  // delete). An error refuses the write and is shown to the user as it is.
  virtual absl::StatusOr<Conditions> Check(const std::optional<model::Resource>& stored,
                                           const std::optional<model::Resource>& proposed) = 0;
};

class ResourceStore {
 public:
  // WorkloadEndpoint writes are always guarded by EndpointClaims (endpoint_claims.h).
  explicit ResourceStore(Datastore& store);
  ~ResourceStore();

  // Every later write of `kind` through this store is checked by `guard` (not owned).
  void Guard(model::Kind kind, WriteGuard& guard) { guards_.push_back({kind, &guard}); }

  static std::string KindPrefix(model::Kind kind);
  static std::string Key(const ResourceId& id);
  static std::optional<ResourceId> ParseKey(const std::string& key);
  static ResourceId IdOf(const model::Resource& resource);

  absl::StatusOr<std::optional<model::Resource>> Get(const ResourceId& id);
  // All resources of `kind` (in `namespace_name` only, when given), sorted by key.
  absl::StatusOr<std::vector<model::Resource>> List(model::Kind kind,
                                                    const std::string& namespace_name = "");
  // Every resource of every kind and the revision the listing is consistent with.
  struct Snapshot {
    std::vector<model::Resource> resources;
    Revision revision = 0;
  };
  absl::StatusOr<Snapshot> ListAll();
  // The same one resource at a time (Datastore::ListEach): for a caller that keeps less than
  // whole resources, so that 100,000 of them are never held at once. Returns the revision.
  using ResourceVisitor = std::function<absl::Status(model::Resource&& resource)>;
  absl::StatusOr<Revision> ForEach(const ResourceVisitor& visit);
  // Only resources of `kind`.
  absl::StatusOr<Revision> ForEachOfKind(model::Kind kind, const ResourceVisitor& visit);

  // kAlreadyExists if present. Sets uid and creationTimestamp. Returns the stored resource.
  absl::StatusOr<model::Resource> Create(model::Resource resource);
  // kNotFound if absent. With a resourceVersion, only if it is current (kAborted otherwise).
  absl::StatusOr<model::Resource> Replace(model::Resource resource);
  // Create or replace; keeps uid and creationTimestamp of an existing resource.
  absl::StatusOr<model::Resource> Apply(model::Resource resource);
  // kNotFound if absent. With expected_revision > 0, only if it is current.
  absl::Status Delete(const ResourceId& id, Revision expected_revision = 0);

  // Decodes a raw datastore event under kResourcePrefix. A value that does not decode (written
  // by something other than a ResourceStore) is an error; consumers should treat the resource as
  // deleted, which fails closed.
  static absl::StatusOr<ResourceEvent> DecodeEvent(const Event& event);

 private:
  absl::StatusOr<model::Resource> Decode(const KeyValue& kv);
  absl::StatusOr<Revision> ForEachUnder(const std::string& prefix, const ResourceVisitor& visit);
  absl::StatusOr<model::Resource> Write(model::Resource resource, bool allow_create,
                                        bool allow_replace);
  // Writes `value` to `key` (nullopt: deletes it) if the key's mod_revision is `expected` (0:
  // absent), together with what the kind's guard asks for. kAborted when anything compared
  // changed.
  absl::StatusOr<Revision> Commit(const std::string& key, Revision expected,
                                  const std::optional<std::string>& value,
                                  const std::optional<model::Resource>& stored,
                                  const std::optional<model::Resource>& proposed);
  WriteGuard* GuardOf(model::Kind kind) const;

  Datastore& store_;
  std::unique_ptr<WriteGuard> endpoint_claims_;
  std::vector<std::pair<model::Kind, WriteGuard*>> guards_;
};

}  // namespace tabby::datastore
