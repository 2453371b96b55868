#pragma once
// Internal: SentencePiece BPE (tokenizer.ggml.model "llama"). The text (spaces already turned
// into U+2581) starts as one symbol per character; the adjacent pair whose concatenation is the
// token with the highest score (leftmost on ties) is merged until no pair forms a token, as
// llama.cpp and SentencePiece do. Characters left that are not tokens become byte tokens
// (<0xNN>), or the unknown token when the vocabulary has no byte tokens.
#include <array>
#include <cstdint>
#include <string_view>
#include <vector>

#include "tokenizer/token_table.h"

namespace quarrel::tokenizer {

class SpmEncoder {
 public:
  SpmEncoder(const TokenTable& table, int32_t unk);
  void encode(std::string_view text, std::vector<int32_t>& out) const;

 private:
  const TokenTable& table_;
  int32_t unk_;
  std::array<int32_t, 256> byte_token_{};  // -1: none
};

}  // namespace quarrel::tokenizer
