#pragma once
// Hugging Face tokenizer.json (+ tokenizer_config.json) -> GGUF tokenizer metadata
// (tokenizer.ggml.*), with the project's own code. Handles:
//   - byte-level BPE (a ByteLevel pre-tokenizer or decoder): model "gpt2", merges, and the
//     tokenizer.ggml.pre name found by matching the pre-tokenizer's regexes (and its
//     ignore_merges / NFC normalizer) against the known rule sets (pre_tokenizer.h);
//   - SentencePiece-style BPE with byte_fallback (Llama 2, Gemma): model "llama", <0xNN> byte
//     tokens, scores that rank tokens as the merges do (a token made by merge r scores -r),
//     add_space_prefix when the normalizer / Metaspace prepends U+2581;
//   - WordPiece: model "bert", word-initial pieces prefixed with U+2581, "##" dropped.
// Token types: added tokens marked special are control, other added tokens user-defined,
// the unknown token unknown; ids with no token are filled with "[PAD<id>]" (unused).
// Special ids and add_bos/add_eos come from tokenizer_config.json, else from the
// post-processor's template; a flag that neither states is left out (the runtime default of the
// kind / pre-tokenizer applies). The chat template(s) are copied as tokenizer.chat_template[.NAME].
#include <nlohmann/json.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "gguf/gguf_value.h"

namespace quarrel::gguf {
class GgufWriter;
}

namespace quarrel::tokenizer {

struct HfConvertOptions {
  // Pad the token list to this many entries (a model's embedding rows); nullopt: as many as
  // the tokenizer has.
  std::optional<size_t> vocab_size;
};

using GgufKeyValues = std::vector<std::pair<std::string, gguf::Value>>;

// Throws quarrel::Error(kInvalidFile / kUnsupported) naming what it cannot convert.
// `config` may be null (no tokenizer_config.json).
GgufKeyValues convert_hf_tokenizer(const nlohmann::json& tokenizer_json, const nlohmann::json* config,
                                   const HfConvertOptions& opt = {});
// The same from files; config_path may be empty.
GgufKeyValues convert_hf_tokenizer_files(const std::string& tokenizer_json_path, const std::string& config_path,
                                         const HfConvertOptions& opt = {});
// Sets every key in `w`.
void set_gguf_metadata(gguf::GgufWriter& w, const GgufKeyValues& kv);

}  // namespace quarrel::tokenizer
