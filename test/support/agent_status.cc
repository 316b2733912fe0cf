#include "support/agent_status.h"

#include <fstream>
#include <nlohmann/json.hpp>

#include "support/wait.h"

namespace tabby::test {

int64_t AgentRevision(const std::string& status_file) {
  std::ifstream in(status_file);
  nlohmann::json status = nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false);
  if (status.is_discarded()) return 0;
  return status.value("revision", int64_t{0});
}

bool WaitForAgentRevision(const std::string& status_file, int64_t revision,
                          std::chrono::milliseconds timeout) {
  return WaitFor([&] { return AgentRevision(status_file) >= revision; }, timeout);
}

bool WaitForAgentProgrammed(const std::string& status_file, const std::string& cluster_guid,
                            int64_t revision, std::chrono::milliseconds timeout, int pid) {
  return WaitFor(
      [&] {
        std::ifstream in(status_file);
        nlohmann::json status = nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false);
        return !status.is_discarded() && status.value("clusterGUID", "") == cluster_guid &&
               (pid == 0 || status.value("pid", 0) == pid) &&
               status.value("revision", int64_t{0}) >= revision;
      },
      timeout);
}

}  // namespace tabby::test
