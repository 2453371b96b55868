#pragma once
// Internal to src/quant: what the reference quantizers (quantize_*.cpp) share. The rounding
// and clamping helpers, the group scale searches one group at a time (scale_search.cpp) and
// their dispatch to the lane-parallel versions (scale_search_lanes.cpp). Not a public header.
#include <cmath>
#include <cstdint>
#include <cstring>

namespace quarrel::quant::detail {

// Groups whose largest magnitude is below this quantize to all zeros.
constexpr float kGroupMaxEps = 1e-15f;
// IQ4_NL / IQ4_XS block scale search: the max-magnitude scale and 2 * kIq4Tries + 1 nearby ones.
constexpr int kIq4Tries = 7;

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

// The value of largest magnitude among x[0..n) (the first of equal magnitudes; 0 if all are 0),
// its magnitude to *amax.
inline float max_by_magnitude(int n, const float* x, float* amax) {
  float max = 0, a = 0;
  for (int i = 0; i < n; ++i) {
    const float ax = std::fabs(x[i]);
    if (ax > a) { a = ax; max = x[i]; }
  }
  *amax = a;
  return max;
}

// The group's value of largest magnitude; 0, with every level in L set to 0, for a group whose
// largest magnitude is below kGroupMaxEps.
inline float group_max_or_clear(int n, const float* x, int8_t* L) {
  float amax;
  const float max = max_by_magnitude(n, x, &amax);
  if (amax >= kGroupMaxEps) return max;
  for (int i = 0; i < n; ++i) L[i] = 0;
  return 0.f;
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

// ---- the group searches, one group at a time (scale_search.cpp) ------------------------------

// Symmetric scale search for a group of n values with levels -nmax..nmax-1: tries the
// scale that maps the largest-magnitude value to -nmax and 18 nearby ones, keeping the best
// weighted least-squares fit (weights x^2). Returns the scale; L gets level + nmax.
float make_qx_quants(int n, int nmax, const float* x, int8_t* L);

// Asymmetric (scale, min) search for a group with levels 0..nmax: fits x ~ scale*l + min
// (min <= 0) by weighted least squares for nstep+1 trial scales around (max-min)/nmax and
// keeps the one with the smallest weighted error (absolute if use_mad, else squared).
// Returns the scale; *the_min gets -min (>= 0).
float make_qkx2_quants(int n, int nmax, const float* x, const float* weights, uint8_t* L, float* the_min,
                       uint8_t* Laux, float rmin, float rdelta, int nstep, bool use_mad);

// The scale of one IQ4 block of 32 for the non-linear table (see quantize_iq4.cpp).
float iq4_block_scale(const float* xb);

// ---- a super-block's groups at once (scale_search_lanes.cpp) --------------------------------

// kScalar: one group after the other, as the reference reads (scalar_search.h); kLanes: in
// vector lanes, with the same bytes.
enum class Search { kScalar, kLanes };

// The lane count the kLanes searches use: 8 with AVX2 (unless QUARREL_CPU=scalar), else 4.
int lane_width();

// The parameters of a type's make_qkx2_quants / make_qx_quants search. They are template
// arguments so that the lane-parallel searches are compiled for each type's constants.
struct Qkx2Params {
  int n, nmax;  // group size (<= 32), highest level
  float rmin, rdelta;
  int nstep;
  bool use_mad;
};
struct QxParams {
  int n, nmax;  // group size (<= 32), levels -nmax..nmax-1
};
inline constexpr Qkx2Params kQ2KSearch{16, 3, -0.5f, 0.1f, 15, true};
inline constexpr Qkx2Params kQ4KSearch{32, 15, -1.f, 0.1f, 20, false};
inline constexpr Qkx2Params kQ5KSearch{32, 31, -0.5f, 0.1f, 15, false};
inline constexpr QxParams kQ6KSearch{16, 32};

// make_qkx2_quants on the QK_K / P.n consecutive groups of one super-block: group g is
// x[g*n .. g*n+n), its weights weights[g*n ..], its levels go to L[g*n ..], its scale and -min
// to scales[g], mins[g]. Instantiated (scale_search_lanes.cpp) for kQ2KSearch, kQ4KSearch and
// kQ5KSearch.
template <Qkx2Params P>
void make_qkx2_quants_groups(Search search, const float* x, const float* weights, uint8_t* L, float* scales,
                             float* mins);

// make_qx_quants on the QK_K / P.n consecutive groups of one super-block (weights x^2):
// levels + nmax to L[g*n ..], scales to scales[g]. Instantiated for kQ6KSearch.
template <QxParams P>
void make_qx_quants_groups(Search search, const float* x, int8_t* L, float* scales);

// iq4_block_scale for n_blocks consecutive blocks of 32: in lanes (the last few one by one)
// or all one by one.
void iq4_block_scales(Search search, int n_blocks, const float* x, float* scales);

}  // namespace quarrel::quant::detail
