#pragma once
// Text <-> token ids for the three tokenizer kinds GGUF files carry: SentencePiece BPE
// ("llama"), byte-level BPE with a pre-tokenizer ("gpt2") and WordPiece ("bert").
//
//   auto tok = Tokenizer::from_gguf(file);
//   std::vector<int32_t> ids = tok.encode("Hello", /*add_special=*/true, /*parse_special=*/false);
//   std::string text = tok.decode(ids, /*skip_special=*/true);
//
// encode(): invalid UTF-8 in the text is first replaced by U+FFFD per maximal ill-formed
// subpart (what a JavaScript TextDecoder or Python's errors="replace" gives). When
// parse_special is true, control and user-defined tokens written in the text become those
// tokens; when false only user-defined tokens do (as in Hugging Face tokenizers) and control
// tokens are plain text. add_special adds BOS / EOS (and BERT's [SEP]) as the model's flags say.
//
// decode(): the exact bytes of the tokens' pieces (byte tokens give their byte, U+2581 becomes
// a space, byte-level characters become their bytes); with add_space_prefix the one space the
// encoder put in front of the text is removed again, so decode(encode(x)) == x for all
// valid UTF-8 x that holds no special-token text. It never applies Hugging Face's
// clean_up_tokenization_spaces (which loses spaces). The result can hold invalid UTF-8 where the
// tokens do (sanitize_utf8() in unicode.h repairs it).
//
// A Tokenizer is immutable once built, cheap to copy (shared), and safe to use from many
// threads at once.
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "tokenizer/vocab.h"

namespace quarrel::gguf {
class GgufFile;
}

namespace quarrel::tokenizer {

class Tokenizer {
 public:
  // Builds from tokenizer.ggml.* metadata; throws quarrel::Error for a bad or unsupported
  // vocabulary. An unknown tokenizer.ggml.pre logs a warning and uses the "default" rules.
  static Tokenizer from_gguf(const gguf::GgufFile& f);
  explicit Tokenizer(const Vocab& vocab);

  std::vector<int32_t> encode(std::string_view text, bool add_special, bool parse_special) const;
  std::string decode(std::span<const int32_t> ids, bool skip_special = false) const;

  // One token's text as decode() renders it alone: control tokens as their text (or "" with
  // special = false), byte tokens as their single byte. Throws for an id out of range.
  std::string token_to_piece(int32_t id, bool special = true) const;
  // The token's text as stored in the vocabulary (e.g. "▁Hello", "<0x0A>", "Ġworld").
  const std::string& token_text(int32_t id) const;
  // The id of a token by its stored text, or -1.
  int32_t text_to_token(std::string_view text) const;

  VocabKind kind() const;
  const std::string& pre() const;  // the rules used ("default" when the GGUF's name is unknown)
  int32_t n_tokens() const;
  TokenType token_type(int32_t id) const;
  bool is_control(int32_t id) const;  // control or unknown: not rendered with skip_special
  bool is_byte(int32_t id) const;
  float score(int32_t id) const;

  // Special ids; -1 when the model has none.
  int32_t bos() const;
  int32_t eos() const;
  int32_t eot() const;
  int32_t eom() const;
  int32_t unk() const;
  int32_t sep() const;
  int32_t pad() const;
  bool add_bos() const;
  bool add_eos() const;
  bool add_space_prefix() const;
  // Whether decode() drops one space at the start of its output (SentencePiece with
  // add_space_prefix, WordPiece): the space the encoder put before the first word.
  bool decode_strips_leading_space() const;
  // End of generation: EOS, EOT, EOM and the end-of-turn tokens a model's vocabulary names.
  bool is_eog(int32_t id) const;
  const std::vector<int32_t>& eog_ids() const;

  struct Impl;

 private:
  explicit Tokenizer(std::shared_ptr<const Impl> impl) : impl_(std::move(impl)) {}
  std::shared_ptr<const Impl> impl_;
};

}  // namespace quarrel::tokenizer
