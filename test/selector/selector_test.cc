#include "selector/selector.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

#include "base/status_macros.h"

namespace tabby::testing_support {
long ThreadAllocationCount();  // alloc_count.cc
}  // namespace tabby::testing_support

namespace tabby::selector {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

Selector MustParse(std::string_view text) {
  absl::StatusOr<Selector> s = Selector::Parse(text);
  EXPECT_TRUE(s.ok()) << "selector: " << text << "\n" << MessageOf(s.status());
  return s.ok() ? *s : Selector();
}

std::string ErrorOf(std::string_view text) {
  absl::StatusOr<Selector> s = Selector::Parse(text);
  if (s.ok()) return "parsed OK as " + s->Canonical();
  EXPECT_EQ(s.status().code(), absl::StatusCode::kInvalidArgument) << text;
  return std::string(MessageOf(s.status()));
}

// The first line of the error message (the rest is the selector and a caret).
std::string FirstLine(std::string_view text) {
  std::string message = ErrorOf(text);
  return message.substr(0, message.find('\n'));
}

bool Matches(std::string_view text, const Labels& labels) {
  return MustParse(text).Matches(labels);
}

// --- Evaluation --------------------------------------------------------------------------------

TEST(SelectorEval, Equality) {
  EXPECT_TRUE(Matches("app == 'web'", {{"app", "web"}}));
  EXPECT_FALSE(Matches("app == 'web'", {{"app", "db"}}));
  EXPECT_FALSE(Matches("app == 'web'", {}));
  EXPECT_TRUE(Matches("app == ''", {{"app", ""}}));
  EXPECT_FALSE(Matches("app == ''", {}));
}

TEST(SelectorEval, InequalityIsTrueWhenAbsent) {
  EXPECT_FALSE(Matches("app != 'web'", {{"app", "web"}}));
  EXPECT_TRUE(Matches("app != 'web'", {{"app", "db"}}));
  EXPECT_TRUE(Matches("app != 'web'", {}));
}

TEST(SelectorEval, Has) {
  EXPECT_TRUE(Matches("has(app)", {{"app", ""}}));
  EXPECT_FALSE(Matches("has(app)", {{"tier", "x"}}));
  EXPECT_TRUE(Matches("!has(app)", {{"tier", "x"}}));
  EXPECT_FALSE(Matches("!has(app)", {{"app", "x"}}));
  EXPECT_TRUE(Matches("has( app )", {{"app", "x"}}));
  EXPECT_TRUE(Matches("has(\tapp\t)", {{"app", "x"}}));
}

TEST(SelectorEval, InSet) {
  EXPECT_TRUE(Matches("tier in {'a', 'b'}", {{"tier", "a"}}));
  EXPECT_TRUE(Matches("tier in {'a', 'b'}", {{"tier", "b"}}));
  EXPECT_FALSE(Matches("tier in {'a', 'b'}", {{"tier", "c"}}));
  EXPECT_FALSE(Matches("tier in {'a', 'b'}", {}));
  EXPECT_FALSE(Matches("tier in {}", {{"tier", ""}}));
  EXPECT_FALSE(Matches("tier in {}", {}));
  EXPECT_TRUE(Matches("tier in {\"\"}", {{"tier", ""}}));
}

TEST(SelectorEval, NotInSetIsTrueWhenAbsent) {
  EXPECT_FALSE(Matches("tier not in {'a', 'b'}", {{"tier", "a"}}));
  EXPECT_TRUE(Matches("tier not in {'a', 'b'}", {{"tier", "c"}}));
  EXPECT_TRUE(Matches("tier not in {'a', 'b'}", {}));
  EXPECT_TRUE(Matches("tier notin {'a'}", {{"tier", "b"}}));
  EXPECT_FALSE(Matches("tier notin {'a'}", {{"tier", "a"}}));
  EXPECT_TRUE(Matches("tier not in {}", {{"tier", "x"}}));
  EXPECT_TRUE(Matches("tier not in {}", {}));
}

TEST(SelectorEval, StringOperatorsAreFalseWhenAbsent) {
  EXPECT_TRUE(Matches("name contains 'eb'", {{"name", "web"}}));
  EXPECT_TRUE(Matches("name contains ''", {{"name", "web"}}));
  EXPECT_FALSE(Matches("name contains 'x'", {{"name", "web"}}));
  EXPECT_FALSE(Matches("name contains ''", {}));

  EXPECT_TRUE(Matches("name starts with 'we'", {{"name", "web"}}));
  EXPECT_TRUE(Matches("name startswith 'we'", {{"name", "web"}}));
  EXPECT_TRUE(Matches("name starts\t with 'web'", {{"name", "web"}}));
  EXPECT_FALSE(Matches("name starts with 'eb'", {{"name", "web"}}));
  EXPECT_FALSE(Matches("name starts with ''", {}));

  EXPECT_TRUE(Matches("name ends with 'eb'", {{"name", "web"}}));
  EXPECT_TRUE(Matches("name endswith 'eb'", {{"name", "web"}}));
  EXPECT_FALSE(Matches("name ends with 'we'", {{"name", "web"}}));
  EXPECT_FALSE(Matches("name ends with ''", {}));
  EXPECT_FALSE(Matches("name ends with 'xweb'", {{"name", "web"}}));
}

TEST(SelectorEval, AllAndGlobal) {
  EXPECT_TRUE(Matches("all()", {}));
  EXPECT_TRUE(Matches("all( )", {{"a", "b"}}));
  EXPECT_TRUE(Matches("global()", {}));
  EXPECT_FALSE(Matches("!all()", {}));
  EXPECT_FALSE(Matches("!global()", {}));
  EXPECT_TRUE(Matches("", {}));
  EXPECT_TRUE(Matches(" \t ", {{"a", "b"}}));
  EXPECT_TRUE(Selector().Matches(Labels{}));
}

TEST(SelectorEval, NegationRunsToggle) {
  Labels labels = {{"a", "x"}};
  EXPECT_TRUE(Matches("has(a)", labels));
  EXPECT_FALSE(Matches("!has(a)", labels));
  EXPECT_TRUE(Matches("!!has(a)", labels));
  EXPECT_FALSE(Matches("!!!has(a)", labels));
  EXPECT_TRUE(Matches("! ! has(a)", labels));
  EXPECT_TRUE(Matches("!(!has(a))", labels));
  EXPECT_FALSE(Matches("!a == 'x'", labels));
  EXPECT_TRUE(Matches("!a == 'y'", labels));
}

TEST(SelectorEval, Precedence) {
  // ! binds tighter than &&, && tighter than ||.
  Labels a = {{"a", "1"}};
  Labels c = {{"c", "1"}};
  EXPECT_TRUE(Matches("has(a) || has(b) && has(c)", a));  // a || (b && c)
  EXPECT_FALSE(Matches("(has(a) || has(b)) && has(c)", a));
  EXPECT_TRUE(Matches("has(b) && has(c) || has(a)", a));
  EXPECT_FALSE(Matches("!has(a) || has(c)", a));
  EXPECT_TRUE(Matches("!has(a) || has(c)", c));
  EXPECT_TRUE(Matches("!(has(a) && has(c))", a));
  EXPECT_FALSE(Matches("!has(c) && has(b)", a));
  EXPECT_EQ(MustParse("has(a) || has(b) && has(c)").Canonical(), "(has(a) || (has(b) && has(c)))");
  EXPECT_EQ(MustParse("has(a) && has(b) || has(c)").Canonical(), "((has(a) && has(b)) || has(c))");
  EXPECT_EQ(MustParse("!has(a) && has(b)").Canonical(), "(!has(a) && has(b))");
  EXPECT_EQ(MustParse("a == 'x' || b == 'y' || c == 'z'").Canonical(),
            "(a == \"x\" || b == \"y\" || c == \"z\")");
}

TEST(SelectorEval, LayeredLabelSource) {
  // A LabelSource other than a map: own labels over inherited ones.
  class Layered : public LabelSource {
   public:
    Layered(const Labels& own, const Labels& inherited) : own_(own), inherited_(inherited) {}
    const std::string* Find(std::string_view key) const override {
      if (auto it = own_.find(key); it != own_.end()) return &it->second;
      if (auto it = inherited_.find(key); it != inherited_.end()) return &it->second;
      return nullptr;
    }

   private:
    const Labels& own_;
    const Labels& inherited_;
  };
  Labels own = {{"app", "web"}};
  Labels inherited = {{"app", "db"}, {"ns", "prod"}};
  Layered layered(own, inherited);
  EXPECT_TRUE(MustParse("app == 'web' && ns == 'prod'").Matches(layered));
  EXPECT_FALSE(MustParse("app == 'db'").Matches(layered));
}

TEST(SelectorEval, DoesNotAllocate) {
  Selector s = MustParse(
      "(app == 'web' || tier in {'a', 'b', 'c'}) && !has(quarantine) && name starts with 'w' && "
      "name ends with 'b' && name contains 'e' && zone not in {'x'} && env != 'dev' && "
      "global() && all()");
  Labels labels = {{"app", "web"}, {"name", "web"}, {"zone", "y"}, {"env", "prod"}};
  MapLabelSource source(labels);
  long at_start = testing_support::ThreadAllocationCount();
  MustParse("a == 'counting works'");
  ASSERT_GT(testing_support::ThreadAllocationCount(), at_start);  // the counter is live
  long before = testing_support::ThreadAllocationCount();
  bool matched = s.Matches(labels) && s.Matches(source);
  EXPECT_EQ(testing_support::ThreadAllocationCount(), before);
  EXPECT_TRUE(matched);
}

// --- Lexical details ---------------------------------------------------------------------------

TEST(SelectorSyntax, Quoting) {
  EXPECT_TRUE(Matches("a == \"x y\"", {{"a", "x y"}}));
  EXPECT_TRUE(Matches("a == 'say \"hi\"'", {{"a", "say \"hi\""}}));
  EXPECT_TRUE(Matches("a == \"it's\"", {{"a", "it's"}}));
  // No escapes: a backslash is an ordinary character.
  EXPECT_TRUE(Matches("a == 'x\\'", {{"a", "x\\"}}));
  EXPECT_EQ(MustParse("a == 'say \"hi\"'").Canonical(), "a == 'say \"hi\"'");
  EXPECT_EQ(MustParse("a == \"it's\"").Canonical(), "a == \"it's\"");
  EXPECT_EQ(MustParse("a=='x'").Canonical(), "a == \"x\"");
  EXPECT_EQ(MustParse("a in {'x\"', \"y\"}").Canonical(), "a in {'x\"', \"y\"}");
}

TEST(SelectorSyntax, LabelCharacters) {
  EXPECT_TRUE(Matches("projectcalico.org/namespace == 'default'",
                      {{"projectcalico.org/namespace", "default"}}));
  EXPECT_TRUE(Matches("a_b-c.d/e == '1'", {{"a_b-c.d/e", "1"}}));
  EXPECT_TRUE(Matches("9lives == 'x'", {{"9lives", "x"}}));
  std::string longest(512, 'k');
  EXPECT_TRUE(Matches(longest + " == 'v'", {{longest, "v"}}));
  EXPECT_TRUE(Matches("has(" + longest + ")", {{longest, "v"}}));
}

TEST(SelectorSyntax, KeywordsAreLabelsOutsideOperatorPosition) {
  EXPECT_TRUE(Matches("in in {'x'}", {{"in", "x"}}));
  EXPECT_TRUE(Matches("not in {'x'}", {{"not", "x"}}));  // label "not", operator "in"
  EXPECT_TRUE(Matches("contains contains 'x'", {{"contains", "axb"}}));
  EXPECT_TRUE(Matches("has == 'x'", {{"has", "x"}}));
  EXPECT_TRUE(Matches("all == 'x'", {{"all", "x"}}));
  EXPECT_TRUE(Matches("global != 'x'", {}));
  EXPECT_EQ(MustParse("not in {'x'}").Canonical(), "not in {\"x\"}");
}

TEST(SelectorSyntax, NoSpaceNeeded) {
  EXPECT_TRUE(Matches("a=='x'&&b!='y'||c in{}", {{"a", "x"}}));
  EXPECT_TRUE(Matches("a contains'x'", {{"a", "x"}}));
  EXPECT_TRUE(Matches("a in{'x'}", {{"a", "x"}}));
  EXPECT_TRUE(Matches("(has(a))&&(!has(b))", {{"a", "x"}}));
}

TEST(SelectorSyntax, SetsAreSortedAndDeduplicated) {
  EXPECT_EQ(MustParse("k in {'c', 'a', 'b', 'a'}").Canonical(), "k in {\"a\", \"b\", \"c\"}");
  EXPECT_EQ(MustParse("k not in {'b','a'}").Canonical(), "k not in {\"a\", \"b\"}");
  EXPECT_EQ(MustParse("k in {}").Canonical(), "k in {}");
  EXPECT_EQ(MustParse("k in { }").Canonical(), "k in {}");
  EXPECT_EQ(MustParse("k in {'b','a'}"), MustParse("k in {\"a\", 'b'}"));
}

// --- Canonical form ----------------------------------------------------------------------------

TEST(SelectorCanonical, KnownForms) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"", "all()"},
      {"   ", "all()"},
      {"all()", "all()"},
      {"global( )", "global()"},
      {"has(a)", "has(a)"},
      {"!has(a)", "!has(a)"},
      {"!!has(a)", "has(a)"},
      {"!(!has(a))", "has(a)"},
      {"!(!(!has(a)))", "!has(a)"},
      {"((has(a)))", "has(a)"},
      {"a=='b'", "a == \"b\""},
      {"a!='b'", "a != \"b\""},
      {"a contains 'b'", "a contains \"b\""},
      {"a startswith 'b'", "a starts with \"b\""},
      {"a endswith 'b'", "a ends with \"b\""},
      {"a notin {'b'}", "a not in {\"b\"}"},
      {"a not  in {'b'}", "a not in {\"b\"}"},
      {"has(a) && has(b)", "(has(a) && has(b))"},
      {"has(a) && has(b) && has(c)", "(has(a) && has(b) && has(c))"},
      {"(has(a) && has(b)) && has(c)", "((has(a) && has(b)) && has(c))"},
      {"!(has(a) || has(b))", "!(has(a) || has(b))"},
      {"!(a == 'x')", "!a == \"x\""},
      {"app == 'web' && (tier in {'b', 'a'})", "(app == \"web\" && tier in {\"a\", \"b\"})"},
  };
  for (const auto& [input, canonical] : cases) {
    EXPECT_EQ(MustParse(input).Canonical(), canonical) << "input: " << input;
  }
}

TEST(SelectorCanonical, RoundTrips) {
  const std::vector<std::string> inputs = {
      "",
      "all()",
      "global()",
      "!global() && has(x)",
      "a == 'b'",
      "a == '\"'",
      "a == \"'\"",
      "a != ''",
      "a in {}",
      "a not in {}",
      "a in {'z', 'y', \"x'\", '\"'}",
      "a contains 'x' || b starts with 'y' || c ends with 'z'",
      "!!!!!has(a)",
      "!(!(has(a) && has(b)))",
      "((a == 'x' || b == 'y') && (c == 'z' || !has(d))) || e in {'1', '2'}",
      "(((((has(a) && has(b))))))",
      "!(a == 'x' && !(b == 'y' || !c in {'1'}))",
      "projectcalico.org/namespace == 'ns' && (pcns.team == 'red' || all())",
      "  has( a )\t&&\t!has(b)  ",
      "a == 'x' && b == 'y' || c == 'z' && d == 'w' || has(e)",
      "k == 'caf\xc3\xa9'",
  };
  for (const std::string& input : inputs) {
    Selector s = MustParse(input);
    Selector again = MustParse(s.Canonical());
    EXPECT_EQ(again.Canonical(), s.Canonical()) << "input: " << input;
    EXPECT_EQ(again.Id(), s.Id()) << "input: " << input;
    EXPECT_EQ(again, s);
  }
}

TEST(SelectorCanonical, EqualityIgnoresSpellingOnly) {
  EXPECT_EQ(MustParse("a=='x'&&b in {'2','1'}"), MustParse("a == \"x\"  &&  b in {\"1\", \"2\"}"));
  EXPECT_EQ(MustParse(""), MustParse("all()"));
  EXPECT_EQ(MustParse(""), Selector());
  EXPECT_FALSE(MustParse("has(a)") == MustParse("has(b)"));
}

// --- Id ----------------------------------------------------------------------------------------

TEST(SelectorId, FormatAndStability) {
  Selector s = MustParse("app == 'web'");
  // Must never change: ids name kernel sets that an upgraded agent adopts.
  EXPECT_EQ(s.Id(), "s:6127232c124990eaa338f96d3c52");
  EXPECT_EQ(s.Id().size(), 30u);
  EXPECT_TRUE(s.Id().starts_with("s:"));
  EXPECT_EQ(s.Id().find_first_not_of("0123456789abcdef", 2), std::string::npos);
  EXPECT_EQ(MustParse("app==\"web\"").Id(), s.Id());
  EXPECT_NE(MustParse("app == 'db'").Id(), s.Id());
  EXPECT_EQ(Selector().Id(), MustParse("").Id());
}

// --- Analysis ----------------------------------------------------------------------------------

TEST(SelectorAnalysis, MatchesEverything) {
  EXPECT_TRUE(Selector().MatchesEverything());
  EXPECT_TRUE(MustParse("").MatchesEverything());
  EXPECT_TRUE(MustParse("all()").MatchesEverything());
  EXPECT_TRUE(MustParse("(all())").MatchesEverything());
  EXPECT_FALSE(MustParse("global()").MatchesEverything());
  EXPECT_FALSE(MustParse("!all()").MatchesEverything());
  EXPECT_FALSE(MustParse("has(a)").MatchesEverything());
}

TEST(SelectorAnalysis, UsesGlobal) {
  EXPECT_TRUE(MustParse("global()").UsesGlobal());
  EXPECT_TRUE(MustParse("has(a) || !(b == 'x' && global())").UsesGlobal());
  EXPECT_FALSE(MustParse("all()").UsesGlobal());
  EXPECT_FALSE(MustParse("global == 'x'").UsesGlobal());
}

TEST(SelectorAnalysis, ReferencedKeys) {
  EXPECT_THAT(MustParse("").ReferencedKeys(), IsEmpty());
  EXPECT_THAT(MustParse("z == 'x' && (has(a) || !b in {'1'}) && z != 'y' && c contains 'q'")
                  .ReferencedKeys(),
              ElementsAre("a", "b", "c", "z"));
  EXPECT_THAT(MustParse("d starts with 'x' || e ends with 'y' || f not in {}").ReferencedKeys(),
              ElementsAre("d", "e", "f"));
}

TEST(SelectorAnalysis, RequiredTerms) {
  using Terms = std::vector<LabelTerm>;
  EXPECT_EQ(MustParse("app == 'web'").RequiredTerms(), (Terms{{"app", {"web"}}}));
  EXPECT_EQ(MustParse("app == 'web' && tier in {'b', 'a'} && has(x) && y != 'z'").RequiredTerms(),
            (Terms{{"app", {"web"}}, {"tier", {"a", "b"}}, {"x", {}}}));
  EXPECT_EQ(MustParse("(a == '1' && b contains '2') && (c starts with '3' && d ends with '4')")
                .RequiredTerms(),
            (Terms{{"a", {"1"}}, {"b", {}}, {"c", {}}, {"d", {}}}));
  // Nothing that an absent label could satisfy, and nothing under || or !.
  EXPECT_THAT(MustParse("a == '1' || b == '2'").RequiredTerms(), IsEmpty());
  EXPECT_THAT(MustParse("!a == '1'").RequiredTerms(), IsEmpty());
  EXPECT_THAT(MustParse("a != '1' && b not in {'2'} && !has(c)").RequiredTerms(), IsEmpty());
  EXPECT_EQ(MustParse("a == '1' && (b == '2' || c == '3')").RequiredTerms(), (Terms{{"a", {"1"}}}));
  // `in {}` matches nothing; an empty value list would mean "any value", so it gives no term.
  EXPECT_THAT(MustParse("a in {}").RequiredTerms(), IsEmpty());
  EXPECT_THAT(MustParse("all()").RequiredTerms(), IsEmpty());
  EXPECT_THAT(MustParse("global()").RequiredTerms(), IsEmpty());
}

// Every term RequiredTerms gives is necessary: a label set that matches satisfies all of them.
TEST(SelectorAnalysis, RequiredTermsAreNecessary) {
  const std::vector<Labels> label_sets = {
      {}, {{"a", "1"}}, {{"a", "1"}, {"b", "2"}}, {{"a", "2"}, {"c", "x3"}}, {{"b", "22"}}};
  for (const char* text : {"a == '1'", "a in {'1', '2'} && has(b)", "b contains '2' && a != '3'",
                           "c starts with 'x' && !has(d)", "has(a) && (b == '2' || c == 'x3')"}) {
    Selector selector = MustParse(text);
    for (const Labels& labels : label_sets) {
      if (!selector.Matches(labels)) continue;
      for (const LabelTerm& term : selector.RequiredTerms()) {
        auto it = labels.find(term.key);
        ASSERT_NE(it, labels.end()) << text << ": " << term.key;
        if (!term.values.empty()) {
          EXPECT_THAT(term.values, ::testing::Contains(it->second)) << text;
        }
      }
    }
  }
}

TEST(SelectorAnalysis, QuoteValue) {
  EXPECT_EQ(QuoteValue("web"), "\"web\"");
  EXPECT_EQ(QuoteValue(""), "\"\"");
  EXPECT_EQ(QuoteValue("it's"), "\"it's\"");
  EXPECT_EQ(QuoteValue("say \"hi\""), "'say \"hi\"'");
  EXPECT_TRUE(Matches("a == " + QuoteValue("say \"hi\""), {{"a", "say \"hi\""}}));
}

// --- Errors ------------------------------------------------------------------------------------

TEST(SelectorErrors, ExampleMessageWithCaret) {
  EXPECT_EQ(ErrorOf("app == 'web' && "),
            "invalid selector \"app == 'web' && \": expected a label, has(), all(), '!' or '(' "
            "at character 17 (end of input)\n"
            "app == 'web' && \n"
            "                ^");
  EXPECT_EQ(ErrorOf("a = 'x'"),
            "invalid selector \"a = 'x'\": expected an operator (==, !=, in, not in, contains, "
            "starts with, ends with) after label 'a' at character 3\n"
            "a = 'x'\n"
            "  ^");
}

TEST(SelectorErrors, PositionsAndExpectations) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"app", "after label 'app' at character 4 (end of input)"},
      {"app ==", "expected a quoted string after '==' at character 7 (end of input)"},
      {"app == web", "expected a quoted string after '==' at character 8"},
      {"app != 'x", "unterminated string (no closing ') at character 8"},
      {"app == \"x", "unterminated string (no closing \") at character 8"},
      {"a == 'x' b == 'y'", "expected '&&', '||' or end of input at character 10"},
      {"a == 'x' & b == 'y'", "expected '&&', '||' or end of input at character 10"},
      {"a == 'x' | b == 'y'", "expected '&&', '||' or end of input at character 10"},
      {"a == 'x' ||", "expected a label, has(), all(), '!' or '(' at character 12 (end of input)"},
      {"&& a == 'x'", "expected a label, has(), all(), '!' or '(' at character 1"},
      {"(a == 'x'", "expected '&&', '||' or ')' at character 10 (end of input)"},
      {"(a == 'x' b", "expected '&&', '||' or ')' at character 11"},
      {"a == 'x')", "expected '&&', '||' or end of input at character 9"},
      {"()", "expected a label, has(), all(), '!' or '(' at character 2"},
      {"has()", "expected a label after 'has(' at character 5"},
      {"has(a", "expected ')' to close 'has(' at character 6 (end of input)"},
      {"has(a b)", "expected ')' to close 'has(' at character 7"},
      {"has (a)", "after label 'has' at character 5"},
      {"all(x)", "expected ')' to close 'all(' at character 5"},
      {"global(", "expected ')' to close 'global(' at character 8 (end of input)"},
      {"a in", "expected '{' after 'in' at character 5 (end of input)"},
      {"a in 'x'", "expected '{' after 'in' at character 6"},
      {"a not in ('x')", "expected '{' after 'not in' at character 10"},
      {"a in {'x',}", "expected a quoted string after ',' at character 11"},
      {"a in {,}", "expected a quoted string or '}' at character 7"},
      {"a in {'x' 'y'}", "expected ',' or '}' at character 11"},
      {"a in {'x'", "expected ',' or '}' at character 10 (end of input)"},
      {"a not 'x'", "expected 'in' after 'not' at character 7"},
      {"a not inx {}", "expected 'in' after 'not' at character 7"},
      {"a starts 'x'", "expected 'with' after 'starts' at character 10"},
      {"a ends wit 'x'", "expected 'with' after 'ends' at character 8"},
      {"a containsx 'x'", "after label 'a' at character 3"},
      {"a inx {}", "after label 'a' at character 3"},
      {"a contains", "expected a quoted string after 'contains' at character 11 (end of input)"},
      {"a starts with x", "expected a quoted string after 'starts with' at character 15"},
      {"a =! 'x'", "after label 'a' at character 3"},
      {"a == 'x' && !",
       "expected a label, has(), all(), '!' or '(' at character 14 (end of input)"},
      {"a == 'x'\nb", "expected '&&', '||' or end of input at character 9"},
      {"#", "expected a label, has(), all(), '!' or '(' at character 1"},
      {"caf\xc3\xa9 == 'x'", "after label 'caf' at character 4"},
      {"k == '\xc3\xa9' &&", "at character 12 (end of input)"},
  };
  for (const auto& [input, expected] : cases) {
    EXPECT_THAT(FirstLine(input), HasSubstr(expected)) << "input: " << input;
    EXPECT_THAT(FirstLine(input), HasSubstr("invalid selector \"")) << "input: " << input;
  }
}

TEST(SelectorErrors, CaretLinesUpWithTabsAndControlCharacters) {
  EXPECT_EQ(ErrorOf("\ta ==\tb"),
            "invalid selector \"\ta ==\tb\": expected a quoted string after '==' at character 7\n"
            "\ta ==\tb\n"
            "\t    \t^");
  // A newline in the input is shown as '?' so the caret line stays below it.
  EXPECT_EQ(ErrorOf("a\n"),
            "invalid selector \"a?\": expected an operator (==, !=, in, not in, contains, starts "
            "with, ends with) after label 'a' at character 2\n"
            "a?\n"
            " ^");
}

TEST(SelectorErrors, Limits) {
  std::string too_long_label(513, 'k');
  EXPECT_THAT(FirstLine(too_long_label + " == 'v'"),
              HasSubstr("label longer than 512 characters at character 1"));
  EXPECT_THAT(FirstLine("has(" + too_long_label + ")"),
              HasSubstr("label longer than 512 characters at character 5"));

  EXPECT_THAT(FirstLine(std::string(4097, ' ')), HasSubstr("longer than 4096 characters"));
  EXPECT_TRUE(Selector::Parse(std::string(4096, ' ')).ok());

  // Nesting: 128 levels parse, 129 do not, with the position of the first '(' too deep.
  std::string deep_ok = std::string(128, '(') + "has(a)" + std::string(128, ')');
  EXPECT_TRUE(Selector::Parse(deep_ok).ok());
  std::string too_deep = std::string(129, '(') + "has(a)" + std::string(129, ')');
  EXPECT_THAT(FirstLine(too_deep),
              HasSubstr("parentheses nested deeper than 128 at character 129"));
  // Pathological input does not overflow the stack.
  EXPECT_FALSE(Selector::Parse(std::string(4000, '(')).ok());
  EXPECT_TRUE(Selector::Parse(std::string(4000, '!') + "has(a)").ok());
}

TEST(SelectorErrors, CanonicalFormMustStayWithinLimits) {
  // Short input whose canonical text would exceed 4096 characters.
  std::string input = "a==''";
  while (input.size() < 4000) input += "||a==''";
  EXPECT_THAT(FirstLine(input), HasSubstr("in canonical form"));

  // Canonical text adds parentheses around the top-level group: nesting 128 in the input with
  // && at each level would become 129 in canonical text.
  std::string nested = "has(a) && has(a)";
  for (int i = 0; i < 128; ++i) nested = "has(a) && (" + nested + ")";
  EXPECT_THAT(FirstLine(nested), HasSubstr("nested deeper than 128 in canonical form"));
  std::string nested_ok = "has(a) && has(a)";
  for (int i = 0; i < 127; ++i) nested_ok = "has(a) && (" + nested_ok + ")";
  Selector s = MustParse(nested_ok);
  EXPECT_EQ(MustParse(s.Canonical()), s);
}

}  // namespace
}  // namespace tabby::selector
