// One transaction on tabby's nftables table: the operations NftDataplane decided on, in the
// order the kernel needs them (objects exist before they are referenced; references go before
// their targets are deleted). The client sends it as one netlink batch; Script() is the same
// transaction as nft commands, for people (debugging, logs) and for unit tests.
#pragma once

#include <string>
#include <vector>

#include "dataplane/nft_render.h"

namespace tabby::dataplane {

struct NftOp {
  enum class Kind : uint8_t {
    kAddTable,
    kAddCounter,
    kAddSet,
    kAddMap,  // a verdict map
    kAddChain,
    kFlushChain,
    kDeleteChain,
    kDeleteSet,  // or map
    kAddRule,
    kAddElements,
    kDeleteElements,
  };
  Kind kind = Kind::kAddTable;
  std::string name;   // counter, set, map or chain
  SetDef set;         // kAddSet
  std::string hook;   // kAddChain: the base chain's hook clause, empty for a regular chain
  RenderedRule rule;  // kAddRule
  // kAddElements / kDeleteElements: canonical element texts (AddressElement, PortElement,
  // InterfaceAddressElement, or a map's key); for a map's additions, the verdict of each.
  std::vector<std::string> elements;
  std::vector<std::string> verdicts;
};

struct NftTransaction {
  std::string family = kTableFamily;
  std::string table = kTableName;
  std::vector<NftOp> ops;

  bool empty() const { return ops.empty(); }
  // Whether every operation adds or deletes set elements (the common event at scale).
  bool OnlyElements() const;
  // The same operations as an nft script, one command per line (element lists in chunks).
  std::string Script() const;
};

}  // namespace tabby::dataplane
