// AVX-512 VNNI dot products of every quantized weight type against its 8-bit activations
// (only run when the CPU has AVX-512 F/BW/VL/DQ/VNNI); the table entries are set by
// fill_quant_dots (kernels_avx512.cpp builds the table).
//
// The activation row is shared by every weight row of a matmul, so what can be done to it alone
// is done once, by the types' prepare functions (the driver calls them after quantizing): the
// quants are laid out in the order the weight quants unpack to, and per-block scales and sums
// are converted ahead. Prepared rows are 64-byte aligned arrays carved from one buffer.
// GCC 12's AVX-512 headers trip -Wuninitialized on their own _mm512_undefined_* temporaries.
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
// The shared AVX2-form helpers include dot products this file does not use.
#pragma GCC diagnostic ignored "-Wunused-function"
#include <immintrin.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <type_traits>

#include "backend/cpu/kernels.h"
#include "quant/blocks.h"

namespace quarrel::cpu {
namespace avx512 {
namespace {

#include "backend/cpu/simd_common.inc"
#include "backend/cpu/simd_quants.inc"

// Carves the arrays of a prepared row: qs (bytes), then floats / ints, each 64-byte aligned.
struct Carve {
  uint8_t* p;
  template <typename T>
  T* take(size_t n) {
    T* r = reinterpret_cast<T*>(p);
    p += (n * sizeof(T) + 63) / 64 * 64;
    return r;
  }
};
struct CCarve {
  const uint8_t* p;
  template <typename T>
  const T* take(size_t n) {
    const T* r = reinterpret_cast<const T*>(p);
    p += (n * sizeof(T) + 63) / 64 * 64;
    return r;
  }
};
constexpr size_t round64(size_t n) { return (n + 63) / 64 * 64; }

// ---- 32-element types with unsigned quants x Q8_0, two blocks per 512-bit vector -------------
//
// Q4_0, Q4_1, Q5_0, Q5_1 and IQ4_NL quants are made unsigned bytes u (nibble, nibble + 16 *
// high bit, or the IQ4_NL value + 128), two blocks per vector in element order ([a lo nibbles,
// a high nibbles, b lo, b hi], built with broadcasts, a per-word shift and a mask: no
// shuffles), so one vpdpbusd does a pair of blocks. Prepared activation: the quants contiguous,
// dy_i as float, c_i = dy_i sum(y_i). Then
//   dot = sum_i dw_i dy_i sum(u y) - off * sum_i dw_i c_i   (Q4_0: off 8, Q5_0: 16, IQ4_NL: 128)
//    or = sum_i dw_i dy_i sum(u y) + sum_i m_i c_i          (Q4_1, Q5_1: x = d u + m)
// with the weight scales gathered 8 blocks at a time.

size_t prepared_size_u32(int64_t k) {
  const size_t nb = static_cast<size_t>(k / 32);
  return round64(nb * 32) + 2 * round64(nb * 4);
}

void prepare_u32(const void* act, void* out, int64_t k) {
  const auto* y = static_cast<const BlockQ8_0*>(act);
  const int64_t nb = k / 32;
  Carve c{static_cast<uint8_t*>(out)};
  int8_t* qs = c.take<int8_t>(static_cast<size_t>(nb * 32));
  float* d = c.take<float>(static_cast<size_t>(nb));
  float* cs = c.take<float>(static_cast<size_t>(nb));
  for (int64_t i = 0; i < nb; ++i) {
    const __m256i v = loadu256(y[i].qs);
    _mm256_store_si256(reinterpret_cast<__m256i*>(qs + 32 * i), v);
    d[i] = h2f(y[i].d);
    cs[i] = d[i] * static_cast<float>(hsum_epi32_256(dot_us8(_mm256_set1_epi8(1), v)));
  }
}

// 16 bytes of nibbles of blocks a and b -> 64 bytes [a lo, a hi, b lo, b hi] (element order).
static inline __m512i nibbles_pair(const uint8_t* qa, const uint8_t* qb) {
  const __m512i v = _mm512_mask_broadcast_i32x4(_mm512_broadcast_i32x4(loadu128(qa)), 0xFF00, loadu128(qb));
  const __m512i shift = _mm512_set_epi64(0x0004000400040004, 0x0004000400040004, 0, 0, 0x0004000400040004,
                                         0x0004000400040004, 0, 0);
  return _mm512_and_si512(_mm512_srlv_epi16(v, shift), _mm512_set1_epi8(0x0F));
}

// The fp16 scales of a group of 8 blocks of kSize bytes (kSize even, 18..34), at word offset
// `off` within each block (0: d, 1: m), as 8 floats. Two windows of 4 blocks each are loaded
// (masked: nothing past the group is touched) and the words picked out with vpermt2w; cheaper
// than inserting 8 words one by one.
template <size_t kSize>
struct GroupScales {
  static_assert(kSize % 2 == 0 && kSize >= 18 && kSize <= 34);
  // Bytes of a 4-block window past its first 64 that hold a scale (the last, m, ends at
  // 3 kSize + 4).
  static constexpr int kTail = 3 * static_cast<int>(kSize) + 4 > 64 ? 3 * static_cast<int>(kSize) + 4 - 64 : 0;
  __m512i a0, a1, b0, b1;  // the windows at the group's blocks 0 and 4
  explicit GroupScales(const void* group) {
    const auto* p = static_cast<const uint8_t*>(group);
    constexpr __mmask64 tail = (__mmask64{1} << kTail) - 1;
    a0 = _mm512_loadu_si512(p);
    a1 = kTail ? _mm512_maskz_loadu_epi8(tail, p + 64) : _mm512_setzero_si512();
    b0 = _mm512_loadu_si512(p + 4 * kSize);
    b1 = kTail ? _mm512_maskz_loadu_epi8(tail, p + 4 * kSize + 64) : _mm512_setzero_si512();
  }
  struct Index {
    alignas(64) uint16_t lo[32], hi[32];  // word j of block j (lo: j < 4, hi: j >= 4), + off
    constexpr explicit Index(int off) : lo{}, hi{} {
      for (int j = 0; j < 4; ++j) {
        lo[j] = static_cast<uint16_t>(j * static_cast<int>(kSize) / 2 + off);
        hi[4 + j] = static_cast<uint16_t>(j * static_cast<int>(kSize) / 2 + off);
      }
    }
  };
  static constexpr Index kIndex[2] = {Index(0), Index(1)};
  __m256 h8(int off) const {
    const __m512i lo = _mm512_permutex2var_epi16(a0, _mm512_load_si512(kIndex[off].lo), a1);
    const __m512i hi = _mm512_permutex2var_epi16(b0, _mm512_load_si512(kIndex[off].hi), b1);
    return _mm256_cvtph_ps(_mm512_castsi512_si128(_mm512_mask_mov_epi16(lo, 0xF0, hi)));
  }
};

template <typename Block>
struct Unsigned32;  // per type: offset or min, and the unpacking of two blocks to 64 bytes

template <>
struct Unsigned32<BlockQ4_0> {
  static constexpr float kOffset = 8.0f;
  static constexpr bool kHasMin = false;
  static __m512i pair(const BlockQ4_0& a, const BlockQ4_0& b) { return nibbles_pair(a.qs, b.qs); }
  static __m256i one(const BlockQ4_0& a) { return bytes_from_nibbles_32(a.qs); }
};

template <>
struct Unsigned32<BlockQ4_1> {
  static constexpr float kOffset = 0.0f;
  static constexpr bool kHasMin = true;
  static __m512i pair(const BlockQ4_1& a, const BlockQ4_1& b) { return nibbles_pair(a.qs, b.qs); }
  static __m256i one(const BlockQ4_1& a) { return bytes_from_nibbles_32(a.qs); }
};

// The 5th bits of a pair, as a mask over the unpacked (element) order.
template <typename Block>
static inline __mmask64 high_bits_pair(const Block& a, const Block& b) {
  uint32_t ha, hb;
  std::memcpy(&ha, a.qh, 4);
  std::memcpy(&hb, b.qh, 4);
  return static_cast<__mmask64>(ha | (static_cast<uint64_t>(hb) << 32));
}

template <>
struct Unsigned32<BlockQ5_0> {
  static constexpr float kOffset = 16.0f;
  static constexpr bool kHasMin = false;
  static __m512i pair(const BlockQ5_0& a, const BlockQ5_0& b) {
    const __m512i q = nibbles_pair(a.qs, b.qs);
    return _mm512_mask_add_epi8(q, high_bits_pair(a, b), q, _mm512_set1_epi8(0x10));
  }
  static __m256i one(const BlockQ5_0& a) {
    return _mm256_or_si256(bytes_from_nibbles_32(a.qs), _mm256_and_si256(bytes_from_bits_32(a.qh), _mm256_set1_epi8(0x10)));
  }
};

template <>
struct Unsigned32<BlockQ5_1> {
  static constexpr float kOffset = 0.0f;
  static constexpr bool kHasMin = true;
  static __m512i pair(const BlockQ5_1& a, const BlockQ5_1& b) {
    const __m512i q = nibbles_pair(a.qs, b.qs);
    return _mm512_mask_add_epi8(q, high_bits_pair(a, b), q, _mm512_set1_epi8(0x10));
  }
  static __m256i one(const BlockQ5_1& a) {
    return _mm256_or_si256(bytes_from_nibbles_32(a.qs), _mm256_and_si256(bytes_from_bits_32(a.qh), _mm256_set1_epi8(0x10)));
  }
};

// IQ4_NL code book + 128, as unsigned bytes, in every 128-bit lane.
static inline __m512i iq4nl_table_u8() {
  alignas(16) uint8_t t[16];
  for (int i = 0; i < 16; ++i) t[i] = static_cast<uint8_t>(quant::kIq4nlValues[i] + 128);
  return _mm512_broadcast_i32x4(_mm_load_si128(reinterpret_cast<const __m128i*>(t)));
}

template <>
struct Unsigned32<BlockIQ4_NL> {
  static constexpr float kOffset = 128.0f;
  static constexpr bool kHasMin = false;
  static __m512i pair(const BlockIQ4_NL& a, const BlockIQ4_NL& b) {
    return _mm512_shuffle_epi8(iq4nl_table_u8(), nibbles_pair(a.qs, b.qs));
  }
  static __m256i one(const BlockIQ4_NL& a) {
    return _mm256_shuffle_epi8(_mm512_castsi512_si256(iq4nl_table_u8()), bytes_from_nibbles_32(a.qs));
  }
};

template <typename Block>
void rows_u32_512(int64_t k, const void* w, size_t rb, int64_t n_rows, const void* x, float* out) {
  using U = Unsigned32<Block>;
  const int64_t nb = k / 32;
  CCarve c{static_cast<const uint8_t*>(x)};
  const int8_t* qs = c.take<int8_t>(static_cast<size_t>(nb * 32));
  const float* yd = c.take<float>(static_cast<size_t>(nb));
  const float* yc = c.take<float>(static_cast<size_t>(nb));
  // lane pattern for pair j (0..3) of an 8-block group: [2j x8, 2j+1 x8]
  __m512i idx[4];
  for (int j = 0; j < 4; ++j)
    idx[j] = _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_set1_epi32(2 * j)), _mm256_set1_epi32(2 * j + 1), 1);
  const int64_t groups = nb / 8;
  for (int64_t r = 0; r < n_rows; ++r) {
    const Block* xb = reinterpret_cast<const Block*>(static_cast<const uint8_t*>(w) + rb * r);
    __m512 acc0 = _mm512_setzero_ps(), acc1 = _mm512_setzero_ps();
    __m256 corr = _mm256_setzero_ps();
    for (int64_t g = 0; g < groups; ++g) {
      const Block* b = xb + 8 * g;
      const GroupScales<sizeof(Block)> gs(b);
      const __m256 dw = gs.h8(0);
      if constexpr (U::kHasMin) {
        corr = _mm256_fmadd_ps(gs.h8(1), _mm256_load_ps(yc + 8 * g), corr);
      } else {
        corr = _mm256_fmadd_ps(dw, _mm256_load_ps(yc + 8 * g), corr);
      }
      const __m512 s8 = _mm512_castps256_ps512(_mm256_mul_ps(dw, _mm256_load_ps(yd + 8 * g)));
#pragma GCC unroll 4
      for (int j = 0; j < 4; ++j) {
        const __m512i q = U::pair(b[2 * j], b[2 * j + 1]);
        const __m512i yq = _mm512_load_si512(qs + 32 * (8 * g + 2 * j));
        const __m512i dot = _mm512_dpbusd_epi32(_mm512_setzero_si512(), q, yq);
        const __m512 sc = _mm512_permutexvar_ps(idx[j], s8);
        if (j % 2 == 0)
          acc0 = _mm512_fmadd_ps(_mm512_cvtepi32_ps(dot), sc, acc0);
        else
          acc1 = _mm512_fmadd_ps(_mm512_cvtepi32_ps(dot), sc, acc1);
      }
    }
    float sum = _mm512_reduce_add_ps(_mm512_add_ps(acc0, acc1));
    sum += U::kHasMin ? hsum_ps(corr) : -U::kOffset * hsum_ps(corr);
    // Tail blocks (fewer than 8): one at a time.
    for (int64_t i = groups * 8; i < nb; ++i) {
      const __m256i yv = _mm256_load_si256(reinterpret_cast<const __m256i*>(qs + 32 * i));
      const int s = hsum_epi32_256(dot_us8(U::one(xb[i]), yv));
      const float dw = h2f(xb[i].d);
      sum += static_cast<float>(s) * (dw * yd[i]);
      if constexpr (U::kHasMin)
        sum += h2f(xb[i].m) * yc[i];
      else
        sum -= U::kOffset * dw * yc[i];
    }
    out[r] = sum;
  }
}

// ---- Q8_0 x Q8_0, two blocks per 512-bit vector --------------------------------------------
// Prepared activation: the quants contiguous, dy as float.

size_t prepared_size_q8_0(int64_t k) {
  const size_t nb = static_cast<size_t>(k / 32);
  return round64(nb * 32) + round64(nb * 4);
}

void prepare_q8_0(const void* act, void* out, int64_t k) {
  const auto* y = static_cast<const BlockQ8_0*>(act);
  const int64_t nb = k / 32;
  Carve c{static_cast<uint8_t*>(out)};
  int8_t* qs = c.take<int8_t>(static_cast<size_t>(nb * 32));
  float* d = c.take<float>(static_cast<size_t>(nb));
  for (int64_t i = 0; i < nb; ++i) {
    _mm256_store_si256(reinterpret_cast<__m256i*>(qs + 32 * i), loadu256(y[i].qs));
    d[i] = h2f(y[i].d);
  }
}

void rows_q8_0_512(int64_t k, const void* w, size_t rb, int64_t n_rows, const void* x, float* out) {
  const int64_t nb = k / 32;
  CCarve c{static_cast<const uint8_t*>(x)};
  const int8_t* yq = c.take<int8_t>(static_cast<size_t>(nb * 32));
  const float* yd = c.take<float>(static_cast<size_t>(nb));
  __m512i idx[4];
  for (int j = 0; j < 4; ++j)
    idx[j] = _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_set1_epi32(2 * j)), _mm256_set1_epi32(2 * j + 1), 1);
  const int64_t groups = nb / 8;
  for (int64_t r = 0; r < n_rows; ++r) {
    const auto* xb = reinterpret_cast<const BlockQ8_0*>(static_cast<const uint8_t*>(w) + rb * r);
    __m512 acc0 = _mm512_setzero_ps(), acc1 = _mm512_setzero_ps();
    for (int64_t g = 0; g < groups; ++g) {
      const BlockQ8_0* b = xb + 8 * g;
      const __m512 s8 = _mm512_castps256_ps512(_mm256_mul_ps(GroupScales<sizeof(BlockQ8_0)>(b).h8(0), _mm256_load_ps(yd + 8 * g)));
#pragma GCC unroll 4
      for (int j = 0; j < 4; ++j) {
        const __m512i q = _mm512_inserti64x4(_mm512_castsi256_si512(loadu256(b[2 * j].qs)), loadu256(b[2 * j + 1].qs), 1);
        const __m512i yv = _mm512_load_si512(yq + 32 * (8 * g + 2 * j));
        const __m512i sy = _mm512_mask_sub_epi8(yv, _mm512_movepi8_mask(q), _mm512_setzero_si512(), yv);
        const __m512i dot = _mm512_dpbusd_epi32(_mm512_setzero_si512(), _mm512_abs_epi8(q), sy);
        const __m512 sc = _mm512_permutexvar_ps(idx[j], s8);
        if (j % 2 == 0)
          acc0 = _mm512_fmadd_ps(_mm512_cvtepi32_ps(dot), sc, acc0);
        else
          acc1 = _mm512_fmadd_ps(_mm512_cvtepi32_ps(dot), sc, acc1);
      }
    }
    float sum = _mm512_reduce_add_ps(_mm512_add_ps(acc0, acc1));
    for (int64_t i = groups * 8; i < nb; ++i) {
      const int s = hsum_epi32_256(dot_ss8(loadu256(xb[i].qs), _mm256_load_si256(reinterpret_cast<const __m256i*>(yq + 32 * i))));
      sum += static_cast<float>(s) * (h2f(xb[i].d) * yd[i]);
    }
    out[r] = sum;
  }
}

// ---- Q4_K / Q5_K x Q8_K ------------------------------------------------------------------------
//
// 64 bytes of nibbles unpack to sub-blocks (4p, 4p+2) (low nibbles) and (4p+1, 4p+3) (high).
// Prepared activation: quants in that order (0 2 1 3 4 6 5 7 per super-block), the per-32 sums
// for the mins (int16), d. Sub-block scales multiply the int16 pair sums with vpdpwssd.

size_t prepared_size_k45(int64_t k) {
  const size_t nb = static_cast<size_t>(k / QK_K);
  return round64(nb * QK_K) + round64(nb * 8 * 2) + round64(nb * 4);
}

void prepare_k45(const void* act, void* out, int64_t k) {
  const auto* y = static_cast<const BlockQ8_K*>(act);
  const int64_t nb = k / QK_K;
  Carve c{static_cast<uint8_t*>(out)};
  int8_t* qs = c.take<int8_t>(static_cast<size_t>(nb * QK_K));
  int16_t* ysum = c.take<int16_t>(static_cast<size_t>(nb * 8));
  float* d = c.take<float>(static_cast<size_t>(nb));
  static constexpr int order[8] = {0, 2, 1, 3, 4, 6, 5, 7};
  for (int64_t i = 0; i < nb; ++i) {
    for (int s = 0; s < 8; ++s)
      _mm256_store_si256(reinterpret_cast<__m256i*>(qs + QK_K * i + 32 * s), loadu256(y[i].qs + 32 * order[s]));
    for (int j = 0; j < 8; ++j) ysum[8 * i + j] = static_cast<int16_t>(y[i].bsums[2 * j] + y[i].bsums[2 * j + 1]);
    d[i] = y[i].d;
  }
}

template <typename Block>
void rows_q45_K_512(int64_t k, const void* w, size_t rb, int64_t n_rows, const void* x, float* out) {
  constexpr bool kQ5 = std::is_same_v<Block, BlockQ5_K>;
  const int64_t nb = k / QK_K;
  CCarve c{static_cast<const uint8_t*>(x)};
  const int8_t* yq = c.take<int8_t>(static_cast<size_t>(nb * QK_K));
  const int16_t* ysum = c.take<int16_t>(static_cast<size_t>(nb * 8));
  const float* yd = c.take<float>(static_cast<size_t>(nb));
  // i16 lane patterns: [a x16, b x16]
  auto pair_idx = [](int a, int b) {
    return _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_set1_epi16(static_cast<short>(a))),
                              _mm256_set1_epi16(static_cast<short>(b)), 1);
  };
  const __m512i idx_lo[2] = {pair_idx(0, 2), pair_idx(4, 6)};
  const __m512i idx_hi[2] = {pair_idx(1, 3), pair_idx(5, 7)};
  // Q5_K: the high bit of sub-block s is bit s of qh[l]; byte masks per (p, low/high nibbles)
  auto bit_pair = [](int a, int b) {
    return _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_set1_epi8(static_cast<char>(1 << a))),
                              _mm256_set1_epi8(static_cast<char>(1 << b)), 1);
  };
  const __m512i hb_lo[2] = {bit_pair(0, 2), bit_pair(4, 6)};
  const __m512i hb_hi[2] = {bit_pair(1, 3), bit_pair(5, 7)};
  const __m512i m4 = _mm512_set1_epi8(0x0F);
  const __m512i b16 = _mm512_set1_epi8(0x10);
  for (int64_t r = 0; r < n_rows; ++r) {
    const auto* xb = reinterpret_cast<const Block*>(static_cast<const uint8_t*>(w) + rb * r);
    __m512 acc = _mm512_setzero_ps();
    __m128 accm = _mm_setzero_ps();
    for (int64_t i = 0; i < nb; ++i) {
      const Block& b = xb[i];
      const __m128i sm = unpack_k4_scales(b.scales);  // 8 scales, 8 mins (bytes)
      const __m128i mins = _mm_cvtepu8_epi16(_mm_srli_si128(sm, 8));
      const __m128i prod = _mm_madd_epi16(mins, _mm_load_si128(reinterpret_cast<const __m128i*>(ysum + 8 * i)));
      accm = _mm_fmadd_ps(_mm_set1_ps(yd[i] * h2f(b.dmin)), _mm_cvtepi32_ps(prod), accm);
      const __m512i sc = _mm512_castsi128_si512(_mm_cvtepu8_epi16(sm));
      __m512i hbits;
      if constexpr (kQ5) hbits = _mm512_broadcast_i64x4(loadu256(b.qh));
      __m512i sumi = _mm512_setzero_si512();
#pragma GCC unroll 2
      for (int p = 0; p < 2; ++p) {
        const __m512i q = _mm512_loadu_si512(b.qs + 64 * p);
        __m512i ql = _mm512_and_si512(q, m4);
        __m512i qh = _mm512_and_si512(_mm512_srli_epi16(q, 4), m4);
        if constexpr (kQ5) {
          ql = _mm512_mask_add_epi8(ql, _mm512_test_epi8_mask(hbits, hb_lo[p]), ql, b16);
          qh = _mm512_mask_add_epi8(qh, _mm512_test_epi8_mask(hbits, hb_hi[p]), qh, b16);
        }
        const __m512i pl = _mm512_maddubs_epi16(ql, _mm512_load_si512(yq + QK_K * i + 128 * p));
        const __m512i ph = _mm512_maddubs_epi16(qh, _mm512_load_si512(yq + QK_K * i + 128 * p + 64));
        sumi = _mm512_dpwssd_epi32(sumi, pl, _mm512_permutexvar_epi16(idx_lo[p], sc));
        sumi = _mm512_dpwssd_epi32(sumi, ph, _mm512_permutexvar_epi16(idx_hi[p], sc));
      }
      acc = _mm512_fmadd_ps(_mm512_set1_ps(yd[i] * h2f(b.d)), _mm512_cvtepi32_ps(sumi), acc);
    }
    out[r] = _mm512_reduce_add_ps(acc) - hsum_ps128(accm);
  }
}

// ---- IQ4_XS x Q8_K -----------------------------------------------------------------------------
//
// Code-book values + 128 as unsigned bytes; 64 bytes of nibbles hold sub-blocks 4p..4p+3, low
// nibbles their first 16 elements and high nibbles the last 16. Prepared activation: quants as
// [s0 lo, s1 lo, s2 lo, s3 lo], [s0 hi, ...] per half super-block, per-32 sums (int32), d. The
// "+ 128" comes back out as 128 * sum_s ls_s * sum(y_s).

size_t prepared_size_xs(int64_t k) {
  const size_t nb = static_cast<size_t>(k / QK_K);
  return round64(nb * QK_K) + round64(nb * 8 * 4) + round64(nb * 4);
}

void prepare_xs(const void* act, void* out, int64_t k) {
  const auto* y = static_cast<const BlockQ8_K*>(act);
  const int64_t nb = k / QK_K;
  Carve c{static_cast<uint8_t*>(out)};
  int8_t* qs = c.take<int8_t>(static_cast<size_t>(nb * QK_K));
  int32_t* ysum = c.take<int32_t>(static_cast<size_t>(nb * 8));
  float* d = c.take<float>(static_cast<size_t>(nb));
  for (int64_t i = 0; i < nb; ++i) {
    for (int p = 0; p < 2; ++p)
      for (int s = 0; s < 4; ++s) {
        const int8_t* src = y[i].qs + 32 * (4 * p + s);
        _mm_store_si128(reinterpret_cast<__m128i*>(qs + QK_K * i + 128 * p + 16 * s), loadu128(src));
        _mm_store_si128(reinterpret_cast<__m128i*>(qs + QK_K * i + 128 * p + 64 + 16 * s), loadu128(src + 16));
      }
    for (int j = 0; j < 8; ++j) ysum[8 * i + j] = y[i].bsums[2 * j] + y[i].bsums[2 * j + 1];
    d[i] = y[i].d;
  }
}

void rows_iq4_xs_512(int64_t k, const void* w, size_t rb, int64_t n_rows, const void* x, float* out) {
  const int64_t nb = k / QK_K;
  CCarve c{static_cast<const uint8_t*>(x)};
  const int8_t* yq = c.take<int8_t>(static_cast<size_t>(nb * QK_K));
  const int32_t* ysum = c.take<int32_t>(static_cast<size_t>(nb * 8));
  const float* yd = c.take<float>(static_cast<size_t>(nb));
  const __m512i table = iq4nl_table_u8();
  const __m512i m4 = _mm512_set1_epi8(0x0F);
  __m512i idx[2];
  for (int p = 0; p < 2; ++p) {
    const __m128i a = _mm_set1_epi32(4 * p), b = _mm_set1_epi32(4 * p + 1), c2 = _mm_set1_epi32(4 * p + 2),
                  d = _mm_set1_epi32(4 * p + 3);
    idx[p] = _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_set_m128i(b, a)), _mm256_set_m128i(d, c2), 1);
  }
  const __m256i lo_shift = _mm256_setr_epi32(0, 4, 8, 12, 16, 20, 24, 28);
  const __m256i hi_shift = _mm256_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14);
  for (int64_t r = 0; r < n_rows; ++r) {
    const auto* xb = reinterpret_cast<const BlockIQ4_XS*>(static_cast<const uint8_t*>(w) + rb * r);
    __m512 acc = _mm512_setzero_ps();
    __m256 accm = _mm256_setzero_ps();
    for (int64_t i = 0; i < nb; ++i) {
      const BlockIQ4_XS& b = xb[i];
      uint32_t sl;
      std::memcpy(&sl, b.scales_l, 4);
      const __m256i lo = _mm256_and_si256(_mm256_srlv_epi32(_mm256_set1_epi32(static_cast<int>(sl)), lo_shift),
                                          _mm256_set1_epi32(0xF));
      const __m256i hi = _mm256_slli_epi32(
          _mm256_and_si256(_mm256_srlv_epi32(_mm256_set1_epi32(b.scales_h), hi_shift), _mm256_set1_epi32(3)), 4);
      const __m256i ls = _mm256_sub_epi32(_mm256_or_si256(lo, hi), _mm256_set1_epi32(32));
      const float dd = yd[i] * h2f(b.d);
      accm = _mm256_fmadd_ps(
          _mm256_set1_ps(128.0f * dd),
          _mm256_cvtepi32_ps(_mm256_mullo_epi32(ls, _mm256_load_si256(reinterpret_cast<const __m256i*>(ysum + 8 * i)))),
          accm);
      const __m512i ls512 = _mm512_castsi256_si512(ls);
      __m512i sumi = _mm512_setzero_si512();
#pragma GCC unroll 2
      for (int p = 0; p < 2; ++p) {
        const __m512i q = _mm512_loadu_si512(b.qs + 64 * p);
        const __m512i ua = _mm512_shuffle_epi8(table, _mm512_and_si512(q, m4));
        const __m512i ub = _mm512_shuffle_epi8(table, _mm512_and_si512(_mm512_srli_epi16(q, 4), m4));
        __m512i dot = _mm512_dpbusd_epi32(_mm512_setzero_si512(), ua, _mm512_load_si512(yq + QK_K * i + 128 * p));
        dot = _mm512_dpbusd_epi32(dot, ub, _mm512_load_si512(yq + QK_K * i + 128 * p + 64));
        sumi = _mm512_add_epi32(sumi, _mm512_mullo_epi32(dot, _mm512_permutexvar_epi32(idx[p], ls512)));
      }
      acc = _mm512_fmadd_ps(_mm512_set1_ps(dd), _mm512_cvtepi32_ps(sumi), acc);
    }
    out[r] = _mm512_reduce_add_ps(acc) - hsum_ps(accm);
  }
}

// ---- Q2_K / Q3_K x Q8_K -----------------------------------------------------------------------
//
// 64 bytes of 2-bit quants at shift sh hold elements sh*32..+32 of both 128-element halves.
// Prepared activation: quants in that order, bsums, d. Q3_K's high bit (bit 4c + sh of
// hmask[l]) is added as 4 and its "- 4" comes back out as 4 * sum_g scale_g * bsums_g; Q2_K's
// mins as dmin * sum_g min_g * bsums_g. Group scales multiply the int16 pair sums (vpdpwssd).

size_t prepared_size_k23(int64_t k) {
  const size_t nb = static_cast<size_t>(k / QK_K);
  return round64(nb * QK_K) + round64(nb * 16 * 2) + round64(nb * 4);
}

void prepare_k23(const void* act, void* out, int64_t k) {
  const auto* y = static_cast<const BlockQ8_K*>(act);
  const int64_t nb = k / QK_K;
  Carve c{static_cast<uint8_t*>(out)};
  int8_t* qs = c.take<int8_t>(static_cast<size_t>(nb * QK_K));
  int16_t* bsums = c.take<int16_t>(static_cast<size_t>(nb * 16));
  float* d = c.take<float>(static_cast<size_t>(nb));
  for (int64_t i = 0; i < nb; ++i) {
    for (int sh = 0; sh < 4; ++sh) {
      _mm256_store_si256(reinterpret_cast<__m256i*>(qs + QK_K * i + 64 * sh), loadu256(y[i].qs + 32 * sh));
      _mm256_store_si256(reinterpret_cast<__m256i*>(qs + QK_K * i + 64 * sh + 32), loadu256(y[i].qs + 128 + 32 * sh));
    }
    std::memcpy(bsums + 16 * i, y[i].bsums, sizeof(y[i].bsums));
    d[i] = y[i].d;
  }
}

template <typename Block>
void rows_q23_K_512(int64_t k, const void* w, size_t rb, int64_t n_rows, const void* x, float* out) {
  constexpr bool kQ3 = std::is_same_v<Block, BlockQ3_K>;
  const int64_t nb = k / QK_K;
  CCarve c{static_cast<const uint8_t*>(x)};
  const int8_t* yq = c.take<int8_t>(static_cast<size_t>(nb * QK_K));
  const int16_t* ybs = c.take<int16_t>(static_cast<size_t>(nb * 16));
  const float* yd = c.take<float>(static_cast<size_t>(nb));
  __m512i idx[4], hb[4];
  for (int sh = 0; sh < 4; ++sh) {
    const __m128i a = _mm_set1_epi16(static_cast<short>(2 * sh)), b = _mm_set1_epi16(static_cast<short>(2 * sh + 1));
    const __m128i c2 = _mm_set1_epi16(static_cast<short>(8 + 2 * sh)), d = _mm_set1_epi16(static_cast<short>(9 + 2 * sh));
    idx[sh] = _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_set_m128i(b, a)), _mm256_set_m128i(d, c2), 1);
    hb[sh] = _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_set1_epi8(static_cast<char>(1 << sh))),
                                _mm256_set1_epi8(static_cast<char>(1 << (4 + sh))), 1);
  }
  const __m512i m3 = _mm512_set1_epi8(3);
  const __m512i four = _mm512_set1_epi8(4);
  for (int64_t r = 0; r < n_rows; ++r) {
    const auto* xb = reinterpret_cast<const Block*>(static_cast<const uint8_t*>(w) + rb * r);
    __m512 acc = _mm512_setzero_ps();
    __m256 accm = _mm256_setzero_ps();
    for (int64_t i = 0; i < nb; ++i) {
      const Block& b = xb[i];
      const __m256i bsums = _mm256_load_si256(reinterpret_cast<const __m256i*>(ybs + 16 * i));
      __m256i sc16;
      __m512i hbits;
      if constexpr (kQ3) {
        sc16 = _mm256_cvtepi8_epi16(unpack_q3_K_scales(b.scales));
        hbits = _mm512_broadcast_i64x4(loadu256(b.hmask));
        // - 4 * sum_g sc_g bsums_g
        accm = _mm256_fmadd_ps(_mm256_set1_ps(-4.0f * yd[i] * h2f(b.d)), _mm256_cvtepi32_ps(_mm256_madd_epi16(sc16, bsums)), accm);
      } else {
        const __m128i raw = loadu128(b.scales);
        sc16 = _mm256_cvtepu8_epi16(_mm_and_si128(raw, _mm_set1_epi8(0xF)));
        const __m256i mins = _mm256_cvtepu8_epi16(_mm_and_si128(_mm_srli_epi16(raw, 4), _mm_set1_epi8(0xF)));
        accm = _mm256_fmadd_ps(_mm256_set1_ps(-yd[i] * h2f(b.dmin)), _mm256_cvtepi32_ps(_mm256_madd_epi16(mins, bsums)), accm);
      }
      const __m512i sc = _mm512_castsi256_si512(sc16);
      const __m512i q = _mm512_loadu_si512(b.qs);
      __m512i sumi = _mm512_setzero_si512();
#pragma GCC unroll 4
      for (int sh = 0; sh < 4; ++sh) {
        __m512i u = _mm512_and_si512(_mm512_srli_epi16(q, 2 * sh), m3);
        if constexpr (kQ3) u = _mm512_mask_add_epi8(u, _mm512_test_epi8_mask(hbits, hb[sh]), u, four);
        const __m512i p16 = _mm512_maddubs_epi16(u, _mm512_load_si512(yq + QK_K * i + 64 * sh));
        sumi = _mm512_dpwssd_epi32(sumi, p16, _mm512_permutexvar_epi16(idx[sh], sc));
      }
      acc = _mm512_fmadd_ps(_mm512_set1_ps(yd[i] * h2f(b.d)), _mm512_cvtepi32_ps(sumi), acc);
    }
    out[r] = _mm512_reduce_add_ps(acc) + hsum_ps(accm);
  }
}

// ---- Q6_K x Q8_K -------------------------------------------------------------------------------
//
// Per 128 elements: 64 bytes of ql give elements 0..63 (low nibbles) and 64..127 (high), in
// order, so the activation quants are used as they are. q is stored + 32: the "- 32" becomes
// 32 * sum_g scale_g * bsums_g per super-block.

void rows_q6_K_512(int64_t k, const void* w, size_t rb, int64_t n_rows, const void* x, float* out) {
  const auto* y = static_cast<const BlockQ8_K*>(x);
  const int64_t nb = k / QK_K;
  // i16 lane patterns [4h x8, 4h+1 x8, 4h+2 x8, 4h+3 x8] for quarter h (0..3) of the 16 scales
  __m512i idx[4];
  for (int h = 0; h < 4; ++h) {
    const __m128i a = _mm_set1_epi16(static_cast<short>(4 * h)), b = _mm_set1_epi16(static_cast<short>(4 * h + 1));
    const __m128i c = _mm_set1_epi16(static_cast<short>(4 * h + 2)), d = _mm_set1_epi16(static_cast<short>(4 * h + 3));
    idx[h] = _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_set_m128i(b, a)), _mm256_set_m128i(d, c), 1);
  }
  const __m512i m4 = _mm512_set1_epi8(0x0F);
  const __m512i m30 = _mm512_set1_epi8(0x30);
  for (int64_t r = 0; r < n_rows; ++r) {
    const auto* xb = reinterpret_cast<const BlockQ6_K*>(static_cast<const uint8_t*>(w) + rb * r);
    __m512 acc = _mm512_setzero_ps();
    for (int64_t i = 0; i < nb; ++i) {
      const BlockQ6_K& b = xb[i];
      const __m256i sc16 = _mm256_cvtepi8_epi16(loadu128(b.scales));
      // 32 * sum_g sc_g * bsums_g
      const __m256i corr = _mm256_slli_epi32(_mm256_madd_epi16(sc16, loadu256(y[i].bsums)), 5);
      const __m512i sc = _mm512_castsi256_si512(sc16);
      __m512i sumi = _mm512_castsi256_si512(_mm256_sub_epi32(_mm256_setzero_si256(), corr));
      sumi = _mm512_inserti64x4(sumi, _mm256_setzero_si256(), 1);
#pragma GCC unroll 2
      for (int c = 0; c < 2; ++c) {
        const __m512i l = _mm512_loadu_si512(b.ql + 64 * c);
        const __m256i h256 = loadu256(b.qh + 32 * c);
        const __m512i h = _mm512_inserti64x4(_mm512_castsi256_si512(h256), _mm256_srli_epi16(h256, 2), 1);
        const __m512i ha = _mm512_and_si512(_mm512_slli_epi16(h, 4), m30);  // (h & 3) << 4
        const __m512i hb = _mm512_and_si512(h, m30);                        // ((h >> 4) & 3) << 4
        const __m512i qa = _mm512_ternarylogic_epi32(l, m4, ha, 0xEA);      // (l & m4) | ha
        const __m512i qb = _mm512_ternarylogic_epi32(_mm512_srli_epi16(l, 4), m4, hb, 0xEA);
        const __m512i pa = _mm512_maddubs_epi16(qa, _mm512_loadu_si512(y[i].qs + 128 * c));
        const __m512i pb = _mm512_maddubs_epi16(qb, _mm512_loadu_si512(y[i].qs + 128 * c + 64));
        sumi = _mm512_dpwssd_epi32(sumi, pa, _mm512_permutexvar_epi16(idx[2 * c], sc));
        sumi = _mm512_dpwssd_epi32(sumi, pb, _mm512_permutexvar_epi16(idx[2 * c + 1], sc));
      }
      acc = _mm512_fmadd_ps(_mm512_set1_ps(y[i].d * h2f(b.d)), _mm512_cvtepi32_ps(sumi), acc);
    }
    out[r] = _mm512_reduce_add_ps(acc);
  }
}

}  // namespace

void fill_quant_dots(CpuKernels& t) {
  auto set = [&](GgmlType type, VecDotFn fn, PrepareFn prep = nullptr, PreparedSizeFn size = nullptr) {
    TypeKernels& tk = t.types[static_cast<int>(type)];
    tk.vec_dot = fn;
    tk.prepare = prep;
    tk.prepared_size = size;
  };
  set(GgmlType::Q4_0, rows_u32_512<BlockQ4_0>, prepare_u32, prepared_size_u32);
  set(GgmlType::Q4_1, rows_u32_512<BlockQ4_1>, prepare_u32, prepared_size_u32);
  set(GgmlType::Q5_0, rows_u32_512<BlockQ5_0>, prepare_u32, prepared_size_u32);
  set(GgmlType::Q5_1, rows_u32_512<BlockQ5_1>, prepare_u32, prepared_size_u32);
  set(GgmlType::IQ4_NL, rows_u32_512<BlockIQ4_NL>, prepare_u32, prepared_size_u32);
  set(GgmlType::Q8_0, rows_q8_0_512, prepare_q8_0, prepared_size_q8_0);
  set(GgmlType::Q4_K, rows_q45_K_512<BlockQ4_K>, prepare_k45, prepared_size_k45);
  set(GgmlType::Q5_K, rows_q45_K_512<BlockQ5_K>, prepare_k45, prepared_size_k45);
  set(GgmlType::IQ4_XS, rows_iq4_xs_512, prepare_xs, prepared_size_xs);
  set(GgmlType::Q2_K, rows_q23_K_512<BlockQ2_K>, prepare_k23, prepared_size_k23);
  set(GgmlType::Q3_K, rows_q23_K_512<BlockQ3_K>, prepare_k23, prepared_size_k23);
  set(GgmlType::Q6_K, rows_q6_K_512);
}

}  // namespace avx512
}  // namespace quarrel::cpu
