// qwen3 (dense): the Llama block with a per-head RMSNorm of Q and K (attn_q_norm /
// attn_k_norm, [head_dim]) before NeoX RoPE; head_dim comes from attention.key_length and
// need not be n_embd / n_head.
#include "model/arch.h"

namespace quarrel::model {

const ArchSpec& qwen3_arch() {
  static const ArchSpec spec = {
      .name = "qwen3",
      .block = {.rope_style = RopeStyle::kNeox, .qkv_bias = false, .qk_norm = true},
      .read_extra_hparams = nullptr,
      .weights = llama_family_weights,
  };
  return spec;
}

}  // namespace quarrel::model
