#pragma once
// Internal: byte-level BPE (tokenizer.ggml.model "gpt2"). Text is split by the pre-tokenizer;
// each piece is taken as raw bytes, each byte standing for its GPT-2 character's token, and the
// pair with the lowest merge rank (leftmost on ties) is merged until none is left, as Hugging
// Face's BPE model does. Merges work on ids: (left id, right id) -> (rank, merged id).
#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "tokenizer/pre_tokenizer.h"
#include "tokenizer/string_index.h"
#include "tokenizer/token_table.h"

namespace quarrel::tokenizer {

class BpeEncoder {
 public:
  BpeEncoder(const TokenTable& table, const std::vector<std::string>& merges, const PreTokenizerSpec& spec);

  // Encodes valid UTF-8 text that holds no special tokens, appending ids to `out`.
  void encode(std::string_view text, std::vector<int32_t>& out) const;

  const PreTokenizer& pre_tokenizer() const { return pre_; }
  size_t n_merges() const { return merges_.size(); }

 private:
  void encode_word(std::string_view word, std::vector<int32_t>& out) const;
  void merge_small(std::vector<int32_t>& syms) const;
  void merge_large(std::vector<int32_t>& syms) const;
  void emit(int32_t sym, std::vector<int32_t>& out) const;
  int32_t symbol_for(const TokenTable& table, std::string_view text);

  int32_t n_tokens_ = 0;
  PreTokenizer pre_;
  bool ignore_merges_ = false;
  bool nfc_ = false;
  std::array<int32_t, 256> byte_sym_{};  // the symbol each byte starts as
  StringIndex raw_index_;                // raw bytes -> id, for normal tokens
  PairIndex merges_;
  // Strings in merges that are not tokens get symbols n_tokens_ + i; they end as their bytes.
  StringIndex pseudo_index_;
  std::vector<std::string> pseudo_raw_;
};

}  // namespace quarrel::tokenizer
