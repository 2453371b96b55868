// The k-quant row quantizers Q2_K, Q3_K, Q4_K, Q5_K, Q6_K (ggml's quantize_row_q*_K_ref, step
// for step) and the activation format Q8_K: per super-block of 256 the group scale searches
// (in lanes, or one group at a time for scalar_search.h; Q3_K's own search is here), the
// quantization of the group scales and mins, the final levels and their packing.
#include <cmath>
#include <cstring>
#include <type_traits>

#include "core/fp16.h"
#include "quant/quant.h"
#include "quant/quantize_internal.h"
#include "quant/scalar_search.h"

namespace quarrel::quant {
using namespace detail;
namespace {

// Packs 256 2-bit levels as Q2_K / Q3_K store them: byte l of each 32-byte group holds
// elements l, l+32, l+64, l+96 of a 128-element half.
void pack_2bit(const uint8_t* L, uint8_t* qs) {
  for (int j = 0; j < QK_K; j += 128)
    for (int l = 0; l < 32; ++l)
      qs[j / 4 + l] = static_cast<uint8_t>(L[j + l] | (L[j + l + 32] << 2) | (L[j + l + 64] << 4) | (L[j + l + 96] << 6));
}

// Q4_K / Q5_K: packs 8 6-bit scales and mins into 12 bytes (inverse of get_scale_min_k4).
void pack_scale_min_k4(int j, uint8_t ls, uint8_t lm, uint8_t* scales) {
  if (j < 4) {
    scales[j] = ls;
    scales[j + 4] = lm;
  } else {
    scales[j + 4] = static_cast<uint8_t>((ls & 0xF) | ((lm & 0xF) << 4));
    scales[j - 4] = static_cast<uint8_t>(scales[j - 4] | ((ls >> 4) << 6));
    scales[j - 0] = static_cast<uint8_t>(scales[j - 0] | ((lm >> 4) << 6));
  }
}

// Q3_K's group search: start from the max-magnitude scale, then move single elements to
// better levels while the weighted fit improves (up to 5 passes). L gets level + nmax.
float make_q3_quants(int n, int nmax, const float* x, int8_t* L) {
  const float max = group_max_or_clear(n, x, L);
  if (max == 0) return 0.f;
  const float iscale = static_cast<float>(-nmax) / max;
  float sumlx = 0, suml2 = 0;
  for (int i = 0; i < n; ++i) {
    int l = nearest_int(iscale * x[i]);
    l = max_of(-nmax, min_of(nmax - 1, l));
    L[i] = static_cast<int8_t>(l);
    const float w = x[i] * x[i];
    sumlx += w * x[i] * static_cast<float>(l);
    suml2 += w * static_cast<float>(l) * static_cast<float>(l);
  }
  for (int itry = 0; itry < 5; ++itry) {
    int n_changed = 0;
    for (int i = 0; i < n; ++i) {
      const float w = x[i] * x[i];
      float slx = sumlx - w * x[i] * static_cast<float>(L[i]);
      if (slx > 0) {
        float sl2 = suml2 - w * static_cast<float>(L[i]) * static_cast<float>(L[i]);
        int new_l = nearest_int(x[i] * sl2 / slx);
        new_l = max_of(-nmax, min_of(nmax - 1, new_l));
        if (new_l != L[i]) {
          slx += w * x[i] * static_cast<float>(new_l);
          sl2 += w * static_cast<float>(new_l) * static_cast<float>(new_l);
          if (sl2 > 0 && slx * slx * suml2 > sumlx * sumlx * sl2) {
            L[i] = static_cast<int8_t>(new_l);
            sumlx = slx;
            suml2 = sl2;
            ++n_changed;
          }
        }
      }
    }
    if (!n_changed) break;
  }
  for (int i = 0; i < n; ++i) L[i] = static_cast<int8_t>(L[i] + nmax);
  return suml2 > 0.0f ? sumlx / suml2 : 0.0f;
}

// The shared first half of Q4_K / Q5_K: per 32-element group a (scale, min) fit, the 6-bit
// quantization of both against the super-block maxima, then the final levels 0..P.nmax.
template <Qkx2Params P, typename Block>
void quantize_k4_scales_and_levels(Search search, const float* x, Block& y, uint8_t* L) {
  static_assert(P.n == 32 && !P.use_mad);
  constexpr int nmax = P.nmax;
  float weights[QK_K];
  float mins[QK_K / 32];
  float scales[QK_K / 32];
  for (int j = 0; j < QK_K / 32; ++j) {
    float sum_x2 = 0;
    for (int l = 0; l < 32; ++l) sum_x2 += x[32 * j + l] * x[32 * j + l];
    const float av_x = std::sqrt(sum_x2 / 32);
    for (int l = 0; l < 32; ++l) weights[32 * j + l] = av_x + std::fabs(x[32 * j + l]);
  }
  make_qkx2_quants_groups<P>(search, x, weights, L, scales, mins);
  float max_scale = 0, max_min = 0;
  for (int j = 0; j < QK_K / 32; ++j) {
    if (scales[j] > max_scale) max_scale = scales[j];
    if (mins[j] > max_min) max_min = mins[j];
  }
  const float inv_scale = max_scale > 0 ? 63.f / max_scale : 0.f;
  const float inv_min = max_min > 0 ? 63.f / max_min : 0.f;
  for (int j = 0; j < QK_K / 32; ++j) {
    uint8_t ls = static_cast<uint8_t>(nearest_int(inv_scale * scales[j]));
    uint8_t lm = static_cast<uint8_t>(nearest_int(inv_min * mins[j]));
    ls = min_of<uint8_t>(63, ls);
    lm = min_of<uint8_t>(63, lm);
    pack_scale_min_k4(j, ls, lm, y.scales);
  }
  y.d = f32_to_fp16(max_scale / 63.f);
  y.dmin = f32_to_fp16(max_min / 63.f);

  uint8_t sc, m;
  for (int j = 0; j < QK_K / 32; ++j) {
    get_scale_min_k4(j, y.scales, &sc, &m);
    const float d = fp16_to_f32(y.d) * sc;
    if (!d) continue;
    const float dm = fp16_to_f32(y.dmin) * m;
    for (int ii = 0; ii < 32; ++ii) {
      int l = nearest_int((x[32 * j + ii] + dm) / d);
      l = max_of(0, min_of(nmax, l));
      L[32 * j + ii] = static_cast<uint8_t>(l);
    }
  }
}

}  // namespace

template <Search kSearch>
void quantize_q2_K_impl(const float* x, BlockQ2_K* y, int64_t n) {
  const int64_t nb = n / QK_K;
  uint8_t L[QK_K];
  float weights[QK_K];
  float mins[QK_K / 16];
  float scales[QK_K / 16];
  constexpr float q4scale = 15.f;
  for (int64_t i = 0; i < nb; ++i) {
    for (int l = 0; l < QK_K; ++l) weights[l] = std::fabs(x[l]);
    make_qkx2_quants_groups<kQ2KSearch>(kSearch, x, weights, L, scales, mins);
    float max_scale = 0, max_min = 0;
    for (int j = 0; j < QK_K / 16; ++j) {
      if (scales[j] > max_scale) max_scale = scales[j];
      if (mins[j] > max_min) max_min = mins[j];
    }
    if (max_scale > 0) {
      const float iscale = q4scale / max_scale;
      for (int j = 0; j < QK_K / 16; ++j) y[i].scales[j] = static_cast<uint8_t>(nearest_int(iscale * scales[j]));
      y[i].d = f32_to_fp16(max_scale / q4scale);
    } else {
      for (int j = 0; j < QK_K / 16; ++j) y[i].scales[j] = 0;
      y[i].d = f32_to_fp16(0.f);
    }
    if (max_min > 0) {
      const float iscale = q4scale / max_min;
      for (int j = 0; j < QK_K / 16; ++j) {
        const int l = nearest_int(iscale * mins[j]);
        y[i].scales[j] = static_cast<uint8_t>(y[i].scales[j] | (l << 4));
      }
      y[i].dmin = f32_to_fp16(max_min / q4scale);
    } else {
      y[i].dmin = f32_to_fp16(0.f);
    }
    for (int j = 0; j < QK_K / 16; ++j) {
      const float d = fp16_to_f32(y[i].d) * static_cast<float>(y[i].scales[j] & 0xF);
      if (!d) continue;
      const float dm = fp16_to_f32(y[i].dmin) * static_cast<float>(y[i].scales[j] >> 4);
      for (int ii = 0; ii < 16; ++ii) {
        int l = nearest_int((x[16 * j + ii] + dm) / d);
        l = max_of(0, min_of(3, l));
        L[16 * j + ii] = static_cast<uint8_t>(l);
      }
    }
    pack_2bit(L, y[i].qs);
    x += QK_K;
  }
}

void quantize_row_q3_K(const float* x, BlockQ3_K* y, int64_t n) {
  const int64_t nb = n / QK_K;
  int8_t L[QK_K];
  float scales[QK_K / 16];
  for (int64_t i = 0; i < nb; ++i) {
    float max_scale = 0, amax = 0;
    for (int j = 0; j < QK_K / 16; ++j) {
      scales[j] = make_q3_quants(16, 4, x + 16 * j, L + 16 * j);
      const float scale = std::fabs(scales[j]);
      if (scale > amax) {
        amax = scale;
        max_scale = scales[j];
      }
    }
    std::memset(y[i].scales, 0, 12);
    if (max_scale) {
      const float iscale = -32.f / max_scale;
      for (int j = 0; j < QK_K / 16; ++j) {
        int8_t l = static_cast<int8_t>(nearest_int(iscale * scales[j]));
        l = static_cast<int8_t>(max_of<int>(-32, min_of<int>(31, l)) + 32);
        if (j < 8) y[i].scales[j] = static_cast<uint8_t>(l & 0xF);
        else y[i].scales[j - 8] = static_cast<uint8_t>(y[i].scales[j - 8] | ((l & 0xF) << 4));
        l = static_cast<int8_t>(l >> 4);
        y[i].scales[j % 4 + 8] = static_cast<uint8_t>(y[i].scales[j % 4 + 8] | (l << (2 * (j / 4))));
      }
      y[i].d = f32_to_fp16(1 / iscale);
    } else {
      y[i].d = f32_to_fp16(0.f);
    }
    for (int j = 0; j < QK_K / 16; ++j) {
      int sc = j < 8 ? y[i].scales[j] & 0xF : y[i].scales[j - 8] >> 4;
      sc = (sc | (((y[i].scales[8 + j % 4] >> (2 * (j / 4))) & 3) << 4)) - 32;
      const float d = fp16_to_f32(y[i].d) * static_cast<float>(sc);
      if (!d) continue;
      for (int ii = 0; ii < 16; ++ii) {
        int l = nearest_int(x[16 * j + ii] / d);
        l = max_of(-4, min_of(3, l));
        L[16 * j + ii] = static_cast<int8_t>(l + 4);
      }
    }
    std::memset(y[i].hmask, 0, QK_K / 8);
    // The high bit of the first 32 quants goes to bit 0 of hmask[0..31], the next 32 to bit 1...
    int m = 0;
    uint8_t hm = 1;
    for (int j = 0; j < QK_K; ++j) {
      if (L[j] > 3) {
        y[i].hmask[m] = static_cast<uint8_t>(y[i].hmask[m] | hm);
        L[j] = static_cast<int8_t>(L[j] - 4);
      }
      if (++m == QK_K / 8) {
        m = 0;
        hm = static_cast<uint8_t>(hm << 1);
      }
    }
    pack_2bit(reinterpret_cast<const uint8_t*>(L), y[i].qs);
    x += QK_K;
  }
}

// Q4_K: levels as nibbles, 64 elements per 32 bytes (element l and l + 32 share byte l).
void pack_k4_levels(const uint8_t* L, BlockQ4_K& y) {
  uint8_t* q = y.qs;
  for (int j = 0; j < QK_K; j += 64) {
    for (int l = 0; l < 32; ++l) q[l] = static_cast<uint8_t>(L[j + l] | (L[j + l + 32] << 4));
    q += 32;
  }
}

// Q5_K: the low nibbles as Q4_K's, the 5th bits in qh (two bits per 64 elements).
void pack_k4_levels(const uint8_t* L, BlockQ5_K& y) {
  uint8_t* qh = y.qh;
  uint8_t* ql = y.qs;
  std::memset(qh, 0, QK_K / 8);
  uint8_t m1 = 1, m2 = 2;
  for (int blk = 0; blk < QK_K; blk += 64) {
    for (int j = 0; j < 32; ++j) {
      int l1 = L[blk + j];
      if (l1 > 15) { l1 -= 16; qh[j] = static_cast<uint8_t>(qh[j] | m1); }
      int l2 = L[blk + j + 32];
      if (l2 > 15) { l2 -= 16; qh[j] = static_cast<uint8_t>(qh[j] | m2); }
      ql[j] = static_cast<uint8_t>(l1 | (l2 << 4));
    }
    m1 = static_cast<uint8_t>(m1 << 2);
    m2 = static_cast<uint8_t>(m2 << 2);
    ql += 32;
  }
}

// Q4_K and Q5_K.
template <Search kSearch, typename Block>
void quantize_q45_K_impl(const float* x, Block* y, int64_t n) {
  constexpr Qkx2Params P = std::is_same_v<Block, BlockQ4_K> ? kQ4KSearch : kQ5KSearch;
  const int64_t nb = n / QK_K;
  uint8_t L[QK_K];
  for (int64_t i = 0; i < nb; ++i) {
    quantize_k4_scales_and_levels<P>(kSearch, x, y[i], L);
    pack_k4_levels(L, y[i]);
    x += QK_K;
  }
}

template <Search kSearch>
void quantize_q6_K_impl(const float* x, BlockQ6_K* y, int64_t n) {
  const int64_t nb = n / QK_K;
  int8_t L[QK_K];
  float scales[QK_K / 16];
  for (int64_t i = 0; i < nb; ++i) {
    make_qx_quants_groups<kQ6KSearch>(kSearch, x, L, scales);
    float max_abs_scale;
    const float max_scale = max_by_magnitude(QK_K / 16, scales, &max_abs_scale);
    if (max_abs_scale < kGroupMaxEps) {
      std::memset(&y[i], 0, sizeof(BlockQ6_K));
      y[i].d = f32_to_fp16(0.f);
      x += QK_K;
      continue;
    }
    const float iscale = -128.f / max_scale;
    y[i].d = f32_to_fp16(1 / iscale);
    for (int ib = 0; ib < QK_K / 16; ++ib) y[i].scales[ib] = static_cast<int8_t>(min_of(127, nearest_int(iscale * scales[ib])));
    for (int j = 0; j < QK_K / 16; ++j) {
      const float d = fp16_to_f32(y[i].d) * static_cast<float>(y[i].scales[j]);
      if (!d) continue;
      for (int ii = 0; ii < 16; ++ii) {
        int l = nearest_int(x[16 * j + ii] / d);
        l = max_of(-32, min_of(31, l));
        L[16 * j + ii] = static_cast<int8_t>(l + 32);
      }
    }
    uint8_t* ql = y[i].ql;
    uint8_t* qh = y[i].qh;
    for (int j = 0; j < QK_K; j += 128) {
      for (int l = 0; l < 32; ++l) {
        const uint8_t q1 = L[j + l + 0] & 0xF;
        const uint8_t q2 = L[j + l + 32] & 0xF;
        const uint8_t q3 = L[j + l + 64] & 0xF;
        const uint8_t q4 = L[j + l + 96] & 0xF;
        ql[l + 0] = static_cast<uint8_t>(q1 | (q3 << 4));
        ql[l + 32] = static_cast<uint8_t>(q2 | (q4 << 4));
        qh[l] = static_cast<uint8_t>((L[j + l] >> 4) | ((L[j + l + 32] >> 4) << 2) | ((L[j + l + 64] >> 4) << 4) |
                                     ((L[j + l + 96] >> 4) << 6));
      }
      ql += 64;
      qh += 32;
    }
    x += QK_K;
  }
}

void quantize_row_q2_K(const float* x, BlockQ2_K* y, int64_t n) { quantize_q2_K_impl<Search::kLanes>(x, y, n); }
void quantize_row_q4_K(const float* x, BlockQ4_K* y, int64_t n) { quantize_q45_K_impl<Search::kLanes>(x, y, n); }
void quantize_row_q5_K(const float* x, BlockQ5_K* y, int64_t n) { quantize_q45_K_impl<Search::kLanes>(x, y, n); }
void quantize_row_q6_K(const float* x, BlockQ6_K* y, int64_t n) { quantize_q6_K_impl<Search::kLanes>(x, y, n); }

namespace scalar_search {
void quantize_row_q2_K(const float* x, BlockQ2_K* y, int64_t n) { quantize_q2_K_impl<Search::kScalar>(x, y, n); }
void quantize_row_q4_K(const float* x, BlockQ4_K* y, int64_t n) { quantize_q45_K_impl<Search::kScalar>(x, y, n); }
void quantize_row_q5_K(const float* x, BlockQ5_K* y, int64_t n) { quantize_q45_K_impl<Search::kScalar>(x, y, n); }
void quantize_row_q6_K(const float* x, BlockQ6_K* y, int64_t n) { quantize_q6_K_impl<Search::kScalar>(x, y, n); }
}  // namespace scalar_search

void quantize_row_q8_K(const float* x, BlockQ8_K* y, int64_t n) {
  const int64_t nb = n / QK_K;
  for (int64_t i = 0; i < nb; ++i) {
    float max = 0, amax = 0;
    for (int j = 0; j < QK_K; ++j) {
      const float ax = std::fabs(x[j]);
      if (ax > amax) { amax = ax; max = x[j]; }
    }
    if (!amax) {
      y[i].d = 0;
      std::memset(y[i].qs, 0, QK_K);
      std::memset(y[i].bsums, 0, sizeof(y[i].bsums));
      x += QK_K;
      continue;
    }
    const float iscale = -127.f / max;
    for (int j = 0; j < QK_K; ++j) {
      const int v = nearest_int(iscale * x[j]);
      y[i].qs[j] = static_cast<int8_t>(min_of(127, v));
    }
    for (int j = 0; j < QK_K / 16; ++j) {
      int sum = 0;
      for (int ii = 0; ii < 16; ++ii) sum += y[i].qs[j * 16 + ii];
      y[i].bsums[j] = static_cast<int16_t>(sum);
    }
    y[i].d = 1 / iscale;
    x += QK_K;
  }
}

}  // namespace quarrel::quant
