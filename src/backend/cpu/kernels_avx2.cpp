// AVX2 + FMA + F16C kernels (compiled with -mavx2 -mfma -mf16c; only run when the CPU has them).
#include <immintrin.h>

#include <cmath>
#include <cstdint>
#include <cstring>

#include "backend/cpu/kernels.h"
#include "quant/blocks.h"

namespace quarrel::cpu {
namespace avx2 {
namespace {

#include "backend/cpu/simd_common.inc"
#include "backend/cpu/simd_quants.inc"
#include "backend/cpu/simd_dequant.inc"
#include "backend/cpu/simd_float.inc"

// GEMM micro-kernel: 6 weight rows (broadcast) x 16 columns (2 vectors), 12 accumulators.
constexpr int kMr = 6, kNr = 16;

void gemm(int64_t k, const float* w, int64_t ldw, int n_r, const float* xt, float* y, int64_t ldy, int n_c,
          bool accumulate) {
  __m256 c00 = _mm256_setzero_ps(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00, c30 = c00, c31 = c00,
         c40 = c00, c41 = c00, c50 = c00, c51 = c00;
  const float *w0 = w, *w1 = w + ldw, *w2 = w + 2 * ldw, *w3 = w + 3 * ldw, *w4 = w + 4 * ldw, *w5 = w + 5 * ldw;
  for (int64_t kk = 0; kk < k; ++kk) {
    const __m256 x0 = _mm256_loadu_ps(xt + kk * kNr), x1 = _mm256_loadu_ps(xt + kk * kNr + 8);
    __m256 b = _mm256_broadcast_ss(w0 + kk);
    c00 = _mm256_fmadd_ps(b, x0, c00);
    c01 = _mm256_fmadd_ps(b, x1, c01);
    b = _mm256_broadcast_ss(w1 + kk);
    c10 = _mm256_fmadd_ps(b, x0, c10);
    c11 = _mm256_fmadd_ps(b, x1, c11);
    b = _mm256_broadcast_ss(w2 + kk);
    c20 = _mm256_fmadd_ps(b, x0, c20);
    c21 = _mm256_fmadd_ps(b, x1, c21);
    b = _mm256_broadcast_ss(w3 + kk);
    c30 = _mm256_fmadd_ps(b, x0, c30);
    c31 = _mm256_fmadd_ps(b, x1, c31);
    b = _mm256_broadcast_ss(w4 + kk);
    c40 = _mm256_fmadd_ps(b, x0, c40);
    c41 = _mm256_fmadd_ps(b, x1, c41);
    b = _mm256_broadcast_ss(w5 + kk);
    c50 = _mm256_fmadd_ps(b, x0, c50);
    c51 = _mm256_fmadd_ps(b, x1, c51);
  }
  alignas(32) float tmp[kMr][kNr];
  _mm256_store_ps(tmp[0], c00);
  _mm256_store_ps(tmp[0] + 8, c01);
  _mm256_store_ps(tmp[1], c10);
  _mm256_store_ps(tmp[1] + 8, c11);
  _mm256_store_ps(tmp[2], c20);
  _mm256_store_ps(tmp[2] + 8, c21);
  _mm256_store_ps(tmp[3], c30);
  _mm256_store_ps(tmp[3] + 8, c31);
  _mm256_store_ps(tmp[4], c40);
  _mm256_store_ps(tmp[4] + 8, c41);
  _mm256_store_ps(tmp[5], c50);
  _mm256_store_ps(tmp[5] + 8, c51);
  for (int j = 0; j < n_c; ++j) {
    float* dst = y + j * ldy;
    if (accumulate)
      for (int r = 0; r < n_r; ++r) dst[r] += tmp[r][j];
    else
      for (int r = 0; r < n_r; ++r) dst[r] = tmp[r][j];
  }
}

CpuKernels make_table() {
  CpuKernels t;
  t.level = CpuLevel::kAvx2;
  fill_common(t);
  t.gemm_mr = kMr;
  t.gemm_nr = kNr;
  t.gemm = gemm;
  return t;
}

}  // namespace
}  // namespace avx2

const CpuKernels& avx2_kernels() {
  static const CpuKernels t = avx2::make_table();
  return t;
}

}  // namespace quarrel::cpu
