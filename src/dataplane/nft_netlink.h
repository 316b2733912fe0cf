// Encodes an NftTransaction as one nf_tables netlink batch (libnftnl), the messages libnftables
// would send for the same script, minus its read-back of the table: rules are built from their
// statements, with the protocol dependencies nft adds, anonymous sets created in the same batch.
// No kernel access here; NftClient sends the bytes.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "dataplane/nft_transaction.h"

namespace tabby::dataplane {

struct NetlinkBatch {
  std::vector<char> bytes;
  uint32_t begin_seq = 0;  // the batch's begin marker
  uint32_t last_seq = 0;   // the last message before the end marker; the only one acknowledged
  // The transaction operation each message (begin_seq + 1 + i) came from, to name it in errors.
  std::vector<uint32_t> op_of_message;
};

// Sequence numbers start at `first_seq`. Fails on element text it cannot encode (a bug: the
// renderer writes every element).
absl::StatusOr<NetlinkBatch> EncodeBatch(const NftTransaction& transaction, uint32_t first_seq);

// The kernel's key of canonical element text: an address, "address . protocol . port", a
// quoted interface name, or "\"ifname\" . network" (then `key_end` is the network's last
// address, the range's inclusive end).
struct ElementBytes {
  std::vector<uint8_t> key, key_end;
};
absl::StatusOr<ElementBytes> ElementBytesOf(const std::string& text);

}  // namespace tabby::dataplane
