#pragma once
// The tokenizer's data as a GGUF file stores it (tokenizer.ggml.*): tokens, scores, token types,
// merges, special ids and flags. A Vocab is plain data; Tokenizer (tokenizer.h) builds the
// machinery from it. Optional fields left empty take the defaults of the tokenizer kind (and of
// the pre-tokenizer), as llama.cpp does.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace quarrel::gguf {
class GgufFile;
}

namespace quarrel::tokenizer {

// tokenizer.ggml.token_type values.
enum class TokenType : int32_t {
  kUndefined = 0,
  kNormal = 1,
  kUnknown = 2,
  kControl = 3,
  kUserDefined = 4,
  kUnused = 5,
  kByte = 6,
};

// tokenizer.ggml.model
enum class VocabKind {
  kSpm,  // "llama": SentencePiece BPE with scores and byte fallback
  kBpe,  // "gpt2": byte-level BPE with merges and a pre-tokenizer
  kWpm,  // "bert": WordPiece
};

struct Vocab {
  VocabKind kind = VocabKind::kBpe;
  std::string pre;  // tokenizer.ggml.pre ("" when absent)
  std::string name; // general.name (a few model-specific rules key off it)

  std::vector<std::string> tokens;
  std::vector<float> scores;           // empty: all 0
  std::vector<int32_t> token_types;    // TokenType values; empty: all normal
  std::vector<std::string> merges;     // "left right" (byte-level BPE)

  // Special ids. nullopt: the kind's default; -1: explicitly none.
  std::optional<int32_t> bos, eos, eot, eom, unk, sep, pad, mask;
  std::optional<int32_t> fim_pre, fim_suf, fim_mid, fim_pad, fim_rep, fim_sep;

  std::optional<bool> add_bos, add_eos, add_sep, add_space_prefix;

  // WordPiece normalizer (tokenizer.ggml.normalizer.lowercase / .strip_accents): lowercase
  // by default, strip accents by default when lowercasing, as uncased BERT vocabularies expect.
  std::optional<bool> lowercase, strip_accents;

  // The tokenizer.ggml.model string for a kind ("llama", "gpt2", "bert").
  static const char* model_name(VocabKind k);
  // Reads tokenizer.ggml.* (and general.name). Throws quarrel::Error naming the key for a
  // missing token list, an unknown model, arrays of the wrong type or length.
  static Vocab from_gguf(const gguf::GgufFile& f);
};

}  // namespace quarrel::tokenizer
