#include "datastore/resource_store.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <chrono>

#include "base/status_macros.h"
#include "base/uuid.h"
#include "datastore/endpoint_claims.h"
#include "model/codec.h"
#include "model/validate.h"

namespace tabby::datastore {
namespace {

std::string Lower(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

std::string NowRfc3339() {
  auto now = std::chrono::system_clock::now();
  std::time_t t = std::chrono::system_clock::to_time_t(now);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buffer[32];
  std::strftime(buffer, sizeof(buffer), "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buffer;
}

// Value stored for a resource: its JSON without the revision (that is the key's mod_revision).
std::string StoredValue(model::Resource resource) {
  resource.metadata.resource_version.clear();
  return model::EncodeJson(resource);
}

}  // namespace

ResourceStore::ResourceStore(Datastore& store)
    : store_(store), endpoint_claims_(std::make_unique<EndpointClaims>(store)) {
  guards_.push_back({model::Kind::kWorkloadEndpoint, endpoint_claims_.get()});
}

ResourceStore::~ResourceStore() = default;

std::string ResourceStore::KindPrefix(model::Kind kind) {
  return fmt::format("{}{}/", kResourcePrefix, Lower(model::KindName(kind)));
}

std::string ResourceStore::Key(const ResourceId& id) {
  if (model::IsNamespaced(id.kind)) {
    return fmt::format("{}{}/{}", KindPrefix(id.kind), id.namespace_name, id.name);
  }
  return KindPrefix(id.kind) + id.name;
}

std::optional<ResourceId> ResourceStore::ParseKey(const std::string& key) {
  std::string_view rest(key);
  std::string_view prefix(kResourcePrefix);
  if (rest.substr(0, prefix.size()) != prefix) return std::nullopt;
  rest.remove_prefix(prefix.size());
  size_t slash = rest.find('/');
  if (slash == std::string_view::npos) return std::nullopt;
  std::string_view kind_name = rest.substr(0, slash);
  rest.remove_prefix(slash + 1);
  for (model::Kind kind : model::AllKinds()) {
    if (Lower(model::KindName(kind)) != kind_name) continue;
    ResourceId id{kind, "", ""};
    if (model::IsNamespaced(kind)) {
      size_t next = rest.find('/');
      if (next == std::string_view::npos) return std::nullopt;
      id.namespace_name = std::string(rest.substr(0, next));
      rest.remove_prefix(next + 1);
    }
    if (rest.empty() || rest.find('/') != std::string_view::npos) return std::nullopt;
    id.name = std::string(rest);
    return id;
  }
  return std::nullopt;
}

ResourceId ResourceStore::IdOf(const model::Resource& resource) {
  return ResourceId{resource.kind,
                    model::IsNamespaced(resource.kind) ? resource.metadata.namespace_name : "",
                    resource.metadata.name};
}

absl::StatusOr<model::Resource> ResourceStore::Decode(const KeyValue& kv) {
  auto decoded = model::DecodeStored(kv.value);
  if (!decoded.ok()) {
    return Annotate(decoded.status(), fmt::format("stored value of {} is invalid", kv.key));
  }
  decoded->metadata.resource_version = std::to_string(kv.mod_revision);
  return decoded;
}

absl::StatusOr<std::optional<model::Resource>> ResourceStore::Get(const ResourceId& id) {
  ASSIGN_OR_RETURN(auto kv, store_.Get(Key(id)));
  if (!kv) return std::optional<model::Resource>();
  ASSIGN_OR_RETURN(auto resource, Decode(*kv));
  return std::optional<model::Resource>(std::move(resource));
}

absl::StatusOr<Revision> ResourceStore::ForEachUnder(const std::string& prefix,
                                                     const ResourceVisitor& visit) {
  return store_.ListEach(prefix, [&](KeyValue&& kv) -> absl::Status {
    ASSIGN_OR_RETURN(auto resource, Decode(kv));
    return visit(std::move(resource));
  });
}

absl::StatusOr<std::vector<model::Resource>> ResourceStore::List(
    model::Kind kind, const std::string& namespace_name) {
  std::string prefix = KindPrefix(kind);
  if (model::IsNamespaced(kind) && !namespace_name.empty()) prefix += namespace_name + "/";
  std::vector<model::Resource> out;
  RETURN_IF_ERROR(ForEachUnder(prefix, [&](model::Resource&& resource) {
                    out.push_back(std::move(resource));
                    return absl::OkStatus();
                  }).status());
  return out;
}

absl::StatusOr<ResourceStore::Snapshot> ResourceStore::ListAll() {
  Snapshot snapshot;
  ASSIGN_OR_RETURN(snapshot.revision, ForEach([&](model::Resource&& resource) {
                     snapshot.resources.push_back(std::move(resource));
                     return absl::OkStatus();
                   }));
  return snapshot;
}

absl::StatusOr<Revision> ResourceStore::ForEach(const ResourceVisitor& visit) {
  return ForEachUnder(kResourcePrefix, visit);
}

absl::StatusOr<Revision> ResourceStore::ForEachOfKind(model::Kind kind,
                                                      const ResourceVisitor& visit) {
  return ForEachUnder(KindPrefix(kind), visit);
}

WriteGuard* ResourceStore::GuardOf(model::Kind kind) const {
  for (const auto& [guarded, guard] : guards_) {
    if (guarded == kind) return guard;
  }
  return nullptr;
}

absl::StatusOr<Revision> ResourceStore::Commit(const std::string& key, Revision expected,
                                               const std::optional<std::string>& value,
                                               const std::optional<model::Resource>& stored,
                                               const std::optional<model::Resource>& proposed) {
  model::Kind kind = proposed ? proposed->kind : stored->kind;
  WriteGuard* guard = GuardOf(kind);
  if (guard == nullptr) {
    // The common case: one key, no transaction needed.
    if (!value) return store_.Delete(key, expected);
    if (expected == 0) return store_.Create(key, *value);
    return store_.Update(key, *value, expected);
  }
  ASSIGN_OR_RETURN(WriteGuard::Conditions conditions, guard->Check(stored, proposed));
  conditions.compares.push_back({key, expected});
  conditions.ops.push_back(value ? TxnOp::Put(key, *value) : TxnOp::Delete(key));
  return store_.Txn(conditions.compares, conditions.ops);
}

absl::StatusOr<model::Resource> ResourceStore::Write(model::Resource resource, bool allow_create,
                                                     bool allow_replace) {
  model::ApplyDefaults(resource);
  RETURN_IF_ERROR(model::Validate(resource));
  ResourceId id = IdOf(resource);
  std::string key = Key(id);
  std::string display = model::DisplayName(resource);
  // A blind apply retries when it loses a race with another writer; a replace that names a
  // resourceVersion does not (the caller asked for that version, and the next read says so).
  for (int attempt = 0; attempt < 10; ++attempt) {
    ASSIGN_OR_RETURN(auto existing, store_.Get(key));
    if (!existing) {
      if (!allow_create) return absl::NotFoundError(fmt::format("{} does not exist", display));
      resource.metadata.uid = resource.metadata.uid.empty() ? RandomUuid() : resource.metadata.uid;
      if (resource.metadata.creation_timestamp.empty()) {
        resource.metadata.creation_timestamp = NowRfc3339();
      }
      auto revision = Commit(key, 0, StoredValue(resource), std::nullopt, resource);
      if (revision.status().code() == absl::StatusCode::kAlreadyExists ||
          revision.status().code() == absl::StatusCode::kAborted) {
        continue;  // someone else created it, or what the guard read changed: look again
      }
      RETURN_IF_ERROR(Annotate(revision.status(), fmt::format("cannot create {}", display)));
      resource.metadata.resource_version = std::to_string(*revision);
      return resource;
    }
    if (!allow_replace) return absl::AlreadyExistsError(fmt::format("{} already exists", display));
    Revision expected = existing->mod_revision;
    bool pinned = !resource.metadata.resource_version.empty();
    if (pinned) {
      expected = std::strtoll(resource.metadata.resource_version.c_str(), nullptr, 10);
      if (expected != existing->mod_revision) {
        return absl::AbortedError(fmt::format(
            "{} was modified (resourceVersion {} is not the current {}); get it again and retry",
            display, resource.metadata.resource_version, existing->mod_revision));
      }
    }
    // Identity fields belong to the stored object.
    auto stored = model::DecodeStored(existing->value);
    if (stored.ok()) {
      resource.metadata.uid = stored->metadata.uid;
      resource.metadata.creation_timestamp = stored->metadata.creation_timestamp;
    }
    auto revision = Commit(key, expected, StoredValue(resource),
                           stored.ok() ? std::optional(*stored) : std::nullopt, resource);
    if (revision.status().code() == absl::StatusCode::kAborted) continue;
    RETURN_IF_ERROR(Annotate(revision.status(), fmt::format("cannot update {}", display)));
    resource.metadata.resource_version = std::to_string(*revision);
    return resource;
  }
  return absl::AbortedError(
      fmt::format("cannot write {}: too many concurrent modifications", display));
}

absl::StatusOr<model::Resource> ResourceStore::Create(model::Resource resource) {
  resource.metadata.resource_version.clear();
  return Write(std::move(resource), true, false);
}

absl::StatusOr<model::Resource> ResourceStore::Replace(model::Resource resource) {
  return Write(std::move(resource), false, true);
}

absl::StatusOr<model::Resource> ResourceStore::Apply(model::Resource resource) {
  resource.metadata.resource_version.clear();
  return Write(std::move(resource), true, true);
}

absl::Status ResourceStore::Delete(const ResourceId& id, Revision expected_revision) {
  const std::string key = Key(id);
  auto not_found = [&] {
    return absl::NotFoundError(
        fmt::format("{} {} does not exist", model::KindName(id.kind),
                    id.namespace_name.empty() ? id.name : id.namespace_name + "/" + id.name));
  };
  if (GuardOf(id.kind) == nullptr) {
    auto revision = store_.Delete(key, expected_revision);
    if (revision.status().code() == absl::StatusCode::kNotFound) return not_found();
    return revision.status();
  }
  // Guarded: the guard sees what is being deleted, and a lost race checks again.
  for (int attempt = 0; attempt < 10; ++attempt) {
    ASSIGN_OR_RETURN(auto existing, store_.Get(key));
    if (!existing) return not_found();
    if (expected_revision > 0 && existing->mod_revision != expected_revision) {
      return absl::AbortedError(fmt::format("{} is at revision {}, not {}", key,
                                            existing->mod_revision, expected_revision));
    }
    ASSIGN_OR_RETURN(model::Resource stored, Decode(*existing));
    auto revision = Commit(key, existing->mod_revision, std::nullopt, stored, std::nullopt);
    if (revision.status().code() == absl::StatusCode::kAborted) continue;
    return revision.status();
  }
  return absl::AbortedError(
      fmt::format("cannot delete {}: too many concurrent modifications", key));
}

absl::StatusOr<ResourceEvent> ResourceStore::DecodeEvent(const Event& event) {
  auto id = ParseKey(event.kv.key);
  if (!id) return absl::InvalidArgumentError(fmt::format("not a resource key: {}", event.kv.key));
  ResourceEvent out{*id, std::nullopt, event.kv.mod_revision};
  if (event.type == Event::Type::kDelete) return out;
  auto decoded = model::DecodeStored(event.kv.value);
  if (!decoded.ok()) {
    return Annotate(decoded.status(), fmt::format("stored value of {} is invalid", event.kv.key));
  }
  decoded->metadata.resource_version = std::to_string(event.kv.mod_revision);
  out.resource = std::move(*decoded);
  return out;
}

}  // namespace tabby::datastore
