#include "datastore/keys.h"

#include <fmt/format.h>

#include <set>

namespace tabby::datastore::keys {

absl::Status ValidatePrefix(const std::string& prefix) {
  if (prefix.find('\0') != std::string::npos) {
    return absl::InvalidArgumentError("prefix contains a NUL byte");
  }
  return absl::OkStatus();
}

Datastore::Visitor AppendTo(std::vector<KeyValue>& items) {
  return [&items](KeyValue&& kv) {
    items.push_back(std::move(kv));
    return absl::OkStatus();
  };
}

absl::Status Validate(const std::string& key) {
  if (key.empty()) return absl::InvalidArgumentError("empty key");
  if (key.find('\0') != std::string::npos) {
    return absl::InvalidArgumentError(
        fmt::format("key \"{}\" contains a NUL byte", Printable(key)));
  }
  return absl::OkStatus();
}

std::optional<std::string> PrefixEnd(std::string prefix) {
  while (!prefix.empty() && static_cast<unsigned char>(prefix.back()) == 0xff) prefix.pop_back();
  if (prefix.empty()) return std::nullopt;
  prefix.back() = static_cast<char>(static_cast<unsigned char>(prefix.back()) + 1);
  return prefix;
}

std::string DescribeTxn(const std::vector<Compare>& compares, const std::vector<TxnOp>& ops) {
  return fmt::format(
      "transaction of {} compare(s) and {} write(s){}", compares.size(), ops.size(),
      ops.empty() ? "" : fmt::format(" starting at \"{}\"", Printable(ops.front().key)));
}

absl::Status ValidateTxn(const std::vector<Compare>& compares, const std::vector<TxnOp>& ops) {
  if (ops.empty()) return absl::InvalidArgumentError("a transaction needs a write");
  std::set<std::string> written;
  for (const auto& op : ops) {
    if (absl::Status valid = Validate(op.key); !valid.ok()) return valid;
    if (!written.insert(op.key).second) {
      return absl::InvalidArgumentError(
          fmt::format("key \"{}\" is written twice", Printable(op.key)));
    }
  }
  for (const auto& compare : compares) {
    if (absl::Status valid = Validate(compare.key); !valid.ok()) return valid;
  }
  return absl::OkStatus();
}

std::string Printable(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size());
  for (unsigned char c : bytes) {
    if (c >= 0x20 && c < 0x7f && c != '\\') {
      out += static_cast<char>(c);
    } else {
      out += fmt::format("\\x{:02x}", c);
    }
  }
  return out;
}

}  // namespace tabby::datastore::keys
