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

static inline __m512 load_bf16x16(const uint16_t* p) {
  const __m512i w = _mm512_cvtepu16_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
  return _mm512_castsi512_ps(_mm512_slli_epi32(w, 16));
}

// ---- float weights: 4 rows at a time (each activation vector loaded once for 4 rows) -------

struct LoadF32 {
  using T = float;
  static __m512 full(const float* p) { return _mm512_loadu_ps(p); }
  static __m512 part(const float* p, __mmask16 m) { return _mm512_maskz_loadu_ps(m, p); }
};
struct LoadF16 {
  using T = uint16_t;
  static __m512 full(const uint16_t* p) { return load_f16x16(p); }
  static __m512 part(const uint16_t* p, __mmask16 m) { return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, p)); }
};
struct LoadBF16 {
  using T = uint16_t;
  static __m512 full(const uint16_t* p) { return load_bf16x16(p); }
  static __m512 part(const uint16_t* p, __mmask16 m) {
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(_mm256_maskz_loadu_epi16(m, p)), 16));
  }
};

template <typename L>
void rows_float_512(int64_t k, const void* w, size_t rb, int64_t n_rows, const void* xv, float* out) {
  using T = typename L::T;
  const auto* x = static_cast<const float*>(xv);
  const auto* base = static_cast<const uint8_t*>(w);
  auto row = [&](int64_t r) { return reinterpret_cast<const T*>(base + rb * static_cast<size_t>(r)); };
  const __mmask16 tail = tail_mask(k % 16);
  const int64_t kf = k - k % 16;
  int64_t r = 0;
  for (; r + 4 <= n_rows; r += 4) {
    const T *w0 = row(r), *w1 = row(r + 1), *w2 = row(r + 2), *w3 = row(r + 3);
    __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0, b0 = a0, b1 = a0, b2 = a0, b3 = a0;
    int64_t i = 0;
    for (; i + 32 <= kf; i += 32) {
      const __m512 x0 = _mm512_loadu_ps(x + i), x1 = _mm512_loadu_ps(x + i + 16);
      a0 = _mm512_fmadd_ps(L::full(w0 + i), x0, a0);
      a1 = _mm512_fmadd_ps(L::full(w1 + i), x0, a1);
      a2 = _mm512_fmadd_ps(L::full(w2 + i), x0, a2);
      a3 = _mm512_fmadd_ps(L::full(w3 + i), x0, a3);
      b0 = _mm512_fmadd_ps(L::full(w0 + i + 16), x1, b0);
      b1 = _mm512_fmadd_ps(L::full(w1 + i + 16), x1, b1);
      b2 = _mm512_fmadd_ps(L::full(w2 + i + 16), x1, b2);
      b3 = _mm512_fmadd_ps(L::full(w3 + i + 16), x1, b3);
    }
    for (; i < kf; i += 16) {
      const __m512 x0 = _mm512_loadu_ps(x + i);
      a0 = _mm512_fmadd_ps(L::full(w0 + i), x0, a0);
      a1 = _mm512_fmadd_ps(L::full(w1 + i), x0, a1);
      a2 = _mm512_fmadd_ps(L::full(w2 + i), x0, a2);
      a3 = _mm512_fmadd_ps(L::full(w3 + i), x0, a3);
    }
    if (tail) {
      const __m512 x0 = _mm512_maskz_loadu_ps(tail, x + kf);
      b0 = _mm512_fmadd_ps(L::part(w0 + kf, tail), x0, b0);
      b1 = _mm512_fmadd_ps(L::part(w1 + kf, tail), x0, b1);
      b2 = _mm512_fmadd_ps(L::part(w2 + kf, tail), x0, b2);
      b3 = _mm512_fmadd_ps(L::part(w3 + kf, tail), x0, b3);
    }
    out[r] = _mm512_reduce_add_ps(_mm512_add_ps(a0, b0));
    out[r + 1] = _mm512_reduce_add_ps(_mm512_add_ps(a1, b1));
    out[r + 2] = _mm512_reduce_add_ps(_mm512_add_ps(a2, b2));
    out[r + 3] = _mm512_reduce_add_ps(_mm512_add_ps(a3, b3));
  }
  for (; r < n_rows; ++r) {
    const T* w0 = row(r);
    __m512 a0 = _mm512_setzero_ps(), b0 = a0;
    int64_t i = 0;
    for (; i + 32 <= kf; i += 32) {
      a0 = _mm512_fmadd_ps(L::full(w0 + i), _mm512_loadu_ps(x + i), a0);
      b0 = _mm512_fmadd_ps(L::full(w0 + i + 16), _mm512_loadu_ps(x + i + 16), b0);
    }
    for (; i < kf; i += 16) a0 = _mm512_fmadd_ps(L::full(w0 + i), _mm512_loadu_ps(x + i), a0);
    if (tail) b0 = _mm512_fmadd_ps(L::part(w0 + kf, tail), _mm512_maskz_loadu_ps(tail, x + kf), b0);
    out[r] = _mm512_reduce_add_ps(_mm512_add_ps(a0, b0));
  }
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
  set_dot(GgmlType::F32, rows_float_512<LoadF32>);
  set_dot(GgmlType::F16, rows_float_512<LoadF16>);
  set_dot(GgmlType::BF16, rows_float_512<LoadBF16>);
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
