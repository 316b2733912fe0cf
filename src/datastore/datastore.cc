#include "datastore/datastore.h"

#include <fmt/format.h>

#include <cstdlib>
#include <string_view>
#include <utility>

#include "base/status_macros.h"
#include "datastore/cluster_identity.h"
#include "datastore/etcd_datastore.h"
#include "datastore/sqlite_datastore.h"

namespace tabby::datastore {
namespace {

constexpr std::string_view kSqliteScheme = "sqlite://";
constexpr std::string_view kEtcdScheme = "etcd://";
constexpr std::string_view kEtcdTlsScheme = "etcds://";
constexpr std::string_view kAcceptedForms =
    "sqlite:///absolute/path/to/file.db, etcd://host:port[,host:port...] or "
    "etcds://host:port[,...][?ca=FILE&cert=FILE&key=FILE]";

}  // namespace

absl::StatusOr<Revision> Datastore::ListEach(const std::string& prefix, const Visitor& visit) {
  ASSIGN_OR_RETURN(ListResult listing, List(prefix));
  for (auto& kv : listing.items) RETURN_IF_ERROR(visit(std::move(kv)));
  return listing.revision;
}

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
  } else if (view.starts_with(kEtcdScheme) || view.starts_with(kEtcdTlsScheme)) {
    ASSIGN_OR_RETURN(EtcdOptions etcd, ParseEtcdUrl(url));
    if (options.request_timeout > absl::ZeroDuration()) {
      etcd.request_timeout = options.request_timeout;
    }
    auto opened = EtcdDatastore::Connect(etcd);
    RETURN_IF_ERROR(Annotate(opened.status(), fmt::format("datastore {}", url)));
    store = std::move(*opened);
  } else {
    return absl::InvalidArgumentError(
        fmt::format("unsupported datastore URL \"{}\"; accepted forms: {}", url, kAcceptedForms));
  }
  absl::StatusOr<ClusterIdentity> identity =
      options.create ? InitializeClusterIdentity(*store) : ReadClusterIdentity(*store);
  RETURN_IF_ERROR(Annotate(identity.status(), fmt::format("datastore {}", url)));
  return store;
}

absl::StatusOr<std::string> WithEtcdTlsFiles(const std::string& url, const std::string& ca_file,
                                             const std::string& cert_file,
                                             const std::string& key_file) {
  if (ca_file.empty() && cert_file.empty() && key_file.empty()) return url;
  if (!std::string_view(url).starts_with(kEtcdTlsScheme)) {
    return absl::InvalidArgumentError(fmt::format(
        "--etcd-ca, --etcd-cert and --etcd-key are for an etcds:// datastore, not \"{}\"", url));
  }
  std::string out = url;
  const size_t query = url.find('?');
  // "&ca=...&key=...&": each given parameter appears as "&name=".
  const std::string present = query == std::string::npos
                                  ? ""
                                  : fmt::format("&{}&", std::string_view(url).substr(query + 1));
  for (auto [name, file] :
       {std::pair{"ca", &ca_file}, std::pair{"cert", &cert_file}, std::pair{"key", &key_file}}) {
    if (file->empty() || present.find(fmt::format("&{}=", name)) != std::string::npos) continue;
    out += out.find('?') == std::string::npos ? '?' : '&';
    out += fmt::format("{}={}", name, *file);
  }
  return out;
}

std::string ResolveUrl(const std::string& flag_value) {
  if (!flag_value.empty()) return flag_value;
  const char* env = std::getenv("TABBY_DATASTORE");
  if (env != nullptr && env[0] != '\0') return env;
  return kDefaultDatastoreUrl;
}

}  // namespace tabby::datastore
