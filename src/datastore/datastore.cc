#include "datastore/datastore.h"

#include <fmt/format.h>

#include <cstdlib>
#include <string_view>

#include "base/status_macros.h"
#include "datastore/sqlite_datastore.h"

namespace tabby::datastore {
namespace {

constexpr std::string_view kSqliteScheme = "sqlite://";
constexpr std::string_view kEtcdScheme = "etcd://";
constexpr std::string_view kAcceptedForms =
    "sqlite:///absolute/path/to/file.db or etcd://host:port[,host:port...]";

}  // namespace

absl::StatusOr<std::unique_ptr<Datastore>> Open(const std::string& url) {
  return Open(url, SystemClock::Get());
}

absl::StatusOr<std::unique_ptr<Datastore>> Open(const std::string& url, Clock& clock) {
  std::string_view view(url);
  if (view.starts_with(kSqliteScheme)) {
    std::string path(view.substr(kSqliteScheme.size()));
    if (path.empty() || path[0] != '/') {
      return absl::InvalidArgumentError(fmt::format(
          "datastore URL \"{}\": a SQLite URL needs an absolute path after sqlite:// (three "
          "slashes in all, as in {}); accepted forms: {}",
          url, kDefaultDatastoreUrl, kAcceptedForms));
    }
    SqliteOptions options;
    options.clock = &clock;
    ASSIGN_OR_RETURN(std::unique_ptr<SqliteDatastore> store, SqliteDatastore::Open(path, options));
    return std::unique_ptr<Datastore>(std::move(store));
  }
  if (view.starts_with(kEtcdScheme)) {
    return absl::UnimplementedError(fmt::format(
        "datastore URL \"{}\": etcd backend not built yet; use sqlite:///absolute/path", url));
  }
  return absl::InvalidArgumentError(
      fmt::format("unsupported datastore URL \"{}\"; accepted forms: {}", url, kAcceptedForms));
}

std::string ResolveUrl(const std::string& flag_value) {
  if (!flag_value.empty()) return flag_value;
  const char* env = std::getenv("TABBY_DATASTORE");
  if (env != nullptr && env[0] != '\0') return env;
  return kDefaultDatastoreUrl;
}

}  // namespace tabby::datastore
