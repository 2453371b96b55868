// Element-wise ops: residual add, bias add, scale and soft-cap, SwiGLU / GeGLU, row gather, a copy
// of words.
#include "backend/cuda/cuda_check.h"
#include "backend/cuda/glu_act.cuh"
#include "backend/cuda/kernels.h"
#include "backend/cuda/launch.cuh"
#include "backend/cuda/q8_act.cuh"

namespace quarrel::cuda {
namespace {

unsigned grid(int64_t n) { return static_cast<unsigned>((n + 255) / 256); }
__device__ __forceinline__ int64_t gid() { return static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; }

__global__ void add_kernel(const float* a, const float* b, float* y, int64_t n) {
  const int64_t i = gid();
  if (i < n) y[i] = a[i] + b[i];
}
__global__ void add_bias_kernel(float* x, const float* bias, int64_t n, int64_t total) {
  pdl_trigger();
  pdl_wait();
  const int64_t i = gid();
  if (i < total) x[i] += bias[i % n];
}
__global__ void scale_softcap_kernel(float* x, int64_t n, float mul, float cap) {
  pdl_trigger();
  pdl_wait();
  const int64_t i = gid();
  if (i < n) x[i] = cap > 0.0f ? cap * tanhf(x[i] * mul / cap) : x[i] * mul;
}
__global__ void glu_kernel(const float* g, const float* u, float* y, int64_t n, GluAct act) {
  pdl_trigger();
  pdl_wait();
  const int64_t i = gid();
  if (i < n) y[i] = glu_gate(g[i], act) * u[i];
}
// One warp per 32 outputs (n % 32 == 0): row = gid / n.
__global__ void glu_q8_kernel(const float* g, const float* u, float* y, int64_t n, int64_t total, GluAct act, Q8Act q8) {
  pdl_trigger();
  pdl_wait();
  const int64_t i = gid();
  if (i - (threadIdx.x & 31) >= total) return;  // whole warps leave together
  const float o = glu_gate(g[i], act) * u[i];
  y[i] = o;
  quantize_chunk_warp(o, q8, i / n, (i % n) / 32);
}
__global__ void gather_kernel(const float* src, const int32_t* rows, float* dst, int64_t n, int64_t total) {
  pdl_trigger();
  pdl_wait();
  const int64_t i = gid();
  if (i < total) dst[i] = src[static_cast<int64_t>(rows[i / n]) * n + i % n];
}

template <typename W>
__global__ void copy_words_kernel(const W* src, W* dst, int64_t n) {
  pdl_trigger();
  pdl_wait();  // the kernels before may still read dst
  const int64_t i = gid();
  if (i < n) dst[i] = src[i];
}

}  // namespace

void add(const float* a, const float* b, float* y, int64_t n, cudaStream_t s) {
  if (n == 0) return;
  add_kernel<<<grid(n), 256, 0, s>>>(a, b, y, n);
  QUARREL_CUDA_CHECK_LAUNCH();
}
void add_bias(float* x, const float* bias, int64_t n, int64_t rows, cudaStream_t s) {
  if (n * rows == 0) return;
  launch(add_bias_kernel, grid(n * rows), 256, 0, s, x, bias, n, n * rows);
  QUARREL_CUDA_CHECK_LAUNCH();
}
void scale_softcap(float* x, int64_t n, float mul, float cap, cudaStream_t s) {
  if (n == 0) return;
  launch(scale_softcap_kernel, grid(n), 256, 0, s, x, n, mul, cap);
  QUARREL_CUDA_CHECK_LAUNCH();
}
void glu(const float* gate, const float* up, float* y, int64_t n, GluAct act, cudaStream_t s) {
  if (n == 0) return;
  launch(glu_kernel, grid(n), 256, 0, s, gate, up, y, n, act);
  QUARREL_CUDA_CHECK_LAUNCH();
}
void glu_q8(const float* gate, const float* up, float* y, int64_t n, int64_t rows, GluAct act, const Q8Act& q8,
            cudaStream_t s) {
  if (n % 32 != 0) ::quarrel::fail(::quarrel::ErrorCode::kInternal, "glu_q8: rows of {}", n);
  if (n * rows == 0) return;
  launch(glu_q8_kernel, grid(n * rows), 256, 0, s, gate, up, y, n, n * rows, act, q8);
  QUARREL_CUDA_CHECK_LAUNCH();
}
void copy_words(const void* src, void* dst, size_t bytes, cudaStream_t s) {
  const auto a = reinterpret_cast<uintptr_t>(src), b = reinterpret_cast<uintptr_t>(dst);
  if (bytes % 4 != 0 || a % 4 != 0 || b % 4 != 0) {
    ::quarrel::fail(::quarrel::ErrorCode::kInternal, "copy_words: {} bytes, not whole aligned 4-byte words", bytes);
  }
  if (bytes == 0) return;
  if (bytes % 16 == 0 && a % 16 == 0 && b % 16 == 0) {
    const auto n = static_cast<int64_t>(bytes / 16);
    launch(copy_words_kernel<uint4>, grid(n), 256, 0, s, static_cast<const uint4*>(src), static_cast<uint4*>(dst), n);
  } else {
    const auto n = static_cast<int64_t>(bytes / 4);
    launch(copy_words_kernel<uint32_t>, grid(n), 256, 0, s, static_cast<const uint32_t*>(src), static_cast<uint32_t*>(dst), n);
  }
  QUARREL_CUDA_CHECK_LAUNCH();
}
void gather_rows(const float* src, const int32_t* rows, float* dst, int64_t n, int64_t n_rows, cudaStream_t s) {
  if (n * n_rows == 0) return;
  launch(gather_kernel, grid(n * n_rows), 256, 0, s, src, rows, dst, n, n * n_rows);
  QUARREL_CUDA_CHECK_LAUNCH();
}

}  // namespace quarrel::cuda
