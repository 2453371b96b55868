// RMSNorm: one block per row, f32 sum of squares reduced over the block; optionally the result
// is also quantized for the integer matvec (kernels.h's Q8Act). add_residual: the same norm
// (when a block's output has one) added, scaled, into the residual stream.
// Rows of n = 128 m <= 4096 (every decode shape) take the register path: each thread holds four
// consecutive elements (one float4), so x is read once, the weights' load is issued before the
// reduction, and a chunk of 32 is eight lanes' float4s (quantized with 8-lane shuffles).
#include <initializer_list>

#include "backend/cuda/cuda_check.h"
#include "backend/cuda/kernels.h"
#include "backend/cuda/launch.cuh"
#include "backend/cuda/q8_act.cuh"
#include "backend/cuda/reduce.cuh"

namespace quarrel::cuda {
namespace {

template <bool kQ8>
__global__ void rms_norm_kernel(const float* x, const float* w, float* y, int64_t n, float eps, Q8Act q8) {
  pdl_trigger();
  pdl_wait();
  const float* xr = x + static_cast<int64_t>(blockIdx.x) * n;
  float* yr = y + static_cast<int64_t>(blockIdx.x) * n;
  float ss = 0.0f;
  for (int64_t i = threadIdx.x; i < n; i += blockDim.x) ss += xr[i] * xr[i];
  ss = block_sum(ss);
  const float inv = rsqrtf(ss / static_cast<float>(n) + eps);
  for (int64_t i = threadIdx.x; i < n; i += blockDim.x) {  // n % 32 == 0 with kQ8: whole warps
    const float v = xr[i] * inv * (w ? w[i] : 1.0f);
    yr[i] = v;
    if constexpr (kQ8) quantize_chunk_warp(v, q8, blockIdx.x, i / 32);
  }
}

// Thread t's four elements [4t, 4t + 4) of column col, quantized: a chunk of 32 is the float4s of
// lanes 8c .. 8c + 7 of a warp (8-lane shuffles).
__device__ __forceinline__ void quantize_vec4(float4 o, const Q8Act& q8, int64_t col, int t) {
  float amax = fmaxf(fmaxf(fabsf(o.x), fabsf(o.y)), fmaxf(fabsf(o.z), fabsf(o.w)));
#pragma unroll
  for (int off = 4; off > 0; off >>= 1) amax = fmaxf(amax, __shfl_xor_sync(0xffffffffu, amax, off));
  const float d = amax / 127.0f;
  const int q0 = amax > 0.0f ? __float2int_rn(o.x / d) : 0, q1 = amax > 0.0f ? __float2int_rn(o.y / d) : 0;
  const int q2 = amax > 0.0f ? __float2int_rn(o.z / d) : 0, q3 = amax > 0.0f ? __float2int_rn(o.w / d) : 0;
  int sum = q0 + q1 + q2 + q3;
#pragma unroll
  for (int off = 4; off > 0; off >>= 1) sum += __shfl_xor_sync(0xffffffffu, sum, off);
  reinterpret_cast<uint32_t*>(q8.q + col * q8.ldq)[t] =
      (q0 & 0xFF) | ((q1 & 0xFF) << 8) | ((q2 & 0xFF) << 16) | (static_cast<uint32_t>(q3 & 0xFF) << 24);
  if ((t & 7) == 0) q8.ds[col * (q8.ldq / 32) + t / 8] = make_float2(d, d * static_cast<float>(sum));
}

__device__ __forceinline__ float4 load4(const float* p, int t) { return reinterpret_cast<const float4*>(p)[t]; }
__device__ __forceinline__ float4 load4_or_ones(const float* p, int t) {
  return p ? load4(p, t) : make_float4(1.0f, 1.0f, 1.0f, 1.0f);
}
__device__ __forceinline__ float sum_sq(float4 v) { return v.x * v.x + v.y * v.y + v.z * v.z + v.w * v.w; }
// v * s * w, element by element.
__device__ __forceinline__ float4 scaled(float4 v, float s, float4 w) {
  return make_float4(v.x * s * w.x, v.y * s * w.y, v.z * s * w.z, v.w * s * w.w);
}

// blockDim.x = n / 4: thread t holds elements [4t, 4t + 4).
template <bool kQ8>
__global__ void rms_norm_vec4_kernel(const float* x, const float* w, float* y, int64_t n, float eps, Q8Act q8) {
  pdl_trigger();
  const int t = threadIdx.x;
  const float4 wv = load4_or_ones(w, t);
  pdl_wait();
  const float4 v = load4(x + static_cast<int64_t>(blockIdx.x) * n, t);
  const float inv = rsqrtf(block_sum(sum_sq(v)) / static_cast<float>(n) + eps);
  const float4 o = scaled(v, inv, wv);
  reinterpret_cast<float4*>(y + static_cast<int64_t>(blockIdx.x) * n)[t] = o;
  if constexpr (kQ8) quantize_vec4(o, q8, blockIdx.x, t);
}

// add_residual_kernel's work with rows held as float4s (blockDim.x = n / 4), the weights loaded
// before the wait.
template <bool kQ8>
__global__ void add_residual_vec4_kernel(float* x, const float* t, const float* w, int64_t n, float eps, float scale,
                                         const float* norm_w, float* y, Q8Act q8) {
  pdl_trigger();
  const int i = threadIdx.x;
  const float4 wv = load4_or_ones(w, i), nw = load4_or_ones(norm_w, i);
  pdl_wait();
  const int64_t off = static_cast<int64_t>(blockIdx.x) * n;
  const float4 tv = load4(t + off, i), xv = load4(x + off, i);
  const float mul = w ? scale * rsqrtf(block_sum(sum_sq(tv)) / static_cast<float>(n) + eps) : scale;
  const float4 a = scaled(tv, mul, wv);
  const float4 v = make_float4(xv.x + a.x, xv.y + a.y, xv.z + a.z, xv.w + a.w);
  reinterpret_cast<float4*>(x + off)[i] = v;
  if (!y) return;
  const float4 o = scaled(v, rsqrtf(block_sum(sum_sq(v)) / static_cast<float>(n) + eps), nw);
  reinterpret_cast<float4*>(y + off)[i] = o;
  if constexpr (kQ8) quantize_vec4(o, q8, blockIdx.x, i);
}

// Blocks [0, n_q_rows) norm rows of q with q_w, the rest rows of k with k_w.
__global__ void rms_norm_qk_kernel(float* q, const float* q_w, int64_t n_q_rows, float* k, const float* k_w, int64_t n,
                                   float eps) {
  pdl_trigger();
  pdl_wait();
  const bool is_q = blockIdx.x < n_q_rows;
  float* r = is_q ? q + static_cast<int64_t>(blockIdx.x) * n : k + (static_cast<int64_t>(blockIdx.x) - n_q_rows) * n;
  const float* w = is_q ? q_w : k_w;
  float ss = 0.0f;
  for (int64_t i = threadIdx.x; i < n; i += blockDim.x) ss += r[i] * r[i];
  const float inv = rsqrtf(block_sum(ss) / static_cast<float>(n) + eps);
  for (int64_t i = threadIdx.x; i < n; i += blockDim.x) r[i] = r[i] * inv * w[i];
}

// One block per row: x += scale * (w ? t / rms(t) * w : t); with y, y = x / rms(x) * norm_w
// (kQ8: also quantized; n % 32 == 0, so the loops run whole warps).
template <bool kQ8>
__global__ void add_residual_kernel(float* x, const float* t, const float* w, int64_t n, float eps, float scale,
                                    const float* norm_w, float* y, Q8Act q8) {
  pdl_trigger();
  pdl_wait();
  float* xr = x + static_cast<int64_t>(blockIdx.x) * n;
  const float* tr = t + static_cast<int64_t>(blockIdx.x) * n;
  float mul = scale;
  if (w) {
    float ss = 0.0f;
    for (int64_t i = threadIdx.x; i < n; i += blockDim.x) ss += tr[i] * tr[i];
    mul *= rsqrtf(block_sum(ss) / static_cast<float>(n) + eps);
  }
  float ss = 0.0f;
  for (int64_t i = threadIdx.x; i < n; i += blockDim.x) {
    const float v = xr[i] + tr[i] * mul * (w ? w[i] : 1.0f);
    xr[i] = v;
    ss += v * v;
  }
  if (!y) return;
  const float inv = rsqrtf(block_sum(ss) / static_cast<float>(n) + eps);
  float* yr = y + static_cast<int64_t>(blockIdx.x) * n;
  for (int64_t i = threadIdx.x; i < n; i += blockDim.x) {  // this thread's own x elements: no barrier needed
    const float v = xr[i] * inv * (norm_w ? norm_w[i] : 1.0f);
    yr[i] = v;
    if constexpr (kQ8) quantize_chunk_warp(v, q8, blockIdx.x, i / 32);
  }
}

int threads_for(int64_t n) { return n >= 1024 ? 1024 : (n >= 256 ? 256 : 32); }
// Whether rows of n take the float4 kernels (n / 4 threads, every pointer 16-byte aligned).
bool vec4_rows(int64_t n, std::initializer_list<const void*> ptrs) {
  if (n % 128 != 0 || n > 4096) return false;
  for (const void* p : ptrs) {
    if ((reinterpret_cast<uintptr_t>(p) & 15) != 0) return false;
  }
  return true;
}

}  // namespace

void rms_norm_qk(float* q, const float* q_w, int64_t n_q_rows, float* k, const float* k_w, int64_t n_k_rows, int64_t n,
                 float eps, cudaStream_t s) {
  if (n_q_rows + n_k_rows == 0) return;
  launch(rms_norm_qk_kernel, static_cast<unsigned>(n_q_rows + n_k_rows), threads_for(n), 0, s, q, q_w, n_q_rows, k, k_w,
         n, eps);
  QUARREL_CUDA_CHECK_LAUNCH();
}

void add_residual(float* x, const float* t, const float* post_norm_w, int64_t n, int64_t rows, float eps, float scale,
                  cudaStream_t s, const NextNorm& next) {
  if (rows == 0) return;
  if (next.q8 && n % 32 != 0) ::quarrel::fail(::quarrel::ErrorCode::kInternal, "add_residual: q8 output of rows of {}", n);
  const auto grid = static_cast<unsigned>(rows);
  const float mul = scale > 0.0f ? scale : 1.0f;
  const Q8Act q8 = next.q8 ? *next.q8 : Q8Act{};
  if (vec4_rows(n, {x, t, post_norm_w, next.w, next.y})) {
    const auto threads = static_cast<unsigned>(n / 4);
    launch(next.q8 ? add_residual_vec4_kernel<true> : add_residual_vec4_kernel<false>, grid, threads, 0, s, x, t,
           post_norm_w, n, eps, mul, next.w, next.y, q8);
  } else {
    launch(next.q8 ? add_residual_kernel<true> : add_residual_kernel<false>, grid, threads_for(n), 0, s, x, t,
           post_norm_w, n, eps, mul, next.w, next.y, q8);
  }
  QUARREL_CUDA_CHECK_LAUNCH();
}

void rms_norm(const float* x, const float* w, float* y, int64_t n, int64_t rows, float eps, cudaStream_t s,
              const Q8Act* q8) {
  if (rows == 0) return;
  if (q8 && n % 32 != 0) ::quarrel::fail(::quarrel::ErrorCode::kInternal, "rms_norm: q8 output of rows of {}", n);
  const bool vec4 = vec4_rows(n, {x, y, w});
  const auto grid = static_cast<unsigned>(rows);
  if (vec4) {
    const auto threads = static_cast<unsigned>(n / 4);
    if (q8) {
      launch(rms_norm_vec4_kernel<true>, grid, threads, 0, s, x, w, y, n, eps, *q8);
    } else {
      launch(rms_norm_vec4_kernel<false>, grid, threads, 0, s, x, w, y, n, eps, Q8Act{});
    }
  } else {
    const int threads = threads_for(n);
    if (q8) {
      launch(rms_norm_kernel<true>, grid, threads, 0, s, x, w, y, n, eps, *q8);
    } else {
      launch(rms_norm_kernel<false>, grid, threads, 0, s, x, w, y, n, eps, Q8Act{});
    }
  }
  QUARREL_CUDA_CHECK_LAUNCH();
}

}  // namespace quarrel::cuda
