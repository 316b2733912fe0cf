#include "dataplane/nft_transaction.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>

namespace tabby::dataplane {
namespace {

constexpr size_t kElementsPerCommand = 1000;

void ElementCommands(const char* verb, const std::string& table, const NftOp& op,
                     std::string& out) {
  for (size_t i = 0; i < op.elements.size(); i += kElementsPerCommand) {
    const size_t end = std::min(op.elements.size(), i + kElementsPerCommand);
    std::vector<std::string> items;
    for (size_t j = i; j < end; ++j) {
      items.push_back(j < op.verdicts.size() ? op.elements[j] + " : " + op.verdicts[j]
                                             : op.elements[j]);
    }
    out += fmt::format("{} element {} {} {{ {} }}\n", verb, table, op.name, fmt::join(items, ", "));
  }
}

}  // namespace

bool NftTransaction::OnlyElements() const {
  return !ops.empty() && std::all_of(ops.begin(), ops.end(), [](const NftOp& op) {
    return op.kind == NftOp::Kind::kAddElements || op.kind == NftOp::Kind::kDeleteElements;
  });
}

std::string NftTransaction::Script() const {
  const std::string ref = fmt::format("{} {}", family, table);
  std::string out;
  for (const NftOp& op : ops) {
    switch (op.kind) {
      case NftOp::Kind::kAddTable:
        out += fmt::format("add table {}\n", ref);
        break;
      case NftOp::Kind::kAddCounter:
        out += fmt::format("add counter {} {}\n", ref, op.name);
        break;
      case NftOp::Kind::kAddSet:
        out += fmt::format("add set {} {} {{ {} }}\n", ref, op.name, op.set.TypeClause());
        break;
      case NftOp::Kind::kAddMap:
        out += fmt::format("add map {} {} {{ {} }}\n", ref, op.name, op.set.TypeClause());
        break;
      case NftOp::Kind::kAddChain:
        out += op.hook.empty() ? fmt::format("add chain {} {}\n", ref, op.name)
                               : fmt::format("add chain {} {} {{ {} }}\n", ref, op.name, op.hook);
        break;
      case NftOp::Kind::kFlushChain:
        out += fmt::format("flush chain {} {}\n", ref, op.name);
        break;
      case NftOp::Kind::kDeleteChain:
        out += fmt::format("delete chain {} {}\n", ref, op.name);
        break;
      case NftOp::Kind::kDeleteSet:
        out += fmt::format("delete set {} {}\n", ref, op.name);
        break;
      case NftOp::Kind::kAddRule:
        out += fmt::format("add rule {} {} {}\n", ref, op.name, op.rule.WithComment());
        break;
      case NftOp::Kind::kAddElements:
        ElementCommands("add", ref, op, out);
        break;
      case NftOp::Kind::kDeleteElements:
        ElementCommands("delete", ref, op, out);
        break;
    }
  }
  return out;
}

}  // namespace tabby::dataplane
