// gemma2 and gemma3 (text). The Llama block with GeGLU (GELU, tanh approximation), an RMSNorm
// on each block's output (post_attention_norm, post_ffw_norm) before the residual add,
// embeddings scaled by sqrt(n_embd) and NeoX RoPE. Gemma's RMSNorm multiplies by (1 + w); the
// converters store 1 + w, so the norms here are plain RMSNorms. Sliding-window and global
// layers alternate:
//   gemma2: attention logits soft-capped (attention.attn_logit_softcapping), final logits too
//           (final_logit_softcapping); layers 0, 2, 4, ... use the window;
//   gemma3: per-head Q/K RMSNorm (as qwen3); five window layers then one global; the window
//           layers' RoPE has base 10000 and no scaling, the global ones rope.freq_base with the
//           file's scaling; final logits soft-capped only when the key is there.
// Attention scores are scaled by attention.scale when present (query_pre_attn_scalar^-1/2),
// else, as llama.cpp does for files without the key, by 1 / sqrt(n_embd / n_head) for the 27B
// models (gemma2: 46 layers, gemma3: 62 layers) and 1 / sqrt(head_dim) for the others.
#include <cmath>

#include "core/error.h"
#include "gguf/gguf_file.h"
#include "gguf/keys.h"
#include "model/arch.h"

namespace quarrel::model {
namespace {

void read_gemma_common(const gguf::GgufFile& f, HParams& hp, int64_t n_layer_27b) {
  const std::string window_key = f.arch_key(gguf::keys::kAttentionSlidingWindow);
  const uint64_t window = f.get_uint(window_key);
  if (window == 0 || window > (uint64_t{1} << 24)) {
    fail(ErrorCode::kInvalidFile, "{}: key '{}' = {} is out of range (1..{})", f.path(), window_key, window,
         uint64_t{1} << 24);
  }
  hp.sliding_window = static_cast<int64_t>(window);
  hp.embd_scale = std::sqrt(static_cast<float>(hp.n_embd));
  hp.final_softcap = read_positive_float(f, gguf::keys::kFinalLogitSoftcapping, 0.0f);
  if (hp.attn_scale == 0.0f && hp.n_layer == n_layer_27b) {
    hp.attn_scale = 1.0f / std::sqrt(static_cast<float>(hp.n_embd) / static_cast<float>(hp.n_head));
  }
}

void read_gemma2_hparams(const gguf::GgufFile& f, HParams& hp) {
  read_gemma_common(f, hp, 46);
  hp.swa_pattern = 2;
  hp.attn_softcap = read_positive_float(f, gguf::keys::kAttentionLogitSoftcapping, 0.0f);
}

void read_gemma3_hparams(const gguf::GgufFile& f, HParams& hp) {
  read_gemma_common(f, hp, 62);
  hp.swa_pattern = 6;
  hp.rope_freq_base_swa = 10000.0f;
}

constexpr BlockOptions kGemma2Block = {.rope_style = RopeStyle::kNeox,
                                       .qkv_bias = false,
                                       .qk_norm = false,
                                       .fused_qkv = false,
                                       .fused_gate_up = false,
                                       .post_norms = true,
                                       .ffn_act = FfnActivation::kGeluTanh};

}  // namespace

const ArchSpec& gemma2_arch() {
  static const ArchSpec spec = {
      .name = "gemma2",
      .block = kGemma2Block,
      .read_extra_hparams = read_gemma2_hparams,
      .weights = llama_family_weights,
  };
  return spec;
}

const ArchSpec& gemma3_arch() {
  static const ArchSpec spec = [] {
    ArchSpec s{.name = "gemma3", .block = kGemma2Block, .read_extra_hparams = read_gemma3_hparams,
               .weights = llama_family_weights};
    s.block.qk_norm = true;
    return s;
  }();
  return spec;
}

}  // namespace quarrel::model
