// AVX-512 kernels (F/BW/VL/DQ/VNNI; only run when the CPU has them). The AVX2-form code is
// compiled here again (so it uses VNNI dot products and EVEX encodings); the hot kernels have
// 512-bit versions below.
// GCC 12's AVX-512 headers trip -Wuninitialized on their own _mm512_undefined_* temporaries.
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>

#include <cmath>
#include <cstdint>
#include <cstring>

#include "backend/cpu/kernels.h"
#include "quant/blocks.h"

namespace quarrel::cpu {
namespace avx512 {
namespace {

#include "backend/cpu/simd_common.inc"
#include "backend/cpu/simd_quants.inc"
#include "backend/cpu/simd_dequant.inc"
#include "backend/cpu/simd_float.inc"

// ---- GEMM micro-kernel: kMr weight rows (broadcast) x kNr columns -----------------------------

constexpr int kMr = 12, kNv = 2, kNr = 16 * kNv;

void gemm(int64_t k, const float* w, int64_t ldw, int n_r, const float* xt, float* y, int64_t ldy, int n_c,
          bool accumulate) {
  __m512 c[kMr][kNv];
#pragma GCC unroll 16
  for (int r = 0; r < kMr; ++r)
#pragma GCC unroll 4
    for (int v = 0; v < kNv; ++v) c[r][v] = _mm512_setzero_ps();
  for (int64_t kk = 0; kk < k; ++kk) {
    __m512 x[kNv];
#pragma GCC unroll 4
    for (int v = 0; v < kNv; ++v) x[v] = _mm512_loadu_ps(xt + kk * kNr + 16 * v);
#pragma GCC unroll 16
    for (int r = 0; r < kMr; ++r) {
      const __m512 b = _mm512_set1_ps(w[r * ldw + kk]);
#pragma GCC unroll 4
      for (int v = 0; v < kNv; ++v) c[r][v] = _mm512_fmadd_ps(b, x[v], c[r][v]);
    }
  }
  alignas(64) float tmp[kMr][kNr];
#pragma GCC unroll 16
  for (int r = 0; r < kMr; ++r)
#pragma GCC unroll 4
    for (int v = 0; v < kNv; ++v) _mm512_store_ps(tmp[r] + 16 * v, c[r][v]);
  for (int j = 0; j < n_c; ++j) {
    float* dst = y + j * ldy;
    if (accumulate)
      for (int r = 0; r < n_r; ++r) dst[r] += tmp[r][j];
    else
      for (int r = 0; r < n_r; ++r) dst[r] = tmp[r][j];
  }
}

// ---- 512-bit float dot products ------------------------------------------------------------

static inline __mmask16 tail_mask(int64_t n) { return static_cast<__mmask16>((1u << n) - 1); }

float dot_f32_512(const float* a, const float* b, int64_t n) {
  __m512 s0 = _mm512_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
  int64_t i = 0;
  for (; i + 64 <= n; i += 64) {
    s0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i), s0);
    s1 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i + 16), _mm512_loadu_ps(b + i + 16), s1);
    s2 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i + 32), _mm512_loadu_ps(b + i + 32), s2);
    s3 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i + 48), _mm512_loadu_ps(b + i + 48), s3);
  }
  for (; i + 16 <= n; i += 16) s0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i), s0);
  if (i < n) {
    const __mmask16 m = tail_mask(n - i);
    s1 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, a + i), _mm512_maskz_loadu_ps(m, b + i), s1);
  }
  return _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(s0, s1), _mm512_add_ps(s2, s3)));
}

static inline __m512 load_f16x16(const uint16_t* p) {
  return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
}

float dot_f16_512(const uint16_t* a, const float* b, int64_t n) {
  __m512 s0 = _mm512_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
  int64_t i = 0;
  for (; i + 64 <= n; i += 64) {
    s0 = _mm512_fmadd_ps(load_f16x16(a + i), _mm512_loadu_ps(b + i), s0);
    s1 = _mm512_fmadd_ps(load_f16x16(a + i + 16), _mm512_loadu_ps(b + i + 16), s1);
    s2 = _mm512_fmadd_ps(load_f16x16(a + i + 32), _mm512_loadu_ps(b + i + 32), s2);
    s3 = _mm512_fmadd_ps(load_f16x16(a + i + 48), _mm512_loadu_ps(b + i + 48), s3);
  }
  for (; i + 16 <= n; i += 16) s0 = _mm512_fmadd_ps(load_f16x16(a + i), _mm512_loadu_ps(b + i), s0);
  if (i < n) {
    const __mmask16 m = tail_mask(n - i);
    const __m512 av = _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, a + i));
    s1 = _mm512_fmadd_ps(av, _mm512_maskz_loadu_ps(m, b + i), s1);
  }
  return _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(s0, s1), _mm512_add_ps(s2, s3)));
}

static inline __m512 load_bf16x16(const uint16_t* p) {
  const __m512i w = _mm512_cvtepu16_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
  return _mm512_castsi512_ps(_mm512_slli_epi32(w, 16));
}

float dot_bf16_512(const uint16_t* a, const float* b, int64_t n) {
  __m512 s0 = _mm512_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
  int64_t i = 0;
  for (; i + 64 <= n; i += 64) {
    s0 = _mm512_fmadd_ps(load_bf16x16(a + i), _mm512_loadu_ps(b + i), s0);
    s1 = _mm512_fmadd_ps(load_bf16x16(a + i + 16), _mm512_loadu_ps(b + i + 16), s1);
    s2 = _mm512_fmadd_ps(load_bf16x16(a + i + 32), _mm512_loadu_ps(b + i + 32), s2);
    s3 = _mm512_fmadd_ps(load_bf16x16(a + i + 48), _mm512_loadu_ps(b + i + 48), s3);
  }
  for (; i + 16 <= n; i += 16) s0 = _mm512_fmadd_ps(load_bf16x16(a + i), _mm512_loadu_ps(b + i), s0);
  if (i < n) {
    const __mmask16 m = tail_mask(n - i);
    const __m512i w = _mm512_cvtepu16_epi32(_mm256_maskz_loadu_epi16(m, a + i));
    s1 = _mm512_fmadd_ps(_mm512_castsi512_ps(_mm512_slli_epi32(w, 16)), _mm512_maskz_loadu_ps(m, b + i), s1);
  }
  return _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(s0, s1), _mm512_add_ps(s2, s3)));
}

// ---- Q4_0 x Q8_0, two blocks per 512-bit vector ------------------------------------------
//
// The activation row is shared by every weight row of a call, so its per-block work is done
// once per call (per chunk of kChunk blocks): the quants are laid out in the order the weight
// nibbles unpack to, [y_i lo16, y_i+1 lo16, y_i hi16, y_i+1 hi16] per pair of blocks, and the
// "- 8" of Q4_0 becomes a per-block correction c_i = 8 dy_i sum(y_i), applied once per 8
// blocks against the weight scales: dot = sum_i dw_i dy_i sum(q y) - sum_i dw_i c_i.

constexpr int kChunk = 128;  // activation blocks prepared at a time (4 KiB of quants)

struct PreparedQ8 {
  alignas(64) int8_t qs[kChunk * 32];
  alignas(64) float d[kChunk];
  alignas(64) float c[kChunk];  // Q4_0: 8 * d * sum(qs)
};

void prepare_q8_0(const BlockQ8_0* y, int nb, PreparedQ8& p) {
  for (int i = 0; i + 1 < nb; i += 2) {
    const __m128i a0 = loadu128(y[i].qs), a1 = loadu128(y[i].qs + 16);
    const __m128i b0 = loadu128(y[i + 1].qs), b1 = loadu128(y[i + 1].qs + 16);
    int8_t* dst = p.qs + 32 * i;
    _mm_store_si128(reinterpret_cast<__m128i*>(dst), a0);
    _mm_store_si128(reinterpret_cast<__m128i*>(dst + 16), b0);
    _mm_store_si128(reinterpret_cast<__m128i*>(dst + 32), a1);
    _mm_store_si128(reinterpret_cast<__m128i*>(dst + 48), b1);
  }
  for (int i = 0; i < nb; ++i) {
    p.d[i] = h2f(y[i].d);
    const __m256i s = dot_us8(_mm256_set1_epi8(1), loadu256(y[i].qs));
    p.c[i] = 8.0f * p.d[i] * static_cast<float>(hsum_epi32_256(s));
  }
}

// 8 fp16 scales of consecutive blocks `stride` bytes apart, as floats.
static inline __m256 gather_d8(const uint8_t* first_d, size_t stride) {
  uint16_t h[8];
  for (int j = 0; j < 8; ++j) std::memcpy(&h[j], first_d + stride * j, 2);
  return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(h)));
}

void rows_q4_0_512(int64_t k, const void* w, size_t rb, int64_t n_rows, const void* x, float* out) {
  const auto* y = static_cast<const BlockQ8_0*>(x);
  const int64_t nb = k / 32;
  for (int64_t r = 0; r < n_rows; ++r) out[r] = 0.0f;
  PreparedQ8 p;
  const __m128i m4 = _mm_set1_epi8(0x0F);
  const __m512i m4z = _mm512_set1_epi8(0x0F);
  // lane pattern for pair j (0..3) of an 8-block group: [2j x4, 2j+1 x4, 2j x4, 2j+1 x4]
  __m512i idx[4];
  for (int j = 0; j < 4; ++j) {
    const __m128i a = _mm_set1_epi32(2 * j), b = _mm_set1_epi32(2 * j + 1);
    idx[j] = _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_set_m128i(b, a)), _mm256_set_m128i(b, a), 1);
  }
  for (int64_t c0 = 0; c0 < nb; c0 += kChunk) {
    const int cn = static_cast<int>(nb - c0 < kChunk ? nb - c0 : kChunk);
    prepare_q8_0(y + c0, cn, p);
    const int groups = cn / 8;
    for (int64_t r = 0; r < n_rows; ++r) {
      const auto* xb = reinterpret_cast<const BlockQ4_0*>(static_cast<const uint8_t*>(w) + rb * r) + c0;
      __m512 acc0 = _mm512_setzero_ps(), acc1 = _mm512_setzero_ps();
      __m256 corr = _mm256_setzero_ps();
      for (int g = 0; g < groups; ++g) {
        const BlockQ4_0* b = xb + 8 * g;
        const __m256 dw = gather_d8(reinterpret_cast<const uint8_t*>(&b[0].d), sizeof(BlockQ4_0));
        corr = _mm256_fmadd_ps(dw, _mm256_load_ps(p.c + 8 * g), corr);
        const __m512 s8 = _mm512_castps256_ps512(_mm256_mul_ps(dw, _mm256_load_ps(p.d + 8 * g)));
#pragma GCC unroll 4
        for (int j = 0; j < 4; ++j) {
          const __m256i v = _mm256_set_m128i(loadu128(b[2 * j + 1].qs), loadu128(b[2 * j].qs));
          const __m512i q = _mm512_and_si512(
              _mm512_inserti64x4(_mm512_castsi256_si512(v), _mm256_srli_epi16(v, 4), 1), m4z);
          const __m512i yq = _mm512_load_si512(p.qs + 32 * (8 * g + 2 * j));
          const __m512i dot = _mm512_dpbusd_epi32(_mm512_setzero_si512(), q, yq);
          const __m512 sc = _mm512_permutexvar_ps(idx[j], s8);
          if (j % 2 == 0)
            acc0 = _mm512_fmadd_ps(_mm512_cvtepi32_ps(dot), sc, acc0);
          else
            acc1 = _mm512_fmadd_ps(_mm512_cvtepi32_ps(dot), sc, acc1);
        }
      }
      float sum = _mm512_reduce_add_ps(_mm512_add_ps(acc0, acc1)) - hsum_ps(corr);
      // Tail blocks (fewer than 8): one at a time.
      for (int i = groups * 8; i < cn; ++i) {
        const __m128i t = loadu128(xb[i].qs);
        const __m256i q = _mm256_set_m128i(_mm_and_si128(_mm_srli_epi16(t, 4), m4), _mm_and_si128(t, m4));
        const __m256i qy = _mm256_sub_epi8(q, _mm256_set1_epi8(8));
        const int s = hsum_epi32_256(dot_ss8(qy, loadu256(y[c0 + i].qs)));
        sum += static_cast<float>(s) * (h2f(xb[i].d) * p.d[i]);
      }
      out[r] += sum;
    }
  }
}

// ---- Q8_0 x Q8_0, two blocks per 512-bit vector --------------------------------------------

void rows_q8_0_512(int64_t k, const void* w, size_t rb, int64_t n_rows, const void* x, float* out) {
  const auto* y = static_cast<const BlockQ8_0*>(x);
  const int64_t nb = k / 32;
  for (int64_t r = 0; r < n_rows; ++r) out[r] = 0.0f;
  alignas(64) int8_t yq[kChunk * 32];
  alignas(64) float yd[kChunk];
  __m512i idx[4];
  for (int j = 0; j < 4; ++j)
    idx[j] = _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_set1_epi32(2 * j)), _mm256_set1_epi32(2 * j + 1), 1);
  for (int64_t c0 = 0; c0 < nb; c0 += kChunk) {
    const int cn = static_cast<int>(nb - c0 < kChunk ? nb - c0 : kChunk);
    for (int i = 0; i < cn; ++i) {
      _mm256_store_si256(reinterpret_cast<__m256i*>(yq + 32 * i), loadu256(y[c0 + i].qs));
      yd[i] = h2f(y[c0 + i].d);
    }
    const int groups = cn / 8;
    for (int64_t r = 0; r < n_rows; ++r) {
      const auto* xb = reinterpret_cast<const BlockQ8_0*>(static_cast<const uint8_t*>(w) + rb * r) + c0;
      __m512 acc0 = _mm512_setzero_ps(), acc1 = _mm512_setzero_ps();
      for (int g = 0; g < groups; ++g) {
        const BlockQ8_0* b = xb + 8 * g;
        const __m512 s8 = _mm512_castps256_ps512(
            _mm256_mul_ps(gather_d8(reinterpret_cast<const uint8_t*>(&b[0].d), sizeof(BlockQ8_0)), _mm256_load_ps(yd + 8 * g)));
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
      for (int i = groups * 8; i < cn; ++i) {
        const int s = hsum_epi32_256(dot_ss8(loadu256(xb[i].qs), loadu256(yq + 32 * i)));
        sum += static_cast<float>(s) * (h2f(xb[i].d) * yd[i]);
      }
      out[r] += sum;
    }
  }
}

// ---- Q4_K x Q8_K -------------------------------------------------------------------------------
//
// 64 bytes of nibbles unpack to sub-blocks (4p, 4p+2) (low nibbles) and (4p+1, 4p+3) (high);
// the activation quants are laid out once per call in that order, with the per-32 sums for the
// mins. Sub-block scales multiply the int16 pair sums with vpdpwssd.

constexpr int kChunkK = 32;  // activation super-blocks prepared at a time (8 KiB of quants)

void rows_q4_K_512(int64_t k, const void* w, size_t rb, int64_t n_rows, const void* x, float* out) {
  const auto* y = static_cast<const BlockQ8_K*>(x);
  const int64_t nb = k / QK_K;
  for (int64_t r = 0; r < n_rows; ++r) out[r] = 0.0f;
  alignas(64) int8_t yq[kChunkK * QK_K];
  alignas(16) int16_t ysum[kChunkK * 8];
  alignas(64) float yd[kChunkK];
  // i16 lane patterns: [a x16, b x16]
  auto pair_idx = [](int a, int b) {
    return _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_set1_epi16(static_cast<short>(a))),
                              _mm256_set1_epi16(static_cast<short>(b)), 1);
  };
  const __m512i idx_lo[2] = {pair_idx(0, 2), pair_idx(4, 6)};
  const __m512i idx_hi[2] = {pair_idx(1, 3), pair_idx(5, 7)};
  const __m512i m4 = _mm512_set1_epi8(0x0F);
  for (int64_t c0 = 0; c0 < nb; c0 += kChunkK) {
    const int cn = static_cast<int>(nb - c0 < kChunkK ? nb - c0 : kChunkK);
    for (int i = 0; i < cn; ++i) {
      const BlockQ8_K& b = y[c0 + i];
      static constexpr int order[8] = {0, 2, 1, 3, 4, 6, 5, 7};
      for (int s = 0; s < 8; ++s)
        _mm256_store_si256(reinterpret_cast<__m256i*>(yq + QK_K * i + 32 * s), loadu256(b.qs + 32 * order[s]));
      for (int j = 0; j < 8; ++j) ysum[8 * i + j] = static_cast<int16_t>(b.bsums[2 * j] + b.bsums[2 * j + 1]);
      yd[i] = b.d;
    }
    for (int64_t r = 0; r < n_rows; ++r) {
      const auto* xb = reinterpret_cast<const BlockQ4_K*>(static_cast<const uint8_t*>(w) + rb * r) + c0;
      __m512 acc = _mm512_setzero_ps();
      __m128 accm = _mm_setzero_ps();
      for (int i = 0; i < cn; ++i) {
        const BlockQ4_K& b = xb[i];
        const __m128i sm = unpack_k4_scales(b.scales);  // 8 scales, 8 mins (bytes)
        const __m128i mins = _mm_cvtepu8_epi16(_mm_srli_si128(sm, 8));
        const __m128i prod = _mm_madd_epi16(mins, _mm_load_si128(reinterpret_cast<const __m128i*>(ysum + 8 * i)));
        accm = _mm_fmadd_ps(_mm_set1_ps(yd[i] * h2f(b.dmin)), _mm_cvtepi32_ps(prod), accm);
        const __m512i sc = _mm512_castsi128_si512(_mm_cvtepu8_epi16(sm));
        __m512i sumi = _mm512_setzero_si512();
#pragma GCC unroll 2
        for (int p = 0; p < 2; ++p) {
          const __m512i q = _mm512_loadu_si512(b.qs + 64 * p);
          const __m512i ql = _mm512_and_si512(q, m4);
          const __m512i qh = _mm512_and_si512(_mm512_srli_epi16(q, 4), m4);
          const __m512i pl = _mm512_maddubs_epi16(ql, _mm512_load_si512(yq + QK_K * i + 128 * p));
          const __m512i ph = _mm512_maddubs_epi16(qh, _mm512_load_si512(yq + QK_K * i + 128 * p + 64));
          sumi = _mm512_dpwssd_epi32(sumi, pl, _mm512_permutexvar_epi16(idx_lo[p], sc));
          sumi = _mm512_dpwssd_epi32(sumi, ph, _mm512_permutexvar_epi16(idx_hi[p], sc));
        }
        acc = _mm512_fmadd_ps(_mm512_set1_ps(yd[i] * h2f(b.d)), _mm512_cvtepi32_ps(sumi), acc);
      }
      out[r] += _mm512_reduce_add_ps(acc) - hsum_ps128(accm);
    }
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

CpuKernels make_table() {
  CpuKernels t;
  t.level = CpuLevel::kAvx512;
  fill_common(t);
  auto set_dot = [&](GgmlType type, VecDotFn fn) { t.types[static_cast<int>(type)].vec_dot = fn; };
  set_dot(GgmlType::F32, rows_f<float, dot_f32_512>);
  set_dot(GgmlType::F16, rows_f<uint16_t, dot_f16_512>);
  set_dot(GgmlType::BF16, rows_f<uint16_t, dot_bf16_512>);
  set_dot(GgmlType::Q4_0, rows_q4_0_512);
  set_dot(GgmlType::Q8_0, rows_q8_0_512);
  set_dot(GgmlType::Q4_K, rows_q4_K_512);
  set_dot(GgmlType::Q6_K, rows_q6_K_512);
  t.dot_f32 = dot_f32_512;
  t.gemm_mr = kMr;
  t.gemm_nr = kNr;
  t.gemm = gemm;
  return t;
}

}  // namespace
}  // namespace avx512

const CpuKernels& avx512_kernels() {
  static const CpuKernels t = avx512::make_table();
  return t;
}

}  // namespace quarrel::cpu
