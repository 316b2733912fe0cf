// This node's BGP sessions as BIRD reports them (`birdc show protocols all`), for
// `tabbyctl node status`.
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace tabby::bgp {

struct BgpSession {
  std::string protocol;     // BIRD's name: "peer4_192_0_2_2"
  std::string description;  // who the peer is: "node-to-node mesh: host2", "BGPPeer tor"
  std::string peer_address;
  std::string peer_as;
  std::string local_as;
  std::string state;       // BIRD's protocol state: up, start, down, ...
  std::string since;       // when it entered that state
  std::string bgp_state;   // Established, Active, Connect, Idle, ...
  std::string info;        // BIRD's info column
  std::string last_error;  // e.g. "Received: Bad peer AS", "Socket: Connection refused"
};

// The BGP protocols in the output of `birdc show protocols all` (other protocols skipped).
std::vector<BgpSession> ParseBirdProtocols(const std::string& output);

// Asks the BIRD at `socket` (read-only: birdc -r). Unavailable, with what birdc said, when no
// BIRD answers there.
absl::StatusOr<std::vector<BgpSession>> ReadBgpSessions(const std::string& birdc,
                                                        const std::string& socket);

}  // namespace tabby::bgp
