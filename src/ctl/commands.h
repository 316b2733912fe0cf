// tabbyctl's commands, behind RunCtl (ctl.h), and the helpers they share. Each command prints its
// results to `out` and its errors to `err` ("Error: ..." lines) and returns the exit code.
#pragma once

#include <functional>
#include <iosfwd>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "datastore/datastore.h"
#include "datastore/resource_store.h"
#include "model/resources.h"

namespace tabby::ctl {

struct Streams {
  std::istream& in;
  std::ostream& out;
  std::ostream& err;
};

// Opens the datastore when a command first needs it; errors name the URL.
using DatastoreOpener = std::function<absl::StatusOr<std::unique_ptr<datastore::Datastore>>()>;

// --- apply, create, replace, delete ---------------------------------------------------------

enum class WriteVerb { kApply, kCreate, kReplace, kDelete };

struct FileWriteOptions {
  WriteVerb verb = WriteVerb::kApply;
  std::vector<std::string> files;  // -f: files, directories, "-" for stdin
  bool skip_exists = false;        // create --skip-exists
  bool skip_not_exists = false;    // delete --skip-not-exists
};
int RunFileWrite(const FileWriteOptions& options, const DatastoreOpener& open, Streams io);

struct DeleteByNameOptions {
  std::string kind;
  std::vector<std::string> names;
  std::string namespace_name = "default";
  bool skip_not_exists = false;
};
int RunDeleteByName(const DeleteByNameOptions& options, const DatastoreOpener& open, Streams io);

// --- get -------------------------------------------------------------------------------------

struct GetOptions {
  std::string kind;
  std::vector<std::string> names;
  std::string namespace_name = "default";
  bool all_namespaces = false;
  std::string output;  // "" or "ps" (table), "wide", "yaml", "json", "name"
};
int RunGet(const GetOptions& options, const DatastoreOpener& open, Streams io);

// --- label -----------------------------------------------------------------------------------

struct LabelOptions {
  std::string kind;
  std::string name;
  std::vector<std::string> changes;  // key=value (set) or key- (remove)
  bool overwrite = false;
  std::string namespace_name = "default";
};
int RunLabel(const LabelOptions& options, const DatastoreOpener& open, Streams io);

// --- ipam ------------------------------------------------------------------------------------

struct IpamShowOptions {
  bool show_blocks = false;  // each block, its host and how full it is
  std::string ip;            // who holds this address
};
int RunIpamShow(const IpamShowOptions& options, const DatastoreOpener& open, Streams io);

// `ipam check` (repair = false) and `ipam release` (repair = true).
struct IpamRepairOptions {
  absl::Duration grace = absl::Minutes(10);
  std::string node;  // only this node's findings; empty = all
  bool repair = false;
  bool dry_run = false;
  std::string ip;      // release: this one address instead of what the check finds
  bool force = false;  // release --ip: even if a workload endpoint holds it
};
int RunIpamCheck(const IpamRepairOptions& options, const DatastoreOpener& open, Streams io);

struct IpamConfigureOptions {
  std::optional<bool> strict_affinity;
  std::optional<int> max_blocks_per_host;
};
int RunIpamConfigure(const IpamConfigureOptions& options, const DatastoreOpener& open, Streams io);

// --- node ------------------------------------------------------------------------------------

struct NodeDeleteOptions {
  std::string name;
  bool force = false;  // even while its agent keeps it alive
};
// Deletes a node and what it leaves: its workload endpoints, its Node resource and liveness key,
// the addresses IPAM allocated to its workloads, its blocks (released when empty, otherwise
// their affinity dropped). Refuses a node whose agent is alive unless `force`.
int RunNodeDelete(const NodeDeleteOptions& options, const DatastoreOpener& open, Streams io);

struct NodeStatusOptions {
  std::string bird_socket = "/run/tabby/bird.ctl";  // tabbyd's default (<state-dir>/bird.ctl)
  std::string birdc = "birdc";
  std::string output = "table";  // table or json
};
// This host's BGP sessions as its BIRD reports them: peer, who it is, state, since when, and
// why a session is not up. Needs no datastore. Exit code 1 when no BIRD answers.
int RunNodeStatus(const NodeStatusOptions& options, Streams io);

// --- datastore -------------------------------------------------------------------------------

// Creates the datastore at `url` (directory, file, cluster identity) unless it exists; a
// datastore that exists but is corrupt is left alone and reported.
int RunDatastoreInit(const std::string& url, Streams io);
// Its URL, cluster GUID, creation time and current revision.
int RunDatastoreInfo(const std::string& url, const DatastoreOpener& open, Streams io);

// --- policy --------------------------------------------------------------------------------

struct PolicyExplainOptions {
  std::string source;       // namespace/name, name, endpoint name or address
  std::string destination;  // the same
  int port = 80;
  std::string protocol = "TCP";
};
int RunPolicyExplain(const PolicyExplainOptions& options, const DatastoreOpener& open, Streams io);

struct PolicyMatrixOptions {
  std::vector<std::string> namespaces;  // empty: every namespace
  int port = 80;
  std::string protocol = "TCP";
  std::vector<std::string> files;  // -f: changes to show the matrix after (not written)
  std::string output = "table";    // table or json (for scripts)
};
int RunPolicyMatrix(const PolicyMatrixOptions& options, const DatastoreOpener& open, Streams io);

// --- shared helpers --------------------------------------------------------------------------

// Writes "Error: <message>\n" to `err` and returns 1.
int PrintError(std::ostream& err, std::string_view message);

// The kind named by a user (any spelling model::KindFromName accepts), or InvalidArgument that
// lists the valid kinds.
absl::StatusOr<model::Kind> ParseKind(std::string_view name);

// A name or namespace given on the command line: non-empty and without '/' (which would address
// another key). `what` is "name" or "namespace", for the message.
absl::Status CheckName(std::string_view name, std::string_view what);

// "ippool", "globalnetworkpolicy", ...
std::string LowerKindName(model::Kind kind);

// kubectl's name for a resource: "ippool.tabby.dev/pool-a".
std::string ResourceRef(model::Kind kind, std::string_view name);

// `ippool "x" not found`, with ` in namespace "ns"` for namespaced kinds. For the two
// NetworkPolicy kinds (tabby's and Kubernetes'), it names the other one when `store` holds a
// policy of that name: `delete networkpolicy x` most often means the Kubernetes one.
std::string NotFoundMessage(datastore::ResourceStore& store, model::Kind kind,
                            std::string_view namespace_name, std::string_view name);

}  // namespace tabby::ctl
