#include "dataplane/nft_netlink.h"

#include <fmt/format.h>
#include <libmnl/libmnl.h>
#include <libnftnl/chain.h>
#include <libnftnl/common.h>
#include <libnftnl/expr.h>
#include <libnftnl/object.h>
#include <libnftnl/rule.h>
#include <libnftnl/set.h>
#include <libnftnl/table.h>
#include <libnftnl/udata.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>

#include <algorithm>
#include <cstring>
#include <functional>
#include <map>
#include <memory>
#include <optional>

#include "dataplane/kernel_table.h"

namespace tabby::dataplane {
namespace {

// Set elements per netlink message, as libnftables sends them.
constexpr size_t kElementsPerMessage = 1024;
// One message at its largest: a rule's expressions, or kElementsPerMessage elements of the
// widest key (an interval on interface name and IPv6 address) with their attributes.
constexpr size_t kMessageBuffer = 1 << 18;

template <typename T, void (*Free)(const T*)>
struct Deleter {
  void operator()(T* p) const { Free(p); }
};
using Rule = std::unique_ptr<nftnl_rule, Deleter<nftnl_rule, nftnl_rule_free>>;
using Set = std::unique_ptr<nftnl_set, Deleter<nftnl_set, nftnl_set_free>>;
using Chain = std::unique_ptr<nftnl_chain, Deleter<nftnl_chain, nftnl_chain_free>>;
using Table = std::unique_ptr<nftnl_table, Deleter<nftnl_table, nftnl_table_free>>;
using Object = std::unique_ptr<nftnl_obj, Deleter<nftnl_obj, nftnl_obj_free>>;
using Udata = std::unique_ptr<nftnl_udata_buf, Deleter<nftnl_udata_buf, nftnl_udata_buf_free>>;

int FamilyNumber(const std::string& family) {
  if (family == "inet") return NFPROTO_INET;
  if (family == "ip") return NFPROTO_IPV4;
  if (family == "ip6") return NFPROTO_IPV6;
  return -1;
}

// Appends messages to one batch, numbering them.
class BatchWriter {
 public:
  BatchWriter(uint16_t family, uint32_t first_seq) : family_(family), seq_(first_seq) {
    out_.begin_seq = seq_;
    Append(nftnl_batch_begin(scratch_.data(), seq_++));
  }

  // A message header in the scratch buffer, for the caller to fill and then Commit.
  nlmsghdr* Start(uint16_t type, uint16_t flags) {
    return nftnl_nlmsg_build_hdr(scratch_.data(), type, family_, flags, seq_);
  }
  void Commit(nlmsghdr* nlh, uint32_t op) {
    out_.last_seq = seq_++;
    out_.op_of_message.push_back(op);
    last_message_ = out_.bytes.size();
    Append(nlh);
  }

  NetlinkBatch Finish() && {
    if (!out_.op_of_message.empty()) {
      // Only the last message asks for an acknowledgement: errors come back unasked, so the
      // ack of the last one (delivered after the commit) says the whole batch is done.
      reinterpret_cast<nlmsghdr*>(out_.bytes.data() + last_message_)->nlmsg_flags |= NLM_F_ACK;
    }
    Append(nftnl_batch_end(scratch_.data(), seq_++));
    return std::move(out_);
  }

  uint32_t NextSetId() { return ++set_id_; }

 private:
  void Append(const nlmsghdr* nlh) {
    const char* begin = reinterpret_cast<const char*>(nlh);
    out_.bytes.insert(out_.bytes.end(), begin, begin + MNL_ALIGN(nlh->nlmsg_len));
  }

  uint16_t family_;
  uint32_t seq_;
  uint32_t set_id_ = 0;
  size_t last_message_ = 0;
  std::vector<char> scratch_ = std::vector<char>(kMessageBuffer);
  NetlinkBatch out_;
};

// --- Expressions ------------------------------------------------------------------------------

class RuleBuilder {
 public:
  explicit RuleBuilder(nftnl_rule* rule) : rule_(rule) {}

  void Expr(const char* name, const std::function<void(nftnl_expr*)>& fill) {
    nftnl_expr* e = nftnl_expr_alloc(name);
    fill(e);
    nftnl_rule_add_expr(rule_, e);
  }

  // Loads `field` into register `reg`.
  void Load(NftField field, uint32_t reg) {
    const NftFieldInfo& info = FieldInfo(field);
    switch (info.source) {
      case NftFieldInfo::Source::kMeta:
        Expr("meta", [&](nftnl_expr* e) {
          nftnl_expr_set_u32(e, NFTNL_EXPR_META_KEY, info.key);
          nftnl_expr_set_u32(e, NFTNL_EXPR_META_DREG, reg);
        });
        return;
      case NftFieldInfo::Source::kCt:
        Expr("ct", [&](nftnl_expr* e) {
          nftnl_expr_set_u32(e, NFTNL_EXPR_CT_KEY, info.key);
          nftnl_expr_set_u32(e, NFTNL_EXPR_CT_DREG, reg);
        });
        return;
      case NftFieldInfo::Source::kPayload:
        LoadPayload(info, info.length, reg);
        return;
    }
  }
  void LoadPayload(const NftFieldInfo& info, uint32_t length, uint32_t reg) {
    Expr("payload", [&](nftnl_expr* e) {
      nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_DREG, reg);
      nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_BASE, info.key);
      nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_OFFSET, info.offset);
      nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_LEN, length);
    });
  }
  // Loads a concatenation the way nft does: each field at the next 4-byte boundary; a field
  // that starts a 16-byte register is named by it. Returns the first field's register.
  uint32_t LoadConcatenation(const std::vector<NftField>& fields) {
    uint32_t word = 0;
    for (NftField f : fields) {
      Load(f, word % 4 == 0 ? NFT_REG_1 + word / 4 : NFT_REG32_00 + word);
      word += (FieldInfo(f).length + 3) / 4;
    }
    return NFT_REG_1;
  }

  void Compare(uint32_t op, const std::vector<uint8_t>& data) {
    Expr("cmp", [&](nftnl_expr* e) {
      nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_SREG, NFT_REG_1);
      nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_OP, op);
      nftnl_expr_set(e, NFTNL_EXPR_CMP_DATA, data.data(), static_cast<uint32_t>(data.size()));
    });
  }
  void Bitwise(const std::vector<uint8_t>& mask, const std::vector<uint8_t>& x) {
    Expr("bitwise", [&](nftnl_expr* e) {
      nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_SREG, NFT_REG_1);
      nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_DREG, NFT_REG_1);
      nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_LEN, static_cast<uint32_t>(mask.size()));
      nftnl_expr_set(e, NFTNL_EXPR_BITWISE_MASK, mask.data(), static_cast<uint32_t>(mask.size()));
      nftnl_expr_set(e, NFTNL_EXPR_BITWISE_XOR, x.data(), static_cast<uint32_t>(x.size()));
    });
  }
  void Lookup(const std::string& set, uint32_t set_id, bool negate, bool verdict_map) {
    Expr("lookup", [&](nftnl_expr* e) {
      nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_SREG, NFT_REG_1);
      nftnl_expr_set_str(e, NFTNL_EXPR_LOOKUP_SET, set.c_str());
      if (set_id != 0) nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_SET_ID, set_id);
      if (verdict_map) nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_DREG, NFT_REG_VERDICT);
      if (negate) nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_FLAGS, NFT_LOOKUP_F_INV);
    });
  }

 private:
  nftnl_rule* rule_;
};

std::vector<uint8_t> U32Bytes(uint32_t value) {
  std::vector<uint8_t> out(4);
  std::memcpy(out.data(), &value, 4);
  return out;
}

// nft's concatenated datatype id: each field's id shifted in, 6 bits apiece.
uint32_t KeyType(const std::vector<NftField>& fields) {
  uint32_t type = 0;
  for (NftField f : fields) type = (type << 6) | FieldInfo(f).datatype;
  return type;
}

// One field is its own length; a concatenation's fields each take whole 4-byte registers.
uint32_t KeyLength(const std::vector<NftField>& fields) {
  if (fields.size() == 1) return FieldInfo(fields[0]).length;
  uint32_t length = 0;
  for (NftField f : fields) length += (FieldInfo(f).length + 3) / 4 * 4;
  return length;
}

// Big-endian increment; false when it wrapped (the value was all ones).
bool Increment(std::vector<uint8_t>& bytes) {
  for (size_t i = bytes.size(); i-- > 0;) {
    if (++bytes[i] != 0) return true;
  }
  return false;
}

void SetUserdata(nftnl_set* set, const std::vector<uint8_t>& bytes) {
  nftnl_set_set_data(set, NFTNL_SET_USERDATA, bytes.data(), static_cast<uint32_t>(bytes.size()));
}

// Sends the set elements of `elements` (already in kernel form) as messages of at most
// kElementsPerMessage, for set `name` (and `set_id` when it is created in this batch).
template <typename Fill>
void ElementMessages(BatchWriter& w, const std::string& table, const std::string& name,
                     uint32_t set_id, bool add, size_t count, Fill fill, uint32_t op) {
  for (size_t i = 0; i < count; i += kElementsPerMessage) {
    Set set(nftnl_set_alloc());
    nftnl_set_set_str(set.get(), NFTNL_SET_TABLE, table.c_str());
    nftnl_set_set_str(set.get(), NFTNL_SET_NAME, name.c_str());
    if (set_id != 0) nftnl_set_set_u32(set.get(), NFTNL_SET_ID, set_id);
    for (size_t j = i; j < std::min(count, i + kElementsPerMessage); ++j) {
      nftnl_set_elem* element = nftnl_set_elem_alloc();
      fill(j, element);
      nftnl_set_elem_add(set.get(), element);
    }
    nlmsghdr* nlh = w.Start(add ? NFT_MSG_NEWSETELEM : NFT_MSG_DELSETELEM, add ? NLM_F_CREATE : 0);
    nftnl_set_elems_nlmsg_build_payload(nlh, set.get());
    w.Commit(nlh, op);
  }
}

// An anonymous constant set holding `stmt`'s elements, created in this batch; returns its id.
uint32_t AnonymousSet(BatchWriter& w, const std::string& table, const NftStmt& stmt, uint32_t op) {
  const uint32_t id = w.NextSetId();
  struct Item {
    std::vector<uint8_t> key;
    uint32_t flags = 0;
    bool open = false;  // a range up to the field's largest value: no end element
  };
  std::vector<Item> items;
  if (stmt.interval) {
    // Sorted, adjacent and overlapping ranges merged; each range is its start and the value
    // after its end (flagged as an interval end), with an end at zero first, as nft writes them.
    std::vector<NftSetElement> ranges = stmt.elements;
    std::sort(ranges.begin(), ranges.end(),
              [](const NftSetElement& a, const NftSetElement& b) { return a.key < b.key; });
    std::vector<NftSetElement> merged;
    for (const auto& r : ranges) {
      if (!merged.empty()) {
        std::vector<uint8_t> after = merged.back().key_end;
        if (!Increment(after) || r.key <= after) {
          merged.back().key_end = std::max(merged.back().key_end, r.key_end);
          continue;
        }
      }
      merged.push_back(r);
    }
    const std::vector<uint8_t> zero(merged.front().key.size(), 0);
    if (merged.front().key != zero) items.push_back({zero, NFT_SET_ELEM_INTERVAL_END});
    for (const auto& r : merged) {
      std::vector<uint8_t> end = r.key_end;
      const bool wrapped = !Increment(end);
      items.push_back({r.key, 0, wrapped});
      if (!wrapped) items.push_back({end, NFT_SET_ELEM_INTERVAL_END});
    }
  } else {
    for (const auto& e : stmt.elements) items.push_back({e.key});
  }

  Set set(nftnl_set_alloc());
  nftnl_set_set_str(set.get(), NFTNL_SET_TABLE, table.c_str());
  nftnl_set_set_str(set.get(), NFTNL_SET_NAME, "__set%d");
  nftnl_set_set_u32(set.get(), NFTNL_SET_ID, id);
  nftnl_set_set_u32(set.get(), NFTNL_SET_FLAGS,
                    NFT_SET_ANONYMOUS | NFT_SET_CONSTANT | (stmt.interval ? NFT_SET_INTERVAL : 0));
  nftnl_set_set_u32(set.get(), NFTNL_SET_KEY_TYPE, KeyType(stmt.fields));
  nftnl_set_set_u32(set.get(), NFTNL_SET_KEY_LEN, KeyLength(stmt.fields));
  nftnl_set_set_u32(set.get(), NFTNL_SET_DESC_SIZE, static_cast<uint32_t>(items.size()));
  {
    // The key's byte order, so that nft prints the elements; merged ranges print merged.
    Udata udata(nftnl_udata_buf_alloc(64));
    const bool single = stmt.fields.size() == 1;
    nftnl_udata_put_u32(udata.get(), NFTNL_UDATA_SET_KEYBYTEORDER,
                        !single                                ? 0
                        : FieldInfo(stmt.fields[0]).big_endian ? 2
                                                               : 1);
    if (stmt.interval) nftnl_udata_put_u32(udata.get(), NFTNL_UDATA_SET_MERGE_ELEMENTS, 1);
    nftnl_set_set_data(set.get(), NFTNL_SET_USERDATA, nftnl_udata_buf_data(udata.get()),
                       nftnl_udata_buf_len(udata.get()));
  }
  nlmsghdr* nlh = w.Start(NFT_MSG_NEWSET, NLM_F_CREATE);
  nftnl_set_nlmsg_build_payload(nlh, set.get());
  w.Commit(nlh, op);

  ElementMessages(
      w, table, "__set%d", id, /*add=*/true, items.size(),
      [&](size_t i, nftnl_set_elem* element) {
        nftnl_set_elem_set(element, NFTNL_SET_ELEM_KEY, items[i].key.data(),
                           static_cast<uint32_t>(items[i].key.size()));
        if (items[i].flags != 0)
          nftnl_set_elem_set_u32(element, NFTNL_SET_ELEM_FLAGS, items[i].flags);
        if (items[i].open) {
          Udata udata(nftnl_udata_buf_alloc(16));
          nftnl_udata_put_u32(udata.get(), NFTNL_UDATA_SET_ELEM_FLAGS,
                              NFTNL_SET_ELEM_F_INTERVAL_OPEN);
          nftnl_set_elem_set(element, NFTNL_SET_ELEM_USERDATA, nftnl_udata_buf_data(udata.get()),
                             nftnl_udata_buf_len(udata.get()));
        }
      },
      op);
  return id;
}

uint32_t VerdictCode(NftVerdict verdict) {
  switch (verdict) {
    case NftVerdict::kAccept:
      return NF_ACCEPT;
    case NftVerdict::kDrop:
      return NF_DROP;
    case NftVerdict::kReturn:
      return static_cast<uint32_t>(NFT_RETURN);
    case NftVerdict::kJump:
      return static_cast<uint32_t>(NFT_JUMP);
    case NftVerdict::kGoto:
      return static_cast<uint32_t>(NFT_GOTO);
  }
  return NF_DROP;
}

// Adds the dependency nft adds before a field that exists only in one family or protocol.
struct Dependencies {
  bool nfproto = false;
  bool l4proto = false;

  void Before(RuleBuilder& b, const NftStmt& stmt) {
    for (NftField f : stmt.fields) {
      const NftFieldInfo& info = FieldInfo(f);
      if (info.l4_protocol != 0 && !l4proto) {
        NeedFamily(b, info.family);
        b.Load(NftField::kL4proto, NFT_REG_1);
        b.Compare(NFT_CMP_EQ, {info.l4_protocol});
        l4proto = true;
      } else if (info.family != 0 && info.l4_protocol == 0) {
        NeedFamily(b, info.family);
      }
    }
  }
  void After(const NftStmt& stmt) {
    if (stmt.kind != NftStmt::Kind::kCompare || stmt.negate || stmt.fields.size() != 1) return;
    if (stmt.fields[0] == NftField::kNfproto) nfproto = true;
    if (stmt.fields[0] == NftField::kL4proto) l4proto = true;
  }

 private:
  void NeedFamily(RuleBuilder& b, int family) {
    if (nfproto || family == 0) return;
    b.Load(NftField::kNfproto, NFT_REG_1);
    b.Compare(NFT_CMP_EQ, {static_cast<uint8_t>(family == 4 ? NFPROTO_IPV4 : NFPROTO_IPV6)});
    nfproto = true;
  }
};

void EncodeStmt(BatchWriter& w, const std::string& table, RuleBuilder& b, const NftStmt& s,
                uint32_t op) {
  const uint32_t cmp = s.negate ? NFT_CMP_NEQ : NFT_CMP_EQ;
  switch (s.kind) {
    case NftStmt::Kind::kCompare:
      b.Load(s.fields[0], NFT_REG_1);
      b.Compare(cmp, s.value);
      return;
    case NftStmt::Kind::kPrefix: {
      const NftFieldInfo& info = FieldInfo(s.fields[0]);
      if (s.prefix_bits > 0 && s.prefix_bits % 8 == 0) {
        // Whole bytes: load and compare only those.
        const auto bytes = static_cast<uint32_t>(s.prefix_bits / 8);
        b.LoadPayload(info, bytes, NFT_REG_1);
        b.Compare(cmp, std::vector<uint8_t>(s.value.begin(), s.value.begin() + bytes));
        return;
      }
      std::vector<uint8_t> mask(s.value.size(), 0);
      for (int bit = 0; bit < s.prefix_bits; ++bit) {
        mask[bit / 8] |= static_cast<uint8_t>(0x80 >> (bit % 8));
      }
      b.Load(s.fields[0], NFT_REG_1);
      b.Bitwise(mask, std::vector<uint8_t>(s.value.size(), 0));
      b.Compare(cmp, s.value);
      return;
    }
    case NftStmt::Kind::kRange:
      b.Load(s.fields[0], NFT_REG_1);
      if (s.negate) {
        b.Expr("range", [&](nftnl_expr* e) {
          nftnl_expr_set_u32(e, NFTNL_EXPR_RANGE_SREG, NFT_REG_1);
          nftnl_expr_set_u32(e, NFTNL_EXPR_RANGE_OP, NFT_RANGE_NEQ);
          nftnl_expr_set(e, NFTNL_EXPR_RANGE_FROM_DATA, s.value.data(),
                         static_cast<uint32_t>(s.value.size()));
          nftnl_expr_set(e, NFTNL_EXPR_RANGE_TO_DATA, s.value_end.data(),
                         static_cast<uint32_t>(s.value_end.size()));
        });
      } else {
        b.Compare(NFT_CMP_GTE, s.value);
        b.Compare(NFT_CMP_LTE, s.value_end);
      }
      return;
    case NftStmt::Kind::kAnonSet: {
      const uint32_t id = AnonymousSet(w, table, s, op);
      b.LoadConcatenation(s.fields);
      b.Lookup("__set%d", id, s.negate, false);
      return;
    }
    case NftStmt::Kind::kNamedSet:
      b.LoadConcatenation(s.fields);
      b.Lookup(s.name, 0, s.negate, false);
      return;
    case NftStmt::Kind::kVmap:
      b.Load(s.fields[0], NFT_REG_1);
      b.Lookup(s.name, 0, false, true);
      return;
    case NftStmt::Kind::kBitTest:
      b.Load(s.fields[0], NFT_REG_1);
      b.Bitwise(U32Bytes(s.mask), U32Bytes(0));
      b.Compare(NFT_CMP_NEQ, U32Bytes(0));
      return;
    case NftStmt::Kind::kMarkAnd:
    case NftStmt::Kind::kMarkOr: {
      const bool is_or = s.kind == NftStmt::Kind::kMarkOr;
      b.Load(NftField::kMark, NFT_REG_1);
      b.Bitwise(U32Bytes(is_or ? ~s.mask : s.mask), U32Bytes(is_or ? s.mask : 0));
      b.Expr("meta", [&](nftnl_expr* e) {
        nftnl_expr_set_u32(e, NFTNL_EXPR_META_KEY, NFT_META_MARK);
        nftnl_expr_set_u32(e, NFTNL_EXPR_META_SREG, NFT_REG_1);
      });
      return;
    }
    case NftStmt::Kind::kCounter:
      b.Expr("counter", [](nftnl_expr*) {});
      return;
    case NftStmt::Kind::kNamedCounter:
      b.Expr("objref", [&](nftnl_expr* e) {
        nftnl_expr_set_u32(e, NFTNL_EXPR_OBJREF_IMM_TYPE, NFT_OBJECT_COUNTER);
        nftnl_expr_set_str(e, NFTNL_EXPR_OBJREF_IMM_NAME, s.name.c_str());
      });
      return;
    case NftStmt::Kind::kLog:
      b.Expr("log",
             [&](nftnl_expr* e) { nftnl_expr_set_str(e, NFTNL_EXPR_LOG_PREFIX, s.name.c_str()); });
      return;
    case NftStmt::Kind::kVerdict:
      b.Expr("immediate", [&](nftnl_expr* e) {
        nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_DREG, NFT_REG_VERDICT);
        nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_VERDICT, VerdictCode(s.verdict));
        if (!s.name.empty()) nftnl_expr_set_str(e, NFTNL_EXPR_IMM_CHAIN, s.name.c_str());
      });
      return;
  }
}

// Whether `b` compares, for equality, the payload bytes right after those `a` compares so.
bool Adjacent(const NftStmt& a, const NftStmt& b) {
  auto payload_equality = [](const NftStmt& s) {
    return s.kind == NftStmt::Kind::kCompare && !s.negate && s.fields.size() == 1 &&
           FieldInfo(s.fields[0]).source == NftFieldInfo::Source::kPayload &&
           s.value.size() == FieldInfo(s.fields[0]).length;
  };
  if (!payload_equality(a) || !payload_equality(b)) return false;
  const NftFieldInfo& x = FieldInfo(a.fields[0]);
  const NftFieldInfo& y = FieldInfo(b.fields[0]);
  return x.key == y.key && x.offset + x.length == y.offset && x.family == y.family;
}

void EncodeRule(BatchWriter& w, const std::string& table, const NftOp& op, uint32_t index) {
  Rule rule(nftnl_rule_alloc());
  nftnl_rule_set_str(rule.get(), NFTNL_RULE_TABLE, table.c_str());
  nftnl_rule_set_str(rule.get(), NFTNL_RULE_CHAIN, op.name.c_str());
  RuleBuilder builder(rule.get());
  Dependencies dependencies;
  const std::vector<NftStmt>& stmts = op.rule.stmts;
  for (size_t i = 0; i < stmts.size(); ++i) {
    dependencies.Before(builder, stmts[i]);
    // Equalities on adjacent bytes of one header are one load and one compare, as nft merges
    // them (`icmp type 3 icmp code 1`).
    size_t end = i + 1;
    while (end < stmts.size() && Adjacent(stmts[end - 1], stmts[end])) ++end;
    if (end > i + 1) {
      const NftFieldInfo& first = FieldInfo(stmts[i].fields[0]);
      std::vector<uint8_t> value;
      for (size_t j = i; j < end; ++j) {
        value.insert(value.end(), stmts[j].value.begin(), stmts[j].value.end());
      }
      builder.LoadPayload(first, static_cast<uint32_t>(value.size()), NFT_REG_1);
      builder.Compare(NFT_CMP_EQ, value);
      i = end - 1;
      continue;
    }
    EncodeStmt(w, table, builder, stmts[i], index);
    dependencies.After(stmts[i]);
  }
  Udata udata(nftnl_udata_buf_alloc(NFTNL_UDATA_COMMENT_MAXLEN + 8));
  nftnl_udata_put_strz(udata.get(), NFTNL_UDATA_RULE_COMMENT, ("tabby:" + op.rule.hash).c_str());
  nftnl_rule_set_data(rule.get(), NFTNL_RULE_USERDATA, nftnl_udata_buf_data(udata.get()),
                      nftnl_udata_buf_len(udata.get()));
  nlmsghdr* nlh = w.Start(NFT_MSG_NEWRULE, NLM_F_CREATE | NLM_F_APPEND);
  nftnl_rule_nlmsg_build_payload(nlh, rule.get());
  w.Commit(nlh, index);
}

// The user data nft writes for the named sets tabby declares (key byte order and, for
// concatenations, their type description), so that `nft list` prints them as it does its own.
std::vector<uint8_t> NamedSetUserdata(SetKind kind) {
  if (kind == SetKind::kAddress) return {0x00, 0x04, 0x02, 0x00, 0x00, 0x00};
  return {0x00, 0x04, 0x00, 0x00, 0x00, 0x00, 0x03, 0x08,
          0x00, 0x04, 0x0d, 0x00, 0x00, 0x00, 0x01, 0x00};
}

void EncodeSet(BatchWriter& w, const std::string& table, const NftOp& op, uint32_t index) {
  Set set(nftnl_set_alloc());
  nftnl_set_set_str(set.get(), NFTNL_SET_TABLE, table.c_str());
  nftnl_set_set_str(set.get(), NFTNL_SET_NAME, op.name.c_str());
  nftnl_set_set_u32(set.get(), NFTNL_SET_ID, w.NextSetId());
  const bool v4 = op.set.family == 4;
  const NftField address = v4 ? NftField::kIpSaddr : NftField::kIp6Saddr;
  std::vector<NftField> fields;
  uint32_t flags = 0;
  switch (op.set.kind) {
    case SetKind::kAddress:
      fields = {address};
      break;
    case SetKind::kPort:
      fields = {address, NftField::kL4proto, NftField::kThDport};
      break;
    case SetKind::kInterfaceVerdictMap:
    case SetKind::kAddressVerdictMap:
      break;  // EncodeMap
    case SetKind::kInterfaceAddress: {
      fields = {NftField::kIifname, address};
      flags = NFT_SET_INTERVAL | NFT_SET_CONCAT;
      const uint8_t lengths[] = {16, static_cast<uint8_t>(v4 ? 4 : 16)};
      nftnl_set_set_data(set.get(), NFTNL_SET_DESC_CONCAT, lengths, sizeof(lengths));
      break;
    }
  }
  nftnl_set_set_u32(set.get(), NFTNL_SET_FLAGS, flags);
  nftnl_set_set_u32(set.get(), NFTNL_SET_KEY_TYPE, KeyType(fields));
  nftnl_set_set_u32(set.get(), NFTNL_SET_KEY_LEN, KeyLength(fields));
  SetUserdata(set.get(), NamedSetUserdata(op.set.kind));
  nlmsghdr* nlh = w.Start(NFT_MSG_NEWSET, NLM_F_CREATE);
  nftnl_set_nlmsg_build_payload(nlh, set.get());
  w.Commit(nlh, index);
}

void EncodeMap(BatchWriter& w, const std::string& table, const NftOp& op, uint32_t index) {
  Set set(nftnl_set_alloc());
  nftnl_set_set_str(set.get(), NFTNL_SET_TABLE, table.c_str());
  nftnl_set_set_str(set.get(), NFTNL_SET_NAME, op.name.c_str());
  nftnl_set_set_u32(set.get(), NFTNL_SET_ID, w.NextSetId());
  nftnl_set_set_u32(set.get(), NFTNL_SET_FLAGS, NFT_SET_MAP);
  const bool by_address = op.set.kind == SetKind::kAddressVerdictMap;
  const NftField key = !by_address          ? NftField::kIifname
                       : op.set.family == 4 ? NftField::kIpSaddr
                                            : NftField::kIp6Saddr;
  nftnl_set_set_u32(set.get(), NFTNL_SET_KEY_TYPE, FieldInfo(key).datatype);
  nftnl_set_set_u32(set.get(), NFTNL_SET_KEY_LEN, FieldInfo(key).length);
  nftnl_set_set_u32(set.get(), NFTNL_SET_DATA_TYPE, NFT_DATA_VERDICT);
  nftnl_set_set_u32(set.get(), NFTNL_SET_DATA_LEN, 0);
  // Key byte order (host for a name, big-endian for an address), data byte order, data not an
  // interval: what nft writes for `type ifname : verdict` and `type ipv4_addr : verdict`.
  SetUserdata(set.get(),
              {0x00, 0x04, static_cast<uint8_t>(by_address ? 0x02 : 0x01), 0x00, 0x00, 0x00, 0x01,
               0x04, 0x00, 0x00, 0x00, 0x00, 0x06, 0x04, 0x00, 0x00, 0x00, 0x00});
  nlmsghdr* nlh = w.Start(NFT_MSG_NEWSET, NLM_F_CREATE);
  nftnl_set_nlmsg_build_payload(nlh, set.get());
  w.Commit(nlh, index);
}

absl::Status EncodeChain(BatchWriter& w, const std::string& table, const NftOp& op,
                         uint32_t index) {
  Chain chain(nftnl_chain_alloc());
  nftnl_chain_set_str(chain.get(), NFTNL_CHAIN_TABLE, table.c_str());
  nftnl_chain_set_str(chain.get(), NFTNL_CHAIN_NAME, op.name.c_str());
  if (!op.hook.empty()) {
    // "filter/forward/10/accept"
    std::vector<std::string> parts;
    const std::string signature = HookSignature(op.hook);
    for (size_t start = 0;;) {
      size_t slash = signature.find('/', start);
      parts.push_back(signature.substr(start, slash - start));
      if (slash == std::string::npos) break;
      start = slash + 1;
    }
    static const std::map<std::string, uint32_t> kHooks = {{"prerouting", NF_INET_PRE_ROUTING},
                                                           {"input", NF_INET_LOCAL_IN},
                                                           {"forward", NF_INET_FORWARD},
                                                           {"output", NF_INET_LOCAL_OUT},
                                                           {"postrouting", NF_INET_POST_ROUTING}};
    auto hook = parts.size() == 4 ? kHooks.find(parts[1]) : kHooks.end();
    if (hook == kHooks.end() || (parts[3] != "accept" && parts[3] != "drop")) {
      return absl::InternalError(fmt::format("cannot encode base chain hook \"{}\"", op.hook));
    }
    nftnl_chain_set_str(chain.get(), NFTNL_CHAIN_TYPE, parts[0].c_str());
    nftnl_chain_set_u32(chain.get(), NFTNL_CHAIN_HOOKNUM, hook->second);
    nftnl_chain_set_s32(chain.get(), NFTNL_CHAIN_PRIO, std::atoi(parts[2].c_str()));
    nftnl_chain_set_u32(chain.get(), NFTNL_CHAIN_POLICY,
                        parts[3] == "accept" ? NF_ACCEPT : NF_DROP);
  }
  nlmsghdr* nlh = w.Start(NFT_MSG_NEWCHAIN, NLM_F_CREATE);
  nftnl_chain_nlmsg_build_payload(nlh, chain.get());
  w.Commit(nlh, index);
  return absl::OkStatus();
}

// "goto fw-x" / "jump x" / "accept" / "drop".
absl::Status SetElementVerdict(nftnl_set_elem* element, const std::string& verdict) {
  auto chain_of = [&](const char* verb) -> std::optional<std::string> {
    std::string prefix = std::string(verb) + " ";
    if (verdict.rfind(prefix, 0) != 0) return std::nullopt;
    return verdict.substr(prefix.size());
  };
  if (auto chain = chain_of("goto")) {
    nftnl_set_elem_set_u32(element, NFTNL_SET_ELEM_VERDICT, static_cast<uint32_t>(NFT_GOTO));
    nftnl_set_elem_set_str(element, NFTNL_SET_ELEM_CHAIN, chain->c_str());
  } else if (auto chain = chain_of("jump")) {
    nftnl_set_elem_set_u32(element, NFTNL_SET_ELEM_VERDICT, static_cast<uint32_t>(NFT_JUMP));
    nftnl_set_elem_set_str(element, NFTNL_SET_ELEM_CHAIN, chain->c_str());
  } else if (verdict == "accept" || verdict == "drop") {
    nftnl_set_elem_set_u32(element, NFTNL_SET_ELEM_VERDICT,
                           verdict == "accept" ? NF_ACCEPT : NF_DROP);
  } else {
    return absl::InternalError(fmt::format("cannot encode map verdict \"{}\"", verdict));
  }
  return absl::OkStatus();
}

absl::Status EncodeElements(BatchWriter& w, const std::string& table, const NftOp& op,
                            uint32_t index) {
  std::vector<ElementBytes> keys;
  keys.reserve(op.elements.size());
  for (const auto& text : op.elements) {
    absl::StatusOr<ElementBytes> key = ElementBytesOf(text);
    if (!key.ok()) {
      return absl::InternalError(
          fmt::format("set {}: {}", op.name, std::string(key.status().message())));
    }
    keys.push_back(*std::move(key));
  }
  absl::Status verdicts = absl::OkStatus();
  const bool add = op.kind == NftOp::Kind::kAddElements;
  ElementMessages(
      w, table, op.name, 0, add, keys.size(),
      [&](size_t i, nftnl_set_elem* element) {
        nftnl_set_elem_set(element, NFTNL_SET_ELEM_KEY, keys[i].key.data(),
                           static_cast<uint32_t>(keys[i].key.size()));
        if (!keys[i].key_end.empty()) {
          nftnl_set_elem_set(element, NFTNL_SET_ELEM_KEY_END, keys[i].key_end.data(),
                             static_cast<uint32_t>(keys[i].key_end.size()));
        }
        if (add && i < op.verdicts.size()) {
          absl::Status s = SetElementVerdict(element, op.verdicts[i]);
          if (verdicts.ok()) verdicts = s;
        }
      },
      index);
  return verdicts;
}

absl::Status EncodeOp(BatchWriter& w, const std::string& table, const NftOp& op, uint32_t index) {
  switch (op.kind) {
    case NftOp::Kind::kAddTable: {
      Table t(nftnl_table_alloc());
      nftnl_table_set_str(t.get(), NFTNL_TABLE_NAME, table.c_str());
      nlmsghdr* nlh = w.Start(NFT_MSG_NEWTABLE, NLM_F_CREATE);
      nftnl_table_nlmsg_build_payload(nlh, t.get());
      w.Commit(nlh, index);
      return absl::OkStatus();
    }
    case NftOp::Kind::kAddCounter: {
      Object counter(nftnl_obj_alloc());
      nftnl_obj_set_str(counter.get(), NFTNL_OBJ_TABLE, table.c_str());
      nftnl_obj_set_str(counter.get(), NFTNL_OBJ_NAME, op.name.c_str());
      nftnl_obj_set_u32(counter.get(), NFTNL_OBJ_TYPE, NFT_OBJECT_COUNTER);
      nlmsghdr* nlh = w.Start(NFT_MSG_NEWOBJ, NLM_F_CREATE);
      nftnl_obj_nlmsg_build_payload(nlh, counter.get());
      w.Commit(nlh, index);
      return absl::OkStatus();
    }
    case NftOp::Kind::kAddSet:
      EncodeSet(w, table, op, index);
      return absl::OkStatus();
    case NftOp::Kind::kAddMap:
      EncodeMap(w, table, op, index);
      return absl::OkStatus();
    case NftOp::Kind::kAddChain:
      return EncodeChain(w, table, op, index);
    case NftOp::Kind::kFlushChain: {
      // A rule deletion naming only the chain deletes all of its rules.
      Rule rule(nftnl_rule_alloc());
      nftnl_rule_set_str(rule.get(), NFTNL_RULE_TABLE, table.c_str());
      nftnl_rule_set_str(rule.get(), NFTNL_RULE_CHAIN, op.name.c_str());
      nlmsghdr* nlh = w.Start(NFT_MSG_DELRULE, 0);
      nftnl_rule_nlmsg_build_payload(nlh, rule.get());
      w.Commit(nlh, index);
      return absl::OkStatus();
    }
    case NftOp::Kind::kDeleteChain: {
      Chain chain(nftnl_chain_alloc());
      nftnl_chain_set_str(chain.get(), NFTNL_CHAIN_TABLE, table.c_str());
      nftnl_chain_set_str(chain.get(), NFTNL_CHAIN_NAME, op.name.c_str());
      nlmsghdr* nlh = w.Start(NFT_MSG_DELCHAIN, 0);
      nftnl_chain_nlmsg_build_payload(nlh, chain.get());
      w.Commit(nlh, index);
      return absl::OkStatus();
    }
    case NftOp::Kind::kDeleteSet: {
      Set set(nftnl_set_alloc());
      nftnl_set_set_str(set.get(), NFTNL_SET_TABLE, table.c_str());
      nftnl_set_set_str(set.get(), NFTNL_SET_NAME, op.name.c_str());
      nlmsghdr* nlh = w.Start(NFT_MSG_DELSET, 0);
      nftnl_set_nlmsg_build_payload(nlh, set.get());
      w.Commit(nlh, index);
      return absl::OkStatus();
    }
    case NftOp::Kind::kAddRule:
      EncodeRule(w, table, op, index);
      return absl::OkStatus();
    case NftOp::Kind::kAddElements:
    case NftOp::Kind::kDeleteElements:
      return EncodeElements(w, table, op, index);
  }
  return absl::InternalError("unknown nftables operation");
}

}  // namespace

absl::StatusOr<ElementBytes> ElementBytesOf(const std::string& text) {
  auto bad = [&] { return absl::InternalError(fmt::format("cannot encode set element {}", text)); };
  if (!text.empty() && text[0] == '"') {
    const size_t close = text.find('"', 1);
    if (close == std::string::npos || close - 1 > 15) return bad();
    ElementBytes out;
    out.key = InterfaceNameKey(text.substr(1, close - 1));
    if (close + 1 == text.size()) return out;  // a map's key
    if (text.compare(close + 1, 3, " . ") != 0) return bad();
    absl::StatusOr<IpNetwork> net = IpNetwork::Parse(text.substr(close + 4));
    if (!net.ok()) return bad();
    const IpNetwork masked = net->Masked();
    out.key_end = out.key;
    AppendPadded(out.key, AddressKey(masked.address()));
    std::vector<uint8_t> last = AddressKey(masked.address());
    for (int bit = masked.prefix_length(); bit < masked.address().bit_length(); ++bit) {
      last[bit / 8] |= static_cast<uint8_t>(0x80 >> (bit % 8));
    }
    AppendPadded(out.key_end, last);
    return out;
  }
  std::optional<std::vector<uint8_t>> key = ElementKey(text);
  if (!key) return bad();
  return ElementBytes{*std::move(key), {}};
}

absl::StatusOr<NetlinkBatch> EncodeBatch(const NftTransaction& transaction, uint32_t first_seq) {
  const int family = FamilyNumber(transaction.family);
  if (family < 0) {
    return absl::InvalidArgumentError(
        fmt::format("unknown nftables family {}", transaction.family));
  }
  BatchWriter writer(static_cast<uint16_t>(family), first_seq);
  for (size_t i = 0; i < transaction.ops.size(); ++i) {
    absl::Status s =
        EncodeOp(writer, transaction.table, transaction.ops[i], static_cast<uint32_t>(i));
    if (!s.ok()) return s;
  }
  return std::move(writer).Finish();
}

}  // namespace tabby::dataplane
