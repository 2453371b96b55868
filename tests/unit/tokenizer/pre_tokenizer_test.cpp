#include "tokenizer/pre_tokenizer.h"

#include <gtest/gtest.h>

#include "test_vocabs.h"
#include "tokenizer/tokenizer.h"

namespace quarrel::tokenizer {
namespace {

std::vector<std::string> split(const char* pre, std::string_view text) {
  const PreTokenizerSpec* spec = find_pre_tokenizer(pre);
  EXPECT_NE(spec, nullptr) << pre;
  PreTokenizer p(*spec);
  std::vector<std::pair<size_t, size_t>> spans;
  p.split(text, spans);
  std::vector<std::string> out;
  for (auto [b, e] : spans) out.emplace_back(text.substr(b, e - b));
  return out;
}

using V = std::vector<std::string>;

TEST(PreTokenizer, EveryFamilyCompilesAndCoversTheText) {
  const std::string text = "Hello, y'all! I'M here: 1234567 日本語 עברית 🦙\n\n\t  code(x) {}  ";
  const char* required[] = {"default", "gpt-2", "llama-bpe", "qwen2", "qwen35", "deepseek-llm", "deepseek-coder",
                            "deepseek-v3", "falcon", "mpt", "starcoder", "refact", "gpt-4o", "smollm", "tekken",
                            "command-r", "olmo", "dbrx", "stablelm2", "phi-2", "bloom", "gpt3-finnish",
                            "poro-chat", "jais", "chatglm-bpe", "viking", "smaug-bpe", "exaone", "minerva-7b",
                            "seed-coder", "llama4"};
  for (const char* name : required) {
    const auto pieces = split(name, text);
    std::string joined;
    for (const auto& p : pieces) {
      EXPECT_FALSE(p.empty()) << name;
      joined += p;
    }
    EXPECT_EQ(joined, text) << name << ": the pieces must cover the text exactly";
  }
}

TEST(PreTokenizer, Gpt2) {
  EXPECT_EQ(split("gpt-2", "Hello world's 2024!!  ok"), (V{"Hello", " world", "'s", " 2024", "!!", " ", " ok"}));
  EXPECT_EQ(split("gpt-2", "a  \n b"), (V{"a", "  \n", " b"}));
}

TEST(PreTokenizer, Llama3) {
  EXPECT_EQ(split("llama-bpe", "Hello world's 1234567"), (V{"Hello", " world", "'s", " ", "123", "456", "7"}));
  EXPECT_EQ(split("llama-bpe", "I'M \"quoted\"\n\n  x"), (V{"I", "'M", " \"", "quoted", "\"\n\n", " ", " x"}));
  // Case-insensitive contractions, and a non-letter prefix joining a letter run.
  EXPECT_EQ(split("llama-bpe", "THEY'RE $dollars"), (V{"THEY", "'RE", " $", "dollars"}));
}

TEST(PreTokenizer, Qwen2SplitsEveryDigit) {
  EXPECT_EQ(split("qwen2", "x 1234"), (V{"x", " ", "1", "2", "3", "4"}));
  EXPECT_EQ(find_pre_tokenizer("qwen2")->nfc, true);
}

TEST(PreTokenizer, Gpt4oSplitsCamelCase) {
  EXPECT_EQ(split("gpt-4o", "CamelCase HTTPServer"), (V{"Camel", "Case", " HTTPServer"}));
}

TEST(PreTokenizer, WhitespaceIsOnigurumasClass) {
  // U+0085 (NEL) is whitespace to Oniguruma's \s (and so to Hugging Face's regexes); PCRE2's
  // own \s agrees on it but not on U+180E, which is a format character.
  EXPECT_EQ(split("gpt-2", "a\xC2\x85\xC2\x85" "b"), (V{"a", "\xC2\x85", "\xC2\x85", "b"}));
  EXPECT_EQ(translate_regex(R"(\s+(?!\S)|[^\s\p{L}])"), R"([\t-\r\x{85}\p{Z}]+(?![^\t-\r\x{85}\p{Z}])|[^\t-\r\x{85}\p{Z}\p{L}])");
}

TEST(PreTokenizer, AliasesResolve) {
  EXPECT_EQ(find_pre_tokenizer("llama3")->name, "llama-bpe");
  EXPECT_EQ(find_pre_tokenizer("llama4")->name, "gpt-4o");
  EXPECT_EQ(find_pre_tokenizer("poro-chat")->name, "bloom");
  EXPECT_EQ(find_pre_tokenizer("no-such-rules"), nullptr);
}

TEST(PreTokenizer, UnknownNameWarnsAndUsesTheDefaultRules) {
  Vocab v = testing::tiny_bpe();
  v.pre = "no-such-rules";
  ::testing::internal::CaptureStderr();
  const Tokenizer tok(v);
  const std::string err = ::testing::internal::GetCapturedStderr();
  EXPECT_NE(err.find("unknown pre-tokenizer"), std::string::npos) << err;
  EXPECT_NE(err.find("no-such-rules"), std::string::npos) << err;
  EXPECT_EQ(tok.pre(), "default");
  // The default rules still tokenize, and the text comes back.
  const auto ids = tok.encode("hello world 123", false, false);
  EXPECT_EQ(tok.decode(ids), "hello world 123");
}

}  // namespace
}  // namespace quarrel::tokenizer
