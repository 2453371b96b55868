#pragma once
// Pre-tokenization of byte-level BPE: the split rules each model family writes as
// tokenizer.ggml.pre. A rule set is a list of regexes applied in turn; each one splits every
// current piece into its matches and the text between them (both kept, as the Hugging Face
// Split pre-tokenizer with behavior "Isolated" does). Regexes are the families' own (as in
// their tokenizer.json), run by PCRE2 with Unicode properties (UCP) and JIT. `\s` is taken
// with the meaning of the Oniguruma engine behind Hugging Face tokenizers:
// [\t\n\v\f\r\x85\p{Z}].
#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace quarrel::tokenizer {

struct PreTokenizerSpec {
  std::string name;                  // canonical name
  std::vector<std::string> aliases;  // other tokenizer.ggml.pre values with the same rules
  std::vector<std::string> regexes;  // applied in order
  bool ignore_merges = false;  // a whole piece that is a token is taken as is (Llama 3, Tekken)
  bool add_bos = false;        // the default for add_bos_token
  bool no_bos = false;         // the family has no BOS token (ChatGLM)
  bool nfc = false;            // NFC-normalize text first (Qwen's normalizer)
};

// Every known rule set.
const std::vector<PreTokenizerSpec>& pre_tokenizer_specs();
// The rule set for a tokenizer.ggml.pre value (name or alias), or nullptr.
const PreTokenizerSpec* find_pre_tokenizer(std::string_view name);

// A compiled rule set. Thread-safe: split() may run on many threads at once.
class PreTokenizer {
 public:
  explicit PreTokenizer(const PreTokenizerSpec& spec);
  ~PreTokenizer();
  PreTokenizer(PreTokenizer&&) noexcept;
  PreTokenizer& operator=(PreTokenizer&&) noexcept;

  const PreTokenizerSpec& spec() const { return spec_; }

  // Splits valid UTF-8 `text` into pieces, appended to `out` as [begin, end) byte offsets.
  void split(std::string_view text, std::vector<std::pair<size_t, size_t>>& out) const;

 private:
  struct Compiled;
  PreTokenizerSpec spec_;
  std::vector<std::unique_ptr<Compiled>> regexes_;
};

// The regex as PCRE2 is given it: `\s` / `\S` replaced by explicit classes (see above).
// Throws Error(kInvalidArgument) for a construct it cannot rewrite (`\S` inside a class).
std::string translate_regex(std::string_view re);

}  // namespace quarrel::tokenizer
