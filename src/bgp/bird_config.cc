#include "bgp/bird_config.h"

#include <fmt/format.h>

#include <algorithm>

#include "base/hash.h"

namespace tabby::bgp {
namespace {

// A BIRD string literal. Validation refuses '"', '\\' and control characters in what reaches
// here (passwords, names); dropping them keeps the file well-formed whatever happens.
std::string Quoted(const std::string& text) {
  std::string out = "\"";
  for (char ch : text) {
    if (ch == '"' || ch == '\\' || static_cast<unsigned char>(ch) < 0x20) continue;
    out += ch;
  }
  return out + "\"";
}

// A BIRD symbol for a peer's protocol: "peer4_192_0_2_6", "peer6_2001_db8__6".
std::string ProtocolName(const IpAddress& address) {
  std::string name = address.is_v4() ? "peer4_" : "peer6_";
  for (char ch : address.ToString()) name += (ch == '.' || ch == ':') ? '_' : ch;
  return name;
}

// `[ a, b ]`: exactly these prefixes; with `within`, `[ a+, b+ ]`: these and everything inside.
std::string PrefixSet(const std::vector<IpNetwork>& networks, bool v4, bool within = false) {
  std::vector<std::string> items;
  for (const IpNetwork& network : networks) {
    if (network.is_v4() == v4) items.push_back(network.Masked().ToString() + (within ? "+" : ""));
  }
  std::sort(items.begin(), items.end());
  // BIRD has no empty prefix set: an unused documentation prefix stands in.
  if (items.empty()) items.push_back(v4 ? "192.0.2.0/32" : "2001:db8::/128");
  return fmt::format("[ {} ]", fmt::join(items, ", "));
}

std::string RouterIdText(uint32_t id) {
  return fmt::format("{}.{}.{}.{}", id >> 24, (id >> 16) & 0xff, (id >> 8) & 0xff, id & 0xff);
}

}  // namespace

uint32_t RouterIdFromName(const std::string& node) {
  uint32_t id = static_cast<uint32_t>(StableHash64(node));
  if ((id >> 24) == 0) id |= 0x01000000;
  return id;
}

std::string RenderBirdConfig(const BirdConfigInput& input) {
  std::string out;
  auto line = [&out](std::string_view text) {
    out += text;
    out += '\n';
  };
  line(fmt::format("# BIRD configuration of node {}, written by tabbyd from the datastore.",
                   input.node));
  line("# Do not edit: tabbyd rewrites it whenever nodes, peers or blocks change.");
  line(fmt::format("router id {};", RouterIdText(input.router_id)));
  line("# Unambiguous times for `tabbyctl node status` (birdc show protocols).");
  line("timeformat protocol iso long;");
  line("");
  line(fmt::format("define TABBY_BLOCKS4 = {};", PrefixSet(input.blocks, true)));
  line(fmt::format("define TABBY_BLOCKS6 = {};", PrefixSet(input.blocks, false)));
  line(fmt::format("define TABBY_IN_BLOCKS4 = {};", PrefixSet(input.blocks, true, true)));
  line(fmt::format("define TABBY_IN_BLOCKS6 = {};", PrefixSet(input.blocks, false, true)));
  line("# Link-local addresses (the workloads' gateway 169.254.1.1) are never announced.");
  line("define TABBY_LINK_LOCAL4 = [ 169.254.0.0/16+ ];");
  line("define TABBY_LINK_LOCAL6 = [ fe80::/10+ ];");
  line("");
  line("protocol device { scan time 10; }");
  line("");
  line("# Connected subnets, to resolve peers' next hops; never exported anywhere.");
  line("protocol direct {");
  line("  ipv4;");
  line("  ipv6;");
  line("  interface \"-tabby*\", \"*\";");
  line("}");
  line("");
  line(fmt::format("# From the kernel: what tabbyd installs (protocol {}) and default routes.",
                   kTabbyRouteProtocol));
  line("filter tabby_learn {");
  line(fmt::format("  if krt_source = {} then accept;", kTabbyRouteProtocol));
  line("  if net.len = 0 then accept;");
  line("  reject;");
  line("}");
  for (bool v4 : {true, false}) {
    const std::string family = v4 ? "4" : "6";
    const int host_length = v4 ? 32 : 128;
    line(fmt::format(
        "# To peers: this host's blocks, the workload addresses outside them (borrowed), and "
        "the advertised prefixes{}.",
        v4 ? "" : " (IPv6)"));
    // What this host announces of its own: in both export filters.
    const std::string own_rules = fmt::format(
        "  if proto = \"tabby_advertise{0}\" then accept;\n"
        "  if net ~ TABBY_BLOCKS{0} && dest = RTD_BLACKHOLE then accept;\n"
        "  if proto = \"kernel{0}\" && net.len = {1} && !(net ~ TABBY_IN_BLOCKS{0}) && "
        "!(net ~ TABBY_LINK_LOCAL{0}) then accept;\n"
        "  reject;\n"
        "}}\n",
        family, host_length);
    out += fmt::format("filter tabby_export_own{} {{\n{}", family, own_rules);
    line("# To iBGP peers also what BGP brought (a route reflector passes it on).");
    out += fmt::format("filter tabby_export_ibgp{} {{\n  if source = RTS_BGP then accept;\n{}",
                       family, own_rules);
    line(fmt::format("# Into the kernel: what peers announce{}, nothing else.",
                     v4 ? ", except inside VXLAN pools (tabbyd routes those itself)" : " (IPv6)"));
    line(fmt::format("define TABBY_TUNNELLED{} = {};", family,
                     PrefixSet(input.tunnelled, v4, /*within=*/true)));
    line(fmt::format("filter tabby_to_kernel{} {{", family));
    line(fmt::format("  if net ~ TABBY_TUNNELLED{} then reject;", family));
    line("  if source = RTS_BGP then accept;");
    line("  reject;");
    line("}");
    line(fmt::format("protocol kernel kernel{} {{", family));
    line(fmt::format("  ipv{0} {{ import filter tabby_learn; export filter tabby_to_kernel{0}; }};",
                     family));
    line("  learn;");
    line("  merge paths on;");
    line("  scan time 10;");
    line("}");
    line(fmt::format("protocol static tabby_advertise{} {{", family));
    line(fmt::format("  ipv{};", family));
    for (const IpNetwork& prefix : input.advertised) {
      if (prefix.is_v4() == v4)
        line(fmt::format("  route {} blackhole;", prefix.Masked().ToString()));
    }
    line("}");
  }
  line("");
  line("template bgp tabby_peer {");
  line(fmt::format("  local as {};", input.as_number));
  line("  graceful restart;");
  line("  connect delay time 2;");
  line("  connect retry time 5;");
  line("  error wait time 5, 30;");
  if (input.debug) line("  debug all;");
  line("}");
  for (const BirdPeer& peer : input.peers) {
    const bool v4 = peer.address.is_v4();
    const std::optional<IpAddress>& source = v4 ? input.ipv4_source : input.ipv6_source;
    if (!source) continue;  // no address of the peer's family here: no session possible
    const int64_t local_as = peer.local_as_number != 0 ? peer.local_as_number : input.as_number;
    const bool ibgp = peer.as_number == local_as;
    const std::string family = v4 ? "4" : "6";
    line("");
    line(fmt::format("protocol bgp {} from tabby_peer {{", ProtocolName(peer.address)));
    if (!peer.description.empty()) line(fmt::format("  description {};", Quoted(peer.description)));
    if (local_as != input.as_number) line(fmt::format("  local as {};", local_as));
    line(fmt::format("  neighbor {}{} as {};", peer.address.ToString(),
                     peer.port != 0 ? fmt::format(" port {}", peer.port) : "", peer.as_number));
    line(fmt::format("  source address {};", source->ToString()));
    if (!peer.password.empty()) line(fmt::format("  password {};", Quoted(peer.password)));
    if (!ibgp) line("  multihop;");
    if (peer.route_reflector_client && !input.route_reflector_cluster_id.empty()) {
      line("  rr client;");
      line(fmt::format("  rr cluster id {};", input.route_reflector_cluster_id));
    }
    line(fmt::format("  ipv{} {{ import all; export filter tabby_export_{}{}; }};", family,
                     ibgp ? "ibgp" : "own", family));
    line("}");
  }
  return out;
}

}  // namespace tabby::bgp
