// Scalar kernels (baseline x86-64): the reference every SIMD level is tested against, and the
// fallback on CPUs without AVX2. Quantized dot products follow the integer formulation of the
// fast kernels (integer sums per block or sub-block, then scaled in float32).
#include <algorithm>
#include <cmath>
#include <cstring>

#include "backend/cpu/kernels.h"
#include "core/fp16.h"
#include "quant/quant.h"

namespace quarrel::cpu {
namespace {

using namespace quarrel::quant;

inline float h2f(uint16_t h) { return fp16_to_f32(h); }

template <typename Block>
const Block* row_blocks(const void* w, size_t row_bytes, int64_t r) {
  return reinterpret_cast<const Block*>(static_cast<const uint8_t*>(w) + row_bytes * static_cast<size_t>(r));
}

// ---- legacy 32-element types x Q8_0 ---------------------------------------------------------

float dot_q4_0(int64_t k, const BlockQ4_0* x, const BlockQ8_0* y) {
  float sum = 0;
  for (int64_t i = 0; i < k / 32; ++i) {
    int s = 0;
    for (int j = 0; j < 16; ++j) {
      s += ((x[i].qs[j] & 0xF) - 8) * y[i].qs[j];
      s += ((x[i].qs[j] >> 4) - 8) * y[i].qs[j + 16];
    }
    sum += static_cast<float>(s) * (h2f(x[i].d) * h2f(y[i].d));
  }
  return sum;
}

float dot_q4_1(int64_t k, const BlockQ4_1* x, const BlockQ8_0* y) {
  float sum = 0;
  for (int64_t i = 0; i < k / 32; ++i) {
    int s = 0, sy = 0;
    for (int j = 0; j < 16; ++j) {
      s += (x[i].qs[j] & 0xF) * y[i].qs[j] + (x[i].qs[j] >> 4) * y[i].qs[j + 16];
      sy += y[i].qs[j] + y[i].qs[j + 16];
    }
    const float dy = h2f(y[i].d);
    sum += static_cast<float>(s) * (h2f(x[i].d) * dy) + static_cast<float>(sy) * (h2f(x[i].m) * dy);
  }
  return sum;
}

float dot_q5_0(int64_t k, const BlockQ5_0* x, const BlockQ8_0* y) {
  float sum = 0;
  for (int64_t i = 0; i < k / 32; ++i) {
    uint32_t qh;
    std::memcpy(&qh, x[i].qh, 4);
    int s = 0;
    for (int j = 0; j < 16; ++j) {
      const int x0 = ((x[i].qs[j] & 0xF) | (((qh >> j) & 1) << 4)) - 16;
      const int x1 = ((x[i].qs[j] >> 4) | (((qh >> (j + 16)) & 1) << 4)) - 16;
      s += x0 * y[i].qs[j] + x1 * y[i].qs[j + 16];
    }
    sum += static_cast<float>(s) * (h2f(x[i].d) * h2f(y[i].d));
  }
  return sum;
}

float dot_q5_1(int64_t k, const BlockQ5_1* x, const BlockQ8_0* y) {
  float sum = 0;
  for (int64_t i = 0; i < k / 32; ++i) {
    uint32_t qh;
    std::memcpy(&qh, x[i].qh, 4);
    int s = 0, sy = 0;
    for (int j = 0; j < 16; ++j) {
      const int x0 = (x[i].qs[j] & 0xF) | (((qh >> j) & 1) << 4);
      const int x1 = (x[i].qs[j] >> 4) | (((qh >> (j + 16)) & 1) << 4);
      s += x0 * y[i].qs[j] + x1 * y[i].qs[j + 16];
      sy += y[i].qs[j] + y[i].qs[j + 16];
    }
    const float dy = h2f(y[i].d);
    sum += static_cast<float>(s) * (h2f(x[i].d) * dy) + static_cast<float>(sy) * (h2f(x[i].m) * dy);
  }
  return sum;
}

float dot_q8_0(int64_t k, const BlockQ8_0* x, const BlockQ8_0* y) {
  float sum = 0;
  for (int64_t i = 0; i < k / 32; ++i) {
    int s = 0;
    for (int j = 0; j < 32; ++j) s += x[i].qs[j] * y[i].qs[j];
    sum += static_cast<float>(s) * (h2f(x[i].d) * h2f(y[i].d));
  }
  return sum;
}

float dot_iq4_nl(int64_t k, const BlockIQ4_NL* x, const BlockQ8_0* y) {
  float sum = 0;
  for (int64_t i = 0; i < k / 32; ++i) {
    int s = 0;
    for (int j = 0; j < 16; ++j) {
      s += kIq4nlValues[x[i].qs[j] & 0xF] * y[i].qs[j];
      s += kIq4nlValues[x[i].qs[j] >> 4] * y[i].qs[j + 16];
    }
    sum += static_cast<float>(s) * (h2f(x[i].d) * h2f(y[i].d));
  }
  return sum;
}

float dot_mxfp4(int64_t k, const BlockMXFP4* x, const BlockQ8_0* y) {
  float sum = 0;
  for (int64_t i = 0; i < k / 32; ++i) {
    int s = 0;
    for (int j = 0; j < 16; ++j) {
      s += kMxfp4Values[x[i].qs[j] & 0xF] * y[i].qs[j];
      s += kMxfp4Values[x[i].qs[j] >> 4] * y[i].qs[j + 16];
    }
    sum += static_cast<float>(s) * (e8m0_to_f32_half(x[i].e) * h2f(y[i].d));
  }
  return sum;
}

// ---- k-quants x Q8_K --------------------------------------------------------------------------

float dot_q2_K(int64_t k, const BlockQ2_K* x, const BlockQ8_K* y) {
  float sum = 0;
  for (int64_t i = 0; i < k / QK_K; ++i) {
    int isum = 0, msum = 0;
    for (int g = 0; g < 16; ++g) msum += (x[i].scales[g] >> 4) * y[i].bsums[g];
    for (int c = 0; c < 2; ++c) {        // 128-element chunks
      for (int sh = 0; sh < 4; ++sh) {   // 32 elements per shift
        for (int half = 0; half < 2; ++half) {
          const int g = c * 8 + sh * 2 + half;
          int s = 0;
          for (int l = 0; l < 16; ++l) {
            const int q = (x[i].qs[c * 32 + half * 16 + l] >> (2 * sh)) & 3;
            s += q * y[i].qs[c * 128 + sh * 32 + half * 16 + l];
          }
          isum += (x[i].scales[g] & 0xF) * s;
        }
      }
    }
    sum += y[i].d * (h2f(x[i].d) * static_cast<float>(isum) - h2f(x[i].dmin) * static_cast<float>(msum));
  }
  return sum;
}

void q3_K_scales(const uint8_t* packed, int* scales) {
  for (int j = 0; j < 16; ++j) {
    const int lo = j < 8 ? packed[j] & 0xF : packed[j - 8] >> 4;
    const int hi = (packed[8 + j % 4] >> (2 * (j / 4))) & 3;
    scales[j] = (lo | (hi << 4)) - 32;
  }
}

float dot_q3_K(int64_t k, const BlockQ3_K* x, const BlockQ8_K* y) {
  float sum = 0;
  int scales[16];
  for (int64_t i = 0; i < k / QK_K; ++i) {
    q3_K_scales(x[i].scales, scales);
    int isum = 0;
    for (int c = 0; c < 2; ++c) {
      for (int sh = 0; sh < 4; ++sh) {
        const int bit = c * 4 + sh;
        for (int half = 0; half < 2; ++half) {
          int s = 0;
          for (int l = half * 16; l < half * 16 + 16; ++l) {
            const int q = ((x[i].qs[c * 32 + l] >> (2 * sh)) & 3) - ((x[i].hmask[l] >> bit) & 1 ? 0 : 4);
            s += q * y[i].qs[c * 128 + sh * 32 + l];
          }
          isum += scales[c * 8 + sh * 2 + half] * s;
        }
      }
    }
    sum += y[i].d * h2f(x[i].d) * static_cast<float>(isum);
  }
  return sum;
}

float dot_q4_K(int64_t k, const BlockQ4_K* x, const BlockQ8_K* y) {
  float sum = 0;
  for (int64_t i = 0; i < k / QK_K; ++i) {
    int isum = 0, msum = 0;
    for (int j = 0; j < 8; ++j) {
      uint8_t sc, m;
      get_scale_min_k4(j, x[i].scales, &sc, &m);
      const uint8_t* q = x[i].qs + (j / 2) * 32;
      const int shift = (j % 2) * 4;
      int s = 0;
      for (int l = 0; l < 32; ++l) s += ((q[l] >> shift) & 0xF) * y[i].qs[j * 32 + l];
      isum += sc * s;
      msum += m * (y[i].bsums[2 * j] + y[i].bsums[2 * j + 1]);
    }
    sum += y[i].d * (h2f(x[i].d) * static_cast<float>(isum) - h2f(x[i].dmin) * static_cast<float>(msum));
  }
  return sum;
}

float dot_q5_K(int64_t k, const BlockQ5_K* x, const BlockQ8_K* y) {
  float sum = 0;
  for (int64_t i = 0; i < k / QK_K; ++i) {
    int isum = 0, msum = 0;
    for (int j = 0; j < 8; ++j) {
      uint8_t sc, m;
      get_scale_min_k4(j, x[i].scales, &sc, &m);
      const uint8_t* q = x[i].qs + (j / 2) * 32;
      const int shift = (j % 2) * 4;
      int s = 0;
      for (int l = 0; l < 32; ++l) {
        const int v = ((q[l] >> shift) & 0xF) | (((x[i].qh[l] >> j) & 1) << 4);
        s += v * y[i].qs[j * 32 + l];
      }
      isum += sc * s;
      msum += m * (y[i].bsums[2 * j] + y[i].bsums[2 * j + 1]);
    }
    sum += y[i].d * (h2f(x[i].d) * static_cast<float>(isum) - h2f(x[i].dmin) * static_cast<float>(msum));
  }
  return sum;
}

float dot_q6_K(int64_t k, const BlockQ6_K* x, const BlockQ8_K* y) {
  float sum = 0;
  for (int64_t i = 0; i < k / QK_K; ++i) {
    int isum = 0;
    for (int c = 0; c < 2; ++c) {
      const uint8_t* ql = x[i].ql + 64 * c;
      const uint8_t* qh = x[i].qh + 32 * c;
      const int8_t* sc = x[i].scales + 8 * c;
      const int8_t* q8 = y[i].qs + 128 * c;
      for (int part = 0; part < 4; ++part) {  // 32 elements each
        for (int half = 0; half < 2; ++half) {
          int s = 0;
          for (int l = half * 16; l < half * 16 + 16; ++l) {
            // parts: 0 = ql[l] low, 1 = ql[l+32] low, 2 = ql[l] high, 3 = ql[l+32] high nibbles
            const uint8_t b = ql[l + 32 * (part % 2)];
            const int lo = part < 2 ? b & 0xF : b >> 4;
            const int q = (lo | (((qh[l] >> (2 * part)) & 3) << 4)) - 32;
            s += q * q8[part * 32 + l];
          }
          isum += sc[part * 2 + half] * s;
        }
      }
    }
    sum += y[i].d * h2f(x[i].d) * static_cast<float>(isum);
  }
  return sum;
}

float dot_iq4_xs(int64_t k, const BlockIQ4_XS* x, const BlockQ8_K* y) {
  float sum = 0;
  for (int64_t i = 0; i < k / QK_K; ++i) {
    int isum = 0;
    for (int ib = 0; ib < 8; ++ib) {
      const int ls = ((x[i].scales_l[ib / 2] >> 4 * (ib % 2)) & 0xF) | (((x[i].scales_h >> 2 * ib) & 3) << 4);
      const uint8_t* q = x[i].qs + 16 * ib;
      const int8_t* q8 = y[i].qs + 32 * ib;
      int s = 0;
      for (int j = 0; j < 16; ++j) s += kIq4nlValues[q[j] & 0xF] * q8[j] + kIq4nlValues[q[j] >> 4] * q8[j + 16];
      isum += (ls - 32) * s;
    }
    sum += y[i].d * h2f(x[i].d) * static_cast<float>(isum);
  }
  return sum;
}

// ---- float types (activations in float32) ------------------------------------------------------

float dot_f32_f32(int64_t k, const float* x, const float* y) {
  float s[4] = {0, 0, 0, 0};
  int64_t j = 0;
  for (; j + 4 <= k; j += 4)
    for (int l = 0; l < 4; ++l) s[l] += x[j + l] * y[j + l];
  for (; j < k; ++j) s[0] += x[j] * y[j];
  return (s[0] + s[1]) + (s[2] + s[3]);
}

float dot_f16_f32(int64_t k, const uint16_t* x, const float* y) {
  float s[4] = {0, 0, 0, 0};
  int64_t j = 0;
  for (; j + 4 <= k; j += 4)
    for (int l = 0; l < 4; ++l) s[l] += fp16_to_f32(x[j + l]) * y[j + l];
  for (; j < k; ++j) s[0] += fp16_to_f32(x[j]) * y[j];
  return (s[0] + s[1]) + (s[2] + s[3]);
}

float dot_bf16_f32(int64_t k, const uint16_t* x, const float* y) {
  float s[4] = {0, 0, 0, 0};
  int64_t j = 0;
  for (; j + 4 <= k; j += 4)
    for (int l = 0; l < 4; ++l) s[l] += bf16_to_f32(x[j + l]) * y[j + l];
  for (; j < k; ++j) s[0] += bf16_to_f32(x[j]) * y[j];
  return (s[0] + s[1]) + (s[2] + s[3]);
}

// Row loop: out[r] = Dot(k, row r, x).
template <typename W, typename A, float (*Dot)(int64_t, const W*, const A*)>
void rows(int64_t k, const void* w, size_t row_bytes, int64_t n_rows, const void* x, float* out) {
  for (int64_t r = 0; r < n_rows; ++r) out[r] = Dot(k, row_blocks<W>(w, row_bytes, r), static_cast<const A*>(x));
}

// ---- dequantization (the reference itself) ----------------------------------------------------

template <typename Block, void (*Fn)(const Block*, float*, int64_t)>
void dequant(const void* w, float* out, int64_t k) {
  Fn(static_cast<const Block*>(w), out, k);
}
void dequant_f32(const void* w, float* out, int64_t k) { std::memcpy(out, w, static_cast<size_t>(k) * 4); }

void quant_q8_0(const float* x, void* out, int64_t k) { quantize_row_q8_0(x, static_cast<BlockQ8_0*>(out), k); }
void quant_q8_K(const float* x, void* out, int64_t k) { quantize_row_q8_K(x, static_cast<BlockQ8_K*>(out), k); }

// ---- GEMM micro-kernel (4 rows x 4 columns) ------------------------------------------------

constexpr int kMr = 4, kNr = 4;

void gemm(int64_t k, const float* w, int64_t ldw, int n_r, const float* xt, float* y, int64_t ldy, int n_c,
          bool accumulate) {
  float acc[kMr][kNr] = {};
  for (int64_t kk = 0; kk < k; ++kk) {
    const float* xr = xt + kk * kNr;
    for (int r = 0; r < kMr; ++r) {
      const float wv = w[r * ldw + kk];
      for (int j = 0; j < kNr; ++j) acc[r][j] += wv * xr[j];
    }
  }
  for (int j = 0; j < n_c; ++j)
    for (int r = 0; r < n_r; ++r) {
      float& dst = y[j * ldy + r];
      dst = accumulate ? dst + acc[r][j] : acc[r][j];
    }
}

// ---- KV rows ----------------------------------------------------------------------------------

void kv_dot_f32(const void* k, size_t rb, int64_t n, int hd, const float* q, float* s) {
  for (int64_t t = 0; t < n; ++t)
    s[t] = dot_f32_f32(hd, reinterpret_cast<const float*>(static_cast<const uint8_t*>(k) + rb * t), q);
}
void kv_dot_f16(const void* k, size_t rb, int64_t n, int hd, const float* q, float* s) {
  for (int64_t t = 0; t < n; ++t)
    s[t] = dot_f16_f32(hd, reinterpret_cast<const uint16_t*>(static_cast<const uint8_t*>(k) + rb * t), q);
}
void kv_dot_q8_0(const void* k, size_t rb, int64_t n, int hd, const float* q, float* s) {
  for (int64_t t = 0; t < n; ++t) {
    const auto* b = reinterpret_cast<const BlockQ8_0*>(static_cast<const uint8_t*>(k) + rb * t);
    float sum = 0;
    for (int i = 0; i < hd / 32; ++i) {
      float si = 0;
      for (int j = 0; j < 32; ++j) si += static_cast<float>(b[i].qs[j]) * q[i * 32 + j];
      sum += si * h2f(b[i].d);
    }
    s[t] = sum;
  }
}
void kv_axpy_f32(const void* v, size_t rb, int64_t n, int hd, const float* p, float* acc) {
  for (int64_t t = 0; t < n; ++t) {
    const auto* row = reinterpret_cast<const float*>(static_cast<const uint8_t*>(v) + rb * t);
    for (int d = 0; d < hd; ++d) acc[d] += p[t] * row[d];
  }
}
void kv_axpy_f16(const void* v, size_t rb, int64_t n, int hd, const float* p, float* acc) {
  for (int64_t t = 0; t < n; ++t) {
    const auto* row = reinterpret_cast<const uint16_t*>(static_cast<const uint8_t*>(v) + rb * t);
    for (int d = 0; d < hd; ++d) acc[d] += p[t] * fp16_to_f32(row[d]);
  }
}
void kv_axpy_q8_0(const void* v, size_t rb, int64_t n, int hd, const float* p, float* acc) {
  for (int64_t t = 0; t < n; ++t) {
    const auto* b = reinterpret_cast<const BlockQ8_0*>(static_cast<const uint8_t*>(v) + rb * t);
    for (int i = 0; i < hd / 32; ++i) {
      const float pd = p[t] * h2f(b[i].d);
      for (int j = 0; j < 32; ++j) acc[i * 32 + j] += pd * static_cast<float>(b[i].qs[j]);
    }
  }
}
void kv_store_f32(const float* x, void* row, int hd) { std::memcpy(row, x, static_cast<size_t>(hd) * 4); }
void kv_store_f16(const float* x, void* row, int hd) {
  auto* r = static_cast<uint16_t*>(row);
  for (int d = 0; d < hd; ++d) r[d] = f32_to_fp16(x[d]);
}
void kv_store_q8_0(const float* x, void* row, int hd) { quantize_row_q8_0(x, static_cast<BlockQ8_0*>(row), hd); }

// ---- float vectors ----------------------------------------------------------------------------

float v_dot(const float* a, const float* b, int64_t n) { return dot_f32_f32(n, a, b); }
float v_sum_squares(const float* x, int64_t n) { return dot_f32_f32(n, x, x); }
void v_scale_mul(const float* x, float s, const float* w, float* y, int64_t n) {
  if (w)
    for (int64_t i = 0; i < n; ++i) y[i] = x[i] * s * w[i];
  else
    for (int64_t i = 0; i < n; ++i) y[i] = x[i] * s;
}
void v_add(const float* a, const float* b, float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] = a[i] + b[i];
}
void v_scale(const float* x, float s, float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] = x[i] * s;
}
float v_max(const float* x, int64_t n) {
  float m = -INFINITY;
  for (int64_t i = 0; i < n; ++i) m = std::max(m, x[i]);
  return m;
}
float v_exp_sub_sum(float* x, int64_t n, float m) {
  float s = 0;
  for (int64_t i = 0; i < n; ++i) {
    x[i] = std::exp(x[i] - m);
    s += x[i];
  }
  return s;
}
void v_swiglu(const float* g, const float* u, float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] = g[i] / (1.0f + std::exp(-g[i])) * u[i];
}
void v_geglu(const float* g, const float* u, float* y, int64_t n) {
  constexpr float kSqrt2OverPi = 0.7978845608028654f;
  for (int64_t i = 0; i < n; ++i) {
    const float x = g[i];
    // 0.5 x (1 + tanh(z)) = x sigmoid(2z): no cancellation for large negative x
    const float z2 = 2.0f * kSqrt2OverPi * x * (1.0f + 0.044715f * x * x);
    y[i] = x / (1.0f + std::exp(-z2)) * u[i];
  }
}
void v_softcap(float* x, int64_t n, float s, float c) {
  for (int64_t i = 0; i < n; ++i) x[i] = c * std::tanh(x[i] * s / c);
}
void v_f32_to_f16(const float* x, uint16_t* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] = f32_to_fp16(x[i]);
}
void v_f16_to_f32(const uint16_t* x, float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] = fp16_to_f32(x[i]);
}

CpuKernels make_table() {
  CpuKernels t;
  t.level = CpuLevel::kScalar;
  auto set = [&](GgmlType type, ActFormat act, VecDotFn dot, DequantFn dq) {
    t.types[static_cast<int>(type)] = {act, dot, dq};
  };
  set(GgmlType::F32, ActFormat::kF32, rows<float, float, dot_f32_f32>, dequant_f32);
  set(GgmlType::F16, ActFormat::kF32, rows<uint16_t, float, dot_f16_f32>, dequant<uint16_t, dequantize_row_f16>);
  set(GgmlType::BF16, ActFormat::kF32, rows<uint16_t, float, dot_bf16_f32>, dequant<uint16_t, dequantize_row_bf16>);
  set(GgmlType::Q4_0, ActFormat::kQ8_0, rows<BlockQ4_0, BlockQ8_0, dot_q4_0>, dequant<BlockQ4_0, dequantize_row_q4_0>);
  set(GgmlType::Q4_1, ActFormat::kQ8_0, rows<BlockQ4_1, BlockQ8_0, dot_q4_1>, dequant<BlockQ4_1, dequantize_row_q4_1>);
  set(GgmlType::Q5_0, ActFormat::kQ8_0, rows<BlockQ5_0, BlockQ8_0, dot_q5_0>, dequant<BlockQ5_0, dequantize_row_q5_0>);
  set(GgmlType::Q5_1, ActFormat::kQ8_0, rows<BlockQ5_1, BlockQ8_0, dot_q5_1>, dequant<BlockQ5_1, dequantize_row_q5_1>);
  set(GgmlType::Q8_0, ActFormat::kQ8_0, rows<BlockQ8_0, BlockQ8_0, dot_q8_0>, dequant<BlockQ8_0, dequantize_row_q8_0>);
  set(GgmlType::IQ4_NL, ActFormat::kQ8_0, rows<BlockIQ4_NL, BlockQ8_0, dot_iq4_nl>,
      dequant<BlockIQ4_NL, dequantize_row_iq4_nl>);
  set(GgmlType::MXFP4, ActFormat::kQ8_0, rows<BlockMXFP4, BlockQ8_0, dot_mxfp4>, dequant<BlockMXFP4, dequantize_row_mxfp4>);
  set(GgmlType::Q2_K, ActFormat::kQ8_K, rows<BlockQ2_K, BlockQ8_K, dot_q2_K>, dequant<BlockQ2_K, dequantize_row_q2_K>);
  set(GgmlType::Q3_K, ActFormat::kQ8_K, rows<BlockQ3_K, BlockQ8_K, dot_q3_K>, dequant<BlockQ3_K, dequantize_row_q3_K>);
  set(GgmlType::Q4_K, ActFormat::kQ8_K, rows<BlockQ4_K, BlockQ8_K, dot_q4_K>, dequant<BlockQ4_K, dequantize_row_q4_K>);
  set(GgmlType::Q5_K, ActFormat::kQ8_K, rows<BlockQ5_K, BlockQ8_K, dot_q5_K>, dequant<BlockQ5_K, dequantize_row_q5_K>);
  set(GgmlType::Q6_K, ActFormat::kQ8_K, rows<BlockQ6_K, BlockQ8_K, dot_q6_K>, dequant<BlockQ6_K, dequantize_row_q6_K>);
  set(GgmlType::IQ4_XS, ActFormat::kQ8_K, rows<BlockIQ4_XS, BlockQ8_K, dot_iq4_xs>,
      dequant<BlockIQ4_XS, dequantize_row_iq4_xs>);
  t.quantize_q8_0 = quant_q8_0;
  t.quantize_q8_K = quant_q8_K;
  t.gemm_mr = kMr;
  t.gemm_nr = kNr;
  t.gemm = gemm;
  t.kv_f32 = {kv_dot_f32, kv_axpy_f32, kv_store_f32};
  t.kv_f16 = {kv_dot_f16, kv_axpy_f16, kv_store_f16};
  t.kv_q8_0 = {kv_dot_q8_0, kv_axpy_q8_0, kv_store_q8_0};
  t.dot_f32 = v_dot;
  t.sum_squares = v_sum_squares;
  t.scale_mul = v_scale_mul;
  t.add = v_add;
  t.scale = v_scale;
  t.max = v_max;
  t.exp_sub_sum = v_exp_sub_sum;
  t.swiglu = v_swiglu;
  t.geglu = v_geglu;
  t.softcap = v_softcap;
  t.f32_to_f16 = v_f32_to_f16;
  t.f16_to_f32 = v_f16_to_f32;
  return t;
}

}  // namespace

const CpuKernels& scalar_kernels() {
  static const CpuKernels t = make_table();
  return t;
}

}  // namespace quarrel::cpu
