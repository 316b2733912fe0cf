#include "cni/cni_error.h"

#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "base/status_macros.h"

namespace tabby::cni {

std::string CniError::ToJson(const std::string& cni_version) const {
  nlohmann::json out = {{"cniVersion", cni_version.empty() ? "1.1.0" : cni_version},
                        {"code", static_cast<int>(code)},
                        {"msg", message}};
  if (!details.empty()) out["details"] = details;
  // Messages quote the caller's input, which may not be UTF-8: replace, never throw.
  return out.dump(2, ' ', false, nlohmann::json::error_handler_t::replace);
}

CniError FromStatus(const absl::Status& status, std::string_view context) {
  CniError error;
  error.message = std::string(context);
  error.details = std::string(MessageOf(status));
  switch (status.code()) {
    case absl::StatusCode::kUnavailable:
    case absl::StatusCode::kAborted:
    case absl::StatusCode::kDeadlineExceeded:
      error.code = ErrorCode::kTryAgainLater;
      break;
    case absl::StatusCode::kResourceExhausted:
      error.code = ErrorCode::kAddressesExhausted;
      break;
    case absl::StatusCode::kInvalidArgument:
      error.code = ErrorCode::kInvalidConfig;
      break;
    default:
      error.code = ErrorCode::kInternal;
      break;
  }
  error.message = fmt::format("{}: {}", context, MessageOf(status));
  return error;
}

}  // namespace tabby::cni
