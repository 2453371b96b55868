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

// The arrays of a prepared row, carved from one buffer, each 64-byte aligned. Byte is uint8_t
// where prepare writes the row and const uint8_t where the dot products read it.
template <typename Byte, typename T>
using Like = std::conditional_t<std::is_const_v<Byte>, const T, T>;
template <typename Byte>
struct Carve {
  Byte* p;
  template <typename T>
  Like<Byte, T>* take(size_t n) {
    auto* r = reinterpret_cast<Like<Byte, T>*>(p);
    p += (n * sizeof(T) + 63) / 64 * 64;
    return r;
  }
};
constexpr size_t round64(size_t n) { return (n + 63) / 64 * 64; }

// A prepared Q8_0 row of nb blocks: the quants contiguous, dy as float and, kWithSums, c_i =
// dy_i sum(y_i).
template <bool kWithSums, typename Byte>
struct Prepared32 {
  Like<Byte, int8_t>* qs;
  Like<Byte, float>* d;
  Like<Byte, float>* c = nullptr;
  Prepared32(Like<Byte, void>* row, int64_t nb) {
    Carve<Byte> carve{static_cast<Byte*>(row)};
    qs = carve.template take<int8_t>(static_cast<size_t>(nb * 32));
    d = carve.template take<float>(static_cast<size_t>(nb));
    if constexpr (kWithSums) c = carve.template take<float>(static_cast<size_t>(nb));
  }
  static size_t size(int64_t k) {
    const size_t nb = static_cast<size_t>(k / 32);
    return round64(nb * 32) + (kWithSums ? 2 : 1) * round64(nb * 4);
  }
};

// A prepared Q8_K row of nb super-blocks: the quants (in the order the type's weights unpack
// to), kSums sums of type Sum per super-block, d.
template <typename Sum, int kSums, typename Byte>
struct PreparedK {
  Like<Byte, int8_t>* qs;
  Like<Byte, Sum>* sums;
  Like<Byte, float>* d;
  PreparedK(Like<Byte, void>* row, int64_t nb) {
    Carve<Byte> carve{static_cast<Byte*>(row)};
    qs = carve.template take<int8_t>(static_cast<size_t>(nb * QK_K));
    sums = carve.template take<Sum>(static_cast<size_t>(nb * kSums));
    d = carve.template take<float>(static_cast<size_t>(nb));
  }
  static size_t size(int64_t k) {
    const size_t nb = static_cast<size_t>(k / QK_K);
    return round64(nb * QK_K) + round64(nb * kSums * sizeof(Sum)) + round64(nb * 4);
  }
};

// Weight row r of a matrix with rb bytes per row.
template <typename Block>
const Block* weight_row(const void* w, size_t rb, int64_t r) {
  return reinterpret_cast<const Block*>(static_cast<const uint8_t*>(w) + rb * r);
}

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

// A type's unpacking (pair, one) with its offset, or its min (kHasMin).
template <typename Unpack, float kOff, bool kMin>
struct UnsignedAs : Unpack {
  static constexpr float kOffset = kOff;
  static constexpr bool kHasMin = kMin;
};

// Q4_0 / Q4_1: the nibbles.
template <typename Block>
struct Nibbles {
  static __m512i pair(const Block& a, const Block& b) { return nibbles_pair(a.qs, b.qs); }
  static __m256i one(const Block& a) { return bytes_from_nibbles_32(a.qs); }
};

template <>
struct Unsigned32<BlockQ4_0> : UnsignedAs<Nibbles<BlockQ4_0>, 8.0f, false> {};

template <>
struct Unsigned32<BlockQ4_1> : UnsignedAs<Nibbles<BlockQ4_1>, 0.0f, true> {};

// The 5th bits of a pair, as a mask over the unpacked (element) order.
template <typename Block>
static inline __mmask64 high_bits_pair(const Block& a, const Block& b) {
  uint32_t ha, hb;
  std::memcpy(&ha, a.qh, 4);
  std::memcpy(&hb, b.qh, 4);
  return static_cast<__mmask64>(ha | (static_cast<uint64_t>(hb) << 32));
}

// Q5_0 / Q5_1: nibble + 16 * high bit.
template <typename Block>
struct NibblesAndHighBits {
  static __m512i pair(const Block& a, const Block& b) {
    const __m512i q = nibbles_pair(a.qs, b.qs);
    return _mm512_mask_add_epi8(q, high_bits_pair(a, b), q, _mm512_set1_epi8(0x10));
  }
  static __m256i one(const Block& a) {
    return _mm256_or_si256(bytes_from_nibbles_32(a.qs), _mm256_and_si256(bytes_from_bits_32(a.qh), _mm256_set1_epi8(0x10)));
  }
};

template <>
struct Unsigned32<BlockQ5_0> : UnsignedAs<NibblesAndHighBits<BlockQ5_0>, 16.0f, false> {};

template <>
struct Unsigned32<BlockQ5_1> : UnsignedAs<NibblesAndHighBits<BlockQ5_1>, 0.0f, true> {};

// IQ4_NL code book + 128, as unsigned bytes, in every 128-bit lane.
static inline __m512i iq4nl_table_u8() {
  alignas(16) uint8_t t[16];
  for (int i = 0; i < 16; ++i) t[i] = static_cast<uint8_t>(quant::kIq4nlValues[i] + 128);
  return _mm512_broadcast_i32x4(_mm_load_si128(reinterpret_cast<const __m128i*>(t)));
}

// IQ4_NL: the code-book values + 128.
struct Iq4nlCodes {
  static __m512i pair(const BlockIQ4_NL& a, const BlockIQ4_NL& b) {
    return _mm512_shuffle_epi8(iq4nl_table_u8(), nibbles_pair(a.qs, b.qs));
  }
  static __m256i one(const BlockIQ4_NL& a) {
    return _mm256_shuffle_epi8(_mm512_castsi512_si256(iq4nl_table_u8()), bytes_from_nibbles_32(a.qs));
  }
};

template <>
struct Unsigned32<BlockIQ4_NL> : UnsignedAs<Iq4nlCodes, 128.0f, false> {};

// Q8_0 x Q8_0 takes the same path: the weight quants are signed, so each pair's dot is
// |w| . (y with w's sign), one vpdpbusd, and there is nothing to correct.

template <bool kWithSums>
void prepare_32(const void* act, void* out, int64_t k) {
  const auto* y = static_cast<const BlockQ8_0*>(act);
  const int64_t nb = k / 32;
  const Prepared32<kWithSums, uint8_t> p(out, nb);
  for (int64_t i = 0; i < nb; ++i) {
    const __m256i v = loadu256(y[i].qs);
    _mm256_store_si256(reinterpret_cast<__m256i*>(p.qs + 32 * i), v);
    p.d[i] = h2f(y[i].d);
    if constexpr (kWithSums) p.c[i] = p.d[i] * static_cast<float>(hsum_epi32_256(dot_us8(_mm256_set1_epi8(1), v)));
  }
}

// What a 32-element type's quants need besides the pair dot: nothing (Q8_0), the offset
// correction - off * sum_i dw_i c_i, or the mins' + sum_i m_i c_i.
enum class Correction { kNone, kOffset, kMin };

// The dot products of a 32-element type with unsigned quants (Unsigned32<Block>) against the
// prepared activation: a pair of blocks (64 bytes of y) to 16 int32 sums, one block to its sum.
template <typename B>
struct UnsignedDots {
  using Block = B;
  using U = Unsigned32<Block>;
  static constexpr Correction kCorrection = U::kHasMin ? Correction::kMin : Correction::kOffset;
  static constexpr float kOffset = U::kOffset;
  static __m512i pair(const Block& a, const Block& b, __m512i yq) {
    return _mm512_dpbusd_epi32(_mm512_setzero_si512(), U::pair(a, b), yq);
  }
  static int one(const Block& a, __m256i yv) { return hsum_epi32_256(dot_us8(U::one(a), yv)); }
};

struct Q8_0Dots {
  using Block = BlockQ8_0;
  static constexpr Correction kCorrection = Correction::kNone;
  static constexpr float kOffset = 0.0f;
  static __m512i pair(const Block& a, const Block& b, __m512i yv) {
    const __m512i q = _mm512_inserti64x4(_mm512_castsi256_si512(loadu256(a.qs)), loadu256(b.qs), 1);
    const __m512i sy = _mm512_mask_sub_epi8(yv, _mm512_movepi8_mask(q), _mm512_setzero_si512(), yv);
    return _mm512_dpbusd_epi32(_mm512_setzero_si512(), _mm512_abs_epi8(q), sy);
  }
  static int one(const Block& a, __m256i yv) { return hsum_epi32_256(dot_ss8(loadu256(a.qs), yv)); }
};

// The loop every 32-element type shares: groups of 8 blocks (their scales gathered by
// GroupScales, multiplied by dy), four pair dots each into two accumulators; the correction's
// sum alongside; then the tail blocks (fewer than 8) one at a time.
template <typename Dots>
void rows_32_512(int64_t k, const void* w, size_t rb, int64_t n_rows, const void* x, float* out) {
  using Block = typename Dots::Block;
  constexpr Correction kCorr = Dots::kCorrection;
  const int64_t nb = k / 32;
  const Prepared32<kCorr != Correction::kNone, const uint8_t> y(x, nb);
  // lane pattern for pair j (0..3) of an 8-block group: [2j x8, 2j+1 x8]
  __m512i idx[4];
  for (int j = 0; j < 4; ++j)
    idx[j] = _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_set1_epi32(2 * j)), _mm256_set1_epi32(2 * j + 1), 1);
  const int64_t groups = nb / 8;
  for (int64_t r = 0; r < n_rows; ++r) {
    const Block* xb = weight_row<Block>(w, rb, r);
    __m512 acc0 = _mm512_setzero_ps(), acc1 = _mm512_setzero_ps();
    __m256 corr = _mm256_setzero_ps();
    for (int64_t g = 0; g < groups; ++g) {
      const Block* b = xb + 8 * g;
      const GroupScales<sizeof(Block)> gs(b);
      const __m256 dw = gs.h8(0);
      if constexpr (kCorr == Correction::kMin)
        corr = _mm256_fmadd_ps(gs.h8(1), _mm256_load_ps(y.c + 8 * g), corr);
      else if constexpr (kCorr == Correction::kOffset)
        corr = _mm256_fmadd_ps(dw, _mm256_load_ps(y.c + 8 * g), corr);
      const __m512 s8 = _mm512_castps256_ps512(_mm256_mul_ps(dw, _mm256_load_ps(y.d + 8 * g)));
#pragma GCC unroll 4
      for (int j = 0; j < 4; ++j) {
        const __m512i dot = Dots::pair(b[2 * j], b[2 * j + 1], _mm512_load_si512(y.qs + 32 * (8 * g + 2 * j)));
        const __m512 sc = _mm512_permutexvar_ps(idx[j], s8);
        if (j % 2 == 0)
          acc0 = _mm512_fmadd_ps(_mm512_cvtepi32_ps(dot), sc, acc0);
        else
          acc1 = _mm512_fmadd_ps(_mm512_cvtepi32_ps(dot), sc, acc1);
      }
    }
    float sum = _mm512_reduce_add_ps(_mm512_add_ps(acc0, acc1));
    if constexpr (kCorr == Correction::kMin)
      sum += hsum_ps(corr);
    else if constexpr (kCorr == Correction::kOffset)
      sum += -Dots::kOffset * hsum_ps(corr);
    for (int64_t i = groups * 8; i < nb; ++i) {
      const int s = Dots::one(xb[i], _mm256_load_si256(reinterpret_cast<const __m256i*>(y.qs + 32 * i)));
      const float dw = h2f(xb[i].d);
      sum += static_cast<float>(s) * (dw * y.d[i]);
      if constexpr (kCorr == Correction::kMin)
        sum += h2f(xb[i].m) * y.c[i];
      else if constexpr (kCorr == Correction::kOffset)
        sum -= Dots::kOffset * dw * y.c[i];
    }
    out[r] = sum;
  }
}

// ---- the super-block types x Q8_K ----------------------------------------------------------------
//
// Each type is a kernel: the prepared-activation view and its constant vectors (built once per
// call), block() for one super-block (its int products into a 512-bit float accumulator, the
// type's correction into a Corr accumulator) and finish() for the row's sum.

struct NoCorrection {};

// Prepares a Q8_K row for a super-block type: per super-block, fill(block, qs, sums) lays out
// its quants and sums the way the type's kernel reads them; d is copied.
template <typename Sum, int kSums, typename Fill>
void prepare_k(const void* act, void* out, int64_t k, Fill fill) {
  const auto* y = static_cast<const BlockQ8_K*>(act);
  const int64_t nb = k / QK_K;
  const PreparedK<Sum, kSums, uint8_t> p(out, nb);
  for (int64_t i = 0; i < nb; ++i) {
    fill(y[i], p.qs + QK_K * i, p.sums + kSums * i);
    p.d[i] = y[i].d;
  }
}

// The loop every super-block type shares.
template <typename Kernel>
void rows_k_512(int64_t k, const void* w, size_t rb, int64_t n_rows, const void* x, float* out) {
  using Block = typename Kernel::Block;
  const int64_t nb = k / QK_K;
  const Kernel kernel(x, nb);
  for (int64_t r = 0; r < n_rows; ++r) {
    const Block* xb = weight_row<Block>(w, rb, r);
    __m512 acc = _mm512_setzero_ps();
    typename Kernel::Corr corr{};
    for (int64_t i = 0; i < nb; ++i) kernel.block(xb[i], i, acc, corr);
    out[r] = Kernel::finish(_mm512_reduce_add_ps(acc), corr);
  }
}

// i16 lane patterns [a x16, b x16].
static inline __m512i idx16_pair(int a, int b) {
  return _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_set1_epi16(static_cast<short>(a))),
                            _mm256_set1_epi16(static_cast<short>(b)), 1);
}
// Byte masks [1 << a x32, 1 << b x32].
static inline __m512i bit_pair(int a, int b) {
  return _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_set1_epi8(static_cast<char>(1 << a))),
                            _mm256_set1_epi8(static_cast<char>(1 << b)), 1);
}
// The 128-bit quarters [a, b, c, d] (each a broadcast of one 16- or 32-bit lane index).
static inline __m512i idx_quad(__m128i a, __m128i b, __m128i c, __m128i d) {
  return _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_set_m128i(b, a)), _mm256_set_m128i(d, c), 1);
}

// ---- Q4_K / Q5_K x Q8_K ------------------------------------------------------------------------
//
// 64 bytes of nibbles unpack to sub-blocks (4p, 4p+2) (low nibbles) and (4p+1, 4p+3) (high).
// Prepared activation: quants in that order (0 2 1 3 4 6 5 7 per super-block), the per-32 sums
// for the mins (int16), d. Sub-block scales multiply the int16 pair sums with vpdpwssd.

using PreparedK45 = PreparedK<int16_t, 8, const uint8_t>;

void prepare_k45(const void* act, void* out, int64_t k) {
  prepare_k<int16_t, 8>(act, out, k, [](const BlockQ8_K& y, int8_t* qs, int16_t* sums) {
    static constexpr int order[8] = {0, 2, 1, 3, 4, 6, 5, 7};
    for (int s = 0; s < 8; ++s)
      _mm256_store_si256(reinterpret_cast<__m256i*>(qs + 32 * s), loadu256(y.qs + 32 * order[s]));
    for (int j = 0; j < 8; ++j) sums[j] = static_cast<int16_t>(y.bsums[2 * j] + y.bsums[2 * j + 1]);
  });
}

template <typename B>
struct Q45Kernel {
  using Block = B;
  using Corr = __m128;  // dy dmin sum_s min_s ysum_s
  static constexpr bool kQ5 = std::is_same_v<Block, BlockQ5_K>;
  const PreparedK45 y;
  const __m512i idx_lo[2] = {idx16_pair(0, 2), idx16_pair(4, 6)};
  const __m512i idx_hi[2] = {idx16_pair(1, 3), idx16_pair(5, 7)};
  // Q5_K: the high bit of sub-block s is bit s of qh[l]; byte masks per (p, low/high nibbles)
  const __m512i hb_lo[2] = {bit_pair(0, 2), bit_pair(4, 6)};
  const __m512i hb_hi[2] = {bit_pair(1, 3), bit_pair(5, 7)};
  const __m512i m4 = _mm512_set1_epi8(0x0F);
  const __m512i b16 = _mm512_set1_epi8(0x10);

  Q45Kernel(const void* x, int64_t nb) : y(x, nb) {}

  void block(const Block& b, int64_t i, __m512& acc, __m128& accm) const {
    const int8_t* yq = y.qs;
    const __m128i sm = unpack_k4_scales(b.scales);  // 8 scales, 8 mins (bytes)
    const __m128i mins = _mm_cvtepu8_epi16(_mm_srli_si128(sm, 8));
    const __m128i prod = _mm_madd_epi16(mins, _mm_load_si128(reinterpret_cast<const __m128i*>(y.sums + 8 * i)));
    accm = _mm_fmadd_ps(_mm_set1_ps(y.d[i] * h2f(b.dmin)), _mm_cvtepi32_ps(prod), accm);
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
    acc = _mm512_fmadd_ps(_mm512_set1_ps(y.d[i] * h2f(b.d)), _mm512_cvtepi32_ps(sumi), acc);
  }
  static float finish(float sum, __m128 accm) { return sum - hsum_ps128(accm); }
};

// ---- IQ4_XS x Q8_K -----------------------------------------------------------------------------
//
// Code-book values + 128 as unsigned bytes; 64 bytes of nibbles hold sub-blocks 4p..4p+3, low
// nibbles their first 16 elements and high nibbles the last 16. Prepared activation: quants as
// [s0 lo, s1 lo, s2 lo, s3 lo], [s0 hi, ...] per half super-block, per-32 sums (int32), d. The
// "+ 128" comes back out as 128 * sum_s ls_s * sum(y_s).

using PreparedXs = PreparedK<int32_t, 8, const uint8_t>;

void prepare_xs(const void* act, void* out, int64_t k) {
  prepare_k<int32_t, 8>(act, out, k, [](const BlockQ8_K& y, int8_t* qs, int32_t* sums) {
    for (int h = 0; h < 2; ++h)
      for (int s = 0; s < 4; ++s) {
        const int8_t* src = y.qs + 32 * (4 * h + s);
        _mm_store_si128(reinterpret_cast<__m128i*>(qs + 128 * h + 16 * s), loadu128(src));
        _mm_store_si128(reinterpret_cast<__m128i*>(qs + 128 * h + 64 + 16 * s), loadu128(src + 16));
      }
    for (int j = 0; j < 8; ++j) sums[j] = y.bsums[2 * j] + y.bsums[2 * j + 1];
  });
}

struct Iq4XsKernel {
  using Block = BlockIQ4_XS;
  using Corr = __m256;  // 128 dy d sum_s ls_s ysum_s
  const PreparedXs y;
  const __m512i table = iq4nl_table_u8();
  const __m512i m4 = _mm512_set1_epi8(0x0F);
  // epi32 lane patterns [4p x4, 4p+1 x4, 4p+2 x4, 4p+3 x4]
  const __m512i idx[2] = {
      idx_quad(_mm_set1_epi32(0), _mm_set1_epi32(1), _mm_set1_epi32(2), _mm_set1_epi32(3)),
      idx_quad(_mm_set1_epi32(4), _mm_set1_epi32(5), _mm_set1_epi32(6), _mm_set1_epi32(7))};
  const __m256i lo_shift = _mm256_setr_epi32(0, 4, 8, 12, 16, 20, 24, 28);
  const __m256i hi_shift = _mm256_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14);

  Iq4XsKernel(const void* x, int64_t nb) : y(x, nb) {}

  void block(const Block& b, int64_t i, __m512& acc, __m256& accm) const {
    const int8_t* yq = y.qs;
    uint32_t sl;
    std::memcpy(&sl, b.scales_l, 4);
    const __m256i lo = _mm256_and_si256(_mm256_srlv_epi32(_mm256_set1_epi32(static_cast<int>(sl)), lo_shift),
                                        _mm256_set1_epi32(0xF));
    const __m256i hi = _mm256_slli_epi32(
        _mm256_and_si256(_mm256_srlv_epi32(_mm256_set1_epi32(b.scales_h), hi_shift), _mm256_set1_epi32(3)), 4);
    const __m256i ls = _mm256_sub_epi32(_mm256_or_si256(lo, hi), _mm256_set1_epi32(32));
    const float dd = y.d[i] * h2f(b.d);
    accm = _mm256_fmadd_ps(
        _mm256_set1_ps(128.0f * dd),
        _mm256_cvtepi32_ps(_mm256_mullo_epi32(ls, _mm256_load_si256(reinterpret_cast<const __m256i*>(y.sums + 8 * i)))),
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
  static float finish(float sum, __m256 accm) { return sum - hsum_ps(accm); }
};

// ---- Q2_K / Q3_K x Q8_K -----------------------------------------------------------------------
//
// 64 bytes of 2-bit quants at shift sh hold elements sh*32..+32 of both 128-element halves.
// Prepared activation: quants in that order, bsums, d. Q3_K's high bit (bit 4c + sh of
// hmask[l]) is added as 4 and its "- 4" comes back out as 4 * sum_g scale_g * bsums_g; Q2_K's
// mins as dmin * sum_g min_g * bsums_g. Group scales multiply the int16 pair sums (vpdpwssd).

using PreparedK23 = PreparedK<int16_t, 16, const uint8_t>;

void prepare_k23(const void* act, void* out, int64_t k) {
  prepare_k<int16_t, 16>(act, out, k, [](const BlockQ8_K& y, int8_t* qs, int16_t* sums) {
    for (int sh = 0; sh < 4; ++sh) {
      _mm256_store_si256(reinterpret_cast<__m256i*>(qs + 64 * sh), loadu256(y.qs + 32 * sh));
      _mm256_store_si256(reinterpret_cast<__m256i*>(qs + 64 * sh + 32), loadu256(y.qs + 128 + 32 * sh));
    }
    std::memcpy(sums, y.bsums, sizeof(y.bsums));
  });
}

// epi16 lane patterns [a x8, b x8, c x8, d x8] for the group scales of shift sh (Q2_K / Q3_K:
// 2sh, 2sh+1, 8+2sh, 9+2sh) or of quarter h (Q6_K: 4h..4h+3).
static inline __m512i idx16_quad(int a, int b, int c, int d) {
  return idx_quad(_mm_set1_epi16(static_cast<short>(a)), _mm_set1_epi16(static_cast<short>(b)),
                  _mm_set1_epi16(static_cast<short>(c)), _mm_set1_epi16(static_cast<short>(d)));
}

template <typename B>
struct Q23Kernel {
  using Block = B;
  using Corr = __m256;  // - dy (4 d sum_g sc_g bsums_g  or  dmin sum_g min_g bsums_g)
  static constexpr bool kQ3 = std::is_same_v<Block, BlockQ3_K>;
  const PreparedK23 y;
  const __m512i idx[4] = {idx16_quad(0, 1, 8, 9), idx16_quad(2, 3, 10, 11), idx16_quad(4, 5, 12, 13),
                          idx16_quad(6, 7, 14, 15)};
  const __m512i hb[4] = {bit_pair(0, 4), bit_pair(1, 5), bit_pair(2, 6), bit_pair(3, 7)};
  const __m512i m3 = _mm512_set1_epi8(3);
  const __m512i four = _mm512_set1_epi8(4);

  Q23Kernel(const void* x, int64_t nb) : y(x, nb) {}

  void block(const Block& b, int64_t i, __m512& acc, __m256& accm) const {
    const int8_t* yq = y.qs;
    const __m256i bsums = _mm256_load_si256(reinterpret_cast<const __m256i*>(y.sums + 16 * i));
    __m256i sc16;
    __m512i hbits;
    if constexpr (kQ3) {
      sc16 = _mm256_cvtepi8_epi16(unpack_q3_K_scales(b.scales));
      hbits = _mm512_broadcast_i64x4(loadu256(b.hmask));
      // - 4 * sum_g sc_g bsums_g
      accm = _mm256_fmadd_ps(_mm256_set1_ps(-4.0f * y.d[i] * h2f(b.d)), _mm256_cvtepi32_ps(_mm256_madd_epi16(sc16, bsums)), accm);
    } else {
      const __m128i raw = loadu128(b.scales);
      sc16 = _mm256_cvtepu8_epi16(_mm_and_si128(raw, _mm_set1_epi8(0xF)));
      const __m256i mins = _mm256_cvtepu8_epi16(_mm_and_si128(_mm_srli_epi16(raw, 4), _mm_set1_epi8(0xF)));
      accm = _mm256_fmadd_ps(_mm256_set1_ps(-y.d[i] * h2f(b.dmin)), _mm256_cvtepi32_ps(_mm256_madd_epi16(mins, bsums)), accm);
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
    acc = _mm512_fmadd_ps(_mm512_set1_ps(y.d[i] * h2f(b.d)), _mm512_cvtepi32_ps(sumi), acc);
  }
  static float finish(float sum, __m256 accm) { return sum + hsum_ps(accm); }
};

// ---- Q6_K x Q8_K -------------------------------------------------------------------------------
//
// Per 128 elements: 64 bytes of ql give elements 0..63 (low nibbles) and 64..127 (high), in
// order, so the activation quants are used as they are (no prepare). q is stored + 32: the
// "- 32" becomes 32 * sum_g scale_g * bsums_g per super-block, in the block's int sum.

struct Q6Kernel {
  using Block = BlockQ6_K;
  using Corr = NoCorrection;
  const BlockQ8_K* y;
  // the 16 scales by quarter h: [4h x8, 4h+1 x8, 4h+2 x8, 4h+3 x8]
  const __m512i idx[4] = {idx16_quad(0, 1, 2, 3), idx16_quad(4, 5, 6, 7), idx16_quad(8, 9, 10, 11),
                          idx16_quad(12, 13, 14, 15)};
  const __m512i m4 = _mm512_set1_epi8(0x0F);
  const __m512i m30 = _mm512_set1_epi8(0x30);

  Q6Kernel(const void* x, int64_t) : y(static_cast<const BlockQ8_K*>(x)) {}

  void block(const Block& b, int64_t i, __m512& acc, NoCorrection&) const {
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
  static float finish(float sum, NoCorrection) { return sum; }
};

}  // namespace

void fill_quant_dots(CpuKernels& t) {
  auto set = [&](GgmlType type, VecDotFn fn, PrepareFn prep = nullptr, PreparedSizeFn size = nullptr) {
    TypeKernels& tk = t.types[static_cast<int>(type)];
    tk.vec_dot = fn;
    tk.prepare = prep;
    tk.prepared_size = size;
  };
  constexpr PreparedSizeFn size_32 = Prepared32<true, const uint8_t>::size;
  set(GgmlType::Q4_0, rows_32_512<UnsignedDots<BlockQ4_0>>, prepare_32<true>, size_32);
  set(GgmlType::Q4_1, rows_32_512<UnsignedDots<BlockQ4_1>>, prepare_32<true>, size_32);
  set(GgmlType::Q5_0, rows_32_512<UnsignedDots<BlockQ5_0>>, prepare_32<true>, size_32);
  set(GgmlType::Q5_1, rows_32_512<UnsignedDots<BlockQ5_1>>, prepare_32<true>, size_32);
  set(GgmlType::IQ4_NL, rows_32_512<UnsignedDots<BlockIQ4_NL>>, prepare_32<true>, size_32);
  set(GgmlType::Q8_0, rows_32_512<Q8_0Dots>, prepare_32<false>, Prepared32<false, const uint8_t>::size);
  set(GgmlType::Q4_K, rows_k_512<Q45Kernel<BlockQ4_K>>, prepare_k45, PreparedK45::size);
  set(GgmlType::Q5_K, rows_k_512<Q45Kernel<BlockQ5_K>>, prepare_k45, PreparedK45::size);
  set(GgmlType::IQ4_XS, rows_k_512<Iq4XsKernel>, prepare_xs, PreparedXs::size);
  set(GgmlType::Q2_K, rows_k_512<Q23Kernel<BlockQ2_K>>, prepare_k23, PreparedK23::size);
  set(GgmlType::Q3_K, rows_k_512<Q23Kernel<BlockQ3_K>>, prepare_k23, PreparedK23::size);
  set(GgmlType::Q6_K, rows_k_512<Q6Kernel>);
}

}  // namespace avx512
}  // namespace quarrel::cpu
