#include "calc/label_index.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "calc/label_interner.h"

namespace tabby::calc {
namespace {

using ::testing::IsEmpty;
using ::testing::UnorderedElementsAre;

struct Item {
  std::string name;
};

std::vector<std::string> Visit(const ItemLabelIndex<Item>& index, const selector::LabelTerm& term) {
  std::vector<std::string> out;
  index.ForEach(term, [&](const Item* item) { out.push_back(item->name); });
  return out;
}

TEST(ItemLabelIndex, FindsItemsByTermAndCountsThem) {
  Item a{"a"}, b{"b"}, c{"c"};
  ItemLabelIndex<Item> index;
  index.Add(&a, {{"app", "web"}, {"tier", "fe"}});
  index.Add(&b, {{"app", "db"}});
  index.Add(&c, {{"app", "web"}});
  EXPECT_THAT(Visit(index, {"app", {"web"}}), UnorderedElementsAre("a", "c"));
  EXPECT_THAT(Visit(index, {"app", {"db", "web"}}), UnorderedElementsAre("a", "b", "c"));
  EXPECT_THAT(Visit(index, {"app", {}}), UnorderedElementsAre("a", "b", "c"));
  EXPECT_THAT(Visit(index, {"tier", {"be"}}), IsEmpty());
  EXPECT_EQ(index.Count({"app", {}}), 3u);
  EXPECT_EQ(index.Count({"tier", {}}), 1u);
  // The rarest term is the one to scan.
  EXPECT_EQ(index.Rarest({{"app", {"web"}}, {"tier", {}}}), (selector::LabelTerm{"tier", {}}));
  EXPECT_EQ(index.Rarest({}), std::nullopt);

  index.Remove(&a, {{"app", "web"}, {"tier", "fe"}});
  EXPECT_THAT(Visit(index, {"app", {"web"}}), UnorderedElementsAre("c"));
  EXPECT_EQ(index.Count({"tier", {}}), 0u);
}

TEST(SelectorTermIndex, CandidatesAreTheSelectorsTheLabelsCanSatisfy) {
  Item eq{"eq"}, in{"in"}, key{"key"}, none{"none"};
  SelectorTermIndex<Item> index;
  index.Add(&eq, selector::LabelTerm{"app", {"web"}});
  index.Add(&in, selector::LabelTerm{"app", {"db", "web"}});
  index.Add(&key, selector::LabelTerm{"tier", {}});
  index.Add(&none, std::nullopt);
  auto candidates = [&](const selector::Labels& labels) {
    std::vector<Item*> found;
    index.Candidates(labels, &found);
    std::vector<std::string> names;
    for (Item* item : found) names.push_back(item->name);
    return names;
  };
  EXPECT_THAT(candidates({{"app", "web"}}), UnorderedElementsAre("eq", "in", "none"));
  EXPECT_THAT(candidates({{"app", "db"}, {"tier", "x"}}),
              UnorderedElementsAre("in", "key", "none"));
  EXPECT_THAT(candidates({}), UnorderedElementsAre("none"));
  index.Remove(&in, selector::LabelTerm{"app", {"db", "web"}});
  index.Remove(&none, std::nullopt);
  EXPECT_THAT(candidates({{"app", "db"}}), IsEmpty());
}

TEST(LabelInterner, EqualMapsShareOneAndUnusedOnesAreSwept) {
  LabelInterner interner;
  SharedLabels a = interner.Intern({{"app", "web"}});
  SharedLabels b = interner.Intern({{"app", "web"}});
  EXPECT_EQ(a, b);
  EXPECT_NE(interner.Intern({{"app", "db"}}), a);
  for (int i = 0; i < 1000; ++i) interner.Intern({{"n", std::to_string(i)}});
  // Nothing holds the 1,000 temporaries: sweeps keep the pool near what is in use.
  EXPECT_LT(interner.size(), 200u);
  EXPECT_EQ(interner.Intern({{"app", "web"}}), a);
}

}  // namespace
}  // namespace tabby::calc
