// Statements and whitespace control, with Jinja's semantics (and @huggingface/jinja's where
// the two differ: `{{ true }}` prints "true", `{{ none }}` prints nothing).
#include "tests/unit/chat/render_helpers.h"

namespace quarrel::chat::testing {
namespace {

TEST(ChatStatements, TextAndOutput) {
  EXPECT_EQ(render("hello"), "hello");
  EXPECT_EQ(render("{{ 'a' }}{{ 1 }}{{ 2.5 }}{{ 3.0 }}"), "a12.53.0");
  EXPECT_EQ(render("[{{ none }}][{{ undefined_thing }}]"), "[][]");
  EXPECT_EQ(render("{{ true }} {{ false }}"), "true false");
  EXPECT_EQ(render("{{ [1, 'a', none] }}"), "[1, \"a\", null]");
  EXPECT_EQ(render("{{ {'a': 1, 'b': [true]} }}"), "{\"a\": 1, \"b\": [true]}");
  // One trailing newline of the source is dropped, as Jinja does.
  EXPECT_EQ(render("x\n"), "x");
  EXPECT_EQ(render("x\n\n"), "x\n");
}

TEST(ChatStatements, IfElifElse) {
  const std::string t = "{% if x > 2 %}big{% elif x > 1 %}mid{% else %}small{% endif %}";
  EXPECT_EQ(render(t, R"({"x": 3})"), "big");
  EXPECT_EQ(render(t, R"({"x": 2})"), "mid");
  EXPECT_EQ(render(t, R"({"x": 0})"), "small");
  EXPECT_EQ(render("{% if a %}A{% endif %}|{% if not a %}N{% endif %}"), "|N");
  EXPECT_EQ(render("{% if [] %}x{% else %}empty{% endif %}{% if {} %}x{% else %}E{% endif %}"), "emptyE");
}

TEST(ChatStatements, ForLoopVariables) {
  EXPECT_EQ(render("{% for x in xs %}{{ loop.index }}{{ loop.index0 }}{{ loop.revindex }}{{ loop.revindex0 }}"
                   "{{ 'F' if loop.first }}{{ 'L' if loop.last }}{{ loop.length }},{% endfor %}",
                   R"({"xs": ["a", "b", "c"]})"),
            "1032F3,21213,3210L3,");
  EXPECT_EQ(render("{% for x in xs %}{{ loop.previtem }}>{{ x }}>{{ loop.nextitem }};{% endfor %}", R"({"xs": [1, 2, 3]})"),
            ">1>2;1>2>3;2>3>;");
  EXPECT_EQ(render("{% for x in xs %}{{ loop.cycle('odd', 'even') }} {% endfor %}", R"({"xs": [1, 2, 3]})"),
            "odd even odd ");
}

TEST(ChatStatements, ForLoopOverDictsFilterAndElse) {
  const std::string d = R"({"d": {"b": 1, "a": 2}})";
  EXPECT_EQ(render("{% for k in d %}{{ k }}{% endfor %}", d), "ba");
  EXPECT_EQ(render("{% for k, v in d.items() %}{{ k }}={{ v }};{% endfor %}", d), "b=1;a=2;");
  EXPECT_EQ(render("{% for k, v in d|items %}{{ k }}={{ v }};{% endfor %}", d), "b=1;a=2;");
  EXPECT_EQ(render("{% for k, v in d|dictsort %}{{ k }}={{ v }};{% endfor %}", d), "a=2;b=1;");
  EXPECT_EQ(render("{% for x in xs if x is odd %}{{ x }}{{ loop.index }} {% endfor %}", R"({"xs": [1, 2, 3, 4, 5]})"),
            "11 32 53 ");
  EXPECT_EQ(render("{% for x in [] %}x{% else %}none{% endfor %}"), "none");
  EXPECT_EQ(render("{% for x in [1] %}x{% else %}none{% endfor %}"), "x");
  EXPECT_EQ(render("{% for a, b in [[1, 2], [3, 4]] %}{{ a + b }},{% endfor %}"), "3,7,");
}

TEST(ChatStatements, BreakAndContinue) {
  EXPECT_EQ(render("{% for x in [1, 2, 3, 4] %}{% if x == 3 %}{% break %}{% endif %}{{ x }}{% endfor %}"), "12");
  EXPECT_EQ(render("{% for x in [1, 2, 3, 4] %}{% if x is even %}{% continue %}{% endif %}{{ x }}{% endfor %}"), "13");
  // Output before the break stays, as in Jinja.
  EXPECT_EQ(render("{% for x in [1, 2, 3] %}{{ x }}{% if x == 2 %}{% break %}{% endif %}{% endfor %}"), "12");
}

TEST(ChatStatements, SetAndScopes) {
  EXPECT_EQ(render("{% set x = 1 %}{% set y = x + 1 %}{{ x }}{{ y }}"), "12");
  EXPECT_EQ(render("{% set a, b = 1, 2 %}{{ b }}{{ a }}"), "21");
  EXPECT_EQ(render("{% set x %}block {{ 1 + 1 }}{% endset %}[{{ x }}]"), "[block 2]");
  EXPECT_EQ(render("{% set x | trim | upper %}  block  {% endset %}[{{ x }}]"), "[BLOCK]");
  // A set inside a loop does not leak out of it.
  EXPECT_EQ(render("{% set x = 0 %}{% for i in [1, 2] %}{% set x = i %}{% endfor %}{{ x }}"), "0");
  // ... but a namespace attribute does.
  EXPECT_EQ(render("{% set ns = namespace(total=0, seen=false) %}{% for i in [1, 2, 3] %}{% set ns.total = ns.total + i %}"
                   "{% endfor %}{{ ns.total }} {{ ns.seen }}"),
            "6 false");
  EXPECT_EQ(render("{% set ns = namespace() %}{% set ns.a = 'x' %}{{ ns.a }}"), "x");
  EXPECT_EQ(render("{% set ns = namespace({'a': 1}, b=2) %}{{ ns.a }}{{ ns.b }}"), "12");
  // A set inside an if writes the enclosing scope.
  EXPECT_EQ(render("{% if true %}{% set x = 5 %}{% endif %}{{ x }}"), "5");
}

TEST(ChatStatements, Macros) {
  EXPECT_EQ(render("{% macro greet(name, punct='!') %}Hi {{ name }}{{ punct }}{% endmacro %}"
                   "{{ greet('Ann') }} {{ greet('Bob', '?') }} {{ greet(punct='.', name='Cy') }}"),
            "Hi Ann! Hi Bob? Hi Cy.");
  // Defaults may refer to earlier parameters.
  EXPECT_EQ(render("{% macro m(a, b=a * 2) %}{{ a }},{{ b }}{% endmacro %}{{ m(3) }}"), "3,6");
  // Recursion.
  EXPECT_EQ(render("{% macro f(n) %}{% if n > 0 %}{{ n }}{{ f(n - 1) }}{% endif %}{% endmacro %}{{ f(3) }}"), "321");
  EXPECT_EQ(render("{% macro v() %}{{ varargs|length }}{{ kwargs.k }}{% endmacro %}{{ v(1, 2, k='x') }}"), "2x");
  EXPECT_EQ(render("{% macro m(a) %}[{{ a }}]{% endmacro %}{{ m() }}"), "[]");
}

TEST(ChatStatements, CallBlocks) {
  EXPECT_EQ(render("{% macro wrap(tag) %}<{{ tag }}>{{ caller() }}</{{ tag }}>{% endmacro %}"
                   "{% call wrap('b') %}bold{% endcall %}"),
            "<b>bold</b>");
  EXPECT_EQ(render("{% macro each(xs) %}{% for x in xs %}{{ caller(x) }}{% endfor %}{% endmacro %}"
                   "{% call(item) each([1, 2]) %}({{ item }}){% endcall %}"),
            "(1)(2)");
}

TEST(ChatStatements, FilterBlocksAndRaw) {
  EXPECT_EQ(render("{% filter upper %}abc {{ 'd' }}{% endfilter %}"), "ABC D");
  EXPECT_EQ(render("{% filter replace('a', 'o') %}banana{% endfilter %}"), "bonono");
  EXPECT_EQ(render("{% raw %}{{ not evaluated }} {% if %}{% endraw %}!"), "{{ not evaluated }} {% if %}!");
  EXPECT_EQ(render("a {%- raw -%}  {{ x }}  {%- endraw -%}  b"), "a{{ x }}b");
}

TEST(ChatStatements, WhitespaceControl) {
  EXPECT_EQ(render("a  {{- 'b' -}}  c"), "abc");
  EXPECT_EQ(render("a  {%- if true -%}  b  {%- endif -%}  c"), "abc");
  EXPECT_EQ(render("a  {#- comment -#}  b"), "ab");
  EXPECT_EQ(render("a {# comment #} b"), "a  b");
  // trim_blocks: the newline after a block tag goes; lstrip_blocks: indentation before it.
  EXPECT_EQ(render("{% if true %}\nyes\n{% endif %}\nafter"), "yes\nafter");
  EXPECT_EQ(render("line\n    {% if true %}\n    x\n    {% endif %}\nend"), "line\n    x\nend");
  // lstrip_blocks does not apply to {{ }}; trim_blocks not after }}.
  EXPECT_EQ(render("  {{ 'v' }}\nz"), "  v\nz");
  // Not stripped when other text precedes the tag on its line.
  EXPECT_EQ(render("ab  {% if true %}c{% endif %}"), "ab  c");
}

TEST(ChatStatements, GenerationTagsAreRemoved) {
  EXPECT_EQ(render("A {% generation %}B{% endgeneration %} C"), "A B C");
  EXPECT_EQ(render("A {%- generation -%} B {%- endgeneration -%} C"), "ABC");
}

}  // namespace
}  // namespace quarrel::chat::testing
