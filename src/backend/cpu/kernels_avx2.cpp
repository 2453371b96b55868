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

// GEMM micro-kernel: 6 weight rows (broadcast) x NV vectors of 8 columns (NV = 2: the full block
// of 16; NV = 1: blocks of at most 8 columns, same packing).
constexpr int kMr = 6, kNr = 16;

template <int NV>
void gemm(int64_t k, const float* w, int64_t ldw, int n_r, const float* xt, float* y, int64_t ldy, int n_c,
          bool accumulate) {
  __m256 c[kMr][NV];
#pragma GCC unroll 8
  for (int r = 0; r < kMr; ++r)
#pragma GCC unroll 2
    for (int v = 0; v < NV; ++v) c[r][v] = _mm256_setzero_ps();
  for (int64_t kk = 0; kk < k; ++kk) {
    __m256 x[NV];
#pragma GCC unroll 2
    for (int v = 0; v < NV; ++v) x[v] = _mm256_loadu_ps(xt + kk * kNr + 8 * v);
#pragma GCC unroll 8
    for (int r = 0; r < kMr; ++r) {
      const __m256 b = _mm256_broadcast_ss(w + r * ldw + kk);
#pragma GCC unroll 2
      for (int v = 0; v < NV; ++v) c[r][v] = _mm256_fmadd_ps(b, x[v], c[r][v]);
    }
  }
  alignas(32) float tmp[kMr][8 * NV];
#pragma GCC unroll 8
  for (int r = 0; r < kMr; ++r)
#pragma GCC unroll 2
    for (int v = 0; v < NV; ++v) _mm256_store_ps(tmp[r] + 8 * v, c[r][v]);
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
  t.gemm = gemm<2>;
  t.gemm_narrow = gemm<1>;
  t.gemm_narrow_nr = 8;
  return t;
}

}  // namespace
}  // namespace avx2

const CpuKernels& avx2_kernels() {
  static const CpuKernels t = avx2::make_table();
  return t;
}

}  // namespace quarrel::cpu
