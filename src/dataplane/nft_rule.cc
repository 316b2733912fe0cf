#include "dataplane/nft_rule.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <linux/netfilter/nf_tables.h>

#include <array>

namespace tabby::dataplane {
namespace {

using Source = NftFieldInfo::Source;

// nft's datatype ids (nftables include/datatype.h), which it reads back to print set elements.
constexpr uint32_t kTypeIpAddr = 7, kTypeIp6Addr = 8, kTypeInetProtocol = 12, kTypeInetService = 13,
                   kTypeIcmpType = 14, kTypeMark = 19, kTypeCtState = 26, kTypeIcmp6Type = 29,
                   kTypeIcmpCode = 32, kTypeIcmpv6Code = 33, kTypeIfname = 41, kTypeNfproto = 2;

constexpr std::array<NftFieldInfo, 16> kFields = {{
    {"iifname", Source::kMeta, NFT_META_IIFNAME, 0, 16, kTypeIfname, false, 0, 0},
    {"oifname", Source::kMeta, NFT_META_OIFNAME, 0, 16, kTypeIfname, false, 0, 0},
    {"meta nfproto", Source::kMeta, NFT_META_NFPROTO, 0, 1, kTypeNfproto, false, 0, 0},
    {"meta l4proto", Source::kMeta, NFT_META_L4PROTO, 0, 1, kTypeInetProtocol, true, 0, 0},
    {"meta mark", Source::kMeta, NFT_META_MARK, 0, 4, kTypeMark, false, 0, 0},
    {"ct state", Source::kCt, NFT_CT_STATE, 0, 4, kTypeCtState, false, 0, 0},
    {"ip saddr", Source::kPayload, NFT_PAYLOAD_NETWORK_HEADER, 12, 4, kTypeIpAddr, true, 4, 0},
    {"ip daddr", Source::kPayload, NFT_PAYLOAD_NETWORK_HEADER, 16, 4, kTypeIpAddr, true, 4, 0},
    {"ip6 saddr", Source::kPayload, NFT_PAYLOAD_NETWORK_HEADER, 8, 16, kTypeIp6Addr, true, 6, 0},
    {"ip6 daddr", Source::kPayload, NFT_PAYLOAD_NETWORK_HEADER, 24, 16, kTypeIp6Addr, true, 6, 0},
    {"th sport", Source::kPayload, NFT_PAYLOAD_TRANSPORT_HEADER, 0, 2, kTypeInetService, true, 0,
     0},
    {"th dport", Source::kPayload, NFT_PAYLOAD_TRANSPORT_HEADER, 2, 2, kTypeInetService, true, 0,
     0},
    {"icmp type", Source::kPayload, NFT_PAYLOAD_TRANSPORT_HEADER, 0, 1, kTypeIcmpType, true, 4, 1},
    {"icmp code", Source::kPayload, NFT_PAYLOAD_TRANSPORT_HEADER, 1, 1, kTypeIcmpCode, true, 4, 1},
    {"icmpv6 type", Source::kPayload, NFT_PAYLOAD_TRANSPORT_HEADER, 0, 1, kTypeIcmp6Type, true, 6,
     58},
    {"icmpv6 code", Source::kPayload, NFT_PAYLOAD_TRANSPORT_HEADER, 1, 1, kTypeIcmpv6Code, true, 6,
     58},
}};
static_assert(kFields.size() == static_cast<size_t>(NftField::kIcmp6Code) + 1);

std::string FieldsText(const std::vector<NftField>& fields) {
  std::vector<std::string> names;
  for (NftField f : fields) names.push_back(FieldInfo(f).text);
  return fmt::format("{}", fmt::join(names, " . "));
}

std::string Operator(bool negate) { return negate ? "!= " : ""; }

std::string NetText(const IpNetwork& net) {
  return net.is_host() ? net.address().ToString() : net.ToString();
}

// The last address of a network (all host bits set).
std::vector<uint8_t> LastAddress(const IpNetwork& net) {
  std::vector<uint8_t> bytes = AddressKey(net.Masked().address());
  for (int bit = net.prefix_length(); bit < net.address().bit_length(); ++bit) {
    bytes[bit / 8] |= static_cast<uint8_t>(0x80 >> (bit % 8));
  }
  return bytes;
}

NftStmt Make(NftStmt::Kind kind, std::string text) {
  NftStmt s;
  s.kind = kind;
  s.text = std::move(text);
  return s;
}

}  // namespace

const NftFieldInfo& FieldInfo(NftField field) { return kFields[static_cast<size_t>(field)]; }

std::string ProtocolName(uint8_t number) {
  switch (number) {
    case 1:
      return "icmp";
    case 6:
      return "tcp";
    case 17:
      return "udp";
    case 58:
      return "ipv6-icmp";
    case 132:
      return "sctp";
    case 136:
      return "udplite";
    default:
      return std::to_string(number);
  }
}

std::vector<uint8_t> InterfaceNameKey(const std::string& name) {
  std::vector<uint8_t> key(16, 0);
  for (size_t i = 0; i < name.size() && i < 15; ++i) key[i] = static_cast<uint8_t>(name[i]);
  return key;
}

std::vector<uint8_t> AddressKey(const IpAddress& address) {
  return std::vector<uint8_t>(address.bytes(), address.bytes() + address.byte_length());
}

std::vector<uint8_t> PortKey(uint16_t port) {
  return {static_cast<uint8_t>(port >> 8), static_cast<uint8_t>(port & 0xff)};
}

void AppendPadded(std::vector<uint8_t>& key, const std::vector<uint8_t>& field) {
  key.insert(key.end(), field.begin(), field.end());
  while (key.size() % 4 != 0) key.push_back(0);
}

NftStmt MatchNfproto(int family) {
  NftStmt s =
      Make(NftStmt::Kind::kCompare, family == 4 ? "meta nfproto ipv4" : "meta nfproto ipv6");
  s.fields = {NftField::kNfproto};
  s.value = {static_cast<uint8_t>(family == 4 ? 2 /* NFPROTO_IPV4 */ : 10 /* NFPROTO_IPV6 */)};
  return s;
}

NftStmt MatchL4proto(uint8_t protocol, bool negate) {
  NftStmt s = Make(NftStmt::Kind::kCompare,
                   fmt::format("meta l4proto {}{}", Operator(negate), ProtocolName(protocol)));
  s.fields = {NftField::kL4proto};
  s.negate = negate;
  s.value = {protocol};
  return s;
}

NftStmt MatchByte(NftField field, uint8_t value, bool negate) {
  NftStmt s = Make(NftStmt::Kind::kCompare,
                   fmt::format("{} {}{}", FieldInfo(field).text, Operator(negate), value));
  s.fields = {field};
  s.negate = negate;
  s.value = {value};
  return s;
}

NftStmt MatchInterfaceName(NftField field, const std::string& name) {
  NftStmt s = Make(NftStmt::Kind::kCompare, fmt::format("{} \"{}\"", FieldInfo(field).text, name));
  s.fields = {field};
  if (!name.empty() && name.back() == '*') {
    // A wildcard compares only the prefix's bytes.
    s.value.assign(name.begin(), name.end() - 1);
  } else {
    s.value = InterfaceNameKey(name);
  }
  return s;
}

NftStmt MatchCtState(uint32_t states, const std::string& text) {
  NftStmt s = Make(NftStmt::Kind::kBitTest, "ct state " + text);
  s.fields = {NftField::kCtState};
  s.mask = states;
  return s;
}

NftStmt MatchNets(NftField field, const std::vector<IpNetwork>& nets, bool negate) {
  if (nets.size() == 1) {
    const IpNetwork net = nets[0].Masked();
    NftStmt s = Make(net.is_host() ? NftStmt::Kind::kCompare : NftStmt::Kind::kPrefix,
                     fmt::format("{} {}{}", FieldInfo(field).text, Operator(negate), NetText(net)));
    s.fields = {field};
    s.negate = negate;
    s.value = AddressKey(net.address());
    s.prefix_bits = net.prefix_length();
    return s;
  }
  std::vector<std::string> items;
  NftStmt s;
  s.kind = NftStmt::Kind::kAnonSet;
  s.fields = {field};
  s.negate = negate;
  s.interval = true;
  for (const IpNetwork& net : nets) {
    items.push_back(NetText(net));
    s.elements.push_back({AddressKey(net.Masked().address()), LastAddress(net)});
  }
  s.text =
      fmt::format("{} {}{{ {} }}", FieldInfo(field).text, Operator(negate), fmt::join(items, ", "));
  return s;
}

NftStmt MatchPorts(NftField field, const std::vector<std::pair<uint16_t, uint16_t>>& ranges,
                   bool negate) {
  auto item = [](const std::pair<uint16_t, uint16_t>& r) {
    return r.first == r.second ? std::to_string(r.first) : fmt::format("{}-{}", r.first, r.second);
  };
  NftStmt s;
  s.fields = {field};
  s.negate = negate;
  if (ranges.size() == 1) {
    const auto& r = ranges[0];
    s.kind = r.first == r.second ? NftStmt::Kind::kCompare : NftStmt::Kind::kRange;
    s.value = PortKey(r.first);
    s.value_end = PortKey(r.second);
    s.text = fmt::format("{} {}{}", FieldInfo(field).text, Operator(negate), item(r));
    return s;
  }
  s.kind = NftStmt::Kind::kAnonSet;
  s.interval = true;
  std::vector<std::string> items;
  for (const auto& r : ranges) {
    items.push_back(item(r));
    s.elements.push_back({PortKey(r.first), PortKey(r.second)});
  }
  s.text =
      fmt::format("{} {}{{ {} }}", FieldInfo(field).text, Operator(negate), fmt::join(items, ", "));
  return s;
}

NftStmt MatchNamedSet(std::vector<NftField> fields, const std::string& set, bool negate) {
  NftStmt s = Make(NftStmt::Kind::kNamedSet,
                   fmt::format("{} {}@{}", FieldsText(fields), Operator(negate), set));
  s.fields = std::move(fields);
  s.negate = negate;
  s.name = set;
  return s;
}

NftStmt MatchValues(std::vector<NftField> fields, const std::vector<std::vector<uint8_t>>& keys,
                    const std::vector<std::string>& element_texts, bool negate) {
  NftStmt s =
      Make(NftStmt::Kind::kAnonSet, fmt::format("{} {}{{ {} }}", FieldsText(fields),
                                                Operator(negate), fmt::join(element_texts, ", ")));
  s.fields = std::move(fields);
  s.negate = negate;
  for (const auto& key : keys) s.elements.push_back({key, key});
  return s;
}

NftStmt VerdictMap(NftField field, const std::string& map) {
  NftStmt s = Make(NftStmt::Kind::kVmap, fmt::format("{} vmap @{}", FieldInfo(field).text, map));
  s.fields = {field};
  s.name = map;
  return s;
}

NftStmt MarkTest(uint32_t mask) {
  NftStmt s = Make(NftStmt::Kind::kBitTest, fmt::format("meta mark & 0x{:08x} != 0", mask));
  s.fields = {NftField::kMark};
  s.mask = mask;
  return s;
}

NftStmt MarkAnd(uint32_t mask) {
  NftStmt s =
      Make(NftStmt::Kind::kMarkAnd, fmt::format("meta mark set meta mark & 0x{:08x}", mask));
  s.mask = mask;
  return s;
}

NftStmt MarkOr(uint32_t bits) {
  NftStmt s = Make(NftStmt::Kind::kMarkOr, fmt::format("meta mark set meta mark | 0x{:08x}", bits));
  s.mask = bits;
  return s;
}

NftStmt Counter() { return Make(NftStmt::Kind::kCounter, "counter"); }

NftStmt NamedCounter(const std::string& name) {
  NftStmt s = Make(NftStmt::Kind::kNamedCounter, fmt::format("counter name \"{}\"", name));
  s.name = name;
  return s;
}

NftStmt Log(const std::string& prefix) {
  NftStmt s = Make(NftStmt::Kind::kLog, fmt::format("log prefix \"{}\"", prefix));
  s.name = prefix;
  return s;
}

NftStmt Verdict(NftVerdict verdict, const std::string& chain) {
  std::string text;
  switch (verdict) {
    case NftVerdict::kAccept:
      text = "accept";
      break;
    case NftVerdict::kDrop:
      text = "drop";
      break;
    case NftVerdict::kReturn:
      text = "return";
      break;
    case NftVerdict::kJump:
      text = "jump " + chain;
      break;
    case NftVerdict::kGoto:
      text = "goto " + chain;
      break;
  }
  NftStmt s = Make(NftStmt::Kind::kVerdict, std::move(text));
  s.verdict = verdict;
  s.name = chain;
  return s;
}

std::string RuleText(const std::vector<NftStmt>& stmts) {
  std::string out;
  for (const auto& s : stmts) {
    if (s.text.empty()) continue;
    if (!out.empty()) out += ' ';
    out += s.text;
  }
  return out;
}

}  // namespace tabby::dataplane
