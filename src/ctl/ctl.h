// tabbyctl, the operator's command-line tool, as a library: RunCtl is the whole program minus
// argv and the process environment, so tests run it in-process against a temporary datastore.
//
// Commands follow kubectl and calicoctl:
//   apply|create|replace -f FILE|DIR|- ...       write resources from YAML/JSON
//   delete -f FILE|DIR|- ... | delete KIND NAME... [-n NS] [-s]
//   get KIND [NAME...] [-n NS | -A] [-o wide|yaml|json|name]
//   label KIND NAME key=value... key-... [--overwrite] [-n NS]
//   version
// Global flag: --datastore URL (else $TABBY_DATASTORE, else datastore::kDefaultDatastoreUrl).
//
// Input is all-or-nothing up front: every document of every file is read, decoded and validated
// before the first write, so bad input changes nothing. Writes go in model::AllKinds() order
// (reverse for delete), one line per resource on stdout, kubectl style:
//   ippool.tabby.dev/pool-a created | configured | unchanged | replaced | deleted
// A write that fails after others succeeded reports "Partial success: applied the first N out of
// M resources" on stderr. Errors go to stderr as "Error: ..."; the exit code is 0 on success and
// 1 on any error, usage errors included.
#pragma once

#include <functional>
#include <iosfwd>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "datastore/datastore.h"

namespace tabby::ctl {

// What RunCtl takes from the process, injectable for tests.
struct CtlEnvironment {
  // Environment lookup: the value of a variable, or nullopt when unset.
  std::function<std::optional<std::string>(const std::string& name)> getenv;
  // Opens the datastore at a URL (datastore::Open in the real program).
  std::function<absl::StatusOr<std::unique_ptr<datastore::Datastore>>(const std::string& url)>
      open_datastore;

  // The real process environment and datastore::Open.
  static CtlEnvironment System();
};

// The datastore URL: `flag` when non-empty, else $TABBY_DATASTORE when set and non-empty, else
// datastore::kDefaultDatastoreUrl (datastore::ResolveUrl with an injected getenv).
std::string ResolveDatastoreUrl(const std::string& flag, const CtlEnvironment& env);

// Runs tabbyctl with `args` (argv without the program name). Reads stdin (for `-f -`) from `in`,
// writes results to `out` and errors to `err`. Returns the exit code.
int RunCtl(const std::vector<std::string>& args, std::istream& in, std::ostream& out,
           std::ostream& err, const CtlEnvironment& env);

}  // namespace tabby::ctl
