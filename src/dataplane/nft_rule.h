// One nftables rule as tabby writes it: a list of statements, each carrying both the nft text a
// human reads (`nft list`, the rule's hash, tests) and what the netlink encoder needs (fields,
// operators and values as the kernel compares them, in register layout). The text and the bytes
// come from the same factory call, so they cannot drift apart; the encoder (nft_netlink.cc) adds
// the protocol dependencies nft would add (`meta nfproto` before an IP header field, `meta
// l4proto` before an ICMP one) so that a rule means in the kernel exactly what its text says.
// Pure: no kernel access.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "base/ip.h"

namespace tabby::dataplane {

// What a statement reads from the packet.
enum class NftField : uint8_t {
  kIifname,
  kOifname,
  kNfproto,
  kL4proto,
  kMark,
  kCtState,
  kIpSaddr,
  kIpDaddr,
  kIp6Saddr,
  kIp6Daddr,
  kThSport,
  kThDport,
  kIcmpType,
  kIcmpCode,
  kIcmp6Type,
  kIcmp6Code,
};

// How the kernel loads a field, and how nft describes it.
struct NftFieldInfo {
  const char* text;  // "ip saddr"
  enum class Source : uint8_t { kMeta, kCt, kPayload } source;
  uint32_t key;         // NFT_META_* / NFT_CT_* / NFT_PAYLOAD_*_HEADER
  uint32_t offset;      // payload only
  uint32_t length;      // bytes in the register
  uint32_t datatype;    // nft's datatype id, for the sets it keys
  bool big_endian;      // byte order of the value (for the sets it keys)
  int family;           // 4 or 6 when only that family has the field (a dependency), else 0
  uint8_t l4_protocol;  // the transport protocol the field needs (a dependency), else 0
};
const NftFieldInfo& FieldInfo(NftField field);

// One element of an anonymous set: a key, and for interval sets the inclusive end of the range
// it starts (equal to the key for a single value).
struct NftSetElement {
  std::vector<uint8_t> key, key_end;
};

enum class NftVerdict : uint8_t { kAccept, kDrop, kReturn, kJump, kGoto };

struct NftStmt {
  enum class Kind : uint8_t {
    kCompare,   // field == / != value (value may be a prefix of the field: an ifname wildcard)
    kPrefix,    // address field in / not in one network (prefix_bits < the address length)
    kRange,     // field within / outside [value, value_end]
    kAnonSet,   // fields (a concatenation) in / not in an anonymous constant set
    kNamedSet,  // fields (a concatenation) in / not in the set `name`
    kVmap,      // field looked up in verdict map `name`
    kBitTest,   // field & mask != 0 (meta mark, ct state)
    kMarkAnd,   // meta mark set meta mark & mask
    kMarkOr,    // meta mark set meta mark | mask
    kCounter,   // anonymous counter
    kNamedCounter,
    kLog,  // log prefix `name`
    kVerdict,
  };
  Kind kind = Kind::kCounter;
  std::vector<NftField> fields;
  bool negate = false;
  std::vector<uint8_t> value, value_end;
  int prefix_bits = 0;
  bool interval = false;  // anonymous set with ranges
  std::vector<NftSetElement> elements;
  std::string name;  // set, map, counter, chain, or log prefix
  uint32_t mask = 0;
  NftVerdict verdict = NftVerdict::kAccept;
  std::string text;
};

// Factories: each sets the statement's text as the renderer has always written it.
NftStmt MatchNfproto(int family);                                     // meta nfproto ipv4
NftStmt MatchL4proto(uint8_t protocol, bool negate);                  // meta l4proto tcp / != tcp
NftStmt MatchByte(NftField field, uint8_t value, bool negate);        // icmp type 3 / != 3
NftStmt MatchInterfaceName(NftField field, const std::string& name);  // iifname "tabby*"
NftStmt MatchCtState(uint32_t states, const std::string& text);  // ct state established,related
// One network: equality for a host, a prefix match otherwise; several: an anonymous interval
// set. `nets` non-empty, all of the field's family, none covering another.
NftStmt MatchNets(NftField field, const std::vector<IpNetwork>& nets, bool negate);
// Merged, sorted, non-overlapping ranges: one port, one range, or an anonymous interval set.
NftStmt MatchPorts(NftField field, const std::vector<std::pair<uint16_t, uint16_t>>& ranges,
                   bool negate);
// `fields` looked up in a named set: `ip saddr @s`, `iifname . ip saddr @s`, ...
NftStmt MatchNamedSet(std::vector<NftField> fields, const std::string& set, bool negate);
// A constant set of concatenated single values (`meta l4proto . th dport { tcp . 22 }`);
// `element_texts` are the items as nft prints them, in the order of `keys`.
NftStmt MatchValues(std::vector<NftField> fields, const std::vector<std::vector<uint8_t>>& keys,
                    const std::vector<std::string>& element_texts, bool negate);
NftStmt VerdictMap(NftField field, const std::string& map);
NftStmt MarkTest(uint32_t mask);
NftStmt MarkAnd(uint32_t mask);
NftStmt MarkOr(uint32_t bits);
NftStmt Counter();
NftStmt NamedCounter(const std::string& name);
NftStmt Log(const std::string& prefix);
NftStmt Verdict(NftVerdict verdict, const std::string& chain = "");

// The statements' texts joined by spaces.
std::string RuleText(const std::vector<NftStmt>& stmts);

// Field values in register layout.
std::vector<uint8_t> InterfaceNameKey(const std::string& name);  // 16 bytes, NUL-padded
std::vector<uint8_t> AddressKey(const IpAddress& address);
std::vector<uint8_t> PortKey(uint16_t port);  // network order
// A concatenation's fields each take a multiple of 4 bytes.
void AppendPadded(std::vector<uint8_t>& key, const std::vector<uint8_t>& field);

std::string ProtocolName(uint8_t number);

}  // namespace tabby::dataplane
