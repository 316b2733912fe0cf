// Typed access to resources in a Datastore. Keys:
//   /tabby/v1/resources/<kind>/<name>                 cluster-scoped kinds
//   /tabby/v1/resources/<kind>/<namespace>/<name>     namespaced kinds
// where <kind> is the lower-case kind name ("globalnetworkpolicy"). Values are the resource as
// compact JSON (model/codec.h) without resourceVersion, which is the key's mod_revision.
//
// Every write validates first, so what is stored always decodes. Thread-safety is that of the
// underlying Datastore.
#pragma once

#include <optional>
#include <string>
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

class ResourceStore {
 public:
  explicit ResourceStore(Datastore& store) : store_(store) {}

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
  absl::StatusOr<model::Resource> Write(model::Resource resource, bool allow_create,
                                        bool allow_replace);
  Datastore& store_;
};

}  // namespace tabby::datastore
