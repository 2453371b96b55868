#pragma once
// Element-wise and row operations of the forward pass, dispatched to the active kernel level
// (cpu_info.h). Shapes in GGUF order (ne0 innermost); every pointer is float32, rows packed
// unless a stride is given.
#include <cstdint>
#include <span>
#include <vector>

namespace quarrel::cpu {

// RMSNorm of each row: y = x / sqrt(mean(x^2) + eps) * w. x, y: [n, rows] (may alias);
// w: [n] or nullptr (no weight).
void rms_norm(const float* x, const float* w, float* y, int64_t n, int64_t rows, float eps);

// RoPE as ggml's rope_ext: normal style rotates pairs (2i, 2i+1), NeoX style pairs
// (i, i + n_dims/2); dimensions past n_dims are left alone. theta_i = pos / freq_factor_i *
// freq_base^(-2i/n_dims), times freq_scale (linear scaling), mixed with the unscaled angle by
// YaRN's ramp when ext_factor != 0 (which also scales the magnitude by 1 + 0.1 ln(1/freq_scale));
// cos and sin are multiplied by attn_factor. Angles are computed in float64.
struct RopeParams {
  int n_dims = 0;                       // rotated dimensions (even); 0: the whole head
  bool neox = false;
  float freq_base = 10000.0f;
  float freq_scale = 1.0f;              // 1 / linear scaling factor
  const float* freq_factors = nullptr;  // [n_dims / 2] (llama3 rope_freqs) or nullptr
  int n_ctx_orig = 0;                   // YaRN: training context length
  float ext_factor = 0.0f;              // YaRN: 0 = off
  float attn_factor = 1.0f;
  float beta_fast = 32.0f;
  float beta_slow = 1.0f;
  bool operator==(const RopeParams&) const = default;
};

// cos/sin per (token, pair), built once per batch and shared by every layer and by Q and K.
class RopeCache {
 public:
  RopeCache() = default;
  RopeCache(const RopeParams& p, int head_dim, std::span<const int32_t> positions) { build(p, head_dim, positions); }
  void build(const RopeParams& p, int head_dim, std::span<const int32_t> positions);

  int head_dim() const { return head_dim_; }
  int n_dims() const { return n_dims_; }
  bool neox() const { return neox_; }
  int64_t n_tokens() const { return n_tokens_; }
  // [n_dims / 2] pairs (cos, sin) of token t
  const float* token(int64_t t) const { return cos_sin_.data() + t * n_dims_; }

 private:
  int head_dim_ = 0, n_dims_ = 0;
  bool neox_ = false;
  int64_t n_tokens_ = 0;
  std::vector<float> cos_sin_;
  // The pairs' frequencies and YaRN ramp depend only on the parameters: kept from the last build
  // with the same ones (a decode step's build is then a sin/cos per pair, no pow; freq_factors
  // are compared by address: a model's rope_freqs do not change).
  struct Freqs {
    RopeParams p;  // n_dims resolved, neox false
    std::vector<double> inv_freq;
    double corr0 = 0, corr1 = 0, mscale = 1;
  };
  Freqs freqs_;
  bool have_freqs_ = false;
};

// Rotates x: [head_dim, n_heads, n_tokens] in place (token t at x + t * token_stride floats;
// token_stride 0: head_dim * n_heads). n_tokens is the cache's.
void rope(float* x, int n_heads, int64_t token_stride, const RopeCache& cache);
// The same without a cache.
void rope(float* x, int head_dim, int n_heads, std::span<const int32_t> positions, const RopeParams& p,
          int64_t token_stride = 0);

// y = silu(gate) * up, y = gelu_tanh(gate) * up (y may alias gate or up).
void swiglu(const float* gate, const float* up, float* y, int64_t n);
void geglu(const float* gate, const float* up, float* y, int64_t n);

// In place: x = softmax(z) with z = x * scale, soft-capped first when softcap > 0:
// z = softcap * tanh(x * scale / softcap).
void softmax(float* x, int64_t n, float scale = 1.0f, float softcap = 0.0f);
// In place: x = cap * tanh(x / cap) (final-logit soft-capping).
void softcap(float* x, int64_t n, float cap);

void add(const float* a, const float* b, float* y, int64_t n);   // y = a + b
void scale(const float* x, float s, float* y, int64_t n);        // y = s x
// Index of the largest element (the first one on ties; NaNs are skipped); -1 when n == 0.
int64_t argmax(const float* x, int64_t n);

}  // namespace quarrel::cpu
