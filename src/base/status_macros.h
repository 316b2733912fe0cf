// Error propagation helpers for absl::Status / absl::StatusOr, the one error style of tabby.
#pragma once

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#define TABBY_STATUS_CONCAT_INNER(a, b) a##b
#define TABBY_STATUS_CONCAT(a, b) TABBY_STATUS_CONCAT_INNER(a, b)

// Returns from the current function if `expr` (an absl::Status) is not OK.
#define RETURN_IF_ERROR(expr)                      \
  do {                                             \
    ::absl::Status tabby_status_ = (expr);         \
    if (!tabby_status_.ok()) return tabby_status_; \
  } while (0)

// `lhs` = value of `rexpr` (an absl::StatusOr<T>), or returns its error.
#define ASSIGN_OR_RETURN(lhs, rexpr) \
  TABBY_ASSIGN_OR_RETURN_IMPL(TABBY_STATUS_CONCAT(tabby_statusor_, __LINE__), lhs, rexpr)
#define TABBY_ASSIGN_OR_RETURN_IMPL(statusor, lhs, rexpr)  \
  auto statusor = (rexpr);                                 \
  if (!statusor.ok()) return std::move(statusor).status(); \
  lhs = std::move(statusor).value()

namespace tabby {

// Returns `status` with `context` prepended to its message ("context: message"), keeping the
// code. Errors carry what was being done, to what, and why it failed.
absl::Status Annotate(const absl::Status& status, std::string_view context);

template <typename T>
absl::StatusOr<T> Annotate(absl::StatusOr<T>&& result, std::string_view context) {
  if (result.ok()) return std::move(result);
  return Annotate(result.status(), context);
}

}  // namespace tabby

namespace tabby {

// The message of `status` as a std::string_view (Debian's abseil has its own string_view type).
inline std::string_view MessageOf(const absl::Status& status) {
  return std::string_view(status.message().data(), status.message().size());
}

}  // namespace tabby
