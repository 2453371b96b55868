// Text helpers that reproduce JavaScript's rules: number printing, whitespace, case mapping,
// JSON string escaping, Number()/parseInt/parseFloat.
#include "chat/text.h"

#include <gtest/gtest.h>

#include <cmath>

namespace quarrel::chat::text {
namespace {

TEST(ChatText, JsNumberMatchesNumberToString) {
  // Expected strings are what `String(x)` gives in JavaScript.
  EXPECT_EQ(js_number(0), "0");
  EXPECT_EQ(js_number(-0.0), "0");
  EXPECT_EQ(js_number(1), "1");
  EXPECT_EQ(js_number(-42), "-42");
  EXPECT_EQ(js_number(1.5), "1.5");
  EXPECT_EQ(js_number(0.1), "0.1");
  EXPECT_EQ(js_number(0.1 + 0.2), "0.30000000000000004");
  EXPECT_EQ(js_number(123456789012), "123456789012");
  EXPECT_EQ(js_number(1e20), "100000000000000000000");
  EXPECT_EQ(js_number(1e21), "1e+21");
  EXPECT_EQ(js_number(1.5e300), "1.5e+300");
  EXPECT_EQ(js_number(0.000001), "0.000001");
  EXPECT_EQ(js_number(0.0000001), "1e-7");
  EXPECT_EQ(js_number(1.2345e-7), "1.2345e-7");
  EXPECT_EQ(js_number(NAN), "NaN");
  EXPECT_EQ(js_number(-INFINITY), "-Infinity");
  EXPECT_EQ(js_number(5e-324), "5e-324");
}

TEST(ChatText, FloatDisplayKeepsOneDecimal) {
  EXPECT_EQ(js_float_display(2.0), "2.0");
  EXPECT_EQ(js_float_display(-0.0), "-0.0");
  EXPECT_EQ(js_float_display(2.5), "2.5");
  EXPECT_EQ(js_float_display(1e20), "100000000000000000000.0");
  EXPECT_EQ(js_float_display(1e21), "1e+21");
}

TEST(ChatText, WhitespaceIsJavaScripts) {
  EXPECT_EQ(trim(" \t\n\r\v\f x \xC2\xA0\xE2\x80\x83\xE3\x80\x80"), "x");  // NBSP, em space, ideographic space
  EXPECT_EQ(trim_start("  a b  "), "a b  ");
  EXPECT_EQ(trim_end("  a b  "), "  a b");
  EXPECT_EQ(trim("\xE2\x80\x8B"), "\xE2\x80\x8B");  // zero-width space is not whitespace
  EXPECT_EQ(strip_chars("xxhixx", "x", true, true), "hi");
  EXPECT_EQ(strip_chars("\n\n hi \n", "\n", true, false), " hi \n");
}

TEST(ChatText, CaseMappingIsFullUnicode) {
  EXPECT_EQ(to_upper("straße ǆ é"), "STRASSE Ǆ É");
  EXPECT_EQ(to_lower("ÀÉÎ ΟΔΟΣ"), "àéî οδος");
  EXPECT_EQ(title_case("hello wORLD x_y 1st"), "Hello WORLD X_y 1st");
  EXPECT_EQ(capitalize_first("éa"), "Éa");
  EXPECT_EQ(utf16_length("a😀é"), 4u);
  EXPECT_EQ(count_code_points("a😀é"), 3u);
}

TEST(ChatText, JsonStrings) {
  std::string s;
  append_json_string(s, "a\"b\\c\n\t\x01\x7f é 😀", false);
  EXPECT_EQ(s, "\"a\\\"b\\\\c\\n\\t\\u0001\x7f é 😀\"");
  s.clear();
  append_json_string(s, "\x7f é 😀", true);
  EXPECT_EQ(s, "\"\\u007f \\u00e9 \\ud83d\\ude00\"");
}

TEST(ChatText, NumberParsing) {
  EXPECT_EQ(js_string_to_number(" 12 "), 12);
  EXPECT_EQ(js_string_to_number(""), 0);
  EXPECT_EQ(js_string_to_number("0x10"), 16);
  EXPECT_TRUE(std::isnan(js_string_to_number("12a")));
  double d = 0;
  EXPECT_TRUE(js_parse_int("  -12.7abc", d));
  EXPECT_EQ(d, -12);
  EXPECT_FALSE(js_parse_int("abc", d));
  EXPECT_TRUE(js_parse_float("3.5e2x", d));
  EXPECT_EQ(d, 350);
  EXPECT_TRUE(js_parse_float(".5", d));
  EXPECT_EQ(d, 0.5);
}

}  // namespace
}  // namespace quarrel::chat::text
