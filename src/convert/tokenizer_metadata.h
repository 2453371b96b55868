#pragma once
// The tokenizer.* keys of a converted model, from the checkpoint's tokenizer.json and
// tokenizer_config.json (through tokenizer/hf_tokenizer.h), completed from the other files a
// checkpoint carries: chat_template.jinja (transformers >= 4.43 keeps the template there),
// and the BOS / EOS ids of generation_config.json or config.json when the tokenizer files do
// not name them.
#include "convert/checkpoint.h"
#include "tokenizer/hf_tokenizer.h"

namespace quarrel::convert {

// n_vocab: the embedding rows; the token list is padded to it. Error(kNotFound) when the
// checkpoint has no tokenizer.json.
tokenizer::GgufKeyValues tokenizer_metadata(const HfCheckpoint& ckpt, int64_t n_vocab);

}  // namespace quarrel::convert
