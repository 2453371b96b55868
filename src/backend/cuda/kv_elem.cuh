#pragma once
// The element types of the paged KV cache as device helpers that the KV kernels are templated
// on: __half (F16) and __nv_fp8_e4m3 (F8_E4M3: scale 1.0, round to nearest even, saturating to
// +-448, as vLLM's default fp8 cache; core/fp8.h is the host reference). A store rounds the f32
// value once, straight to the element type; a load widens it exactly (e4m3 -> f16 is exact).
#include <cuda_fp16.h>
#include <cuda_fp8.h>

#include <cstdint>

#include "backend/cuda/cuda_check.h"
#include "backend/cuda/kernels.h"

namespace quarrel::cuda {

using KvF16 = __half;
using KvF8 = __nv_fp8_e4m3;
static_assert(sizeof(KvF8) == 1, "one byte per fp8 element");

__device__ __forceinline__ void kv_store(__half* p, float v) { *p = __float2half(v); }
__device__ __forceinline__ void kv_store(__nv_fp8_e4m3* p, float v) {
  p->__x = __nv_cvt_float_to_fp8(v, __NV_SATFINITE, __NV_E4M3);
}

// One RoPE rotation of the pair (x0, x1) by (cos c, sin s); rope_kv and attention_decode's fused
// path share it. Explicitly rounded products and sums (no FMA contraction, which the compiler
// would choose per call site), so both give the same bits.
__device__ __forceinline__ float2 rope_pair(float x0, float x1, float c, float s) {
  return make_float2(__fsub_rn(__fmul_rn(x0, c), __fmul_rn(x1, s)), __fadd_rn(__fmul_rn(x0, s), __fmul_rn(x1, c)));
}

__device__ __forceinline__ float kv_load(const __half* p) { return __half2float(*p); }
__device__ __forceinline__ float kv_load(const __nv_fp8_e4m3* p) {
  return __half2float(__half(__nv_cvt_fp8_to_halfraw(p->__x, __NV_E4M3)));
}

// v as the cache keeps it: what kv_store then kv_load give.
template <typename KV>
__device__ __forceinline__ float kv_round(float v) {
  KV e;
  kv_store(&e, v);
  return kv_load(&e);
}

// Two fp8 (the first in the low byte) -> the two halves of a half2 as b32 (the first low).
__device__ __forceinline__ uint32_t fp8x2_to_half2_bits(uint16_t x) {
  const __half2_raw h = __nv_cvt_fp8x2_to_halfraw2(static_cast<__nv_fp8x2_storage_t>(x), __NV_E4M3);
  return static_cast<uint32_t>(h.x) | (static_cast<uint32_t>(h.y) << 16);
}

// p[0], p[1] as f32; p 2-element aligned.
__device__ __forceinline__ float2 kv_load2(const __half* p) {
  return __half22float2(*reinterpret_cast<const __half2*>(p));
}
__device__ __forceinline__ float2 kv_load2(const __nv_fp8_e4m3* p) {
  const uint32_t b = fp8x2_to_half2_bits(*reinterpret_cast<const uint16_t*>(p));
  return __half22float2(*reinterpret_cast<const __half2*>(&b));
}

// p[0..8) as f32 with one load (16 bytes of f16, 8 bytes of fp8); p 8-element aligned.
__device__ __forceinline__ void kv_load8(const __half* p, float (&f)[8]) {
  const uint4 u = *reinterpret_cast<const uint4*>(p);
  const __half2* h2 = reinterpret_cast<const __half2*>(&u);
#pragma unroll
  for (int i = 0; i < 4; ++i) {
    const float2 t = __half22float2(h2[i]);
    f[2 * i] = t.x, f[2 * i + 1] = t.y;
  }
}
__device__ __forceinline__ void kv_load8(const __nv_fp8_e4m3* p, float (&f)[8]) {
  const uint2 u = *reinterpret_cast<const uint2*>(p);
#pragma unroll
  for (int i = 0; i < 4; ++i) {
    const uint16_t pair = static_cast<uint16_t>(((i < 2 ? u.x : u.y) >> (16 * (i & 1))) & 0xFFFFu);
    const uint32_t b = fp8x2_to_half2_bits(pair);
    const float2 t = __half22float2(*reinterpret_cast<const __half2*>(&b));
    f[2 * i] = t.x, f[2 * i + 1] = t.y;
  }
}

// Calls f(KvF16{}) or f(KvF8{}) (a value of the cache's element type, to template on) for the
// DevType of a KV cache (kDevF16, kDevF8E4M3); Error(kInternal) for any other.
template <typename F>
inline void with_kv_type(uint32_t kv_type, F&& f) {
  if (kv_type == kDevF16) {
    f(KvF16{});
  } else if (kv_type == kDevF8E4M3) {
    f(KvF8{});
  } else {
    ::quarrel::fail(::quarrel::ErrorCode::kInternal, "cuda: KV cache type {}", kv_type);
  }
}

}  // namespace quarrel::cuda
