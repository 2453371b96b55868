#pragma once
// Device-side decoding of weight blocks, 32 elements at a time ("chunks"): chunk c of a row
// holds elements [32c, 32c + 32). Quantized types have k % 32 == 0 (their block sizes are
// multiples of 32); float types may end in a partial chunk (elements past k read as 0).
// Block layouts are ggml's (src/quant/blocks.h); Q4_0, Q8_0, Q4_K, Q5_K, Q6_K and IQ4_XS rows are
// split on the device (device_rows.h).
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cstdint>

#include "backend/cuda/device_rows.h"
#include "backend/cuda/iq4_lookup.cuh"
#include "backend/cuda/kernels.h"

namespace quarrel::cuda {

__device__ __forceinline__ float f16_bits_to_float(uint16_t h) { return __half2float(__ushort_as_half(h)); }
__device__ __forceinline__ uint16_t load_u16(const uint8_t* p) { return *reinterpret_cast<const uint16_t*>(p); }

// Q4_K / Q5_K 6-bit scale and min of sub-block j (0..7) from the 12 packed bytes.
__device__ __forceinline__ void k_scale_min(int j, const uint8_t* q, int& sc, int& m) {
  if (j < 4) {
    sc = q[j] & 63;
    m = q[j + 4] & 63;
  } else {
    sc = (q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4);
    m = (q[j + 4] >> 4) | ((q[j] >> 6) << 4);
  }
}

template <uint32_t T>
struct Chunk;

template <>
struct Chunk<kDevF32> {
  __device__ static void get(const uint8_t* row, int64_t c, int64_t k, float* y) {
    const float* r = reinterpret_cast<const float*>(row);
#pragma unroll
    for (int l = 0; l < 32; ++l) y[l] = 32 * c + l < k ? r[32 * c + l] : 0.0f;
  }
};
template <>
struct Chunk<kDevF16> {
  __device__ static void get(const uint8_t* row, int64_t c, int64_t k, float* y) {
    const __half* r = reinterpret_cast<const __half*>(row);
    if (32 * c + 32 <= k && (reinterpret_cast<uintptr_t>(r + 32 * c) & 15) == 0) {
      const uint4* v = reinterpret_cast<const uint4*>(r + 32 * c);
#pragma unroll
      for (int i = 0; i < 4; ++i) {
        const uint4 u = v[i];
        const __half2* h = reinterpret_cast<const __half2*>(&u);
#pragma unroll
        for (int j = 0; j < 4; ++j) {
          const float2 f = __half22float2(h[j]);
          y[8 * i + 2 * j] = f.x;
          y[8 * i + 2 * j + 1] = f.y;
        }
      }
      return;
    }
#pragma unroll
    for (int l = 0; l < 32; ++l) y[l] = 32 * c + l < k ? __half2float(r[32 * c + l]) : 0.0f;
  }
};
template <>
struct Chunk<kDevBF16> {
  __device__ static void get(const uint8_t* row, int64_t c, int64_t k, float* y) {
    const uint16_t* r = reinterpret_cast<const uint16_t*>(row);
#pragma unroll
    for (int l = 0; l < 32; ++l) y[l] = 32 * c + l < k ? __uint_as_float(static_cast<uint32_t>(r[32 * c + l]) << 16) : 0.0f;
  }
};
template <>
struct Chunk<kDevQ8_0> {  // split rows (device_rows.h): qs[32] per block (interleaved), then the d
  __device__ static void get(const uint8_t* row, int64_t c, int64_t k, float* y) {
    const int64_t nb = k / 32;
    const float d = f16_bits_to_float(load_u16(row + SplitQ8_0::d(c, nb)));
    const uint4 v[2] = {*reinterpret_cast<const uint4*>(row + unit_half(c, nb, 0)),
                        *reinterpret_cast<const uint4*>(row + unit_half(c, nb, 1))};
    const uint32_t* w = reinterpret_cast<const uint32_t*>(v);
#pragma unroll
    for (int l = 0; l < 32; ++l) y[l] = d * static_cast<float>(static_cast<int8_t>((w[l / 4] >> (8 * (l % 4))) & 0xFF));
  }
};
template <>
struct Chunk<kDevQ4_0> {  // split rows: qs[16] per block (low nibbles: 0..15, high: 16..31), then the d
  __device__ static void get(const uint8_t* row, int64_t c, int64_t k, float* y) {
    const uint4 v = *reinterpret_cast<const uint4*>(row + SplitQ4_0::quants(c));
    const float d = f16_bits_to_float(load_u16(row + SplitQ4_0::d(c, k / 32)));
    const uint32_t w[4] = {v.x, v.y, v.z, v.w};
#pragma unroll
    for (int l = 0; l < 16; ++l) {
      const uint32_t b = (w[l / 4] >> (8 * (l % 4))) & 0xFF;
      y[l] = d * static_cast<float>(static_cast<int>(b & 0xF) - 8);
      y[l + 16] = d * static_cast<float>(static_cast<int>(b >> 4) - 8);
    }
  }
};
template <>
struct Chunk<kDevQ4_K> {  // split rows: qs[128] per super-block (interleaved), then d, dmin, scales[12]
  __device__ static void get(const uint8_t* row, int64_t c, int64_t k, float* y) {
    const int64_t sb = c >> 3, nb = k / 256;
    const int s = static_cast<int>(c & 7);
    const uint8_t* head = row + SplitQ4_K::scales(sb, nb);
    const uint32_t dd = *reinterpret_cast<const uint32_t*>(head);
    const float d = __half2float(__ushort_as_half(static_cast<uint16_t>(dd & 0xFFFF)));
    const float dmin = __half2float(__ushort_as_half(static_cast<uint16_t>(dd >> 16)));
    int sc, m;
    k_scale_min(s, head + 4, sc, m);
    const float d1 = d * sc, m1 = dmin * m;
    const int64_t u = 4 * sb + (s >> 1);  // the unit of sub-blocks s and s ^ 1
    const int shift = (s & 1) * 4;
    const uint4 v0 = *reinterpret_cast<const uint4*>(row + unit_half(u, 4 * nb, 0));
    const uint4 v1 = *reinterpret_cast<const uint4*>(row + unit_half(u, 4 * nb, 1));
    const uint32_t w[8] = {v0.x, v0.y, v0.z, v0.w, v1.x, v1.y, v1.z, v1.w};
#pragma unroll
    for (int i = 0; i < 8; ++i) {
#pragma unroll
      for (int e = 0; e < 4; ++e) y[4 * i + e] = d1 * static_cast<float>((w[i] >> (8 * e + shift)) & 0xF) - m1;
    }
  }
};
template <>
struct Chunk<kDevQ5_K> {  // split rows: Q4_K's units and header, each unit's fifth bits (q5k_highs)
  __device__ static void get(const uint8_t* row, int64_t c, int64_t k, float* y) {
    const int64_t sb = c >> 3, nb = k / 256;
    const int s = static_cast<int>(c & 7);
    const uint8_t* head = row + SplitQ5_K::scales(sb, nb);
    const float d = f16_bits_to_float(load_u16(head)), dmin = f16_bits_to_float(load_u16(head + 2));
    int sc, m;
    k_scale_min(s, head + 4, sc, m);
    const float d1 = d * sc, m1 = dmin * m;
    const int64_t u = 4 * sb + (s >> 1);
    const int shift = (s & 1) * 4;
    const uint4 v0 = *reinterpret_cast<const uint4*>(row + unit_half(u, 4 * nb, 0));
    const uint4 v1 = *reinterpret_cast<const uint4*>(row + unit_half(u, 4 * nb, 1));
    const uint32_t w[8] = {v0.x, v0.y, v0.z, v0.w, v1.x, v1.y, v1.z, v1.w};
    const uint32_t hi = reinterpret_cast<const uint32_t*>(row + q5k_highs(u, nb))[s & 1];
#pragma unroll
    for (int i = 0; i < 8; ++i) {
#pragma unroll
      for (int e = 0; e < 4; ++e) {
        const uint32_t v = ((w[i] >> (8 * e + shift)) & 0xF) | (((hi >> (8 * e + i)) & 1) << 4);
        y[4 * i + e] = d1 * static_cast<float>(v) - m1;
      }
    }
  }
};
// Split rows (device_rows.h; chunk_dot.cuh's ChunkDot<kDevQ6_K> says where a chunk's bits are).
template <>
struct Chunk<kDevQ6_K> {
  __device__ static void get(const uint8_t* row, int64_t c, int64_t k, float* y) {
    const int64_t sb = c >> 3, nb = k / 256;
    const int s = static_cast<int>(c & 7);
    const int h = s >> 2, qi = s & 3;
    const int64_t u = 4 * sb + 2 * h + (qi & 1);
    const uint4 lv[2] = {*reinterpret_cast<const uint4*>(row + unit_half(u, 4 * nb, 0)),
                         *reinterpret_cast<const uint4*>(row + unit_half(u, 4 * nb, 1))};
    const uint4 tv = *reinterpret_cast<const uint4*>(row + q6k_tops(u, nb));
    const uint32_t* lw = reinterpret_cast<const uint32_t*>(lv);
    const uint32_t* tw = reinterpret_cast<const uint32_t*>(&tv);
    const uint16_t scu = load_u16(row + SplitQ6_K::scales(sb, nb) + 8 * h + 2 * qi);
    const float d = f16_bits_to_float(load_u16(row + SplitQ6_K::d(sb, nb)));
    const float d0 = d * static_cast<float>(static_cast<int8_t>(scu & 0xFF));
    const float d1 = d * static_cast<float>(static_cast<int8_t>(scu >> 8));
    const int lshift = (qi >> 1) * 4, tshift = (qi >> 1) * 2;
#pragma unroll
    for (int l = 0; l < 32; ++l) {
      const uint32_t lo = lw[l / 4] >> (8 * (l % 4));
      const uint32_t top = tw[(l % 16) / 4] >> (8 * (l % 4) + 4 * (l / 16) + tshift);
      const int v = static_cast<int>(((lo >> lshift) & 0xF) | ((top & 3) << 4)) - 32;
      y[l] = (l < 16 ? d0 : d1) * static_cast<float>(v);
    }
  }
};
// Split rows: sub-block s of super-block b is half s % 2 of interleaved unit 4b + s / 2 (16 bytes:
// elements 0..15 in the low nibbles, 16..31 in the high); the block's header after the quants.
template <>
struct Chunk<kDevIQ4_XS> {
  __device__ static void get(const uint8_t* row, int64_t c, int64_t k, float* y) {
    const int64_t sb = c >> 3, nb = k / 256;
    const int s = static_cast<int>(c & 7);
    const uint2 head = *reinterpret_cast<const uint2*>(row + SplitIQ4_XS::scales(sb, nb));
    const float d = f16_bits_to_float(static_cast<uint16_t>(head.x & 0xFFFF));
    const float dl = d * static_cast<float>(iq4_xs_scale(head.y, head.x >> 16, s));
    const uint4 v = *reinterpret_cast<const uint4*>(row + unit_half(4 * sb + (s >> 1), 4 * nb, s & 1));
    const uint32_t w[4] = {v.x, v.y, v.z, v.w};
#pragma unroll
    for (int i = 0; i < 4; ++i) {
      uint32_t lo, hi;
      iq4_values_of_word(w[i], lo, hi);
#pragma unroll
      for (int e = 0; e < 4; ++e) {
        y[4 * i + e] = dl * static_cast<float>(static_cast<int8_t>((lo >> (8 * e)) & 0xFF));
        y[16 + 4 * i + e] = dl * static_cast<float>(static_cast<int8_t>((hi >> (8 * e)) & 0xFF));
      }
    }
  }
};

// Runs BODY with the compile-time constant T set to the DevType t; other types do nothing.
#define QUARREL_CUDA_CASE_(V, BODY) \
  case V: {                         \
    constexpr uint32_t T = V;       \
    BODY;                           \
  } break;
#define QUARREL_CUDA_DISPATCH_TYPE(t, BODY)                                                  \
  switch (t) {                                                                              \
    QUARREL_CUDA_CASE_(kDevF32, BODY) QUARREL_CUDA_CASE_(kDevF16, BODY)                     \
    QUARREL_CUDA_CASE_(kDevBF16, BODY) QUARREL_CUDA_CASE_(kDevQ8_0, BODY)                   \
    QUARREL_CUDA_CASE_(kDevQ4_0, BODY) QUARREL_CUDA_CASE_(kDevQ4_K, BODY)                   \
    QUARREL_CUDA_CASE_(kDevQ5_K, BODY) QUARREL_CUDA_CASE_(kDevQ6_K, BODY)                   \
    QUARREL_CUDA_CASE_(kDevIQ4_XS, BODY) default: break;                                    \
  }

}  // namespace quarrel::cuda
