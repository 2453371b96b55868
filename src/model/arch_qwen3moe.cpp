// qwen3moe (Qwen3 MoE): the qwen3 block (per-head Q/K RMSNorm, NeoX RoPE) with a mixture of
// experts in place of the dense FFN: router ffn_gate_inp, expert_count experts of
// expert_feed_forward_length, softmax over all experts then the top expert_used_count,
// renormalised to sum to 1 (norm_topk_prob; expert_weights_norm = false turns it off).
#include "gguf/gguf_file.h"
#include "model/arch.h"

namespace quarrel::model {
namespace {

void read_qwen3moe_hparams(const gguf::GgufFile& file, HParams& hp) { read_moe_hparams(file, hp, /*required=*/true); }

}  // namespace

const ArchSpec& qwen3moe_arch() {
  static const ArchSpec spec = {
      .name = "qwen3moe",
      .block = {.rope_style = RopeStyle::kNeox, .qkv_bias = false, .qk_norm = true},
      .read_extra_hparams = read_qwen3moe_hparams,
      .weights = llama_family_weights,
  };
  return spec;
}

}  // namespace quarrel::model
