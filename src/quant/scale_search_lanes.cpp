// The group scale searches of scale_search.cpp in vector lanes (Search::kLanes).
//
// The k-quants run their searches on 8 or 16 groups per super-block, IQ4 on blocks of 32. The
// versions here run four or eight groups at once, one group per vector lane: every lane performs
// exactly the scalar search's float32 operations in the scalar order (data-dependent branches
// become per-lane selects, and extra iterations on lanes that are done change nothing), so the
// results are bit-identical to the scalar search, only several times faster. GCC / Clang vector
// extensions: four lanes on baseline x86-64 (SSE2), eight with AVX2 (chosen at run time). Also
// the lane width choice (lane_width, scalar_search::set_lane_width).
#include <atomic>
#include <cstdlib>
#include <string_view>

#include "core/error.h"
#include "quant/blocks.h"
#include "quant/quantize_internal.h"
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
namespace detail {
namespace {

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

template <Qkx2Params P>
void make_qkx2_quants_x4(const float* x, const float* w, uint8_t* L, float* scales, float* mins) {
  make_qkx2_quants_lanes<F4, I4>(P.n, P.nmax, x, w, L, scales, mins, P.rmin, P.rdelta, P.nstep, P.use_mad);
}
template <QxParams P>
void make_qx_quants_x4(const float* x, int8_t* L, float* scales) {
  make_qx_quants_lanes<F4, I4>(P.n, P.nmax, x, L, scales);
}
void iq4_block_scales_x4(const float* x, float* scales) { iq4_block_scales_lanes<F4, I4>(x, scales); }

#if defined(__x86_64__) || defined(__i386__)
#define QUARREL_QUANT_AVX2 1
template <Qkx2Params P>
__attribute__((target("avx2"))) void make_qkx2_quants_x8(const float* x, const float* w, uint8_t* L, float* scales,
                                                         float* mins) {
  make_qkx2_quants_lanes<F8, I8>(P.n, P.nmax, x, w, L, scales, mins, P.rmin, P.rdelta, P.nstep, P.use_mad);
}
template <QxParams P>
__attribute__((target("avx2"))) void make_qx_quants_x8(const float* x, int8_t* L, float* scales) {
  make_qx_quants_lanes<F8, I8>(P.n, P.nmax, x, L, scales);
}
__attribute__((target("avx2"))) void iq4_block_scales_x8(const float* x, float* scales) {
  iq4_block_scales_lanes<F8, I8>(x, scales);
}
#endif

// 0: not chosen yet; else 4 or 8. QUARREL_CPU=scalar (as for the kernels) keeps four lanes.
std::atomic<int> g_lane_width{0};

}  // namespace

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

// The searches for a super-block's groups, one after the other (the reference) or in lanes:
// eight at a time with AVX2, else four.
template <Qkx2Params P>
void make_qkx2_quants_groups(Search search, const float* x, const float* weights, uint8_t* L, float* scales,
                             float* mins) {
  constexpr int n = P.n, n_groups = QK_K / P.n;
  static_assert(n_groups % 8 == 0);
  if (search == Search::kLanes) {
#ifdef QUARREL_QUANT_AVX2
    if (lane_width() == 8) {
      for (int g = 0; g < n_groups; g += 8)
        make_qkx2_quants_x8<P>(x + g * n, weights + g * n, L + g * n, scales + g, mins + g);
      return;
    }
#endif
    for (int g = 0; g < n_groups; g += 4)
      make_qkx2_quants_x4<P>(x + g * n, weights + g * n, L + g * n, scales + g, mins + g);
    return;
  }
  uint8_t Laux[32];
  for (int g = 0; g < n_groups; ++g)
    scales[g] = make_qkx2_quants(n, P.nmax, x + g * n, weights + g * n, L + g * n, &mins[g], Laux, P.rmin, P.rdelta,
                                 P.nstep, P.use_mad);
}
template void make_qkx2_quants_groups<kQ2KSearch>(Search, const float*, const float*, uint8_t*, float*, float*);
template void make_qkx2_quants_groups<kQ4KSearch>(Search, const float*, const float*, uint8_t*, float*, float*);
template void make_qkx2_quants_groups<kQ5KSearch>(Search, const float*, const float*, uint8_t*, float*, float*);

template <QxParams P>
void make_qx_quants_groups(Search search, const float* x, int8_t* L, float* scales) {
  constexpr int n = P.n, n_groups = QK_K / P.n;
  static_assert(n_groups % 8 == 0);
  if (search == Search::kLanes) {
#ifdef QUARREL_QUANT_AVX2
    if (lane_width() == 8) {
      for (int g = 0; g < n_groups; g += 8) make_qx_quants_x8<P>(x + g * n, L + g * n, scales + g);
      return;
    }
#endif
    for (int g = 0; g < n_groups; g += 4) make_qx_quants_x4<P>(x + g * n, L + g * n, scales + g);
    return;
  }
  for (int g = 0; g < n_groups; ++g) scales[g] = make_qx_quants(n, P.nmax, x + g * n, L + g * n);
}
template void make_qx_quants_groups<kQ6KSearch>(Search, const float*, int8_t*, float*);

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

}  // namespace detail

namespace scalar_search {
int set_lane_width(int width) {
  const int before = detail::lane_width();
  if (width == 0) {
    detail::g_lane_width.store(0);
    detail::lane_width();
  } else {
#ifdef QUARREL_QUANT_AVX2
    QUARREL_ASSERT(width == 4 || (width == 8 && __builtin_cpu_supports("avx2")));
#else
    QUARREL_ASSERT(width == 4);
#endif
    detail::g_lane_width.store(width);
  }
  return before;
}
int lane_width() { return detail::lane_width(); }
}  // namespace scalar_search

}  // namespace quarrel::quant
