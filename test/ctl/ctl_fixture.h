// tabbyctl run in-process (ctl::RunCtl) against a SQLite datastore in a temporary directory.
#pragma once

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "ctl/ctl.h"
#include "datastore/datastore.h"
#include "datastore/resource_store.h"
#include "model/resources.h"
#include "support/temp_dir.h"

namespace tabby::ctl {

using model::Kind;
using model::Resource;

// A pool both test files write.
inline constexpr char kPool[] = R"(apiVersion: tabby.dev/v1
kind: IPPool
metadata:
  name: pool-a
spec:
  cidr: 10.10.0.0/16
)";

inline std::string Docs(std::initializer_list<std::string_view> docs) {
  std::string out;
  for (std::string_view doc : docs) {
    out += "---\n";
    out += doc;
  }
  return out;
}

struct Result {
  int code = -1;
  std::string out;
  std::string err;
};

inline std::ostream& operator<<(std::ostream& os, const Result& result) {
  return os << "exit " << result.code << "\nstdout:\n" << result.out << "stderr:\n" << result.err;
}

class CtlTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<test::TempDir> dir = test::TempDir::Create();
    ASSERT_TRUE(dir.ok()) << dir.status();
    dir_.emplace(std::move(*dir));
    url_ = "sqlite://" + dir_->File("t.db");
    vars_["TABBY_DATASTORE"] = url_;
    env_.getenv = [this](const std::string& name) -> std::optional<std::string> {
      auto it = vars_.find(name);
      if (it == vars_.end()) return std::nullopt;
      return it->second;
    };
    env_.open_datastore = [](const std::string& url) { return datastore::Open(url); };
    ASSERT_TRUE(datastore::Open(url_, {.create = true}).ok());
  }

  Result Run(const std::vector<std::string>& args, const std::string& input = "") {
    std::istringstream in(input);
    std::ostringstream out, err;
    Result result;
    result.code = RunCtl(args, in, out, err, env_);
    result.out = out.str();
    result.err = err.str();
    return result;
  }

  // Writes `content` to `name` under the temporary directory; returns its path.
  std::string WriteFile(const std::string& name, std::string_view content) {
    std::string path = dir_->File(name);
    std::filesystem::create_directories(std::filesystem::path(path).parent_path());
    std::ofstream(path) << content;
    return path;
  }

  // What the datastore holds, read directly.
  std::vector<Resource> Stored(Kind kind, const std::string& namespace_name = "") {
    auto store = datastore::Open(url_);
    EXPECT_TRUE(store.ok()) << store.status();
    if (!store.ok()) return {};
    datastore::ResourceStore resources(**store);
    auto listed = resources.List(kind, namespace_name);
    EXPECT_TRUE(listed.ok()) << listed.status();
    return listed.ok() ? *listed : std::vector<Resource>{};
  }

  std::vector<std::string> StoredNames(Kind kind, const std::string& namespace_name = "") {
    std::vector<std::string> names;
    for (const Resource& r : Stored(kind, namespace_name)) names.push_back(r.metadata.name);
    return names;
  }

  size_t StoredCount() {
    size_t count = 0;
    for (Kind kind : model::AllKinds()) count += Stored(kind).size();
    return count;
  }

  std::optional<test::TempDir> dir_;
  std::string url_;
  std::map<std::string, std::string> vars_;
  CtlEnvironment env_;
};

}  // namespace tabby::ctl
