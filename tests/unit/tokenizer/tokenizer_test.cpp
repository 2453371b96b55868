#include "tokenizer/tokenizer.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "core/error.h"
#include "test_vocabs.h"

namespace quarrel::tokenizer {
namespace {

using Ids = std::vector<int32_t>;

TEST(Tokenizer, SentencePieceMergesByScore) {
  const Tokenizer tok(testing::tiny_spm());
  auto id = [&](const char* s) { return tok.text_to_token(s); };
  EXPECT_EQ(tok.encode("hello world", false, false), (Ids{id("▁hello"), id("▁world")}));
  EXPECT_EQ(tok.encode("hello world", true, false), (Ids{tok.bos(), id("▁hello"), id("▁world")}));
  EXPECT_EQ(tok.encode("", true, false), (Ids{tok.bos()}));
  EXPECT_EQ(tok.encode("", false, false), Ids{});
  // Characters that are no token become their UTF-8 bytes.
  EXPECT_EQ(tok.encode("€", false, false), (Ids{id("▁"), id("<0xE2>"), id("<0x82>"), id("<0xAC>")}));
}

TEST(Tokenizer, SentencePieceLeadingSpaceRule) {
  const Tokenizer tok(testing::tiny_spm());
  for (const char* s : {"hello", " hello", "  hello world  ", "é", "", "\n", "ab €"}) {
    EXPECT_EQ(tok.decode(tok.encode(s, false, false)), s);
    EXPECT_EQ(tok.decode(tok.encode(s, true, false), true), s);
  }
  // Without add_space_prefix nothing is added, nothing removed.
  Vocab v = testing::tiny_spm();
  v.add_space_prefix = false;
  const Tokenizer raw(v);
  EXPECT_EQ(raw.encode("hello", false, false)[0], raw.text_to_token("h"));
  EXPECT_EQ(raw.decode(raw.encode(" hello", false, false)), " hello");
}

TEST(Tokenizer, ByteLevelBpe) {
  const Tokenizer tok(testing::tiny_bpe());
  EXPECT_EQ(tok.encode("hello world", false, false), (Ids{tok.text_to_token("hello"), tok.text_to_token("Ġworld")}));
  for (const char* s : {"hello world", "  x\n\ny", "caf\xC3\xA9 \xF0\x9F\xA6\x99", ""}) EXPECT_EQ(tok.decode(tok.encode(s, false, false)), s);
  // Invalid UTF-8 is repaired (U+FFFD) before tokenizing.
  EXPECT_EQ(tok.decode(tok.encode("a\xFF" "b", false, false)), "a\xEF\xBF\xBD" "b");
  EXPECT_EQ(tok.token_to_piece(tok.text_to_token("Ġworld")), " world");
}

TEST(Tokenizer, SpecialIdsAndFlags) {
  Vocab v = testing::tiny_bpe();
  const Tokenizer tok(v);
  EXPECT_EQ(tok.eos(), v.eos.value());
  EXPECT_TRUE(tok.is_eog(tok.eos()));
  EXPECT_FALSE(tok.is_eog(0));
  EXPECT_FALSE(tok.add_bos());  // gpt-2 rules add no BOS
  EXPECT_EQ(tok.pre(), "gpt-2");
  v.add_eos = true;
  const Tokenizer with_eos(v);
  EXPECT_EQ(with_eos.encode("hello", true, false).back(), with_eos.eos());
  EXPECT_EQ(with_eos.encode("hello", false, false).back(), with_eos.text_to_token("hello"));
  // A flag that asks for a token the model does not have is an error.
  Vocab bad = testing::tiny_bpe();
  bad.bos = -1;
  bad.add_bos = true;
  EXPECT_THROW(Tokenizer{bad}, Error);
}

TEST(Tokenizer, EndOfTurnTokensByName) {
  Vocab v = testing::tiny_bpe();
  v.tokens.push_back("<|eot_id|>");
  v.token_types.push_back(static_cast<int32_t>(TokenType::kNormal));  // mislabelled: becomes control
  v.scores.clear();
  const Tokenizer tok(v);
  const int32_t eot = tok.text_to_token("<|eot_id|>");
  EXPECT_EQ(tok.eot(), eot);
  EXPECT_TRUE(tok.is_eog(eot));
  EXPECT_TRUE(tok.is_control(eot));
}

TEST(Tokenizer, BadIdsAreErrors) {
  const Tokenizer tok(testing::tiny_spm());
  const Ids bad{0, 1, tok.n_tokens()};
  EXPECT_THROW(tok.decode(bad), Error);
  EXPECT_THROW(tok.token_to_piece(-1), Error);
  EXPECT_THROW(tok.token_text(tok.n_tokens()), Error);
}

TEST(Tokenizer, ConcurrentEncoding) {
  const Tokenizer tok(testing::tiny_bpe());
  const std::string text = "hello world, hello   world\n\nworld hello 12345 " + std::string(200, 'x');
  const Ids expect = tok.encode(text, false, false);
  std::vector<std::thread> threads;
  std::atomic<int> bad{0};
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&] {
      for (int i = 0; i < 200; ++i)
        if (tok.encode(text, false, false) != expect) ++bad;
    });
  for (auto& th : threads) th.join();
  EXPECT_EQ(bad.load(), 0);
}

}  // namespace
}  // namespace quarrel::tokenizer
