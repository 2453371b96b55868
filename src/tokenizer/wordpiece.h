#pragma once
// Internal: WordPiece (tokenizer.ggml.model "bert"), as BERT's tokenizer does it: clean the
// text (drop control characters, whitespace splits words), optionally lowercase and strip
// accents (NFD, drop nonspacing marks), isolate punctuation and CJK ideographs, then take the
// longest vocabulary match from the left of each word. In GGUF vocabularies a word-initial
// piece carries a leading U+2581 and a continuation piece has no "##".
#include <cstdint>
#include <string_view>
#include <vector>

#include "tokenizer/token_table.h"

namespace quarrel::tokenizer {

class WordPieceEncoder {
 public:
  WordPieceEncoder(const TokenTable& table, int32_t unk, bool lowercase, bool strip_accents);
  void encode(std::string_view text, std::vector<int32_t>& out) const;

 private:
  const TokenTable& table_;
  int32_t unk_;
  bool lowercase_, strip_accents_;
  size_t max_token_len_ = 0;
};

}  // namespace quarrel::tokenizer
