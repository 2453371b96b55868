#include "tokenizer/unicode.h"

#include <gtest/gtest.h>

#include <set>

namespace quarrel::tokenizer {
namespace {

const std::string kFFFD = "\xEF\xBF\xBD";

TEST(Unicode, SanitizeFollowsMaximalSubparts) {
  // The Unicode Standard's example (chapter 3, "U+FFFD Substitution of Maximal Subparts"):
  // 61 F1 80 80 E1 80 C2 62 80 63 80 BF 64 -> a FFFD FFFD FFFD b FFFD c FFFD FFFD d.
  EXPECT_EQ(sanitize_utf8("\x61\xF1\x80\x80\xE1\x80\xC2\x62\x80\x63\x80\xBF\x64"),
            "a" + kFFFD + kFFFD + kFFFD + "b" + kFFFD + "c" + kFFFD + kFFFD + "d");
  // Overlongs, surrogates and values past U+10FFFF: one U+FFFD per byte (no lead accepts them).
  EXPECT_EQ(sanitize_utf8("\xC0\xAF"), kFFFD + kFFFD);
  EXPECT_EQ(sanitize_utf8("\xE0\x80\xAF"), kFFFD + kFFFD + kFFFD);
  EXPECT_EQ(sanitize_utf8("\xED\xA0\x80"), kFFFD + kFFFD + kFFFD);
  EXPECT_EQ(sanitize_utf8("\xF4\x90\x80\x80"), kFFFD + kFFFD + kFFFD + kFFFD);
  // A truncated character at the end: one U+FFFD.
  EXPECT_EQ(sanitize_utf8("x\xE2\x82"), "x" + kFFFD);
  EXPECT_EQ(sanitize_utf8("\xF0\x9F\x98"), kFFFD);
  // Valid text, including a real U+FFFD, is unchanged.
  const std::string ok = "caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\xA6\x99 " + kFFFD;
  EXPECT_TRUE(is_valid_utf8(ok));
  EXPECT_EQ(sanitize_utf8(ok), ok);
  EXPECT_FALSE(is_valid_utf8("\x80"));
  EXPECT_FALSE(is_valid_utf8("\xC3"));
}

TEST(Unicode, IncompleteTail) {
  EXPECT_EQ(incomplete_utf8_tail(""), 0u);
  EXPECT_EQ(incomplete_utf8_tail("abc"), 0u);
  EXPECT_EQ(incomplete_utf8_tail("ab\xC3"), 1u);
  EXPECT_EQ(incomplete_utf8_tail("ab\xC3\xA9"), 0u);
  EXPECT_EQ(incomplete_utf8_tail("\xE2\x82"), 2u);
  EXPECT_EQ(incomplete_utf8_tail("\xF0\x9F\x98"), 3u);
  EXPECT_EQ(incomplete_utf8_tail("\xF0\x9F\x98\x81"), 0u);
  EXPECT_EQ(incomplete_utf8_tail("\x80"), 0u);          // can never complete
  EXPECT_EQ(incomplete_utf8_tail("\xE0\x80"), 0u);      // overlong: can never complete
  EXPECT_EQ(incomplete_utf8_tail("\xED\xA0"), 0u);      // surrogate
  EXPECT_EQ(incomplete_utf8_tail("\xC3\xA9\xE2"), 1u);
  EXPECT_EQ(incomplete_utf8_tail("\xFF"), 0u);
}

TEST(Unicode, NextUtf8) {
  const std::string s = "a\xC3\xA9\xE2\x82\xAC\xF0\x9F\xA6\x99";
  size_t i = 0;
  EXPECT_EQ(next_utf8(s, i), U'a');
  EXPECT_EQ(next_utf8(s, i), U'\u00E9');
  EXPECT_EQ(next_utf8(s, i), U'\u20AC');
  EXPECT_EQ(next_utf8(s, i), U'\U0001F999');
  EXPECT_EQ(i, s.size());
  std::string out;
  for (char32_t c : {U'a', U'\u00E9', U'\u20AC', U'\U0001F999'}) append_utf8(out, c);
  EXPECT_EQ(out, s);
}

TEST(Unicode, ByteLevelMapIsABijection) {
  const auto& m = byte_to_unicode();
  std::set<std::string> seen;
  for (int b = 0; b < 256; ++b) {
    const std::string& s = m[static_cast<size_t>(b)];
    EXPECT_TRUE(seen.insert(s).second);
    size_t i = 0;
    EXPECT_EQ(unicode_to_byte(next_utf8(s, i)), b);
  }
  // GPT-2's well-known characters: space is Ġ (U+0120), newline is Ċ (U+010A), '!' is itself.
  EXPECT_EQ(m[' '], "\xC4\xA0");
  EXPECT_EQ(m['\n'], "\xC4\x8A");
  EXPECT_EQ(m['!'], "!");
  std::string raw;
  EXPECT_TRUE(byte_level_decode("Hello\xC4\xA0world\xC4\x8A", raw));
  EXPECT_EQ(raw, "Hello world\n");
}

TEST(Unicode, Properties) {
  EXPECT_TRUE(is_unicode_whitespace(U' '));
  EXPECT_TRUE(is_unicode_whitespace(U'\u3000'));
  EXPECT_FALSE(is_unicode_whitespace(U'a'));
  EXPECT_TRUE(is_unicode_punctuation(U'!'));
  EXPECT_TRUE(is_unicode_punctuation(U'\u3002'));
  EXPECT_TRUE(is_unicode_symbol(U'$'));
  EXPECT_TRUE(is_unicode_control(U'\x01'));
  EXPECT_TRUE(is_unicode_nonspacing_mark(U'\u0301'));
  EXPECT_EQ(unicode_to_lower(U'\u00C9'), U'\u00E9');
}

TEST(Unicode, Normalization) {
  EXPECT_EQ(normalize_nfc("e\xCC\x81"), "\xC3\xA9");
  EXPECT_EQ(normalize_nfd("\xC3\xA9"), "e\xCC\x81");
  EXPECT_EQ(normalize_nfc("plain ascii"), "plain ascii");
}

}  // namespace
}  // namespace quarrel::tokenizer
