// llama: Llama 1/2/3.x, TinyLlama, SmolLM/SmolLM2, stories. Normal (adjacent-pair) RoPE;
// Llama 3.1+ carries RoPE frequency factors in rope_freqs.weight [n_rot / 2]. Mixtral is
// written as llama with expert_count (llama.cpp's convention): router + top-k experts, softmax
// then top-k renormalised to sum to 1.
#include "gguf/gguf_file.h"
#include "model/arch.h"

namespace quarrel::model {
namespace {

void read_llama_hparams(const gguf::GgufFile& file, HParams& hp) {
  hp.has_rope_freqs = file.find_tensor(tensor_name(TensorKind::kRopeFreqs)) != nullptr;
  read_moe_hparams(file, hp, /*required=*/false);
}

}  // namespace

const ArchSpec& llama_arch() {
  static const ArchSpec spec = {
      .name = "llama",
      .block = {.rope_style = RopeStyle::kNormal, .qkv_bias = false, .qk_norm = false},
      .read_extra_hparams = read_llama_hparams,
      .weights = llama_family_weights,
  };
  return spec;
}

}  // namespace quarrel::model
