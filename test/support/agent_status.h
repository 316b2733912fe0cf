// Waiting for tabbyd: it writes the datastore revision it has programmed to
// <state-dir>/status.json after every apply, so a test that changed something waits for the
// revision of its change instead of sleeping.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace tabby::test {

// The revision in `status_file`, or 0 while it does not exist or does not parse.
int64_t AgentRevision(const std::string& status_file);

// Waits until the agent reports `revision` or later; false on timeout.
bool WaitForAgentRevision(const std::string& status_file, int64_t revision,
                          std::chrono::milliseconds timeout = std::chrono::seconds(20));

// The same, and the revision must be of the cluster `cluster_guid` (after the datastore was
// replaced, the old cluster's revisions say nothing). With `pid`, the status must be written by
// that process (a restarted agent finds its predecessor's status in place).
bool WaitForAgentProgrammed(const std::string& status_file, const std::string& cluster_guid,
                            int64_t revision,
                            std::chrono::milliseconds timeout = std::chrono::seconds(20),
                            int pid = 0);

}  // namespace tabby::test
