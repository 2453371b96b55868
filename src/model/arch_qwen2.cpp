// qwen2 (Qwen1.5, Qwen2, Qwen2.5): the Llama block with biases on the Q/K/V projections and
// NeoX (half-split) RoPE.
#include "model/arch.h"

namespace quarrel::model {

const ArchSpec& qwen2_arch() {
  static const ArchSpec spec = {
      .name = "qwen2",
      .block = {.rope_style = RopeStyle::kNeox, .qkv_bias = true, .qk_norm = false},
      .read_extra_hparams = nullptr,
      .weights = llama_family_weights,
  };
  return spec;
}

}  // namespace quarrel::model
