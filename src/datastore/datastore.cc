#include "datastore/datastore.h"

#include <fmt/format.h>

#include <cstdlib>
#include <string_view>

#include "base/status_macros.h"
#include "datastore/cluster_identity.h"
#include "datastore/sqlite_datastore.h"

namespace tabby::datastore {
namespace {

constexpr std::string_view kSqliteScheme = "sqlite://";
constexpr std::string_view kEtcdScheme = "etcd://";
constexpr std::string_view kAcceptedForms =
    "sqlite:///absolute/path/to/file.db or etcd://host:port[,host:port...]";

}  // namespace

absl::StatusOr<std::unique_ptr<Datastore>> Open(const std::string& url, Clock& clock) {
  return Open(url, OpenOptions{.create = false, .clock = &clock});
}

absl::StatusOr<std::unique_ptr<Datastore>> Open(const std::string& url,
                                                const OpenOptions& options) {
  std::string_view view(url);
  std::unique_ptr<Datastore> store;
  if (view.starts_with(kSqliteScheme)) {
    std::string path(view.substr(kSqliteScheme.size()));
    if (path.empty() || path[0] != '/') {
      return absl::InvalidArgumentError(fmt::format(
          "datastore URL \"{}\": a SQLite URL needs an absolute path after sqlite:// (three "
          "slashes in all, as in {}); accepted forms: {}",
          url, kDefaultDatastoreUrl, kAcceptedForms));
    }
    SqliteOptions sqlite;
    sqlite.clock = options.clock != nullptr ? options.clock : &SystemClock::Get();
    sqlite.create = options.create;
    auto opened = SqliteDatastore::Open(path, sqlite);
    if (opened.status().code() == absl::StatusCode::kNotFound) {
      return absl::NotFoundError(fmt::format(
          "datastore {} does not exist ({}); create it with tabbyctl datastore init (tabbyd "
          "creates the default one, {}, when it first starts), or check the URL",
          url, MessageOf(opened.status()), kDefaultDatastoreUrl));
    }
    RETURN_IF_ERROR(Annotate(opened.status(), fmt::format("datastore {}", url)));
    store = std::move(*opened);
  } else if (view.starts_with(kEtcdScheme)) {
    return absl::UnimplementedError(fmt::format(
        "datastore URL \"{}\": etcd backend not built yet; use sqlite:///absolute/path", url));
  } else {
    return absl::InvalidArgumentError(
        fmt::format("unsupported datastore URL \"{}\"; accepted forms: {}", url, kAcceptedForms));
  }
  absl::StatusOr<ClusterIdentity> identity =
      options.create ? InitializeClusterIdentity(*store) : ReadClusterIdentity(*store);
  RETURN_IF_ERROR(Annotate(identity.status(), fmt::format("datastore {}", url)));
  return store;
}

std::string ResolveUrl(const std::string& flag_value) {
  if (!flag_value.empty()) return flag_value;
  const char* env = std::getenv("TABBY_DATASTORE");
  if (env != nullptr && env[0] != '\0') return env;
  return kDefaultDatastoreUrl;
}

}  // namespace tabby::datastore
