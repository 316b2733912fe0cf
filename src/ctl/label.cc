// label.
#include <fmt/format.h>

#include <map>
#include <ostream>

#include "base/status_macros.h"
#include "ctl/commands.h"
#include "datastore/resource_store.h"
#include "model/validate.h"

namespace tabby::ctl {
namespace {

// A compare-and-swap lost to another writer is retried from a fresh read this many times.
constexpr int kMaxAttempts = 5;

struct LabelChanges {
  std::map<std::string, std::string> set;
  std::vector<std::string> remove;
};

absl::StatusOr<LabelChanges> ParseChanges(const std::vector<std::string>& changes) {
  LabelChanges out;
  for (const std::string& change : changes) {
    size_t equals = change.find('=');
    if (equals == std::string::npos && change.size() > 1 && change.back() == '-') {
      std::string key = change.substr(0, change.size() - 1);
      if (std::optional<std::string> why = model::CheckLabelKey(key)) {
        return absl::InvalidArgumentError(fmt::format("invalid label key \"{}\": {}", key, *why));
      }
      out.remove.push_back(std::move(key));
      continue;
    }
    if (equals == std::string::npos) {
      return absl::InvalidArgumentError(fmt::format(
          "invalid label change \"{}\": expected key=value to set or key- to remove", change));
    }
    std::string key = change.substr(0, equals);
    std::string value = change.substr(equals + 1);
    if (std::optional<std::string> why = model::CheckLabelKey(key)) {
      return absl::InvalidArgumentError(fmt::format("invalid label key \"{}\": {}", key, *why));
    }
    if (std::optional<std::string> why = model::CheckLabelValue(value)) {
      return absl::InvalidArgumentError(
          fmt::format("invalid value \"{}\" for label \"{}\": {}", value, key, *why));
    }
    auto [it, inserted] = out.set.emplace(key, value);
    if (!inserted && it->second != value) {
      return absl::InvalidArgumentError(fmt::format(
          "label \"{}\" is given two values (\"{}\" and \"{}\")", key, it->second, value));
    }
  }
  for (const std::string& key : out.remove) {
    if (out.set.count(key) != 0) {
      return absl::InvalidArgumentError(fmt::format("label \"{}\" is both set and removed", key));
    }
  }
  return out;
}

}  // namespace

int RunLabel(const LabelOptions& options, const DatastoreOpener& open, Streams io) {
  absl::StatusOr<model::Kind> kind = ParseKind(options.kind);
  if (!kind.ok()) return PrintError(io.err, MessageOf(kind.status()));
  bool namespaced = model::IsNamespaced(*kind);
  std::string namespace_name = namespaced ? options.namespace_name : "";
  if (absl::Status status = CheckName(options.name, "name"); !status.ok()) {
    return PrintError(io.err, MessageOf(status));
  }
  if (namespaced) {
    if (absl::Status status = CheckName(namespace_name, "namespace"); !status.ok()) {
      return PrintError(io.err, MessageOf(status));
    }
  }
  absl::StatusOr<LabelChanges> changes = ParseChanges(options.changes);
  if (!changes.ok()) return PrintError(io.err, MessageOf(changes.status()));

  absl::StatusOr<std::unique_ptr<datastore::Datastore>> datastore = open();
  if (!datastore.ok()) return PrintError(io.err, MessageOf(datastore.status()));
  datastore::ResourceStore store(**datastore);
  datastore::ResourceId id{*kind, namespace_name, options.name};
  std::string ref = ResourceRef(*kind, options.name);

  for (int attempt = 0; attempt < kMaxAttempts; ++attempt) {
    absl::StatusOr<std::optional<model::Resource>> got = store.Get(id);
    if (!got.ok()) return PrintError(io.err, MessageOf(got.status()));
    if (!*got)
      return PrintError(io.err, NotFoundMessage(store, *kind, namespace_name, options.name));
    model::Resource resource = std::move(**got);
    model::Labels& labels = resource.metadata.labels;
    const model::Labels before = labels;
    for (const auto& [key, value] : changes->set) {
      auto it = labels.find(key);
      if (it != labels.end() && it->second != value && !options.overwrite) {
        return PrintError(
            io.err, fmt::format("'{}' already has a value ({}), and --overwrite is false", key,
                                it->second));
      }
      labels[key] = value;
    }
    for (const std::string& key : changes->remove) {
      if (labels.erase(key) == 0 && attempt == 0) {
        io.err << fmt::format("label \"{}\" not found.\n", key);
      }
    }
    if (labels == before) {
      io.out << ref << " not labeled\n";
      io.out.flush();
      return 0;
    }
    // Replace with the resourceVersion just read: a concurrent change makes this kAborted
    // instead of being overwritten, and the loop re-reads.
    absl::Status status = store.Replace(std::move(resource)).status();
    if (status.code() == absl::StatusCode::kAborted) continue;
    if (status.code() == absl::StatusCode::kNotFound) {
      return PrintError(io.err, NotFoundMessage(store, *kind, namespace_name, options.name));
    }
    if (!status.ok()) return PrintError(io.err, MessageOf(status));
    io.out << ref << " labeled\n";
    io.out.flush();
    return 0;
  }
  return PrintError(io.err, fmt::format("cannot label {}: it kept changing during {} attempts", ref,
                                        kMaxAttempts));
}

}  // namespace tabby::ctl
