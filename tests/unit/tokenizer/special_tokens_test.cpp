// Special and user-defined tokens written in the text: split out before tokenizing when the
// caller allows special tokens, plain text otherwise (user-defined tokens always split out).
#include <gtest/gtest.h>

#include "test_vocabs.h"
#include "tokenizer/special_tokens.h"
#include "tokenizer/tokenizer.h"

namespace quarrel::tokenizer {
namespace {

using Ids = std::vector<int32_t>;

TEST(SpecialTokens, MatcherIsLeftmostLongest) {
  SpecialMatcher m;
  m.add("ab", 1);
  m.add("bcd", 2);
  m.add("<a>", 3);
  m.add("<a><b>", 4);
  size_t at = 0, len = 0;
  int32_t id = -1;
  ASSERT_TRUE(m.find("xabcd", 0, at, len, id));  // "ab" starts first, although "bcd" is longer
  EXPECT_EQ(at, 1u);
  EXPECT_EQ(len, 2u);
  EXPECT_EQ(id, 1);
  EXPECT_FALSE(m.find("xabcd", 3, at, len, id));  // "bcd" overlapped the match
  ASSERT_TRUE(m.find("..<a><b>..", 0, at, len, id));  // the longest at the same start
  EXPECT_EQ(id, 4);
  ASSERT_TRUE(m.find("..<a><c>..", 0, at, len, id));
  EXPECT_EQ(id, 3);
  EXPECT_FALSE(m.find("nothing here", 0, at, len, id));
}

class SpmSpecials : public ::testing::Test {
 protected:
  Tokenizer tok{testing::tiny_spm()};
  int32_t id(const char* s) { return tok.text_to_token(s); }
};

TEST_F(SpmSpecials, ControlTokensOnlyWhenAllowed) {
  const int32_t ctl = id("<|ctl|>");
  const Ids with = tok.encode("hello<|ctl|>hello", false, true);
  EXPECT_EQ(with, (Ids{id("▁hello"), ctl, id("▁hello")}));  // the prefix space comes back after a special token
  const Ids without = tok.encode("hello<|ctl|>hello", false, false);
  EXPECT_EQ(std::count(without.begin(), without.end(), ctl), 0);
  EXPECT_EQ(tok.decode(without), "hello<|ctl|>hello");
  // BOS text is a control token too.
  EXPECT_EQ(tok.encode("<s>hello", false, true), (Ids{tok.bos(), id("▁hello")}));
  EXPECT_EQ(tok.encode("<s>hello", true, true), (Ids{tok.bos(), tok.bos(), id("▁hello")}));
}

TEST_F(SpmSpecials, UserDefinedTokensAlways) {
  const int32_t tag = id("<tag>");
  EXPECT_EQ(tok.encode("<tag>hello", false, false), (Ids{tag, id("▁hello")}));
  EXPECT_EQ(tok.encode("hello<tag>", false, true), (Ids{id("▁hello"), tag}));
  EXPECT_EQ(tok.decode(tok.encode("a<tag>b<tag><tag>", false, false)), "a<tag> b<tag><tag>");
}

TEST_F(SpmSpecials, SkipSpecialOnDecode) {
  const Ids ids = tok.encode("hello<|ctl|>world", true, true);
  EXPECT_EQ(tok.decode(ids, false), "<s> hello<|ctl|> world");
  EXPECT_EQ(tok.decode(ids, true), "hello world");
  EXPECT_EQ(tok.token_to_piece(id("<|ctl|>"), false), "");
  EXPECT_EQ(tok.token_to_piece(id("<|ctl|>"), true), "<|ctl|>");
  EXPECT_EQ(tok.token_to_piece(id("<tag>"), false), "<tag>");  // user-defined tokens are text
}

TEST(SpecialTokens, Phi3StripsWhitespaceAfterSpecialTokens) {
  Vocab v = testing::tiny_spm();
  v.name = "Phi-3 mini";
  const Tokenizer tok(v);
  const int32_t ctl = tok.text_to_token("<|ctl|>");
  EXPECT_EQ(tok.encode("<|ctl|>  \n hello", false, true), (Ids{ctl, tok.text_to_token("▁hello")}));
  // <s> keeps the whitespace after it.
  const Ids s = tok.encode("<s> hello", false, true);
  ASSERT_GE(s.size(), 2u);
  EXPECT_EQ(s[0], tok.bos());
  EXPECT_NE(s[1], tok.text_to_token("▁hello"));
}

TEST(SpecialTokens, ByteLevelBpe) {
  const Tokenizer tok(testing::tiny_bpe());
  const int32_t eot = tok.text_to_token("<|endoftext|>"), think = tok.text_to_token("<think>");
  const Ids a = tok.encode("hello<|endoftext|> world<think>", false, true);
  EXPECT_EQ(a, (Ids{tok.text_to_token("hello"), eot, tok.text_to_token("Ġworld"), think}));
  const Ids b = tok.encode("hello<|endoftext|> world<think>", false, false);
  EXPECT_EQ(std::count(b.begin(), b.end(), eot), 0);
  EXPECT_EQ(b.back(), think);
  EXPECT_EQ(tok.decode(b), "hello<|endoftext|> world<think>");
  EXPECT_EQ(tok.decode(a, true), "hello world<think>");
}

}  // namespace
}  // namespace quarrel::tokenizer
