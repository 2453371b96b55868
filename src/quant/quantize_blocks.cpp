// The row quantizers without a scale search: the 32-element formats Q4_0, Q4_1, Q5_0, Q5_1,
// Q8_0, Q8_1 (ggml's quantize_row_*_ref: the block's max-magnitude or min/max scale), MXFP4
// (a shared power-of-two scale, each value the nearest of the FP4 table) and F16 / BF16.
#include <cfloat>
#include <cmath>
#include <cstring>

#include "core/fp16.h"
#include "quant/quant.h"
#include "quant/quantize_internal.h"

namespace quarrel::quant {
using namespace detail;

namespace {

// ---- Q4_0, Q4_1, Q5_0, Q5_1: 32 levels of 4 or 5 bits per block ------------------------------
//
// Q4_0 / Q5_0: d = max / -2^(bits-1), max the value of largest magnitude, level x / d +
// 2^(bits-1) (rounded by truncating + 0.5). Q4_1 / Q5_1: d = (max - min) / (2^bits - 1),
// m = min, level (x - min) / d. Levels pack as nibbles (elements j and j + 16 share byte j),
// the 5th bits to qh (bit j for element j).

// Stores the levels of elements j and j + 16: nibbles in qs[j], for 5 bits the 5th bits in qh.
template <int kBits>
inline void store_pair(int j, uint8_t xi0, uint8_t xi1, uint8_t* qs, uint32_t& qh) {
  if constexpr (kBits == 4) {
    qs[j] = static_cast<uint8_t>(xi0 | (xi1 << 4));
  } else {
    qs[j] = static_cast<uint8_t>((xi0 & 0x0F) | ((xi1 & 0x0F) << 4));
    qh |= ((xi0 & 0x10u) >> 4) << (j + 0);
    qh |= ((xi1 & 0x10u) >> 4) << (j + 16);
  }
}

// Q4_0 / Q5_0.
template <int kBits, typename Block>
void quantize_row_symmetric(const float* x, Block* y, int64_t n) {
  static_assert(sizeof(Block::qs) * 2 == 32);
  constexpr int half = 1 << (kBits - 1), top = (1 << kBits) - 1;
  constexpr float offset = static_cast<float>(half) + 0.5f;
  const int64_t nb = n / 32;
  for (int64_t i = 0; i < nb; ++i) {
    const float* xb = x + i * 32;
    float amax;
    const float d = max_by_magnitude(32, xb, &amax) / -half;
    const float id = d ? 1.0f / d : 0.0f;
    y[i].d = f32_to_fp16(d);
    uint32_t qh = 0;
    for (int j = 0; j < 16; ++j) {
      const float x0 = xb[j] * id;
      const float x1 = xb[16 + j] * id;
      const uint8_t xi0 = static_cast<uint8_t>(min_of<int>(top, static_cast<int8_t>(x0 + offset)));
      const uint8_t xi1 = static_cast<uint8_t>(min_of<int>(top, static_cast<int8_t>(x1 + offset)));
      store_pair<kBits>(j, xi0, xi1, y[i].qs, qh);
    }
    if constexpr (kBits == 5) std::memcpy(y[i].qh, &qh, sizeof(qh));
  }
}

// Q4_1 / Q5_1.
template <int kBits, typename Block>
void quantize_row_with_min(const float* x, Block* y, int64_t n) {
  static_assert(sizeof(Block::qs) * 2 == 32);
  const int64_t nb = n / 32;
  for (int64_t i = 0; i < nb; ++i) {
    const float* xb = x + i * 32;
    float min = FLT_MAX, max = -FLT_MAX;
    for (int j = 0; j < 32; ++j) {
      if (xb[j] < min) min = xb[j];
      if (xb[j] > max) max = xb[j];
    }
    const float d = (max - min) / ((1 << kBits) - 1);
    const float id = d ? 1.0f / d : 0.0f;
    y[i].d = f32_to_fp16(d);
    y[i].m = f32_to_fp16(min);
    uint32_t qh = 0;
    for (int j = 0; j < 16; ++j) {
      const float x0 = (xb[j] - min) * id;
      const float x1 = (xb[16 + j] - min) * id;
      // As the reference: Q4_1 clamps to 15, Q5_1 does not clamp.
      if constexpr (kBits == 4) {
        const uint8_t xi0 = static_cast<uint8_t>(min_of<int>(15, static_cast<int8_t>(x0 + 0.5f)));
        const uint8_t xi1 = static_cast<uint8_t>(min_of<int>(15, static_cast<int8_t>(x1 + 0.5f)));
        store_pair<kBits>(j, xi0, xi1, y[i].qs, qh);
      } else {
        store_pair<kBits>(j, static_cast<uint8_t>(x0 + 0.5f), static_cast<uint8_t>(x1 + 0.5f), y[i].qs, qh);
      }
    }
    if constexpr (kBits == 5) std::memcpy(y[i].qh, &qh, sizeof(qh));
  }
}

// Q8_0 / Q8_1: d = amax / 127, q = round(x / d) for a block of 32; returns d. kSum: *sum gets
// the sum of the quants.
template <bool kSum>
float quantize_block_q8(const float* xb, int8_t* qs, int* sum) {
  static_assert(QK8_0 == 32 && QK8_1 == 32);
  float amax = 0;
  for (int j = 0; j < 32; ++j) amax = max_of(amax, std::fabs(xb[j]));
  const float d = amax / ((1 << 7) - 1);
  const float id = d ? 1.0f / d : 0.0f;
  if constexpr (kSum) {
    int s = 0;
    for (int j = 0; j < 16; ++j) {
      qs[j] = static_cast<int8_t>(std::round(xb[j] * id));
      qs[16 + j] = static_cast<int8_t>(std::round(xb[16 + j] * id));
      s += qs[j];
      s += qs[16 + j];
    }
    *sum = s;
  } else {
    for (int j = 0; j < 32; ++j) qs[j] = static_cast<int8_t>(std::round(xb[j] * id));
  }
  return d;
}

// MXFP4: the index of the FP4 value nearest to x at scale e (the first of equal distances).
inline int best_index_mxfp4(float x, float e) {
  int best_index = 0;
  float best_err = std::fabs(static_cast<float>(kMxfp4Values[0]) * e - x);
  for (int i = 1; i < 16; ++i) {
    const float err = std::fabs(static_cast<float>(kMxfp4Values[i]) * e - x);
    if (err < best_err) {
      best_index = i;
      best_err = err;
    }
  }
  return best_index;
}

}  // namespace

void quantize_row_q4_0(const float* x, BlockQ4_0* y, int64_t n) { quantize_row_symmetric<4>(x, y, n); }
void quantize_row_q4_1(const float* x, BlockQ4_1* y, int64_t n) { quantize_row_with_min<4>(x, y, n); }
void quantize_row_q5_0(const float* x, BlockQ5_0* y, int64_t n) { quantize_row_symmetric<5>(x, y, n); }
void quantize_row_q5_1(const float* x, BlockQ5_1* y, int64_t n) { quantize_row_with_min<5>(x, y, n); }

// ---- Q8_0, Q8_1 ---------------------------------------------------------------------------------

void quantize_row_q8_0(const float* x, BlockQ8_0* y, int64_t n) {
  for (int64_t i = 0; i < n / QK8_0; ++i)
    y[i].d = f32_to_fp16(quantize_block_q8<false>(x + i * QK8_0, y[i].qs, nullptr));
}

void quantize_row_q8_1(const float* x, BlockQ8_1* y, int64_t n) {
  for (int64_t i = 0; i < n / QK8_1; ++i) {
    int sum;
    const float d = quantize_block_q8<true>(x + i * QK8_1, y[i].qs, &sum);
    y[i].d = f32_to_fp16(d);
    y[i].s = f32_to_fp16(static_cast<float>(sum) * d);
  }
}

// ---- MXFP4, F16, BF16 ---------------------------------------------------------------------------

void quantize_row_mxfp4(const float* x, BlockMXFP4* y, int64_t n) {
  constexpr int qk = QK_MXFP4;
  const int64_t nb = n / qk;
  for (int64_t i = 0; i < nb; ++i) {
    float amax = 0;
    for (int j = 0; j < qk; ++j) {
      const float v = x[i * qk + j];
      if (amax < std::fabs(v)) amax = std::fabs(v);
    }
    // floor(log2(amax)) - 2 + 127, kept in 0..254 (the reference leaves values outside undefined).
    const float ef = amax > 0.0f ? std::floor(std::log2(amax)) - 2 + 127 : 0.0f;
    const uint8_t e = static_cast<uint8_t>(ef < 0 ? 0.0f : ef > 254 ? 254.0f : ef);
    const float d = e8m0_to_f32_half(e);
    y[i].e = e;
    for (int j = 0; j < qk / 2; ++j) {
      const int x0 = best_index_mxfp4(x[i * qk + j], d);
      const int x1 = best_index_mxfp4(x[i * qk + qk / 2 + j], d);
      y[i].qs[j] = static_cast<uint8_t>(x0 | (x1 << 4));
    }
  }
}

void quantize_row_f16(const float* x, uint16_t* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] = f32_to_fp16(x[i]);
}

void quantize_row_bf16(const float* x, uint16_t* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] = f32_to_bf16(x[i]);
}

}  // namespace quarrel::quant
