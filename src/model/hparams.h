#pragma once
// Hyperparameters of a Llama-family model, read from the GGUF "<arch>.*" keys.
#include <cstdint>
#include <string>

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

}  // namespace quarrel::model
