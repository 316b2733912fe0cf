// BIRD run by tabbyd, or alongside it: writes the configuration, has BIRD check it, loads it
// only when it changed, and starts BIRD again if it died.
//
// BIRD runs as a daemon of its own (its pid in a file), not as a child that dies with tabbyd:
// when tabbyd stops or crashes, BGP sessions and the routes they brought stay, as the kernel's
// rules do, and the next tabbyd adopts the running BIRD.
#pragma once

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace tabby::bgp {

struct BirdOptions {
  enum class Mode {
    kOff,       // no BGP (one host, or VXLAN only)
    kRun,       // tabbyd starts and supervises BIRD
    kExternal,  // the operator runs BIRD; tabbyd writes its configuration and reloads it
  };
  Mode mode = Mode::kOff;
  std::string config_path;  // where the configuration is written
  std::string socket_path;  // BIRD's control socket
  std::string pid_path;     // kRun: BIRD's pid file
  std::string bird = "bird";
  std::string birdc = "birdc";
};

// "off", "run", "external".
absl::StatusOr<BirdOptions::Mode> ParseBirdMode(std::string_view text);

// What a program printed and how it ended.
struct ProgramResult {
  int exit_code = -1;  // -1: did not start or died of a signal
  std::string output;  // stdout and stderr together
};
// Runs `argv` (argv[0] from PATH) to completion. No shell.
ProgramResult RunProgram(const std::vector<std::string>& argv);

class BirdSupervisor {
 public:
  explicit BirdSupervisor(BirdOptions options) : options_(std::move(options)) {}

  // Makes BIRD run `config`: when it differs from what was applied last, checks it with
  // `bird -p` (a refused configuration is an error naming BIRD's complaint, and the running one
  // stays), writes it and reloads BIRD (`birdc configure`). In kRun mode also starts BIRD when
  // it is not running. A no-op in kOff mode.
  absl::Status Apply(const std::string& config);

  // kRun: starts BIRD again if it died (with the last configuration). Cheap otherwise.
  absl::Status Tick();

  // BIRD's pid (kRun) if it runs, else 0.
  int RunningPid() const;

  const BirdOptions& options() const { return options_; }

 private:
  absl::Status Start();
  absl::Status Reload();

  BirdOptions options_;
  std::string applied_;  // the configuration BIRD runs, "" before the first Apply
};

}  // namespace tabby::bgp
