// Key rules every backend applies the same way, so the contract's errors do not depend on the
// backend: what makes a key malformed, where a prefix ends, how keys appear in messages.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "datastore/datastore.h"

namespace tabby::datastore::keys {

// InvalidArgument for an empty key or one with a NUL byte.
absl::Status Validate(const std::string& key);

// InvalidArgument for a prefix with a NUL byte (an empty prefix is every key).
absl::Status ValidatePrefix(const std::string& prefix);

// A visitor that appends each item to `items` (List built on a visiting listing).
Datastore::Visitor AppendTo(std::vector<KeyValue>& items);

// The smallest key greater than every key starting with `prefix`; nullopt if there is none
// (empty prefix or only 0xff bytes).
std::optional<std::string> PrefixEnd(std::string prefix);

// "transaction of 2 compare(s) and 3 write(s) starting at "/k"": how messages name a Txn.
std::string DescribeTxn(const std::vector<Compare>& compares, const std::vector<TxnOp>& ops);

// InvalidArgument for a transaction the contract refuses: no write, a key written twice, a
// malformed key.
absl::Status ValidateTxn(const std::vector<Compare>& compares, const std::vector<TxnOp>& ops);

// Keys may hold any byte but NUL; error messages show them escaped.
std::string Printable(std::string_view bytes);

}  // namespace tabby::datastore::keys
