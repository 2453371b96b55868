// Filters, tests (`is ...`) and the methods of strings and dicts.
#include "tests/unit/chat/render_helpers.h"

namespace quarrel::chat::testing {
namespace {

const char* kPeople = R"({"people": [{"name": "Ann", "age": 31, "admin": true},
                                      {"name": "bob", "age": 25, "admin": false},
                                      {"name": "Cy", "age": 40}]})";

TEST(ChatFilters, Strings) {
  EXPECT_EQ(render("{{ '  x y  '|trim }}|{{ 'abc'|upper }}|{{ 'ABC'|lower }}|{{ 'hello world'|title }}|{{ 'hello World'|capitalize }}"),
            "x y|ABC|abc|Hello World|Hello World");
  EXPECT_EQ(render("{{ 'aaa'|replace('a', 'b') }} {{ 'aaa'|replace('a', 'b', 2) }} {{ 'abc'|length }} {{ 'abc'|count }}"),
            "bbb bba 3 3");
  EXPECT_EQ(render("{{ 'straße'|upper }} {{ 'ÉCOLE'|lower }}"), "STRASSE école");
  EXPECT_EQ(render("{{ '42'|int + 1 }} {{ '3.5'|float }} {{ 'x'|int }} {{ 'x'|int(7) }} {{ '12abc'|int }}"), "43 3.5 0 7 12");
  EXPECT_EQ(render("{{ 'a\nb\n\nc'|indent }}|{{ 'a\nb'|indent(2, true) }}|{{ 'a\n\nb'|indent(2, blank=true) }}"),
            "a\n    b\n\n    c|  a\n  b|a\n  \n  b");
  EXPECT_EQ(render("{{ 'abc'|list }} {{ 'abc'|first }} {{ 'abc'|last }} {{ 'abc'|reverse }}"), "[\"a\", \"b\", \"c\"] a c cba");
  EXPECT_EQ(render("{{ 'one two  three'|wordcount }} {{ '<a&b>'|e }} {{ 'x'|center(5) }}|{{ 'long words here'|truncate(9, leeway=0) }}"),
            "3 &lt;a&amp;b&gt;   x  |long...");
  EXPECT_EQ(render("{{ '%s is %d years'|format('Ann', 31) }}"), "Ann is 31 years");
  EXPECT_EQ(render("{{ '--x--'|trim('-') }}"), "x");
}

TEST(ChatFilters, Numbers) {
  EXPECT_EQ(render("{{ -3|abs }} {{ 2.7|int }} {{ 3|float }} {{ 3.14159|round(2) }} {{ 2.5|round }} {{ 2.1|round(0, 'ceil') }}"),
            "3 2 3.0 3.14 2.0 3.0");
  EXPECT_EQ(render("{{ 5|string ~ 'x' }} {{ true|int }} {{ false|string }}"), "5x 1 false");
}

TEST(ChatFilters, Lists) {
  EXPECT_EQ(render("{{ [3, 1, 2]|sort }} {{ [3, 1, 2]|sort(reverse=true) }} {{ ['b', 'A', 'c']|sort }} {{ ['b', 'A', 'c']|sort(case_sensitive=true) }}"),
            "[1, 2, 3] [3, 2, 1] [\"A\", \"b\", \"c\"] [\"A\", \"b\", \"c\"]");
  EXPECT_EQ(render("{{ [1, 2, 3]|first }} {{ [1, 2, 3]|last }} {{ [1, 2]|length }} {{ [1, 2]|reverse }} {{ [1, 2, 1, 3, 2]|unique }}"),
            "1 3 2 [2, 1] [1, 2, 3]");
  EXPECT_EQ(render("{{ ['a', 'b']|join }} {{ ['a', 'b']|join(', ') }} {{ [1, none, 2.0]|join('-') }} {{ 'abc'|join('.') }}"),
            "ab a, b 1--2 a.b.c");
  EXPECT_EQ(render("{{ [1, 2, 3, 4, 5]|batch(2) }} {{ [1, 2, 3]|batch(2, 0) }}"), "[[1, 2], [3, 4], [5]] [[1, 2], [3, 0]]");
  EXPECT_EQ(render("{{ [1, 2, 3]|sum }} {{ [3, 1, 2]|min }} {{ [3, 1, 2]|max }} {{ ['x']|list }}"), "6 1 3 [\"x\"]");
  EXPECT_EQ(render("{{ [1, 2, 3, 4]|select('odd')|list }} {{ [1, 2, 3, 4]|reject('odd')|list }} {{ [0, 1, '', 'a']|select|list }}"),
            "[1, 3] [2, 4] [1, \"a\"]");
  EXPECT_EQ(render("{{ [1, 5, 10]|select('gt', 3)|list }} {{ ['a', 'b']|reject('equalto', 'a')|list }}"), "[5, 10] [\"b\"]");
  EXPECT_EQ(render("{{ ['a', 'B']|map('upper')|list }} {{ ['a,b', 'c']|map('replace', ',', ';')|join(' ') }}"),
            "[\"A\", \"B\"] a;b c");
}

TEST(ChatFilters, ListsOfDicts) {
  EXPECT_EQ(render("{{ people|map(attribute='name')|join(',') }}", kPeople), "Ann,bob,Cy");
  EXPECT_EQ(render("{{ people|map(attribute='admin', default='?')|list }}", kPeople), "[true, false, \"?\"]");
  EXPECT_EQ(render("{{ people|selectattr('admin')|map(attribute='name')|list }}", kPeople), "[\"Ann\"]");
  EXPECT_EQ(render("{{ people|rejectattr('admin')|map(attribute='name')|list }}", kPeople), "[\"bob\", \"Cy\"]");
  EXPECT_EQ(render("{{ people|selectattr('name', 'equalto', 'Cy')|map(attribute='age')|first }}", kPeople), "40");
  EXPECT_EQ(render("{{ people|selectattr('age', 'gt', 30)|map(attribute='name')|join }}", kPeople), "AnnCy");
  EXPECT_EQ(render("{{ people|sort(attribute='name')|map(attribute='name')|join }}", kPeople), "AnnbobCy");
  EXPECT_EQ(render("{{ people|sort(attribute='age', reverse=true)|map(attribute='age')|join(' ') }}", kPeople), "40 31 25");
  EXPECT_EQ(render("{{ people|sum(attribute='age') }} {{ (people|max(attribute='age')).name }}", kPeople), "96 Cy");
}

TEST(ChatFilters, Dicts) {
  const char* d = R"({"d": {"b": 2, "a": 1, "c": {"x": [1]}}})";
  EXPECT_EQ(render("{{ d|items }}", d), "[[\"b\", 2], [\"a\", 1], [\"c\", {\"x\": [1]}]]");
  EXPECT_EQ(render("{{ d|length }} {{ d|dictsort|first }} {{ d|list }}", d), "3 [\"a\", 1] [\"b\", \"a\", \"c\"]");
  EXPECT_EQ(render("{{ d.keys() }} {{ d.values()|length }} {{ d.get('a') }} {{ d.get('zz', 'dflt') }} [{{ d.get('zz') }}]", d),
            "[\"b\", \"a\", \"c\"] 3 1 dflt []");
  EXPECT_EQ(render("{{ d.dictsort(reverse=true)|map('first')|join }}", d), "cba");
}

TEST(ChatFilters, ToJson) {
  const char* v = R"({"t": {"name": "f", "n": 1.5, "ok": true, "none": null, "list": [1, "é"], "empty": {}, "e2": []}})";
  EXPECT_EQ(render("{{ t|tojson }}", v),
            R"({"name": "f", "n": 1.5, "ok": true, "none": null, "list": [1, "é"], "empty": {}, "e2": []})");
  EXPECT_EQ(render("{{ t.list|tojson(indent=2) }}", v), "[\n  1,\n  \"é\"\n]");
  EXPECT_EQ(render("{{ {'a': {'b': [1, 2]}, 'c': {}}|tojson(indent=2) }}"),
            "{\n  \"a\": {\n    \"b\": [\n      1,\n      2\n    ]\n  },\n  \"c\": {}\n}");
  EXPECT_EQ(render("{{ t.list|tojson(ensure_ascii=true) }} {{ {'b': 1, 'a': 2}|tojson(sort_keys=true) }}", v),
            R"([1, "\u00e9"] {"a": 2, "b": 1})");
  EXPECT_EQ(render("{{ {'a': [1, 2]}|tojson(separators=(',', ':')) }}"), R"({"a":[1,2]})");
  EXPECT_EQ(render(R"({{ 'q"\\\n\t\x01'|tojson }})"), R"("q\"\\\n\t\u0001")");
  EXPECT_EQ(render("{{ '😀'|tojson(ensure_ascii=true) }}"), R"("\ud83d\ude00")");
}

TEST(ChatTests, BuiltinTests) {
  EXPECT_EQ(render("{{ 1 is odd }}{{ 2 is even }}{{ 'a' is string }}{{ 1 is number }}{{ 1.5 is number }}{{ 1 is integer }}"
                   "{{ 1.5 is float }}{{ none is none }}{{ true is boolean }}{{ true is true }}{{ false is false }}"),
            "truetruetruetruetruetruetruetruetruetruetrue");
  EXPECT_EQ(render("{{ {} is mapping }}{{ [] is sequence }}{{ 'x' is sequence }}{{ [] is iterable }}{{ 'x' is iterable }}"
                   "{{ {} is iterable }}{{ x is defined }}{{ y is undefined }}{{ 'ab' is lower }}{{ 'AB' is upper }}",
                   R"({"x": null})"),
            "truetruetruetruetruefalsetruetruetruetrue");
  EXPECT_EQ(render("{{ 9 is divisibleby(3) }}{{ 9 is divisibleby 4 }}{{ 3 is eq 3 }}{{ 3 is ne 3 }}{{ 3 is lt 4 }}"
                   "{{ 3 is ge(3) }}{{ 'a' is in 'cat' }}{{ 2 is in [1, 2] }}{{ 3 is not equalto 3 }}"),
            "truefalsetruefalsetruetruetruetruefalse");
  EXPECT_EQ(render("{{ range is callable }}{{ x is sameas x }}{{ 1 is sameas 1 }}", R"({"x": [1]})"), "truetruetrue");
}

TEST(ChatMethods, Strings) {
  EXPECT_EQ(render("{{ '  x  '.strip() }}|{{ '  x  '.lstrip() }}|{{ '  x  '.rstrip() }}|{{ '\n\n x\n'.strip('\n') }}|{{ 'xxaxx'.lstrip('x') }}"),
            "x|x  |  x| x|axx");
  EXPECT_EQ(render("{{ 'abc'.startswith('ab') }}{{ 'abc'.endswith('bc') }}{{ 'abc'.startswith(('x', 'a')) }}{{ 'abc'.endswith('x') }}"),
            "truetruetruefalse");
  EXPECT_EQ(render("{{ 'a,b,,c'.split(',') }} {{ '  a  b '.split() }} {{ 'a,b,c'.split(',', 1) }} {{ 'a b c'.split(none, 1) }}"),
            "[\"a\", \"b\", \"\", \"c\"] [\"a\", \"b\"] [\"a\", \"b,c\"] [\"a\", \"b c\"]");
  EXPECT_EQ(render("{{ 'aXbX'.replace('X', '-') }} {{ 'aXbX'.replace('X', '-', 1) }} {{ 'ab'.upper() }} {{ 'AB'.lower() }} {{ 'ab cd'.title() }}"),
            "a-b- a-bX AB ab Ab Cd");
  EXPECT_EQ(render("{{ 'hello'.find('l') }} {{ 'hello'.find('z') }} {{ 'hello'.count('l') }} {{ '-'.join(['a', 'b']) }}"),
            "2 -1 2 a-b");
  EXPECT_EQ(render("{{ '{} and {}'.format('x', 1) }} {{ '{0}{0}{name}'.format('r', name='n') }}"), "x and 1 rrn");
  EXPECT_EQ(render("{{ '</think>x'.split('</think>')[-1] }} {{ 'héllo'.length }}"), "x 5");
}

}  // namespace
}  // namespace quarrel::chat::testing
