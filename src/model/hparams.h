#pragma once
// Hyperparameters of a Llama-family model, read from the GGUF "<arch>.*" keys.
#include <cstdint>
#include <string>
#include <string_view>

namespace quarrel::gguf {
class GgufFile;
}

namespace quarrel::model {

// How RoPE pairs the dimensions of a head.
enum class RopeStyle {
  kNormal,  // adjacent pairs (x[2i], x[2i+1]): llama, mistral (ggml mode 0)
  kNeox,    // halves (x[i], x[i + n_rot/2]): qwen2, qwen3 (ggml mode 2)
};

enum class RopeScaling { kNone, kLinear, kYarn };

struct HParams {
  std::string arch;          // general.architecture
  int64_t n_vocab = 0;       // rows of token_embd
  int64_t n_ctx_train = 0;   // <arch>.context_length
  int64_t n_ctx = 0;         // the context the engine runs with: n_ctx_train or the override
  int64_t n_embd = 0;        // <arch>.embedding_length
  int64_t n_layer = 0;       // <arch>.block_count
  int64_t n_head = 0;        // <arch>.attention.head_count
  int64_t n_head_kv = 0;     // <arch>.attention.head_count_kv (default n_head)
  int64_t head_dim_k = 0;    // <arch>.attention.key_length (default n_embd / n_head)
  int64_t head_dim_v = 0;    // <arch>.attention.value_length (default n_embd / n_head)
  int64_t n_ff = 0;          // <arch>.feed_forward_length
  float rms_eps = 1e-5f;     // <arch>.attention.layer_norm_rms_epsilon

  // RoPE.
  int64_t n_rot = 0;                 // <arch>.rope.dimension_count (default head_dim_k)
  float rope_freq_base = 10000.0f;   // <arch>.rope.freq_base
  RopeScaling rope_scaling = RopeScaling::kNone;  // <arch>.rope.scaling.type ("linear", "yarn")
  float rope_scale_factor = 1.0f;    // <arch>.rope.scaling.factor (or the older rope.scale_linear)
  int64_t rope_orig_ctx = 0;         // <arch>.rope.scaling.original_context_length (default n_ctx_train)
  float yarn_attn_factor = 1.0f;     // <arch>.rope.scaling.attn_factor
  float yarn_beta_fast = 32.0f;      // YaRN correction range (llama.cpp defaults)
  float yarn_beta_slow = 1.0f;
  bool has_rope_freqs = false;       // rope_freqs.weight present (llama3 frequency factors)

  int64_t sliding_window = 0;        // <arch>.attention.sliding_window; 0 = full attention
  // Which layers use the window: 0 = every layer (mistral, phi3); p > 0 = all but every p-th
  // (layer il is global iff (il + 1) % p == 0: gemma2 p = 2, gemma3 p = 6).
  int64_t swa_pattern = 0;
  // gemma3: the sliding-window layers' own RoPE base (their RoPE is unscaled); 0 = like the others.
  float rope_freq_base_swa = 0.0f;

  // Scales and caps; 0 = not used.
  float attn_scale = 0.0f;       // <arch>.attention.scale: score scale (0: 1 / sqrt(head_dim_k))
  float attn_softcap = 0.0f;     // <arch>.attention.attn_logit_softcapping (gemma2)
  float final_softcap = 0.0f;    // <arch>.final_logit_softcapping (gemma2, gemma3)
  float embd_scale = 0.0f;       // embeddings times this (gemma: sqrt(n_embd); granite: embedding_scale)
  float residual_scale = 0.0f;   // <arch>.residual_scale: block outputs times this before the residual add (granite)
  float logit_scale = 0.0f;      // <arch>.logit_scale: logits divided by this (granite)

  // Mixture of experts (n_expert > 0): a router picks n_expert_used experts per token.
  int64_t n_expert = 0;          // <arch>.expert_count
  int64_t n_expert_used = 0;     // <arch>.expert_used_count
  int64_t n_ff_exp = 0;          // <arch>.expert_feed_forward_length (default n_ff)
  bool expert_weights_norm = true;  // the top-k softmax weights renormalised to sum to 1

  bool is_swa_layer(int64_t il) const {
    return sliding_window > 0 && (swa_pattern == 0 || (il + 1) % swa_pattern != 0);
  }

  // Derived sizes.
  int64_t n_embd_q() const { return n_head * head_dim_k; }       // rows of attn_q
  int64_t n_embd_k_gqa() const { return n_head_kv * head_dim_k; }  // rows of attn_k
  int64_t n_embd_v_gqa() const { return n_head_kv * head_dim_v; }  // rows of attn_v
  int64_t n_embd_attn_out() const { return n_head * head_dim_v; }  // columns of attn_output
  // ggml's freq_scale: positions are multiplied by it (1 / factor for linear and YaRN).
  float rope_freq_scale() const { return rope_scaling == RopeScaling::kNone ? 1.0f : 1.0f / rope_scale_factor; }
  // YaRN extrapolation mix: 1 with YaRN scaling, else 0.
  float yarn_ext_factor() const { return rope_scaling == RopeScaling::kYarn ? 1.0f : 0.0f; }
};

// Reads the keys every architecture shares; n_vocab is left 0 (the loader takes it from
// token_embd). Missing required keys and nonsensical values are Errors naming the file and
// the key. n_ctx_override > 0 replaces the trained context length.
HParams read_common_hparams(const gguf::GgufFile& file, int64_t n_ctx_override);

// Helpers for the architecture files' own keys (each an Error naming the file and key when
// out of range). A positive finite float, or def when the key is absent.
float read_positive_float(const gguf::GgufFile& file, std::string_view suffix, float def);
// expert_count / expert_used_count / expert_feed_forward_length / expert_weights_norm; with
// required = false a model without expert_count stays dense.
void read_moe_hparams(const gguf::GgufFile& file, HParams& hp, bool required);

}  // namespace quarrel::model
