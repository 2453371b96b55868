// AVX-512 kernels (F/BW/VL/DQ/VNNI; only run when the CPU has them). The AVX2-form code is
// compiled here again (so it uses VNNI dot products and EVEX encodings); the GEMM micro-kernel,
// the float dot products and the F16 KV loops have 512-bit versions below, and every quantized
// dot product has one in quants_avx512.cpp.
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

void fill_quant_dots(CpuKernels& t);  // quants_avx512.cpp

namespace {

#include "backend/cpu/simd_common.inc"
#include "backend/cpu/simd_quants.inc"
#include "backend/cpu/simd_dequant.inc"
#include "backend/cpu/simd_float.inc"

// ---- GEMM micro-kernel: kMr weight rows (broadcast) x kNr columns -----------------------------

constexpr int kMr = 12, kNr = 32;

// NV vectors of 16 columns (NV = 2: the full block; NV = 1: blocks of at most 16 columns, same
// packing).
template <int NV>
void gemm(int64_t k, const float* w, int64_t ldw, int n_r, const float* xt, float* y, int64_t ldy, int n_c,
          bool accumulate) {
  __m512 c[kMr][NV];
#pragma GCC unroll 16
  for (int r = 0; r < kMr; ++r)
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) c[r][v] = _mm512_setzero_ps();
  for (int64_t kk = 0; kk < k; ++kk) {
    __m512 x[NV];
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) x[v] = _mm512_loadu_ps(xt + kk * kNr + 16 * v);
#pragma GCC unroll 16
    for (int r = 0; r < kMr; ++r) {
      const __m512 b = _mm512_set1_ps(w[r * ldw + kk]);
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v) c[r][v] = _mm512_fmadd_ps(b, x[v], c[r][v]);
    }
  }
  alignas(64) float tmp[kMr][16 * NV];
#pragma GCC unroll 16
  for (int r = 0; r < kMr; ++r)
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) _mm512_store_ps(tmp[r] + 16 * v, c[r][v]);
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

// ---- F16 KV rows (attention inner loops), 16 lanes -------------------------------------------

void kv_dot_f16_512(const void* k, size_t rb, int64_t n, int hd, const float* q, float* s) {
  if (hd % 16 != 0) return kv_dot_f16(k, rb, n, hd, q, s);
  const auto* base = static_cast<const uint8_t*>(k);
  int64_t t = 0;
  for (; t + 1 < n; t += 2) {  // two rows at a time: two independent chains
    const auto* r0 = reinterpret_cast<const uint16_t*>(base + rb * t);
    const auto* r1 = reinterpret_cast<const uint16_t*>(base + rb * (t + 1));
    __m512 a0 = _mm512_setzero_ps(), a1 = _mm512_setzero_ps();
    for (int d = 0; d < hd; d += 16) {
      const __m512 qv = _mm512_loadu_ps(q + d);
      a0 = _mm512_fmadd_ps(load_f16x16(r0 + d), qv, a0);
      a1 = _mm512_fmadd_ps(load_f16x16(r1 + d), qv, a1);
    }
    s[t] = _mm512_reduce_add_ps(a0);
    s[t + 1] = _mm512_reduce_add_ps(a1);
  }
  for (; t < n; ++t) {
    const auto* r0 = reinterpret_cast<const uint16_t*>(base + rb * t);
    __m512 a0 = _mm512_setzero_ps();
    for (int d = 0; d < hd; d += 16) a0 = _mm512_fmadd_ps(load_f16x16(r0 + d), _mm512_loadu_ps(q + d), a0);
    s[t] = _mm512_reduce_add_ps(a0);
  }
}

void kv_axpy_f16_512(const void* v, size_t rb, int64_t n, int hd, const float* p, float* acc) {
  if (hd % 16 != 0 || hd > 256) return kv_axpy_f16(v, rb, n, hd, p, acc);
  const auto* base = static_cast<const uint8_t*>(v);
  __m512 a[16];
  const int nv = hd / 16;
  for (int j = 0; j < nv; ++j) a[j] = _mm512_loadu_ps(acc + 16 * j);
  for (int64_t t = 0; t < n; ++t) {
    const auto* row = reinterpret_cast<const uint16_t*>(base + rb * t);
    const __m512 pt = _mm512_set1_ps(p[t]);
    for (int j = 0; j < nv; ++j) a[j] = _mm512_fmadd_ps(pt, load_f16x16(row + 16 * j), a[j]);
  }
  for (int j = 0; j < nv; ++j) _mm512_storeu_ps(acc + 16 * j, a[j]);
}

CpuKernels make_table() {
  CpuKernels t;
  t.level = CpuLevel::kAvx512;
  fill_common(t);
  auto set_dot = [&](GgmlType type, VecDotFn fn) { t.types[static_cast<int>(type)].vec_dot = fn; };
  set_dot(GgmlType::F32, rows_f<float, dot_f32_512>);
  set_dot(GgmlType::F16, rows_f<uint16_t, dot_f16_512>);
  set_dot(GgmlType::BF16, rows_f<uint16_t, dot_bf16_512>);
  fill_quant_dots(t);
  t.dot_f32 = dot_f32_512;
  t.kv_f16.dot = kv_dot_f16_512;
  t.kv_f16.axpy = kv_axpy_f16_512;
  t.gemm_mr = kMr;
  t.gemm_nr = kNr;
  t.gemm = gemm<2>;
  t.gemm_narrow = gemm<1>;
  t.gemm_narrow_nr = 16;
  return t;
}

}  // namespace
}  // namespace avx512

const CpuKernels& avx512_kernels() {
  static const CpuKernels t = avx512::make_table();
  return t;
}

}  // namespace quarrel::cpu
