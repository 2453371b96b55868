// WordPiece (BERT): the rules of BERT's BasicTokenizer + WordpieceTokenizer, on a small vocab.
#include <gtest/gtest.h>

#include "test_vocabs.h"
#include "tokenizer/tokenizer.h"

namespace quarrel::tokenizer {
namespace {

using Ids = std::vector<int32_t>;

class WordPiece : public ::testing::Test {
 protected:
  Tokenizer tok{testing::tiny_wpm()};
  int32_t id(const char* s) { return tok.text_to_token(s); }
};

TEST_F(WordPiece, GreedyLongestMatchFirst) {
  // BERT's own example: "unaffable" -> un ##aff ##able.
  EXPECT_EQ(tok.encode("unaffable", false, false), (Ids{id("▁un"), id("aff"), id("able")}));
}

TEST_F(WordPiece, LowercasesStripsAccentsAndIsolatesPunctuation) {
  EXPECT_EQ(tok.encode("Hello, WORLD!", false, false), (Ids{id("▁hello"), id("▁,"), id("▁world"), id("▁!")}));
  EXPECT_EQ(tok.encode("Café naïve", false, false), (Ids{id("▁cafe"), id("▁naive")}));
  EXPECT_EQ(tok.encode("$5", false, false), (Ids{id("▁$"), id("▁5")}));  // ASCII symbols split like punctuation
}

TEST_F(WordPiece, CjkIdeographsAreWords) {
  EXPECT_EQ(tok.encode("你好", false, false), (Ids{id("▁你"), id("▁好")}));
}

TEST_F(WordPiece, UnknownWordsAndControlCharacters) {
  EXPECT_EQ(tok.encode("hello zzz world", false, false), (Ids{id("▁hello"), tok.unk(), id("▁world")}));
  EXPECT_EQ(tok.encode("hel\x01lo\tworld\n", false, false), (Ids{id("▁hello"), id("▁world")}));
  // A word longer than 100 characters is one unknown token, even if its pieces exist.
  std::string long_word;
  for (int i = 0; i < 101; ++i) long_word += "a";
  EXPECT_EQ(tok.encode(long_word, false, false), (Ids{tok.unk()}));
  long_word.pop_back();
  EXPECT_EQ(tok.encode(long_word, false, false).size(), 100u);  // ▁a then 99 x "a"
}

TEST_F(WordPiece, ClsAndSepAroundTheText) {
  EXPECT_EQ(tok.encode("hello", true, false), (Ids{tok.bos(), id("▁hello"), tok.sep()}));
  EXPECT_EQ(tok.decode(tok.encode("hello world", true, false), true), "hello world");
}

}  // namespace
}  // namespace quarrel::tokenizer
