#include "backend/cpu/ops.h"

#include <cmath>
#include <numbers>
#include <utility>

#include "backend/cpu/kernels.h"
#include "core/error.h"

namespace quarrel::cpu {

void rms_norm(const float* x, const float* w, float* y, int64_t n, int64_t rows, float eps) {
  const CpuKernels& K = kernels();
  for (int64_t r = 0; r < rows; ++r) {
    const float* xr = x + r * n;
    const double mean = static_cast<double>(K.sum_squares(xr, n)) / static_cast<double>(n);
    const float s = static_cast<float>(1.0 / std::sqrt(mean + static_cast<double>(eps)));
    K.scale_mul(xr, s, w, y + r * n, n);
  }
}

namespace {

double yarn_corr_dim(int n_dims, int n_ctx_orig, double n_rot, double base) {
  return n_dims * std::log(n_ctx_orig / (n_rot * 2 * std::numbers::pi)) / (2 * std::log(base));
}

}  // namespace

void RopeCache::build(const RopeParams& p, int head_dim, std::span<const int32_t> positions) {
  const int n_dims = p.n_dims > 0 ? p.n_dims : head_dim;
  if (n_dims % 2 != 0 || n_dims > head_dim || head_dim <= 0) {
    fail(ErrorCode::kInvalidArgument, "rope: {} rotated dimensions do not fit a head of {}", n_dims, head_dim);
  }
  head_dim_ = head_dim;
  n_dims_ = n_dims;
  neox_ = p.neox;
  n_tokens_ = static_cast<int64_t>(positions.size());
  cos_sin_.resize(static_cast<size_t>(n_tokens_) * static_cast<size_t>(n_dims));
  const int half = n_dims / 2;
  RopeParams key = p;
  key.n_dims = n_dims;
  key.neox = false;
  if (!have_freqs_ || !(freqs_.p == key)) {
    Freqs f;
    f.p = key;
    // YaRN correction range (ggml_rope_yarn_corr_dims), in pair units.
    f.mscale = p.attn_factor;
    if (p.ext_factor != 0.0f) {
      f.corr0 = std::max(0.0, std::floor(yarn_corr_dim(n_dims, p.n_ctx_orig, p.beta_fast, p.freq_base)));
      f.corr1 = std::min(static_cast<double>(n_dims - 1),
                         std::ceil(yarn_corr_dim(n_dims, p.n_ctx_orig, p.beta_slow, p.freq_base)));
      f.mscale *= 1.0 + 0.1 * std::log(1.0 / p.freq_scale);
    }
    f.inv_freq.resize(static_cast<size_t>(half));
    for (int i = 0; i < half; ++i) {
      f.inv_freq[i] = std::pow(static_cast<double>(p.freq_base), -2.0 * i / n_dims);
      if (p.freq_factors) f.inv_freq[i] /= static_cast<double>(p.freq_factors[i]);
    }
    freqs_ = std::move(f);
    have_freqs_ = true;
  }
  const double corr0 = freqs_.corr0, corr1 = freqs_.corr1, mscale = freqs_.mscale;
  const std::vector<double>& inv_freq = freqs_.inv_freq;
  for (int64_t t = 0; t < n_tokens_; ++t) {
    float* cs = cos_sin_.data() + t * n_dims;
    const double pos = positions[static_cast<size_t>(t)];
    for (int i = 0; i < half; ++i) {
      const double theta_extrap = pos * inv_freq[i];
      const double theta_interp = p.freq_scale * theta_extrap;
      double theta = theta_interp;
      if (p.ext_factor != 0.0f) {
        const double y = (i - corr0) / std::max(0.001, corr1 - corr0);
        const double ramp_mix = (1.0 - std::min(1.0, std::max(0.0, y))) * p.ext_factor;
        theta = theta_interp * (1 - ramp_mix) + theta_extrap * ramp_mix;
      }
      cs[2 * i] = static_cast<float>(std::cos(theta) * mscale);
      cs[2 * i + 1] = static_cast<float>(std::sin(theta) * mscale);
    }
  }
}

void rope(float* x, int n_heads, int64_t token_stride, const RopeCache& cache) {
  const int hd = cache.head_dim(), n_dims = cache.n_dims(), half = n_dims / 2;
  if (token_stride == 0) token_stride = static_cast<int64_t>(hd) * n_heads;
  for (int64_t t = 0; t < cache.n_tokens(); ++t) {
    const float* cs = cache.token(t);
    for (int h = 0; h < n_heads; ++h) {
      float* v = x + t * token_stride + static_cast<int64_t>(h) * hd;
      if (cache.neox()) {
        for (int i = 0; i < half; ++i) {
          const float c = cs[2 * i], s = cs[2 * i + 1];
          const float x0 = v[i], x1 = v[i + half];
          v[i] = x0 * c - x1 * s;
          v[i + half] = x0 * s + x1 * c;
        }
      } else {
        for (int i = 0; i < half; ++i) {
          const float c = cs[2 * i], s = cs[2 * i + 1];
          const float x0 = v[2 * i], x1 = v[2 * i + 1];
          v[2 * i] = x0 * c - x1 * s;
          v[2 * i + 1] = x0 * s + x1 * c;
        }
      }
    }
  }
}

void rope(float* x, int head_dim, int n_heads, std::span<const int32_t> positions, const RopeParams& p,
          int64_t token_stride) {
  const RopeCache cache(p, head_dim, positions);
  rope(x, n_heads, token_stride, cache);
}

void swiglu(const float* gate, const float* up, float* y, int64_t n) { kernels().swiglu(gate, up, y, n); }
void geglu(const float* gate, const float* up, float* y, int64_t n) { kernels().geglu(gate, up, y, n); }

void softmax(float* x, int64_t n, float scale_, float cap) {
  if (n <= 0) return;
  const CpuKernels& K = kernels();
  if (cap > 0.0f)
    K.softcap(x, n, scale_, cap);
  else if (scale_ != 1.0f)
    K.scale(x, scale_, x, n);
  const float m = K.max(x, n);
  if (m == -INFINITY) {  // every entry masked: uniform is as good as anything, avoid NaN
    for (int64_t i = 0; i < n; ++i) x[i] = 1.0f / static_cast<float>(n);
    return;
  }
  const float sum = K.exp_sub_sum(x, n, m);
  K.scale(x, 1.0f / sum, x, n);
}

void softcap(float* x, int64_t n, float cap) {
  if (cap > 0.0f) kernels().softcap(x, n, 1.0f, cap);
}

void add(const float* a, const float* b, float* y, int64_t n) { kernels().add(a, b, y, n); }
void scale(const float* x, float s, float* y, int64_t n) { kernels().scale(x, s, y, n); }

int64_t argmax(const float* x, int64_t n) {
  int64_t best = -1;
  float bv = 0;
  for (int64_t i = 0; i < n; ++i) {
    if (std::isnan(x[i])) continue;
    if (best < 0 || x[i] > bv) {
      best = i;
      bv = x[i];
    }
  }
  return best;
}

}  // namespace quarrel::cpu
