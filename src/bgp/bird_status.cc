#include "bgp/bird_status.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <sstream>

#include "bgp/bird_supervisor.h"

namespace tabby::bgp {
namespace {

std::string Trimmed(std::string_view text) {
  const size_t first = text.find_first_not_of(" \t\r\n");
  if (first == std::string_view::npos) return "";
  const size_t last = text.find_last_not_of(" \t\r\n");
  return std::string(text.substr(first, last - first + 1));
}

std::vector<std::string> Words(const std::string& line) {
  std::vector<std::string> words;
  std::istringstream in(line);
  for (std::string word; in >> word;) words.push_back(word);
  return words;
}

}  // namespace

std::vector<BgpSession> ParseBirdProtocols(const std::string& output) {
  std::vector<BgpSession> sessions;
  BgpSession* current = nullptr;
  std::istringstream lines(output);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.empty()) continue;
    if (line[0] != ' ' && line[0] != '\t') {
      // A protocol's summary: Name Proto Table State Since Info, Since being "date time" as
      // the rendered configuration's `timeformat protocol iso long` writes it.
      current = nullptr;
      std::vector<std::string> fields = Words(line);
      if (fields.size() < 4 || fields[1] != "BGP") continue;
      BgpSession& session = sessions.emplace_back();
      session.protocol = fields[0];
      session.state = fields[3];
      size_t info_from = 4;
      if (fields.size() > 4) {
        session.since = fields[4];
        info_from = 5;
        if (fields.size() > 5 && fields[5].find(':') != std::string::npos &&
            fields[4].find('-') != std::string::npos) {
          session.since += " " + fields[5];
          info_from = 6;
        }
      }
      std::vector<std::string> info(fields.begin() + std::min(info_from, fields.size()),
                                    fields.end());
      session.info = fmt::format("{}", fmt::join(info, " "));
      current = &session;
      continue;
    }
    if (current == nullptr) continue;
    const size_t colon = line.find(':');
    if (colon == std::string::npos) continue;
    const std::string key = Trimmed(std::string_view(line).substr(0, colon));
    const std::string value = Trimmed(std::string_view(line).substr(colon + 1));
    if (key == "Description") {
      current->description = value;
    } else if (key == "Neighbor address") {
      current->peer_address = value;
    } else if (key == "Neighbor AS") {
      current->peer_as = value;
    } else if (key == "Local AS") {
      current->local_as = value;
    } else if (key == "BGP state") {
      current->bgp_state = value;
    } else if (key == "Last error") {
      current->last_error = value;
    }
  }
  return sessions;
}

absl::StatusOr<std::vector<BgpSession>> ReadBgpSessions(const std::string& birdc,
                                                        const std::string& socket) {
  ProgramResult result = RunProgram({birdc, "-r", "-s", socket, "show", "protocols", "all"});
  // birdc exits 0 even when it cannot connect; what it printed tells.
  if (result.exit_code != 0 || result.output.find("BIRD") == std::string::npos ||
      result.output.find("Unable to connect") != std::string::npos) {
    return absl::UnavailableError(
        fmt::format("no BIRD answers at {}: {}", socket,
                    Trimmed(result.output.empty() ? "birdc did not run" : result.output)));
  }
  return ParseBirdProtocols(result.output);
}

}  // namespace tabby::bgp
