#include "test_vocabs.h"

#include <fmt/format.h>

#include "tokenizer/unicode.h"

namespace quarrel::tokenizer::testing {

namespace {
void add(Vocab& v, std::string text, TokenType type, float score = 0.0f) {
  v.tokens.push_back(std::move(text));
  v.token_types.push_back(static_cast<int32_t>(type));
  v.scores.push_back(score);
}
}  // namespace

Vocab tiny_spm() {
  Vocab v;
  v.kind = VocabKind::kSpm;
  add(v, "<unk>", TokenType::kUnknown);
  add(v, "<s>", TokenType::kControl);
  add(v, "</s>", TokenType::kControl);
  for (int b = 0; b < 256; ++b) add(v, fmt::format("<0x{:02X}>", b), TokenType::kByte);
  float score = -1.0f;
  for (const char* p : {"▁", "h", "e", "l", "o", "w", "r", "d", "a", "b", "▁h", "▁he", "ll", "llo", "▁hello",
                        "▁w", "▁wor", "or", "ld", "▁world", "é", "▁é", "ab", "▁ab"})
    add(v, p, TokenType::kNormal, score--);
  add(v, "<|ctl|>", TokenType::kControl);
  add(v, "<tag>", TokenType::kUserDefined);
  v.bos = 1;
  v.eos = 2;
  v.unk = 0;
  return v;
}

Vocab tiny_bpe() {
  Vocab v;
  v.kind = VocabKind::kBpe;
  v.pre = "gpt-2";
  const auto& b2u = byte_to_unicode();
  for (int b = 0; b < 256; ++b) add(v, b2u[static_cast<size_t>(b)], TokenType::kNormal);
  for (const char* p : {"Ġh", "Ġhe", "ll", "llo", "Ġhello", "he", "hello", "Ġw", "or", "Ġwor", "ld", "Ġworld", "wor",
                        "world", "ĠĠ"})
    add(v, p, TokenType::kNormal);
  v.merges = {"Ġ h", "Ġh e", "l l", "ll o", "Ġhe llo", "h e", "he llo", "Ġ w", "o r", "Ġw or", "l d", "Ġwor ld",
              "w or", "wor ld", "Ġ Ġ"};
  add(v, "<|endoftext|>", TokenType::kControl);
  add(v, "<think>", TokenType::kUserDefined);
  v.eos = v.bos = static_cast<int32_t>(v.tokens.size()) - 2;
  return v;
}

Vocab tiny_wpm() {
  Vocab v;
  v.kind = VocabKind::kWpm;
  for (const char* s : {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"}) add(v, s, TokenType::kControl);
  for (const char* s : {"▁hello", "▁world", "▁un", "aff", "able", "▁,", "▁!", "▁cafe", "▁naive", "▁你", "▁好",
                        "▁the", "▁a", "a", "▁$", "▁5", "▁b"})
    add(v, s, TokenType::kNormal);
  v.unk = 1;
  v.bos = 2;
  v.sep = 3;
  v.pad = 0;
  return v;
}

}  // namespace quarrel::tokenizer::testing
