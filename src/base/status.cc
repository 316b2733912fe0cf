#include <fmt/format.h>

#include "base/status_macros.h"

namespace tabby {

absl::Status Annotate(const absl::Status& status, std::string_view context) {
  if (status.ok()) return status;
  return absl::Status(status.code(), fmt::format("{}: {}", context,
                                                 std::string_view(status.message().data(),
                                                                  status.message().size())));
}

}  // namespace tabby
