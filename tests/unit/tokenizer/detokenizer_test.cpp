// IncrementalDetokenizer: on random token sequences (byte tokens that split characters and
// form invalid UTF-8 included), the concatenated chunks equal decode(), and no chunk boundary
// falls inside a character.
#include "tokenizer/detokenizer.h"

#include <gtest/gtest.h>

#include <random>
#include <set>

#include "common/random.h"
#include "test_vocabs.h"
#include "tokenizer/unicode.h"

namespace quarrel::tokenizer {
namespace {

// Byte offsets that fall strictly inside a well-formed multi-byte character of s.
std::set<size_t> inside_characters(const std::string& s) {
  std::set<size_t> inside;
  for (size_t i = 0; i < s.size();) {
    const size_t start = i;
    const char32_t cp = next_utf8(s, i);
    const bool real = !(cp == 0xFFFD && !(i - start == 3 && static_cast<unsigned char>(s[start]) == 0xEF));
    if (real)
      for (size_t k = start + 1; k < i; ++k) inside.insert(k);
  }
  return inside;
}

void check_property(const Tokenizer& tok, const std::vector<int32_t>& pool, uint64_t seed) {
  std::mt19937_64 rng(seed);
  for (int round = 0; round < 300; ++round) {
    std::vector<int32_t> ids(rng() % 40);
    for (auto& id : ids) id = pool[rng() % pool.size()];
    for (const bool skip : {false, true}) {
      for (const bool replace : {false, true}) {
        IncrementalDetokenizer d(tok, {skip, replace});
        std::string all;
        std::vector<size_t> boundaries;
        for (int32_t id : ids) {
          const std::string chunk = d.push(id);
          if (replace) {
            EXPECT_TRUE(is_valid_utf8(chunk));
          }
          all += chunk;
          boundaries.push_back(all.size());
        }
        all += d.flush();
        const std::string full = tok.decode(ids, skip);
        const std::string expect = replace ? sanitize_utf8(full) : full;
        ASSERT_EQ(all, expect) << "seed " << seed << " round " << round << " skip " << skip << " replace " << replace;
        const auto inside = inside_characters(all);
        for (size_t b : boundaries) EXPECT_EQ(inside.count(b), 0u) << "chunk boundary at " << b << " splits a character";
      }
    }
  }
}

TEST(IncrementalDetokenizer, SentencePieceWithByteTokens) {
  const Tokenizer tok(testing::tiny_spm());
  std::vector<int32_t> pool;
  for (int32_t id = 0; id < tok.n_tokens(); ++id) pool.push_back(id);
  // Weight the bytes of multi-byte characters: lead bytes, continuations, and invalid bytes.
  for (const char* t : {"<0xE2>", "<0x82>", "<0xAC>", "<0xC3>", "<0xA9>", "<0xF0>", "<0x9F>", "<0xA6>", "<0x99>",
                        "<0xFF>", "<0xC0>", "<0xED>", "<0xA0>", "<0x80>"})
    for (int k = 0; k < 8; ++k) pool.push_back(tok.text_to_token(t));
  check_property(tok, pool, test::test_seed());
}

TEST(IncrementalDetokenizer, ByteLevelBpe) {
  const Tokenizer tok(testing::tiny_bpe());
  std::vector<int32_t> pool;
  for (int32_t id = 0; id < tok.n_tokens(); ++id) pool.push_back(id);
  check_property(tok, pool, test::test_seed() + 1);
}

TEST(IncrementalDetokenizer, HoldsAnUnfinishedCharacterUntilItIsWhole) {
  const Tokenizer tok(testing::tiny_spm());
  IncrementalDetokenizer d(tok);
  EXPECT_EQ(d.push(tok.text_to_token("▁hello")), "hello");  // the leading space of the text goes
  EXPECT_EQ(d.push(tok.text_to_token("<0xE2>")), "");
  EXPECT_EQ(d.push(tok.text_to_token("<0x82>")), "");
  EXPECT_EQ(d.pending(), 2u);
  EXPECT_EQ(d.push(tok.text_to_token("<0xAC>")), "\xE2\x82\xAC");
  EXPECT_EQ(d.push(tok.text_to_token("<0xE2>")), "");
  EXPECT_EQ(d.push(tok.text_to_token("▁world")), "\xE2 world");  // can never finish: out it goes
  EXPECT_EQ(d.push(tok.text_to_token("<0xC3>")), "");
  EXPECT_EQ(d.flush(), "\xC3");
  d.reset();
  EXPECT_EQ(d.push(tok.text_to_token("▁world")), "world");
}

TEST(IncrementalDetokenizer, ReplaceInvalid) {
  const Tokenizer tok(testing::tiny_spm());
  IncrementalDetokenizer d(tok, {true, true});
  EXPECT_EQ(d.push(tok.text_to_token("<0xE2>")), "");
  EXPECT_EQ(d.push(tok.text_to_token("<0x82>")), "");
  EXPECT_EQ(d.push(tok.text_to_token("▁world")), "\xEF\xBF\xBD world");
  EXPECT_EQ(d.push(tok.text_to_token("<0xF0>")), "");
  EXPECT_EQ(d.flush(), "\xEF\xBF\xBD");
}

}  // namespace
}  // namespace quarrel::tokenizer
