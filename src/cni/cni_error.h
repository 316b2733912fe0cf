// CNI errors as the specification (1.1.0, "Error" section) defines them: a code, a message and
// details, printed as JSON on stdout with a non-zero exit status.
#pragma once

#include <string>

#include "absl/status/status.h"

namespace tabby::cni {

enum class ErrorCode : int {
  kIncompatibleVersion = 1,
  kUnsupportedField = 2,
  kUnknownContainer = 3,
  kInvalidEnvironment = 4,
  kIoFailure = 5,
  kDecodeFailure = 6,
  kInvalidConfig = 7,
  kTryAgainLater = 11,
  kPluginNotAvailable = 50,
  kLimitedConnectivity = 51,
  // Plugin-specific codes start at 100.
  kAttachmentBroken = 100,    // CHECK found the attachment missing or wrong
  kAddressesExhausted = 101,  // no free address in the pools the workload may use
  kNoUsablePool = 102,        // no pool exists or matches
  kInternal = 110,
};

struct CniError {
  ErrorCode code = ErrorCode::kInternal;
  std::string message;
  std::string details;
  std::string ToJson(const std::string& cni_version) const;
};

// Maps an absl error from the datastore or allocator to the CNI code a runtime acts on.
CniError FromStatus(const absl::Status& status, std::string_view context);

}  // namespace tabby::cni
