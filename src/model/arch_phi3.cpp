// phi3 (Phi-3, Phi-3.5, Phi-4-mini): the Llama block with Q, K and V in one fused projection
// (attn_qkv: Q rows, then K, then V) and the FFN's gate and up in one (ffn_up: gate rows, then
// up rows), NeoX RoPE over rope.dimension_count dims, and a sliding window on every layer
// (attention.sliding_window; 0 = none). Long-context RoPE factors (rope.scaling.type
// "longrope") are not supported: the loader names the scaling type.
#include "gguf/gguf_file.h"
#include "gguf/keys.h"
#include "model/arch.h"

namespace quarrel::model {
namespace {

void read_phi3_hparams(const gguf::GgufFile& file, HParams& hp) {
  hp.sliding_window = static_cast<int64_t>(file.get_uint_or(file.arch_key(gguf::keys::kAttentionSlidingWindow), 0));
}

}  // namespace

const ArchSpec& phi3_arch() {
  static const ArchSpec spec = {
      .name = "phi3",
      .block = {.rope_style = RopeStyle::kNeox, .fused_qkv = true, .fused_gate_up = true},
      .read_extra_hparams = read_phi3_hparams,
      .weights = llama_family_weights,
  };
  return spec;
}

}  // namespace quarrel::model
