#include "ctl/input.h"

#include <fmt/format.h>

#include <algorithm>
#include <filesystem>
#include <istream>
#include <iterator>
#include <map>
#include <system_error>

#include "base/files.h"
#include "base/status_macros.h"
#include "datastore/resource_store.h"
#include "model/codec.h"

namespace tabby::ctl {
namespace {

constexpr char kStdinName[] = "<stdin>";

bool IsManifestName(const std::filesystem::path& path) {
  std::string ext = path.extension().string();
  return ext == ".yaml" || ext == ".yml" || ext == ".json";
}

// The files a -f argument stands for, in the order they are read.
absl::StatusOr<std::vector<std::string>> ExpandPath(const std::string& path) {
  std::error_code ec;
  std::filesystem::file_status status = std::filesystem::status(path, ec);
  if (ec || !std::filesystem::exists(status)) {
    return absl::NotFoundError(fmt::format("the path \"{}\" does not exist", path));
  }
  if (!std::filesystem::is_directory(status)) return std::vector<std::string>{path};
  std::vector<std::string> files;
  std::filesystem::directory_iterator it(path, ec);
  for (; !ec && it != std::filesystem::directory_iterator(); it.increment(ec)) {
    std::error_code type_ec;
    if (!it->is_regular_file(type_ec) || !IsManifestName(it->path())) continue;
    files.push_back(it->path().string());
  }
  if (ec) {
    return absl::InternalError(fmt::format("cannot list directory {}: {}", path, ec.message()));
  }
  std::sort(files.begin(), files.end());
  return files;
}

absl::Status DecodeInto(std::string_view text, const std::string& source,
                        std::vector<InputResource>& out) {
  ASSIGN_OR_RETURN(std::vector<model::Resource> resources, model::DecodeDocuments(text, source));
  for (model::Resource& resource : resources) out.push_back({std::move(resource), source});
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::vector<InputResource>> ReadInputs(const std::vector<std::string>& paths,
                                                      std::istream& in) {
  std::vector<InputResource> out;
  bool read_stdin = false;
  for (const std::string& path : paths) {
    if (path == "-") {
      if (read_stdin) return absl::InvalidArgumentError("-f - (stdin) given more than once");
      read_stdin = true;
      std::string text{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
      RETURN_IF_ERROR(DecodeInto(text, kStdinName, out));
      continue;
    }
    ASSIGN_OR_RETURN(std::vector<std::string> files, ExpandPath(path));
    for (const std::string& file : files) {
      ASSIGN_OR_RETURN(std::string text, ReadFile(file));
      RETURN_IF_ERROR(DecodeInto(text, file, out));
    }
  }
  if (out.empty()) {
    return absl::InvalidArgumentError(
        fmt::format("no resources found in {}", fmt::join(paths, ", ")));
  }
  // The same resource twice is almost certainly a mistake, and which one wins would depend on
  // the order of writes: refuse before writing anything.
  std::map<std::string, const InputResource*> seen;
  for (const InputResource& item : out) {
    std::string key = datastore::ResourceStore::Key(datastore::ResourceStore::IdOf(item.resource));
    auto [it, inserted] = seen.emplace(key, &item);
    if (!inserted) {
      return absl::InvalidArgumentError(fmt::format("{} is given more than once (in {} and {})",
                                                    model::DisplayName(item.resource),
                                                    it->second->source, item.source));
    }
  }
  return out;
}

}  // namespace tabby::ctl
