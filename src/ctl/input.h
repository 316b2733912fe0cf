// Reading `-f` arguments: files, directories and stdin, decoded and validated all at once.
#pragma once

#include <iosfwd>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "model/resources.h"

namespace tabby::ctl {

struct InputResource {
  model::Resource resource;
  std::string source;  // the file it came from, "<stdin>" for -
};

// Decodes every document of every path, in order: a file; a directory, meaning its *.yaml, *.yml
// and *.json files (not recursive) sorted by name; or "-", meaning all of `in`. All or nothing:
// the first unreadable file or invalid document is the error (the codec's message, which names
// file, document, line and field), and so is a resource given twice. No documents at all is an
// error too ("no resources in ...").
absl::StatusOr<std::vector<InputResource>> ReadInputs(const std::vector<std::string>& paths,
                                                      std::istream& in);

}  // namespace tabby::ctl
