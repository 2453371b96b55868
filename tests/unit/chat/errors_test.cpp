// A template the interpreter cannot render gives a TemplateError that names the construct and
// the line; the template's own raise_exception gives its message.
#include "tests/unit/chat/render_helpers.h"

namespace quarrel::chat::testing {
namespace {

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

TEST(ChatErrors, UnsupportedStatementNamesItAndTheLine) {
  try {
    ChatTemplate t("line one\n{% if x %}\n{% include 'other.jinja' %}\n{% endif %}");
    FAIL() << "parsed";
  } catch (const TemplateError& e) {
    EXPECT_EQ(e.kind(), TemplateErrorKind::kUnsupported);
    EXPECT_EQ(e.line(), 3);
    EXPECT_TRUE(contains(e.what(), "include")) << e.what();
    EXPECT_TRUE(contains(e.what(), "line 3")) << e.what();
    EXPECT_EQ(e.code(), ErrorCode::kUnsupported);
  }
  for (const char* stmt : {"extends 'base'", "block content", "import 'm' as m", "with x = 1", "autoescape true"}) {
    try {
      ChatTemplate t(std::string("{% ") + stmt + " %}");
      FAIL() << stmt;
    } catch (const TemplateError& e) {
      EXPECT_EQ(e.kind(), TemplateErrorKind::kUnsupported) << stmt;
    }
  }
}

TEST(ChatErrors, UnknownFilterTestAndFunction) {
  auto e = render_error("a\nb\n{{ x|frobnicate }}", R"({"x": 1})");
  ASSERT_TRUE(e);
  EXPECT_EQ(e->kind(), TemplateErrorKind::kUnsupported);
  EXPECT_EQ(e->line(), 3);
  EXPECT_TRUE(contains(e->what(), "unknown filter 'frobnicate'")) << e->what();

  e = render_error("{% if x is shiny %}{% endif %}", R"({"x": 1})");
  ASSERT_TRUE(e);
  EXPECT_TRUE(contains(e->what(), "unknown test 'shiny'")) << e->what();
  EXPECT_EQ(e->line(), 1);

  e = render_error("\n\n\n{{ lipsum(2) }}");
  ASSERT_TRUE(e);
  EXPECT_TRUE(contains(e->what(), "unknown function 'lipsum'")) << e->what();
  EXPECT_EQ(e->line(), 4);

  e = render_error("{{ 'abc'.zfill(5) }}");
  ASSERT_TRUE(e);
  EXPECT_EQ(e->kind(), TemplateErrorKind::kUnsupported);
  EXPECT_TRUE(contains(e->what(), "string.zfill()")) << e->what();
  // A name no such value has is a runtime error (a message of an unexpected shape, say).
  e = render_error("{{ [1].startswith('x') }}");
  ASSERT_TRUE(e);
  EXPECT_EQ(e->kind(), TemplateErrorKind::kRuntime);
  EXPECT_TRUE(contains(e->what(), "list has no method 'startswith'")) << e->what();
}

TEST(ChatErrors, SyntaxErrors) {
  struct Case {
    const char* source;
    int line;
    const char* part;
  };
  for (const Case& c : std::initializer_list<Case>{
           {"{% if x %}\nno end", 1, "missing {% endif %}"},
           {"{% for x in y %}{% endif %}", 1, "unexpected {% endif %}"},
           {"ok\n{{ 1 + }}", 2, "unexpected"},
           {"{{ 'unterminated }}", 1, "unterminated string"},
           {"a\n{# never closed", 2, "comment"},
           {"{% endfor %}", 1, "unexpected {% endfor %}"},
           {"{{ x ? y }}", 1, "unexpected character '?'"},
       }) {
    try {
      ChatTemplate t(c.source);
      ADD_FAILURE() << "parsed: " << c.source;
    } catch (const TemplateError& e) {
      EXPECT_EQ(e.kind(), TemplateErrorKind::kSyntax) << c.source;
      EXPECT_EQ(e.line(), c.line) << c.source << ": " << e.what();
      EXPECT_TRUE(contains(e.what(), c.part)) << c.source << ": " << e.what();
    }
  }
}

TEST(ChatErrors, RaiseException) {
  const auto e = render_error("{% if messages[0].role == 'system' %}\n{{ raise_exception('System role not supported') }}\n{% endif %}",
                              R"({"messages": [{"role": "system", "content": "x"}]})");
  ASSERT_TRUE(e);
  EXPECT_EQ(e->kind(), TemplateErrorKind::kRaised);
  EXPECT_EQ(e->detail(), "System role not supported");
  EXPECT_EQ(e->line(), 2);
  EXPECT_EQ(e->code(), ErrorCode::kInvalidArgument);
  EXPECT_TRUE(contains(e->what(), "System role not supported")) << e->what();
}

TEST(ChatErrors, RuntimeTypeErrorsNameTheOperation) {
  auto e = render_error("{{ 'a' + none }}");
  ASSERT_TRUE(e);
  EXPECT_EQ(e->kind(), TemplateErrorKind::kRuntime);
  EXPECT_TRUE(contains(e->what(), "'+'")) << e->what();

  e = render_error("{% for x in 5 %}{% endfor %}");
  ASSERT_TRUE(e);
  EXPECT_TRUE(contains(e->what(), "cannot loop over integer")) << e->what();

  e = render_error("{% set x = 1 %}{% set x.y = 2 %}");
  ASSERT_TRUE(e);
  EXPECT_TRUE(contains(e->what(), "namespace")) << e->what();

  e = render_error("{{ 1 / 0 }}");
  ASSERT_TRUE(e);
  EXPECT_TRUE(contains(e->what(), "division by zero")) << e->what();
}

TEST(ChatErrors, RunawayRecursionIsAnErrorNotACrash) {
  const auto e = render_error("{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}");
  ASSERT_TRUE(e);
  EXPECT_TRUE(contains(e->what(), "nested too deeply")) << e->what();
  // Deeply nested source is refused by the parser, and so are endless chains (a + a + ...).
  std::string deep(5000, '(');
  EXPECT_THROW(ChatTemplate("{{ " + deep + "1" + std::string(5000, ')') + " }}"), TemplateError);
  std::string chain = "{{ a";
  for (int i = 0; i < 100000; ++i) chain += " + a";
  EXPECT_THROW(ChatTemplate(chain + " }}"), TemplateError);
  std::string ifs;
  for (int i = 0; i < 1000; ++i) ifs += "{% if true %}";
  EXPECT_THROW(ChatTemplate{ifs}, TemplateError);
}

TEST(ChatErrors, RunawayWorkIsStopped) {
  // A loop that would copy terabytes stops at the work budget (about a gigabyte of copying).
  const std::string big = nlohmann::ordered_json{{"big", std::string(1 << 20, 'x')}}.dump();
  auto e = render_error("{% for i in range(1000000) %}{% set y = big ~ i %}{% endfor %}", big);
  ASSERT_TRUE(e);
  EXPECT_TRUE(contains(e->what(), "too much work")) << e->what();
  // Sizes are limited before anything is allocated.
  e = render_error("{{ range(100000000) }}");
  ASSERT_TRUE(e);
  EXPECT_TRUE(contains(e->what(), "range() is too long")) << e->what();
  e = render_error("{{ 'x'|center(1000000000000) }}");
  ASSERT_TRUE(e);
  e = render_error("{% set ns = namespace(l=[1]) %}{% for i in range(30) %}{% set ns.l = ns.l + ns.l %}{% endfor %}");
  ASSERT_TRUE(e);
  EXPECT_TRUE(contains(e->what(), "list that is too long")) << e->what();
}

TEST(ChatErrors, DeepOrCircularValuesAreErrorsNotCrashes) {
  // A namespace that contains itself cannot be printed; the cycle is freed when rendering ends.
  auto e = render_error("{% set ns = namespace() %}{% set ns.me = ns %}{{ ns|tojson }}");
  ASSERT_TRUE(e);
  EXPECT_TRUE(contains(e->what(), "nested too deeply")) << e->what();
  EXPECT_EQ(render("{% set ns = namespace() %}{% set ns.me = ns %}ok"), "ok");
  // Values nested a million deep are built and freed without recursion.
  EXPECT_EQ(render("{% set ns = namespace(l=[]) %}{% for i in range(200000) %}{% set ns.l = [ns.l] %}{% endfor %}"
                   "{{ ns.l|length }}"),
            "1");
  // JSON input nested too deeply is refused.
  std::string deep;
  for (int i = 0; i < 2000; ++i) deep += "[";
  for (int i = 0; i < 2000; ++i) deep += "]";
  ChatTemplate t("{{ messages|length }}");
  EXPECT_THROW(t.render(nlohmann::ordered_json::parse(deep)), Error);
}

TEST(ChatErrors, BadArguments) {
  ChatTemplate t("{{ messages|length }}");
  EXPECT_THROW(t.render(nlohmann::ordered_json::object()), Error);
  ChatOptions o;
  o.tools = "not a list";
  EXPECT_THROW(t.render(nlohmann::ordered_json::array(), o), Error);
  EXPECT_EQ(t.render(nlohmann::ordered_json::array()), "0");
}

}  // namespace
}  // namespace quarrel::chat::testing
