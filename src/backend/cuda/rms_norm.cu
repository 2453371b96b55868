// RMSNorm: one block per row, f32 sum of squares reduced over the block; optionally the result
// is also quantized for the integer matvec (kernels.h's Q8Act). add_residual: the same norm
// (when a block's output has one) added, scaled, into the residual stream.
// Rows of n = 128 m <= 4096 (every decode shape) take the register path: each thread holds four
// consecutive elements (one float4), so x is read once, the weights' load is issued before the
// reduction, and a chunk of 32 is eight lanes' float4s (quantized with 8-lane shuffles).
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

// blockDim.x = n / 4: thread t holds elements [4t, 4t + 4).
template <bool kQ8>
__global__ void rms_norm_vec4_kernel(const float* x, const float* w, float* y, int64_t n, float eps, Q8Act q8) {
  pdl_trigger();
  const int t = threadIdx.x;
  const float4 wv = w ? reinterpret_cast<const float4*>(w)[t] : make_float4(1.0f, 1.0f, 1.0f, 1.0f);
  pdl_wait();
  const float4 v = reinterpret_cast<const float4*>(x + static_cast<int64_t>(blockIdx.x) * n)[t];
  const float inv = rsqrtf(block_sum(v.x * v.x + v.y * v.y + v.z * v.z + v.w * v.w) / static_cast<float>(n) + eps);
  const float4 o = make_float4(v.x * inv * wv.x, v.y * inv * wv.y, v.z * inv * wv.z, v.w * inv * wv.w);
  reinterpret_cast<float4*>(y + static_cast<int64_t>(blockIdx.x) * n)[t] = o;
  if constexpr (kQ8) {  // chunk t / 8 of this row: lanes 8c .. 8c + 7 of the warp
    float amax = fmaxf(fmaxf(fabsf(o.x), fabsf(o.y)), fmaxf(fabsf(o.z), fabsf(o.w)));
#pragma unroll
    for (int off = 4; off > 0; off >>= 1) amax = fmaxf(amax, __shfl_xor_sync(0xffffffffu, amax, off));
    const float d = amax / 127.0f;
    const int q0 = amax > 0.0f ? __float2int_rn(o.x / d) : 0, q1 = amax > 0.0f ? __float2int_rn(o.y / d) : 0;
    const int q2 = amax > 0.0f ? __float2int_rn(o.z / d) : 0, q3 = amax > 0.0f ? __float2int_rn(o.w / d) : 0;
    int sum = q0 + q1 + q2 + q3;
#pragma unroll
    for (int off = 4; off > 0; off >>= 1) sum += __shfl_xor_sync(0xffffffffu, sum, off);
    const int64_t col = blockIdx.x;
    reinterpret_cast<uint32_t*>(q8.q + col * q8.ldq)[t] =
        (q0 & 0xFF) | ((q1 & 0xFF) << 8) | ((q2 & 0xFF) << 16) | (static_cast<uint32_t>(q3 & 0xFF) << 24);
    if ((t & 7) == 0) q8.ds[col * (q8.ldq / 32) + t / 8] = make_float2(d, d * static_cast<float>(sum));
  }
}

// One block per row: x += scale * (w ? t / rms(t) * w : t).
__global__ void add_residual_kernel(float* x, const float* t, const float* w, int64_t n, float eps, float scale) {
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
  for (int64_t i = threadIdx.x; i < n; i += blockDim.x) xr[i] += tr[i] * mul * (w ? w[i] : 1.0f);
}

}  // namespace

void add_residual(float* x, const float* t, const float* post_norm_w, int64_t n, int64_t rows, float eps, float scale,
                  cudaStream_t s) {
  if (rows == 0) return;
  const int threads = n >= 1024 ? 1024 : (n >= 256 ? 256 : 32);
  launch(add_residual_kernel, static_cast<unsigned>(rows), threads, 0, s, x, t, post_norm_w, n, eps,
         scale > 0.0f ? scale : 1.0f);
  QUARREL_CUDA_CHECK_LAUNCH();
}

void rms_norm(const float* x, const float* w, float* y, int64_t n, int64_t rows, float eps, cudaStream_t s,
              const Q8Act* q8) {
  if (rows == 0) return;
  if (q8 && n % 32 != 0) ::quarrel::fail(::quarrel::ErrorCode::kInternal, "rms_norm: q8 output of rows of {}", n);
  const bool vec4 = n % 128 == 0 && n <= 4096 && (reinterpret_cast<uintptr_t>(x) & 15) == 0 &&
                    (reinterpret_cast<uintptr_t>(y) & 15) == 0 && (reinterpret_cast<uintptr_t>(w) & 15) == 0;
  const auto grid = static_cast<unsigned>(rows);
  if (vec4) {
    const auto threads = static_cast<unsigned>(n / 4);
    if (q8) {
      launch(rms_norm_vec4_kernel<true>, grid, threads, 0, s, x, w, y, n, eps, *q8);
    } else {
      launch(rms_norm_vec4_kernel<false>, grid, threads, 0, s, x, w, y, n, eps, Q8Act{});
    }
  } else {
    const int threads = n >= 1024 ? 1024 : (n >= 256 ? 256 : 32);
    if (q8) {
      launch(rms_norm_kernel<true>, grid, threads, 0, s, x, w, y, n, eps, *q8);
    } else {
      launch(rms_norm_kernel<false>, grid, threads, 0, s, x, w, y, n, eps, Q8Act{});
    }
  }
  QUARREL_CUDA_CHECK_LAUNCH();
}

}  // namespace quarrel::cuda
