// Reference quantizers. Each follows the search of the reference implementation (ggml's
// quantize_row_*_ref, and quantize_iq4_nl / quantize_iq4_xs without an importance matrix)
// step for step, with the float32 operations in the same order, so that the same input gives
// the same bytes. Everything here is deterministic and single-threaded.
#include <algorithm>
#include <atomic>
#include <cfloat>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <string_view>

#include "core/error.h"
#include "core/fp16.h"
#include "quant/quant.h"
#include "quant/scalar_search.h"

// The lane helpers take and return 32-byte vectors; they are always inlined, so the ABI for
// passing such vectors without AVX (GCC's -Wpsabi note) never applies.
#if defined(__clang__)
#if __has_warning("-Wpsabi")
#pragma clang diagnostic ignored "-Wpsabi"
#endif
#elif defined(__GNUC__)
#pragma GCC diagnostic ignored "-Wpsabi"
#endif

namespace quarrel::quant {
namespace {

constexpr float kGroupMaxEps = 1e-15f;

// Round to nearest (ties to even) for |fval| < 2^22, by the float32 magic-number trick.
inline int nearest_int(float fval) {
  const float val = fval + 12582912.f;
  int i;
  std::memcpy(&i, &val, sizeof(int));
  return (i & 0x007fffff) - 0x00400000;
}

template <typename T>
constexpr T min_of(T a, T b) { return a < b ? a : b; }
template <typename T>
constexpr T max_of(T a, T b) { return a > b ? a : b; }

// Symmetric scale search for a group of n values with levels -nmax..nmax-1: tries the
// scale that maps the largest-magnitude value to -nmax and 18 nearby ones, keeping the best
// weighted least-squares fit (weights x^2). Returns the scale; L gets level + nmax.
float make_qx_quants(int n, int nmax, const float* x, int8_t* L) {
  float max = 0, amax = 0;
  for (int i = 0; i < n; ++i) {
    const float ax = std::fabs(x[i]);
    if (ax > amax) { amax = ax; max = x[i]; }
  }
  if (amax < kGroupMaxEps) {
    for (int i = 0; i < n; ++i) L[i] = 0;
    return 0.f;
  }
  float iscale = static_cast<float>(-nmax) / max;
  float sumlx = 0, suml2 = 0;
  for (int i = 0; i < n; ++i) {
    int l = nearest_int(iscale * x[i]);
    l = max_of(-nmax, min_of(nmax - 1, l));
    L[i] = static_cast<int8_t>(l + nmax);
    const float w = x[i] * x[i];
    sumlx += w * x[i] * static_cast<float>(l);
    suml2 += w * static_cast<float>(l) * static_cast<float>(l);
  }
  float scale = suml2 ? sumlx / suml2 : 0.0f;
  float best = scale * sumlx;
  for (int is = -9; is <= 9; ++is) {
    if (is == 0) continue;
    iscale = -(static_cast<float>(nmax) + 0.1f * static_cast<float>(is)) / max;
    sumlx = suml2 = 0;
    for (int i = 0; i < n; ++i) {
      int l = nearest_int(iscale * x[i]);
      l = max_of(-nmax, min_of(nmax - 1, l));
      const float w = x[i] * x[i];
      sumlx += w * x[i] * static_cast<float>(l);
      suml2 += w * static_cast<float>(l) * static_cast<float>(l);
    }
    if (suml2 > 0 && sumlx * sumlx > best * suml2) {
      for (int i = 0; i < n; ++i) {
        const int l = nearest_int(iscale * x[i]);
        L[i] = static_cast<int8_t>(nmax + max_of(-nmax, min_of(nmax - 1, l)));
      }
      scale = sumlx / suml2;
      best = scale * sumlx;
    }
  }
  return scale;
}

// Q3_K's group search: start from the max-magnitude scale, then move single elements to
// better levels while the weighted fit improves (up to 5 passes). L gets level + nmax.
float make_q3_quants(int n, int nmax, const float* x, int8_t* L) {
  float max = 0, amax = 0;
  for (int i = 0; i < n; ++i) {
    const float ax = std::fabs(x[i]);
    if (ax > amax) { amax = ax; max = x[i]; }
  }
  if (amax < kGroupMaxEps) {
    for (int i = 0; i < n; ++i) L[i] = 0;
    return 0.f;
  }
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

// Asymmetric (scale, min) search for a group with levels 0..nmax: fits x ~ scale*l + min
// (min <= 0) by weighted least squares for nstep+1 trial scales around (max-min)/nmax and
// keeps the one with the smallest weighted error (absolute if use_mad, else squared).
// Returns the scale; *the_min gets -min (>= 0).
float make_qkx2_quants(int n, int nmax, const float* x, const float* weights, uint8_t* L, float* the_min,
                       uint8_t* Laux, float rmin, float rdelta, int nstep, bool use_mad) {
  float min = x[0], max = x[0];
  float sum_w = weights[0];
  float sum_x = sum_w * x[0];
  for (int i = 1; i < n; ++i) {
    if (x[i] < min) min = x[i];
    if (x[i] > max) max = x[i];
    const float w = weights[i];
    sum_w += w;
    sum_x += w * x[i];
  }
  if (min > 0) min = 0;
  if (max == min) {
    for (int i = 0; i < n; ++i) L[i] = 0;
    *the_min = -min;
    return 0.f;
  }
  float iscale = static_cast<float>(nmax) / (max - min);
  float scale = 1 / iscale;
  float best_error = 0;
  for (int i = 0; i < n; ++i) {
    const int l = nearest_int(iscale * (x[i] - min));
    L[i] = static_cast<uint8_t>(max_of(0, min_of(nmax, l)));
    float diff = scale * static_cast<float>(L[i]) + min - x[i];
    diff = use_mad ? std::fabs(diff) : diff * diff;
    best_error += weights[i] * diff;
  }
  if (nstep < 1) {
    *the_min = -min;
    return scale;
  }
  for (int is = 0; is <= nstep; ++is) {
    iscale = (rmin + rdelta * static_cast<float>(is) + static_cast<float>(nmax)) / (max - min);
    float sum_l = 0, sum_l2 = 0, sum_xl = 0;
    for (int i = 0; i < n; ++i) {
      int l = nearest_int(iscale * (x[i] - min));
      l = max_of(0, min_of(nmax, l));
      Laux[i] = static_cast<uint8_t>(l);
      const float w = weights[i];
      const float fl = static_cast<float>(l);
      sum_l += w * fl;
      sum_l2 += w * fl * fl;
      sum_xl += w * fl * x[i];
    }
    const float D = sum_w * sum_l2 - sum_l * sum_l;
    if (D > 0) {
      float this_scale = (sum_w * sum_xl - sum_x * sum_l) / D;
      float this_min = (sum_l2 * sum_x - sum_l * sum_xl) / D;
      if (this_min > 0) {
        this_min = 0;
        this_scale = sum_xl / sum_l2;
      }
      float cur_error = 0;
      for (int i = 0; i < n; ++i) {
        float diff = this_scale * static_cast<float>(Laux[i]) + this_min - x[i];
        diff = use_mad ? std::fabs(diff) : diff * diff;
        cur_error += weights[i] * diff;
      }
      if (cur_error < best_error) {
        for (int i = 0; i < n; ++i) L[i] = Laux[i];
        best_error = cur_error;
        scale = this_scale;
        min = this_min;
      }
    }
  }
  *the_min = -min;
  return scale;
}

// Index of the value of the sorted table val[0..n) nearest to x (ties go up); n a power of 2.
// Compares 2x with the sum of neighbours, which is exact.
inline int best_index_int8(int n, const int8_t* val, float x) {
  const float x2 = x + x;
  int idx = 0;
  for (int step = n >> 1; step > 0; step >>= 1) {
    const int j = idx + step;
    idx = (x2 >= static_cast<float>(val[j - 1] + val[j])) ? j : idx;
  }
  return idx;
}

// IQ4_NL / IQ4_XS (quantize_iq4_nl_impl with ntry = 7, no importance matrix), in two steps.
// First each block of 32 gets a scale for the non-linear table: the max-magnitude scale and 15
// nearby ones are tried, keeping the best fit weighted by x^2 (iq4_block_scale). Then
// (iq4_finish) with more than one block per super-block (IQ4_XS) the block scales are
// quantized to 6 bits relative to the super-block scale, and every element is assigned its
// level with its final scale.
constexpr int kIq4Tries = 7;

float iq4_block_scale(const float* xb) {
  constexpr int block_size = 32;
  const int8_t* values = kIq4nlValues;
  float weight[block_size];
  for (int j = 0; j < block_size; ++j) weight[j] = xb[j] * xb[j];
  float amax = 0, max = 0;
  for (int j = 0; j < block_size; ++j) {
    const float ax = std::fabs(xb[j]);
    if (ax > amax) { amax = ax; max = xb[j]; }
  }
  if (amax < kGroupMaxEps) return 0;
  float d = -max / static_cast<float>(values[0]);
  float id = 1 / d;
  float sumqx = 0, sumq2 = 0;
  for (int j = 0; j < block_size; ++j) {
    const float q = values[best_index_int8(16, values, id * xb[j])];
    const float w = weight[j];
    sumqx += w * q * xb[j];
    sumq2 += w * q * q;
  }
  d = sumq2 > 0 ? sumqx / sumq2 : 0.f;
  float best = d * sumqx;
  for (int itry = -kIq4Tries; itry <= kIq4Tries; ++itry) {
    id = static_cast<float>(itry + values[0]) / max;
    sumqx = sumq2 = 0;
    for (int j = 0; j < block_size; ++j) {
      const float q = values[best_index_int8(16, values, id * xb[j])];
      const float w = weight[j];
      sumqx += w * q * xb[j];
      sumq2 += w * q * q;
    }
    if (sumq2 > 0 && sumqx * sumqx > best * sumq2) {
      d = sumqx / sumq2;
      best = d * sumqx;
    }
  }
  return d;
}

void iq4_finish(int super_block_size, const float* x, const float* scales, uint16_t* dh, uint8_t* q4,
                uint16_t* scales_h, uint8_t* scales_l) {
  constexpr int block_size = 32;
  const int8_t* values = kIq4nlValues;
  uint8_t L[QK_K];
  if (super_block_size / block_size > 1) {
    const int nb = super_block_size / block_size;
    float max_scale = 0, amax_scale = 0;
    for (int ib = 0; ib < nb; ++ib) {
      const float abs_d = std::fabs(scales[ib]);
      if (abs_d > amax_scale) {
        amax_scale = abs_d;
        max_scale = scales[ib];
      }
    }
    std::memset(scales_h, 0, static_cast<size_t>((nb + 7) / 8) * sizeof(uint16_t));
    const float d = -max_scale / 32;
    *dh = f32_to_fp16(d);
    const float id = d ? 1 / d : 0.f;
    for (int ib = 0; ib < nb; ++ib) {
      int l = nearest_int(id * scales[ib]);
      l = max_of(-32, min_of(31, l));
      const float dl = d * static_cast<float>(l);
      const float idl = dl ? 1 / dl : 0.f;
      uint8_t* Lb = L + ib * block_size;
      const float* xb = x + ib * block_size;
      for (int j = 0; j < block_size; ++j) Lb[j] = static_cast<uint8_t>(best_index_int8(16, values, idl * xb[j]));
      l += 32;
      const uint8_t l_l = static_cast<uint8_t>(l & 0xF);
      const uint8_t l_h = static_cast<uint8_t>(l >> 4);
      if (ib % 2 == 0) scales_l[ib / 2] = l_l;
      else scales_l[ib / 2] = static_cast<uint8_t>(scales_l[ib / 2] | (l_l << 4));
      scales_h[ib / 8] = static_cast<uint16_t>(scales_h[ib / 8] | (l_h << 2 * (ib % 8)));
    }
  } else {
    *dh = f32_to_fp16(scales[0]);
    const float id = scales[0] ? 1 / scales[0] : 0;
    for (int j = 0; j < super_block_size; ++j) L[j] = static_cast<uint8_t>(best_index_int8(16, values, id * x[j]));
  }
  for (int i = 0; i < super_block_size / 32; ++i)
    for (int j = 0; j < 16; ++j) q4[16 * i + j] = static_cast<uint8_t>(L[32 * i + j] | (L[32 * i + 16 + j] << 4));
}

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


// ---- lane-parallel group searches ----------------------------------------------------------
//
// The k-quants run the searches above on 8 or 16 groups per super-block. The versions below
// run four or eight groups at once, one group per vector lane: every lane performs exactly the scalar
// search's float32 operations in the scalar order (data-dependent branches become per-lane
// selects, and extra iterations on lanes that are done change nothing), so the results are
// bit-identical to the scalar search, only several times faster. GCC / Clang vector
// extensions: four lanes on baseline x86-64 (SSE2), eight with AVX2 (chosen at run time).

enum class Search { kScalar, kLanes };

// Four lanes: the width baseline x86-64 (SSE2) computes natively, compares and selects
// included (wider generic vectors get their compares split into scalar code).
typedef float F4 __attribute__((vector_size(16)));
typedef int32_t I4 __attribute__((vector_size(16)));
// Eight lanes where the CPU has AVX2 (chosen at run time). Only "avx2" is enabled, not "fma":
// no multiply-add may be fused, or the results would differ from the scalar search.
typedef float F8 __attribute__((vector_size(32)));
typedef int32_t I8 __attribute__((vector_size(32)));

// Every helper that takes or returns a vector is always inlined (also at -O0): an AVX2 caller
// and a baseline callee would pass 32-byte vectors differently.
#define QUARREL_LANE_INLINE inline __attribute__((always_inline))

template <typename V, typename T>
QUARREL_LANE_INLINE V splat(T s) {
  V v;
  for (int i = 0; i < static_cast<int>(sizeof(V) / sizeof(T)); ++i) v[i] = s;
  return v;
}
template <typename F, typename I>
QUARREL_LANE_INLINE F select(I mask, F a, F b) {
  return (F)((mask & (I)a) | (~mask & (I)b));
}
template <typename I>
QUARREL_LANE_INLINE I select_int(I mask, I a, I b) {
  return (mask & a) | (~mask & b);
}
template <typename F, typename I>
QUARREL_LANE_INLINE F abs_lanes(F v) {
  return (F)((I)v & 0x7fffffff);
}
// nearest_int, lane by lane.
template <typename F, typename I>
QUARREL_LANE_INLINE I nearest_lanes(F v) {
  const F t = v + splat<F>(12582912.f);
  return ((I)t & 0x007fffff) - 0x00400000;
}
template <typename I>
QUARREL_LANE_INLINE I clamp_lanes(I v, int lo, int hi) {
  const I vlo = splat<I>(lo), vhi = splat<I>(hi);
  v = select_int(v > vhi, vhi, v);
  return select_int(v < vlo, vlo, v);
}
template <typename F, typename I>
QUARREL_LANE_INLINE F to_float(I v) {
  return __builtin_convertvector(v, F);
}
template <typename I>
QUARREL_LANE_INLINE bool any_lane(I m) {
  int r = 0;
  for (int i = 0; i < static_cast<int>(sizeof(I) / sizeof(int32_t)); ++i) r |= m[i];
  return r != 0;
}

// make_qkx2_quants on G (the lane count) groups of n (<= 32) elements: group g is x[g*n ..
// g*n+n), its weights w[g*n ..], its levels go to L[g*n ..], its scale and -min to scales[g],
// mins[g].
template <typename F, typename I>
QUARREL_LANE_INLINE void make_qkx2_quants_lanes(int n, int nmax, const float* x, const float* weights, uint8_t* Lout, float* scales,
                            float* mins, float rmin, float rdelta, int nstep, bool use_mad) {
  constexpr int G = static_cast<int>(sizeof(F) / sizeof(float));
  F xv[32], wv[32];
  I L[32], Laux[32];
  for (int i = 0; i < n; ++i)
    for (int g = 0; g < G; ++g) {
      xv[i][g] = x[g * n + i];
      wv[i][g] = weights[g * n + i];
    }
  const F zero = splat<F>(0.0f);
  F min = xv[0], max = xv[0];
  F sum_w = wv[0];
  F sum_x = sum_w * xv[0];
  for (int i = 1; i < n; ++i) {
    min = select(xv[i] < min, xv[i], min);
    max = select(xv[i] > max, xv[i], max);
    sum_w += wv[i];
    sum_x += wv[i] * xv[i];
  }
  min = select(min > zero, zero, min);
  const I degenerate = max == min;
  const F min0 = min;
  F iscale = splat<F>(static_cast<float>(nmax)) / (max - min);
  F scale = splat<F>(1.0f) / iscale;
  F best_error = zero;
  for (int i = 0; i < n; ++i) {
    L[i] = clamp_lanes(nearest_lanes<F, I>(iscale * (xv[i] - min)), 0, nmax);
    F diff = scale * to_float<F>(L[i]) + min - xv[i];
    diff = use_mad ? abs_lanes<F, I>(diff) : diff * diff;
    best_error += wv[i] * diff;
  }
  for (int is = 0; nstep >= 1 && is <= nstep; ++is) {
    iscale = splat<F>(rmin + rdelta * static_cast<float>(is) + static_cast<float>(nmax)) / (max - min);
    F sum_l = zero, sum_l2 = zero, sum_xl = zero;
    for (int i = 0; i < n; ++i) {
      Laux[i] = clamp_lanes(nearest_lanes<F, I>(iscale * (xv[i] - min)), 0, nmax);
      const F fl = to_float<F>(Laux[i]);
      sum_l += wv[i] * fl;
      sum_l2 += wv[i] * fl * fl;
      sum_xl += wv[i] * fl * xv[i];
    }
    const F D = sum_w * sum_l2 - sum_l * sum_l;
    const I ok = D > zero;
    if (!any_lane(ok)) continue;
    F this_scale = (sum_w * sum_xl - sum_x * sum_l) / D;
    F this_min = (sum_l2 * sum_x - sum_l * sum_xl) / D;
    const I positive = this_min > zero;
    this_min = select(positive, zero, this_min);
    this_scale = select(positive, sum_xl / sum_l2, this_scale);
    F cur_error = zero;
    for (int i = 0; i < n; ++i) {
      F diff = this_scale * to_float<F>(Laux[i]) + this_min - xv[i];
      diff = use_mad ? abs_lanes<F, I>(diff) : diff * diff;
      cur_error += wv[i] * diff;
    }
    const I better = ok & (cur_error < best_error);
    if (!any_lane(better)) continue;
    for (int i = 0; i < n; ++i) L[i] = select_int(better, Laux[i], L[i]);
    best_error = select(better, cur_error, best_error);
    scale = select(better, this_scale, scale);
    min = select(better, this_min, min);
  }
  const F the_min = select(degenerate, -min0, -min);
  scale = select(degenerate, zero, scale);
  for (int i = 0; i < n; ++i) L[i] = select_int(degenerate, splat<I>(0), L[i]);
  for (int g = 0; g < G; ++g) {
    scales[g] = scale[g];
    mins[g] = the_min[g];
    for (int i = 0; i < n; ++i) Lout[g * n + i] = static_cast<uint8_t>(L[i][g]);
  }
}

// make_qx_quants on G (the lane count) groups of n (<= 32) elements (weights x^2): levels +
// nmax to L[g*n ..], scales to scales[g].
template <typename F, typename I>
QUARREL_LANE_INLINE void make_qx_quants_lanes(int n, int nmax, const float* x, int8_t* Lout, float* scales) {
  constexpr int G = static_cast<int>(sizeof(F) / sizeof(float));
  F xv[32];
  I L[32], Lt[32];
  for (int i = 0; i < n; ++i)
    for (int g = 0; g < G; ++g) xv[i][g] = x[g * n + i];
  const F zero = splat<F>(0.0f);
  F max = zero, amax = zero;
  for (int i = 0; i < n; ++i) {
    const F ax = abs_lanes<F, I>(xv[i]);
    const I larger = ax > amax;
    amax = select(larger, ax, amax);
    max = select(larger, xv[i], max);
  }
  const I all_zero = amax < splat<F>(kGroupMaxEps);
  F iscale = splat<F>(static_cast<float>(-nmax)) / max;
  F sumlx = zero, suml2 = zero;
  for (int i = 0; i < n; ++i) {
    const I l = clamp_lanes(nearest_lanes<F, I>(iscale * xv[i]), -nmax, nmax - 1);
    L[i] = l + nmax;
    const F w = xv[i] * xv[i];
    const F fl = to_float<F>(l);
    sumlx += w * xv[i] * fl;
    suml2 += w * fl * fl;
  }
  F scale = select(suml2 != zero, sumlx / suml2, zero);
  F best = scale * sumlx;
  for (int is = -9; is <= 9; ++is) {
    if (is == 0) continue;
    iscale = splat<F>(-(static_cast<float>(nmax) + 0.1f * static_cast<float>(is))) / max;
    sumlx = suml2 = zero;
    for (int i = 0; i < n; ++i) {
      Lt[i] = clamp_lanes(nearest_lanes<F, I>(iscale * xv[i]), -nmax, nmax - 1);
      const F w = xv[i] * xv[i];
      const F fl = to_float<F>(Lt[i]);
      sumlx += w * xv[i] * fl;
      suml2 += w * fl * fl;
    }
    const I update = (suml2 > zero) & (sumlx * sumlx > best * suml2);
    if (!any_lane(update)) continue;
    for (int i = 0; i < n; ++i) L[i] = select_int(update, Lt[i] + nmax, L[i]);
    scale = select(update, sumlx / suml2, scale);
    best = select(update, scale * sumlx, best);
  }
  scale = select(all_zero, zero, scale);
  for (int g = 0; g < G; ++g) {
    scales[g] = scale[g];
    for (int i = 0; i < n; ++i) Lout[g * n + i] = static_cast<int8_t>(all_zero[g] ? 0 : L[i][g]);
  }
}

// kIq4nlValues[best_index_int8(16, kIq4nlValues, al)], lane by lane: v0 plus the steps of the
// midpoints mid[k] that 2*al is at or above. (A function, not a lambda: helpers that take
// vectors must be always inlined, or an AVX2 caller and a baseline callee disagree on how
// vectors are passed.)
template <typename F, typename I>
QUARREL_LANE_INLINE F iq4_table_value(F al, F v0, const F* mid, const F* step) {
  const F a2 = al + al;
  F q = v0;
  for (int k = 0; k < 15; ++k) q += select(a2 >= mid[k], step[k], splat<F>(0.0f));
  return q;
}

// iq4_block_scale on G (the lane count) blocks of 32 at once. The nearest table value is found
// by counting the midpoints 2x is at or above (what best_index_int8's binary search finds,
// without a gather), its value by adding the table's steps: both exact.
template <typename F, typename I>
QUARREL_LANE_INLINE void iq4_block_scales_lanes(const float* x, float* scales) {
  constexpr int G = static_cast<int>(sizeof(F) / sizeof(float));
  constexpr int block_size = 32;
  const int8_t* values = kIq4nlValues;
  F xv[block_size], wv[block_size];
  for (int j = 0; j < block_size; ++j)
    for (int g = 0; g < G; ++g) xv[j][g] = x[g * block_size + j];
  F mid[15], step[15];
  for (int k = 1; k < 16; ++k) {
    mid[k - 1] = splat<F>(static_cast<float>(values[k - 1] + values[k]));
    step[k - 1] = splat<F>(static_cast<float>(values[k] - values[k - 1]));
  }
  const F v0 = splat<F>(static_cast<float>(values[0]));
  const F zero = splat<F>(0.0f);
  F amax = zero, max = zero;
  for (int j = 0; j < block_size; ++j) {
    wv[j] = xv[j] * xv[j];
    const F ax = abs_lanes<F, I>(xv[j]);
    const I larger = ax > amax;
    amax = select(larger, ax, amax);
    max = select(larger, xv[j], max);
  }
  const I all_zero = amax < splat<F>(kGroupMaxEps);
  F d = -max / v0;
  F id = splat<F>(1.0f) / d;
  F sumqx = zero, sumq2 = zero;
  for (int j = 0; j < block_size; ++j) {
    const F q = iq4_table_value<F, I>(id * xv[j], v0, mid, step);
    sumqx += wv[j] * q * xv[j];
    sumq2 += wv[j] * q * q;
  }
  d = select(sumq2 > zero, sumqx / sumq2, zero);
  F best = d * sumqx;
  for (int itry = -kIq4Tries; itry <= kIq4Tries; ++itry) {
    id = splat<F>(static_cast<float>(itry + values[0])) / max;
    sumqx = sumq2 = zero;
    for (int j = 0; j < block_size; ++j) {
      const F q = iq4_table_value<F, I>(id * xv[j], v0, mid, step);
      sumqx += wv[j] * q * xv[j];
      sumq2 += wv[j] * q * q;
    }
    const I update = (sumq2 > zero) & (sumqx * sumqx > best * sumq2);
    d = select(update, sumqx / sumq2, d);
    best = select(update, d * sumqx, best);
  }
  d = select(all_zero, zero, d);
  for (int g = 0; g < G; ++g) scales[g] = d[g];
}

void make_qkx2_quants_x4(int n, int nmax, const float* x, const float* w, uint8_t* L, float* scales, float* mins,
                         float rmin, float rdelta, int nstep, bool use_mad) {
  make_qkx2_quants_lanes<F4, I4>(n, nmax, x, w, L, scales, mins, rmin, rdelta, nstep, use_mad);
}
void make_qx_quants_x4(int n, int nmax, const float* x, int8_t* L, float* scales) {
  make_qx_quants_lanes<F4, I4>(n, nmax, x, L, scales);
}
void iq4_block_scales_x4(const float* x, float* scales) { iq4_block_scales_lanes<F4, I4>(x, scales); }

#if defined(__x86_64__) || defined(__i386__)
#define QUARREL_QUANT_AVX2 1
__attribute__((target("avx2"))) void make_qkx2_quants_x8(int n, int nmax, const float* x, const float* w, uint8_t* L,
                                                         float* scales, float* mins, float rmin, float rdelta,
                                                         int nstep, bool use_mad) {
  make_qkx2_quants_lanes<F8, I8>(n, nmax, x, w, L, scales, mins, rmin, rdelta, nstep, use_mad);
}
__attribute__((target("avx2"))) void make_qx_quants_x8(int n, int nmax, const float* x, int8_t* L, float* scales) {
  make_qx_quants_lanes<F8, I8>(n, nmax, x, L, scales);
}
__attribute__((target("avx2"))) void iq4_block_scales_x8(const float* x, float* scales) {
  iq4_block_scales_lanes<F8, I8>(x, scales);
}
#endif

// 0: not chosen yet; else 4 or 8. QUARREL_CPU=scalar (as for the kernels) keeps four lanes.
std::atomic<int> g_lane_width{0};

int lane_width() {
  int w = g_lane_width.load(std::memory_order_relaxed);
  if (w == 0) {
    w = 4;
#ifdef QUARREL_QUANT_AVX2
    const char* cpu = std::getenv("QUARREL_CPU");
    if (__builtin_cpu_supports("avx2") && !(cpu && std::string_view(cpu) == "scalar")) w = 8;
#endif
    g_lane_width.store(w, std::memory_order_relaxed);
  }
  return w;
}

// The searches for G groups, one after the other (the reference) or in lanes: eight at a time
// with AVX2, else four.
template <int G>
void make_qkx2_quants_groups(Search search, int n, int nmax, const float* x, const float* weights, uint8_t* L,
                             float* scales, float* mins, float rmin, float rdelta, int nstep, bool use_mad) {
  static_assert(G % 8 == 0);
  if (search == Search::kLanes) {
#ifdef QUARREL_QUANT_AVX2
    if (lane_width() == 8) {
      for (int g = 0; g < G; g += 8)
        make_qkx2_quants_x8(n, nmax, x + g * n, weights + g * n, L + g * n, scales + g, mins + g, rmin, rdelta, nstep,
                            use_mad);
      return;
    }
#endif
    for (int g = 0; g < G; g += 4)
      make_qkx2_quants_x4(n, nmax, x + g * n, weights + g * n, L + g * n, scales + g, mins + g, rmin, rdelta, nstep,
                          use_mad);
    return;
  }
  uint8_t Laux[32];
  for (int g = 0; g < G; ++g)
    scales[g] = make_qkx2_quants(n, nmax, x + g * n, weights + g * n, L + g * n, &mins[g], Laux, rmin, rdelta, nstep, use_mad);
}

template <int G>
void make_qx_quants_groups(Search search, int n, int nmax, const float* x, int8_t* L, float* scales) {
  static_assert(G % 8 == 0);
  if (search == Search::kLanes) {
#ifdef QUARREL_QUANT_AVX2
    if (lane_width() == 8) {
      for (int g = 0; g < G; g += 8) make_qx_quants_x8(n, nmax, x + g * n, L + g * n, scales + g);
      return;
    }
#endif
    for (int g = 0; g < G; g += 4) make_qx_quants_x4(n, nmax, x + g * n, L + g * n, scales + g);
    return;
  }
  for (int g = 0; g < G; ++g) scales[g] = make_qx_quants(n, nmax, x + g * n, L + g * n);
}

// iq4_block_scale for n_blocks consecutive blocks of 32: in lanes (the last few one by one)
// or all one by one.
void iq4_block_scales(Search search, int n_blocks, const float* x, float* scales) {
  int b = 0;
  if (search == Search::kLanes) {
#ifdef QUARREL_QUANT_AVX2
    if (lane_width() == 8)
      for (; b + 8 <= n_blocks; b += 8) iq4_block_scales_x8(x + 32 * b, scales + b);
#endif
    for (; b + 4 <= n_blocks; b += 4) iq4_block_scales_x4(x + 32 * b, scales + b);
  }
  for (const float* xb = x + 32 * b; b < n_blocks; ++b, xb += 32) scales[b] = iq4_block_scale(xb);
}

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

// The shared first half of Q4_K / Q5_K: per 32-element group a (scale, min) fit, the 6-bit
// quantization of both against the super-block maxima, then the final levels 0..nmax.
template <typename Block>
void quantize_k4_scales_and_levels(Search search, const float* x, Block& y, uint8_t* L, int nmax, float rmin,
                                   float rdelta, int nstep) {
  float weights[QK_K];
  float mins[QK_K / 32];
  float scales[QK_K / 32];
  for (int j = 0; j < QK_K / 32; ++j) {
    float sum_x2 = 0;
    for (int l = 0; l < 32; ++l) sum_x2 += x[32 * j + l] * x[32 * j + l];
    const float av_x = std::sqrt(sum_x2 / 32);
    for (int l = 0; l < 32; ++l) weights[32 * j + l] = av_x + std::fabs(x[32 * j + l]);
  }
  make_qkx2_quants_groups<QK_K / 32>(search, 32, nmax, x, weights, L, scales, mins, rmin, rdelta, nstep, false);
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

// ---- legacy 32-element formats ---------------------------------------------------------------

void quantize_row_q4_0(const float* x, BlockQ4_0* y, int64_t n) {
  constexpr int qk = QK4_0;
  const int64_t nb = n / qk;
  for (int64_t i = 0; i < nb; ++i) {
    float amax = 0, max = 0;
    for (int j = 0; j < qk; ++j) {
      const float v = x[i * qk + j];
      if (amax < std::fabs(v)) { amax = std::fabs(v); max = v; }
    }
    const float d = max / -8;
    const float id = d ? 1.0f / d : 0.0f;
    y[i].d = f32_to_fp16(d);
    for (int j = 0; j < qk / 2; ++j) {
      const float x0 = x[i * qk + j] * id;
      const float x1 = x[i * qk + qk / 2 + j] * id;
      const uint8_t xi0 = static_cast<uint8_t>(min_of<int>(15, static_cast<int8_t>(x0 + 8.5f)));
      const uint8_t xi1 = static_cast<uint8_t>(min_of<int>(15, static_cast<int8_t>(x1 + 8.5f)));
      y[i].qs[j] = static_cast<uint8_t>(xi0 | (xi1 << 4));
    }
  }
}

void quantize_row_q4_1(const float* x, BlockQ4_1* y, int64_t n) {
  constexpr int qk = QK4_1;
  const int64_t nb = n / qk;
  for (int64_t i = 0; i < nb; ++i) {
    float min = FLT_MAX, max = -FLT_MAX;
    for (int j = 0; j < qk; ++j) {
      const float v = x[i * qk + j];
      if (v < min) min = v;
      if (v > max) max = v;
    }
    const float d = (max - min) / ((1 << 4) - 1);
    const float id = d ? 1.0f / d : 0.0f;
    y[i].d = f32_to_fp16(d);
    y[i].m = f32_to_fp16(min);
    for (int j = 0; j < qk / 2; ++j) {
      const float x0 = (x[i * qk + j] - min) * id;
      const float x1 = (x[i * qk + qk / 2 + j] - min) * id;
      const uint8_t xi0 = static_cast<uint8_t>(min_of<int>(15, static_cast<int8_t>(x0 + 0.5f)));
      const uint8_t xi1 = static_cast<uint8_t>(min_of<int>(15, static_cast<int8_t>(x1 + 0.5f)));
      y[i].qs[j] = static_cast<uint8_t>(xi0 | (xi1 << 4));
    }
  }
}

void quantize_row_q5_0(const float* x, BlockQ5_0* y, int64_t n) {
  constexpr int qk = QK5_0;
  const int64_t nb = n / qk;
  for (int64_t i = 0; i < nb; ++i) {
    float amax = 0, max = 0;
    for (int j = 0; j < qk; ++j) {
      const float v = x[i * qk + j];
      if (amax < std::fabs(v)) { amax = std::fabs(v); max = v; }
    }
    const float d = max / -16;
    const float id = d ? 1.0f / d : 0.0f;
    y[i].d = f32_to_fp16(d);
    uint32_t qh = 0;
    for (int j = 0; j < qk / 2; ++j) {
      const float x0 = x[i * qk + j] * id;
      const float x1 = x[i * qk + qk / 2 + j] * id;
      const uint8_t xi0 = static_cast<uint8_t>(min_of<int>(31, static_cast<int8_t>(x0 + 16.5f)));
      const uint8_t xi1 = static_cast<uint8_t>(min_of<int>(31, static_cast<int8_t>(x1 + 16.5f)));
      y[i].qs[j] = static_cast<uint8_t>((xi0 & 0x0F) | ((xi1 & 0x0F) << 4));
      qh |= ((xi0 & 0x10u) >> 4) << (j + 0);
      qh |= ((xi1 & 0x10u) >> 4) << (j + qk / 2);
    }
    std::memcpy(y[i].qh, &qh, sizeof(qh));
  }
}

void quantize_row_q5_1(const float* x, BlockQ5_1* y, int64_t n) {
  constexpr int qk = QK5_1;
  const int64_t nb = n / qk;
  for (int64_t i = 0; i < nb; ++i) {
    float min = FLT_MAX, max = -FLT_MAX;
    for (int j = 0; j < qk; ++j) {
      const float v = x[i * qk + j];
      if (v < min) min = v;
      if (v > max) max = v;
    }
    const float d = (max - min) / ((1 << 5) - 1);
    const float id = d ? 1.0f / d : 0.0f;
    y[i].d = f32_to_fp16(d);
    y[i].m = f32_to_fp16(min);
    uint32_t qh = 0;
    for (int j = 0; j < qk / 2; ++j) {
      const float x0 = (x[i * qk + j] - min) * id;
      const float x1 = (x[i * qk + qk / 2 + j] - min) * id;
      const uint8_t xi0 = static_cast<uint8_t>(x0 + 0.5f);
      const uint8_t xi1 = static_cast<uint8_t>(x1 + 0.5f);
      y[i].qs[j] = static_cast<uint8_t>((xi0 & 0x0F) | ((xi1 & 0x0F) << 4));
      qh |= ((xi0 & 0x10u) >> 4) << (j + 0);
      qh |= ((xi1 & 0x10u) >> 4) << (j + qk / 2);
    }
    std::memcpy(y[i].qh, &qh, sizeof(qh));
  }
}

void quantize_row_q8_0(const float* x, BlockQ8_0* y, int64_t n) {
  const int64_t nb = n / QK8_0;
  for (int64_t i = 0; i < nb; ++i) {
    float amax = 0;
    for (int j = 0; j < QK8_0; ++j) amax = max_of(amax, std::fabs(x[i * QK8_0 + j]));
    const float d = amax / ((1 << 7) - 1);
    const float id = d ? 1.0f / d : 0.0f;
    y[i].d = f32_to_fp16(d);
    for (int j = 0; j < QK8_0; ++j) y[i].qs[j] = static_cast<int8_t>(std::round(x[i * QK8_0 + j] * id));
  }
}

void quantize_row_q8_1(const float* x, BlockQ8_1* y, int64_t n) {
  const int64_t nb = n / QK8_1;
  for (int64_t i = 0; i < nb; ++i) {
    float amax = 0;
    for (int j = 0; j < QK8_1; ++j) amax = max_of(amax, std::fabs(x[i * QK8_1 + j]));
    const float d = amax / ((1 << 7) - 1);
    const float id = d ? 1.0f / d : 0.0f;
    y[i].d = f32_to_fp16(d);
    int sum = 0;
    for (int j = 0; j < QK8_1 / 2; ++j) {
      y[i].qs[j] = static_cast<int8_t>(std::round(x[i * QK8_1 + j] * id));
      y[i].qs[QK8_1 / 2 + j] = static_cast<int8_t>(std::round(x[i * QK8_1 + QK8_1 / 2 + j] * id));
      sum += y[i].qs[j];
      sum += y[i].qs[QK8_1 / 2 + j];
    }
    y[i].s = f32_to_fp16(static_cast<float>(sum) * d);
  }
}

// ---- k-quants --------------------------------------------------------------------------------

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
    make_qkx2_quants_groups<QK_K / 16>(kSearch, 16, 3, x, weights, L, scales, mins, -0.5f, 0.1f, 15, true);
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

template <Search kSearch>
void quantize_q4_K_impl(const float* x, BlockQ4_K* y, int64_t n) {
  const int64_t nb = n / QK_K;
  uint8_t L[QK_K];
  for (int64_t i = 0; i < nb; ++i) {
    quantize_k4_scales_and_levels(kSearch, x, y[i], L, 15, -1.f, 0.1f, 20);
    uint8_t* q = y[i].qs;
    for (int j = 0; j < QK_K; j += 64) {
      for (int l = 0; l < 32; ++l) q[l] = static_cast<uint8_t>(L[j + l] | (L[j + l + 32] << 4));
      q += 32;
    }
    x += QK_K;
  }
}

template <Search kSearch>
void quantize_q5_K_impl(const float* x, BlockQ5_K* y, int64_t n) {
  const int64_t nb = n / QK_K;
  uint8_t L[QK_K];
  for (int64_t i = 0; i < nb; ++i) {
    quantize_k4_scales_and_levels(kSearch, x, y[i], L, 31, -0.5f, 0.1f, 15);
    uint8_t* qh = y[i].qh;
    uint8_t* ql = y[i].qs;
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
    x += QK_K;
  }
}

template <Search kSearch>
void quantize_q6_K_impl(const float* x, BlockQ6_K* y, int64_t n) {
  const int64_t nb = n / QK_K;
  int8_t L[QK_K];
  float scales[QK_K / 16];
  for (int64_t i = 0; i < nb; ++i) {
    make_qx_quants_groups<QK_K / 16>(kSearch, 16, 32, x, L, scales);
    float max_scale = 0, max_abs_scale = 0;
    for (int ib = 0; ib < QK_K / 16; ++ib) {
      const float abs_scale = std::fabs(scales[ib]);
      if (abs_scale > max_abs_scale) {
        max_abs_scale = abs_scale;
        max_scale = scales[ib];
      }
    }
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
void quantize_row_q4_K(const float* x, BlockQ4_K* y, int64_t n) { quantize_q4_K_impl<Search::kLanes>(x, y, n); }
void quantize_row_q5_K(const float* x, BlockQ5_K* y, int64_t n) { quantize_q5_K_impl<Search::kLanes>(x, y, n); }
void quantize_row_q6_K(const float* x, BlockQ6_K* y, int64_t n) { quantize_q6_K_impl<Search::kLanes>(x, y, n); }

namespace scalar_search {
int set_lane_width(int width) {
  const int before = lane_width();
  if (width == 0) {
    g_lane_width.store(0);
    lane_width();
  } else {
#ifdef QUARREL_QUANT_AVX2
    QUARREL_ASSERT(width == 4 || (width == 8 && __builtin_cpu_supports("avx2")));
#else
    QUARREL_ASSERT(width == 4);
#endif
    g_lane_width.store(width);
  }
  return before;
}
int lane_width() { return quant::lane_width(); }
void quantize_row_q2_K(const float* x, BlockQ2_K* y, int64_t n) { quantize_q2_K_impl<Search::kScalar>(x, y, n); }
void quantize_row_q4_K(const float* x, BlockQ4_K* y, int64_t n) { quantize_q4_K_impl<Search::kScalar>(x, y, n); }
void quantize_row_q5_K(const float* x, BlockQ5_K* y, int64_t n) { quantize_q5_K_impl<Search::kScalar>(x, y, n); }
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

// ---- non-linear 4-bit and MXFP4 ----------------------------------------------------------------

template <Search kSearch>
void quantize_iq4_nl_impl(const float* x, BlockIQ4_NL* y, int64_t n) {
  const int64_t nb = n / QK4_NL;
  constexpr int64_t kChunk = 64;  // blocks whose scales are searched together
  float scales[kChunk];
  uint16_t unused_h;
  for (int64_t b0 = 0; b0 < nb; b0 += kChunk) {
    const int m = static_cast<int>(std::min(kChunk, nb - b0));
    iq4_block_scales(kSearch, m, x + QK4_NL * b0, scales);
    for (int i = 0; i < m; ++i) {
      BlockIQ4_NL& blk = y[b0 + i];
      iq4_finish(QK4_NL, x + QK4_NL * (b0 + i), &scales[i], &blk.d, blk.qs, &unused_h, nullptr);
    }
  }
}

template <Search kSearch>
void quantize_iq4_xs_impl(const float* x, BlockIQ4_XS* y, int64_t n) {
  const int64_t nb = n / QK_K;
  float scales[QK_K / 32];
  for (int64_t ib = 0; ib < nb; ++ib) {
    iq4_block_scales(kSearch, QK_K / 32, x + QK_K * ib, scales);
    iq4_finish(QK_K, x + QK_K * ib, scales, &y[ib].d, y[ib].qs, &y[ib].scales_h, y[ib].scales_l);
  }
}

void quantize_row_iq4_nl(const float* x, BlockIQ4_NL* y, int64_t n) { quantize_iq4_nl_impl<Search::kLanes>(x, y, n); }
void quantize_row_iq4_xs(const float* x, BlockIQ4_XS* y, int64_t n) { quantize_iq4_xs_impl<Search::kLanes>(x, y, n); }
namespace scalar_search {
void quantize_row_iq4_nl(const float* x, BlockIQ4_NL* y, int64_t n) { quantize_iq4_nl_impl<Search::kScalar>(x, y, n); }
void quantize_row_iq4_xs(const float* x, BlockIQ4_XS* y, int64_t n) { quantize_iq4_xs_impl<Search::kScalar>(x, y, n); }
}  // namespace scalar_search

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

void quantize_row(GgmlType type, const float* src, void* dst, int64_t n) {
  if (!can_quantize(type)) fail(ErrorCode::kUnsupported, "cannot quantize to tensor type {}", type_name(type));
  const auto tr = traits(type);
  if (n < 0 || n % tr.block_size != 0)
    fail(ErrorCode::kInvalidArgument, "quantize {}: {} elements is not a multiple of the block size {}", type_name(type),
         n, tr.block_size);
  switch (type) {
    case GgmlType::F32: std::memcpy(dst, src, static_cast<size_t>(n) * sizeof(float)); return;
    case GgmlType::F16: return quantize_row_f16(src, static_cast<uint16_t*>(dst), n);
    case GgmlType::BF16: return quantize_row_bf16(src, static_cast<uint16_t*>(dst), n);
    case GgmlType::Q4_0: return quantize_row_q4_0(src, static_cast<BlockQ4_0*>(dst), n);
    case GgmlType::Q4_1: return quantize_row_q4_1(src, static_cast<BlockQ4_1*>(dst), n);
    case GgmlType::Q5_0: return quantize_row_q5_0(src, static_cast<BlockQ5_0*>(dst), n);
    case GgmlType::Q5_1: return quantize_row_q5_1(src, static_cast<BlockQ5_1*>(dst), n);
    case GgmlType::Q8_0: return quantize_row_q8_0(src, static_cast<BlockQ8_0*>(dst), n);
    case GgmlType::Q8_1: return quantize_row_q8_1(src, static_cast<BlockQ8_1*>(dst), n);
    case GgmlType::Q2_K: return quantize_row_q2_K(src, static_cast<BlockQ2_K*>(dst), n);
    case GgmlType::Q3_K: return quantize_row_q3_K(src, static_cast<BlockQ3_K*>(dst), n);
    case GgmlType::Q4_K: return quantize_row_q4_K(src, static_cast<BlockQ4_K*>(dst), n);
    case GgmlType::Q5_K: return quantize_row_q5_K(src, static_cast<BlockQ5_K*>(dst), n);
    case GgmlType::Q6_K: return quantize_row_q6_K(src, static_cast<BlockQ6_K*>(dst), n);
    case GgmlType::Q8_K: return quantize_row_q8_K(src, static_cast<BlockQ8_K*>(dst), n);
    case GgmlType::IQ4_NL: return quantize_row_iq4_nl(src, static_cast<BlockIQ4_NL*>(dst), n);
    case GgmlType::IQ4_XS: return quantize_row_iq4_xs(src, static_cast<BlockIQ4_XS*>(dst), n);
    case GgmlType::MXFP4: return quantize_row_mxfp4(src, static_cast<BlockMXFP4*>(dst), n);
    default: break;
  }
  QUARREL_ASSERT(false);
}

}  // namespace quarrel::quant
