// mistral: the Llama block with sliding-window attention (mistral.attention.sliding_window;
// absent or 0 means full attention, as in Mistral 7B v0.2+).
#include "gguf/gguf_file.h"
#include "gguf/keys.h"
#include "model/arch.h"

namespace quarrel::model {
namespace {

void read_mistral_hparams(const gguf::GgufFile& file, HParams& hp) {
  hp.sliding_window = static_cast<int64_t>(file.get_uint_or(file.arch_key(gguf::keys::kAttentionSlidingWindow), 0));
}

}  // namespace

const ArchSpec& mistral_arch() {
  static const ArchSpec spec = {
      .name = "mistral",
      .block = {.rope_style = RopeStyle::kNormal, .qkv_bias = false, .qk_norm = false},
      .read_extra_hparams = read_mistral_hparams,
      .weights = llama_family_weights,
  };
  return spec;
}

}  // namespace quarrel::model
