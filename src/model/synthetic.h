#pragma once
// Random-weight Llama-family models written as GGUF: tiny ones for tests, real-shaped ones for
// benchmarks. Values are deterministic for a seed: uniform in +-sqrt(3 / fan_in) for the
// projections (unit-variance outputs), +-1 for the embeddings / output, 1 +- 0.1 for norms.
#include <cstdint>
#include <optional>
#include <string>

#include "core/ggml_type.h"

namespace quarrel::gguf {
class GgufWriter;
}

namespace quarrel::model {

struct SyntheticSpec {
  // llama, mistral, qwen2 (Q/K/V biases), qwen3 (Q/K norms), qwen3moe (needs n_expert), gemma2,
  // gemma3 (need sliding_window), phi3 (fused QKV and gate/up), granite; llama with n_expert is
  // Mixtral-style.
  std::string arch = "llama";
  int64_t n_vocab = 256;
  int64_t n_embd = 256;
  int64_t n_layer = 2;
  int64_t n_head = 4;
  int64_t n_head_kv = 2;
  int64_t head_dim = 0;  // 0: n_embd / n_head; else written as attention.key_length / value_length
  int64_t n_ff = 512;
  int64_t n_ctx = 2048;
  float rms_eps = 1e-5f;

  GgmlType type = GgmlType::F32;           // every matrix
  std::optional<GgmlType> token_embd_type;  // default: type
  std::optional<GgmlType> output_type;      // default: type
  bool tied_embeddings = false;             // no output.weight
  // When set, a quantization mix ("Q4_K_M", see quant/mix.h): each tensor gets the type
  // llama.cpp's quantize tool would give it; type / token_embd_type / output_type are ignored.
  std::string mix;

  float rope_freq_base = 10000.0f;
  bool rope_freqs = false;          // llama3 frequency factors (rope_freqs.weight)
  std::string rope_scaling;         // "", "linear" or "yarn"
  float rope_scale_factor = 1.0f;
  int64_t rope_orig_ctx = 0;        // 0: not written
  int64_t sliding_window = 0;       // written when > 0 (mistral, phi3, gemma2, gemma3)

  // Mixture of experts: written when n_expert > 0 (llama, qwen3moe).
  int64_t n_expert = 0;
  int64_t n_expert_used = 0;
  int64_t n_ff_exp = 0;             // 0: n_ff (written as expert_feed_forward_length when > 0)

  // Each written when > 0 (see model/hparams.h for what they do).
  float attn_scale = 0.0f;          // attention.scale
  float attn_softcap = 0.0f;        // attention.attn_logit_softcapping
  float final_softcap = 0.0f;       // final_logit_softcapping
  float embd_scale = 0.0f;          // embedding_scale (granite)
  float residual_scale = 0.0f;      // residual_scale (granite)
  float logit_scale = 0.0f;         // logit_scale (granite)

  uint64_t seed = 1;
};

// Metadata and lazily generated tensors (quantized row by row with quant::quantize_row, on
// all cores); nothing is generated until the writer writes.
gguf::GgufWriter synthetic_model_writer(const SyntheticSpec& spec);
// synthetic_model_writer(spec).write(path).
void write_synthetic_model(const SyntheticSpec& spec, const std::string& path);

}  // namespace quarrel::model
