// Expressions: arithmetic, comparisons, logic, membership, ternaries, concatenation, slicing,
// attribute and item access, literals, calls; undefined values.
#include <cstdlib>
#include <ctime>

#include "tests/unit/chat/render_helpers.h"

namespace quarrel::chat::testing {
namespace {

// strftime_now formats local time; the expected strings are in UTC.
const bool kUtc = [] {
  setenv("TZ", "UTC", 1);
  tzset();
  return true;
}();

TEST(ChatExpressions, Arithmetic) {
  EXPECT_EQ(render("{{ 1 + 2 }} {{ 7 - 10 }} {{ 3 * 4 }} {{ 7 / 2 }} {{ 7 // 2 }} {{ 7 % 3 }} {{ 2 ** 10 }}"),
            "3 -3 12 3.5 3 1 1024");
  EXPECT_EQ(render("{{ 4 / 2 }} {{ 1.5 + 1 }} {{ -7 // 2 }} {{ 2 ** -1 }} {{ 0.1 + 0.2 }}"), "2.0 2.5 -4 0.5 0.30000000000000004");
  EXPECT_EQ(render("{{ -x }} {{ +x }} {{ -(1 + 2) }}", R"({"x": 5})"), "-5 5 -3");
  EXPECT_EQ(render("{{ 1 + 2 * 3 }} {{ (1 + 2) * 3 }} {{ 2 * 3 ** 2 }}"), "7 9 18");
}

TEST(ChatExpressions, StringsAndConcatenation) {
  EXPECT_EQ(render("{{ 'a' + 'b' }} {{ 'n' ~ 1 ~ true }} {{ 'x' + 2 }} {{ 1.0 ~ '' }}"), "ab n1true x2 1");
  EXPECT_EQ(render("{{ \"dq\" 'sq' }}"), "dqsq");
  EXPECT_EQ(render(R"({{ 'tab\there\nnl \'q\' \u00e9 \x41' }})"), "tab\there\nnl 'q' \xC3\xA9 A");
}

TEST(ChatExpressions, Comparisons) {
  EXPECT_EQ(render("{{ 1 < 2 }}{{ 2 <= 2 }}{{ 3 > 4 }}{{ 4 >= 4 }}{{ 1 == 1.0 }}{{ 'a' != 'b' }}"), "truetruefalsetruetruetrue");
  EXPECT_EQ(render("{{ 'abc' < 'abd' }}"), "true");
  // Equality as the reference renderer has it: none equals undefined; lists compare by identity.
  EXPECT_EQ(render("{{ none == undefined_var }} {{ x == x }} {{ [1] == [1] }}", R"({"x": [1]})"), "true true false");
}

TEST(ChatExpressions, Logic) {
  EXPECT_EQ(render("{{ true and false }} {{ true or false }} {{ not true }} {{ not not 1 }}"), "false true false true");
  // and/or return an operand, as in Python.
  EXPECT_EQ(render("{{ 0 or 'x' }} {{ 'a' and 'b' }} {{ [] or 'empty' }}"), "x b empty");
  // Short-circuit: the right side is not evaluated.
  EXPECT_EQ(render("{{ false and raise_exception('no') }}{{ true or raise_exception('no') }}"), "falsetrue");
  EXPECT_EQ(render("{{ not a == b }}", R"({"a": 1, "b": 2})"), "true");
}

TEST(ChatExpressions, Membership) {
  EXPECT_EQ(render("{{ 'b' in 'abc' }} {{ 2 in [1, 2] }} {{ 'k' in d }} {{ 'z' not in d }} {{ 3 not in [1] }}",
                   R"({"d": {"k": 1}})"),
            "true true true true true");
  EXPECT_EQ(render("{{ 'x' in nothing }} {{ 'x' not in nothing }}"), "false true");
}

TEST(ChatExpressions, Ternary) {
  EXPECT_EQ(render("{{ 'yes' if x else 'no' }}", R"({"x": 1})"), "yes");
  EXPECT_EQ(render("{{ 'yes' if x else 'no' }}", R"({"x": 0})"), "no");
  EXPECT_EQ(render("{{ 'a' if false else 'b' if false else 'c' }}"), "c");
  EXPECT_EQ(render("[{{ 'shown' if false }}]"), "[]");
}

TEST(ChatExpressions, AccessAndSlicing) {
  const std::string v = R"({"m": {"role": "user", "parts": [10, 20, 30, 40]}, "s": "héllo"})";
  EXPECT_EQ(render("{{ m.role }} {{ m['role'] }} {{ m.parts[1] }} {{ m.parts[-1] }} {{ m.parts.0 }}", v), "user user 20 40 10");
  EXPECT_EQ(render("{{ m.parts[1:3] }} {{ m.parts[:2] }} {{ m.parts[2:] }} {{ m.parts[::-1] }} {{ m.parts[::2] }}", v),
            "[20, 30] [10, 20] [30, 40] [40, 30, 20, 10] [10, 30]");
  EXPECT_EQ(render("{{ s[1:3] }} {{ s[::-1] }} {{ s[1] }} {{ s|length }}", v), "él olléh é 5");
  EXPECT_EQ(render("{{ m.parts|length }} {{ m.parts.length }}", v), "4 4");
  EXPECT_EQ(render("[{{ m.missing }}][{{ m.parts[9] }}]", v), "[][]");
}

TEST(ChatExpressions, Literals) {
  EXPECT_EQ(render("{{ [1, 2] + [3] }}"), "[1, 2, 3]");
  EXPECT_EQ(render("{% set t = (1, 2) %}{{ t[1] }}{{ t|length }}"), "22");
  EXPECT_EQ(render("{{ {'k': 'v'}['k'] }} {{ {'k': 'v'}.k }}"), "v v");
  EXPECT_EQ(render("{{ True }} {{ False }} {{ None is none }}"), "true false true");
}

TEST(ChatExpressions, UndefinedBehavesAsInJinja) {
  // Prints as nothing, is false, its attributes are undefined, `is defined` is false.
  EXPECT_EQ(render("[{{ nope }}][{{ nope.attr.deeper }}]{% if nope %}T{% else %}F{% endif %}"), "[][]F");
  EXPECT_EQ(render("{{ nope is defined }} {{ nope is undefined }} {{ nope.x is defined }}"), "false true false");
  EXPECT_EQ(render("{{ nope|default('dflt') }} {{ nope|d('d2') }} {{ ''|default('e', true) }} {{ 'v'|default('x') }}"),
            "dflt d2 e v");
}

TEST(ChatExpressions, FunctionCalls) {
  EXPECT_EQ(render("{{ range(3) }} {{ range(1, 4) }} {{ range(10, 0, -3) }}"), "[0, 1, 2] [1, 2, 3] [10, 7, 4, 1]");
  EXPECT_EQ(render("{{ dict(a=1, b='x') }}"), "{\"a\": 1, \"b\": \"x\"}");
  EXPECT_EQ(render("{% macro f(a, b) %}{{ a }}-{{ b }}{% endmacro %}{{ f(*[1, 2]) }} {{ f(**{'a': 3, 'b': 4}) }}"), "1-2 3-4");
  EXPECT_EQ(render("{{ strftime_now('%Y-%m-%d %H:%M') }} {{ strftime_now('%d %b %Y') }} {{ strftime_now('%B %d, %Y') }}"),
            "2025-03-07 09:05 07 Mar 2025 March 07, 2025");
}

}  // namespace
}  // namespace quarrel::chat::testing
