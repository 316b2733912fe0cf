// apply, create, replace and delete.
#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <ostream>

#include "base/status_macros.h"
#include "ctl/commands.h"
#include "ctl/input.h"
#include "datastore/resource_store.h"
#include "ipam/pool_guard.h"

namespace tabby::ctl {
namespace {

using datastore::ResourceStore;
using model::Resource;

std::string_view PastTense(WriteVerb verb) {
  switch (verb) {
    case WriteVerb::kApply:
      return "applied";
    case WriteVerb::kCreate:
      return "created";
    case WriteVerb::kReplace:
      return "replaced";
    case WriteVerb::kDelete:
      return "deleted";
  }
  return "written";
}

std::string_view Gerund(WriteVerb verb) {
  switch (verb) {
    case WriteVerb::kApply:
      return "applying";
    case WriteVerb::kCreate:
      return "creating";
    case WriteVerb::kReplace:
      return "replacing";
    case WriteVerb::kDelete:
      return "deleting";
  }
  return "writing";
}

size_t KindRank(model::Kind kind) {
  const std::vector<model::Kind>& kinds = model::AllKinds();
  return static_cast<size_t>(std::find(kinds.begin(), kinds.end(), kind) - kinds.begin());
}

// Dependencies first (pools before policies before endpoints); delete undoes in reverse. Within a
// kind the input order is kept.
void OrderForWrite(std::vector<InputResource>& items, WriteVerb verb) {
  std::stable_sort(items.begin(), items.end(),
                   [verb](const InputResource& a, const InputResource& b) {
                     size_t ra = KindRank(a.resource.kind), rb = KindRank(b.resource.kind);
                     return verb == WriteVerb::kDelete ? ra > rb : ra < rb;
                   });
}

// Whether applying `input` over `stored` would change anything the user controls.
bool SameContent(Resource input, Resource stored) {
  for (Resource* r : {&input, &stored}) {
    r->api_version.clear();
    r->metadata.resource_version.clear();
    r->metadata.uid.clear();
    r->metadata.creation_timestamp.clear();
  }
  return input == stored;
}

struct WriteSettings {
  WriteVerb verb = WriteVerb::kApply;
  bool skip_exists = false;
  bool skip_not_exists = false;
};

// Writes one resource. Returns what happened, for the output line ("created", ...), or "" when
// nothing is to be printed (delete of an absent resource with --skip-not-exists).
absl::StatusOr<std::string> WriteOne(ResourceStore& store, const Resource& resource,
                                     const WriteSettings& settings) {
  datastore::ResourceId id = ResourceStore::IdOf(resource);
  switch (settings.verb) {
    case WriteVerb::kApply: {
      ASSIGN_OR_RETURN(std::optional<Resource> existing, store.Get(id));
      if (existing && SameContent(resource, *existing)) return std::string("unchanged");
      RETURN_IF_ERROR(store.Apply(resource).status());
      return std::string(existing ? "configured" : "created");
    }
    case WriteVerb::kCreate: {
      absl::Status status = store.Create(resource).status();
      if (status.code() == absl::StatusCode::kAlreadyExists && settings.skip_exists) {
        return std::string("already exists, skipped");
      }
      RETURN_IF_ERROR(status);
      return std::string("created");
    }
    case WriteVerb::kReplace:
      RETURN_IF_ERROR(store.Replace(resource).status());
      return std::string("replaced");
    case WriteVerb::kDelete: {
      // A resourceVersion (as `get -o yaml` prints) makes the delete conditional, as in calicoctl.
      datastore::Revision expected = 0;
      const std::string& version = resource.metadata.resource_version;
      if (!version.empty())
        std::from_chars(version.data(), version.data() + version.size(), expected);
      absl::Status status = store.Delete(id, expected);
      if (status.code() == absl::StatusCode::kNotFound) {
        if (settings.skip_not_exists) return std::string();
        return absl::NotFoundError(NotFoundMessage(store, id.kind, id.namespace_name, id.name));
      }
      if (status.code() == absl::StatusCode::kAborted) {
        return absl::AbortedError(fmt::format(
            "{} was modified (resourceVersion {} is no longer current); get it again and retry",
            model::DisplayName(resource), version));
      }
      RETURN_IF_ERROR(status);
      return std::string("deleted");
    }
  }
  return absl::InternalError("unknown write");
}

int WriteAll(std::vector<InputResource> items, const WriteSettings& settings,
             const DatastoreOpener& open, Streams io) {
  OrderForWrite(items, settings.verb);
  absl::StatusOr<std::unique_ptr<datastore::Datastore>> datastore = open();
  if (!datastore.ok()) return PrintError(io.err, MessageOf(datastore.status()));
  ResourceStore store(**datastore);
  // IP pools may not change under allocated addresses; see ipam/pool_guard.h.
  ipam::PoolGuard pool_guard(**datastore);
  store.Guard(model::Kind::kIPPool, pool_guard);
  int missing = 0;
  for (size_t i = 0; i < items.size(); ++i) {
    const InputResource& item = items[i];
    absl::StatusOr<std::string> outcome = WriteOne(store, item.resource, settings);
    // As kubectl: a delete goes on past what does not exist, says so, and fails at the end.
    if (settings.verb == WriteVerb::kDelete &&
        outcome.status().code() == absl::StatusCode::kNotFound) {
      PrintError(io.err, MessageOf(outcome.status()));
      ++missing;
      continue;
    }
    if (!outcome.ok()) {
      if (i > 0) {
        io.err << fmt::format("Partial success: {} the first {} out of {} resources\n",
                              PastTense(settings.verb), i, items.size());
      }
      if (item.source.empty()) return PrintError(io.err, MessageOf(outcome.status()));
      return PrintError(io.err, fmt::format("error when {} \"{}\": {}", Gerund(settings.verb),
                                            item.source, MessageOf(outcome.status())));
    }
    if (outcome->empty()) continue;
    io.out << ResourceRef(item.resource.kind, item.resource.metadata.name) << " " << *outcome
           << "\n";
  }
  io.out.flush();
  return missing > 0 ? 1 : 0;
}

}  // namespace

int RunFileWrite(const FileWriteOptions& options, const DatastoreOpener& open, Streams io) {
  // Everything is read and validated before the datastore is even opened.
  absl::StatusOr<std::vector<InputResource>> items = ReadInputs(options.files, io.in);
  if (!items.ok()) return PrintError(io.err, MessageOf(items.status()));
  WriteSettings settings{options.verb, options.skip_exists, options.skip_not_exists};
  return WriteAll(std::move(*items), settings, open, io);
}

int RunDeleteByName(const DeleteByNameOptions& options, const DatastoreOpener& open, Streams io) {
  absl::StatusOr<model::Kind> kind = ParseKind(options.kind);
  if (!kind.ok()) return PrintError(io.err, MessageOf(kind.status()));
  if (options.names.empty()) {
    return PrintError(io.err,
                      fmt::format("no name given: use tabbyctl delete {} NAME...", options.kind));
  }
  bool namespaced = model::IsNamespaced(*kind);
  std::vector<InputResource> items;
  for (const std::string& name : options.names) {
    if (absl::Status status = CheckName(name, "name"); !status.ok()) {
      return PrintError(io.err, MessageOf(status));
    }
    items.push_back(
        {model::MakeResource(*kind, name, namespaced ? options.namespace_name : ""), ""});
  }
  if (namespaced) {
    if (absl::Status status = CheckName(options.namespace_name, "namespace"); !status.ok()) {
      return PrintError(io.err, MessageOf(status));
    }
  }
  WriteSettings settings{WriteVerb::kDelete, false, options.skip_not_exists};
  return WriteAll(std::move(items), settings, open, io);
}

}  // namespace tabby::ctl
