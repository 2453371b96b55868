#pragma once
// Integer dot products of one 32-element weight chunk with one chunk of int8 activations
// (kernels.h's Q8Act: 8 words of int8 x and (d_x, d_x * sum q_x)), four products per __dp4a.
// The raw loads are chunk_dot.cuh's (ChunkDot<T>::Raw / load), so both matvecs read the blocks
// alike. Per type, with q the weight's integers and d its scale(s), the chunk's sum is
//   Q8_0: d d_x sum q q_x                 Q4_0: d (d_x sum q q_x - 8 s_x)
//   Q4_K/Q5_K: d_s d_x sum q q_x - m_s s_x  (sub-block scale d_s, min m_s)
//   Q6_K: per half h of 16: d_h d_x (sum q q_x - 32 sum q_x)
// where s_x = d_x * sum q_x comes with the activations.
#include "backend/cuda/chunk_dot.cuh"

namespace quarrel::cuda {

template <uint32_t T>
struct ChunkDotQ8;

template <>
struct ChunkDotQ8<kDevQ8_0> : ChunkDot<kDevQ8_0> {
  __device__ static float dot(const Raw& r, const int* x, float2 ds) {
    int s = 0;
#pragma unroll
    for (int i = 0; i < 8; ++i) s = __dp4a(static_cast<int>(r.q[i]), x[i], s);
    return r.d * ds.x * static_cast<float>(s);
  }
};

template <>
struct ChunkDotQ8<kDevQ4_0> : ChunkDot<kDevQ4_0> {  // low nibbles: elements 0..15, high: 16..31
  __device__ static float dot(const Raw& r, const int* x, float2 ds) {
    int s = 0;
#pragma unroll
    for (int i = 0; i < 4; ++i) {
      s = __dp4a(static_cast<int>(r.q[i] & 0x0F0F0F0Fu), x[i], s);
      s = __dp4a(static_cast<int>((r.q[i] >> 4) & 0x0F0F0F0Fu), x[4 + i], s);
    }
    return r.d * (ds.x * static_cast<float>(s) - 8.0f * ds.y);
  }
};

template <>
struct ChunkDotQ8<kDevQ4_K> : ChunkDot<kDevQ4_K> {
  __device__ static float dot(const Raw& r, const int* x, float2 ds) {
    const uint32_t w[8] = {r.v0.x, r.v0.y, r.v0.z, r.v0.w, r.v1.x, r.v1.y, r.v1.z, r.v1.w};
    int s = 0;
#pragma unroll
    for (int i = 0; i < 8; ++i) s = __dp4a(static_cast<int>((w[i] >> r.shift) & 0x0F0F0F0Fu), x[i], s);
    const float d = __half2float(__ushort_as_half(static_cast<uint16_t>(r.dd & 0xFFFF))) * static_cast<float>(r.sc);
    const float m = __half2float(__ushort_as_half(static_cast<uint16_t>(r.dd >> 16))) * static_cast<float>(r.m);
    return d * ds.x * static_cast<float>(s) - m * ds.y;
  }
};

template <>
struct ChunkDotQ8<kDevQ5_K> {  // 176 bytes (16-byte aligned): d, dmin, scales[12], qh[32], qs[128]
  static constexpr int kMaxRows = 4;  // registers: 16 words of raw data per row
  struct Raw {
    uint4 q0, q1, h0, h1;
    uint32_t dd, shift, bit;
    int sc, m;
  };
  __device__ static Raw load(const uint8_t* row, int64_t c, int64_t) {
    const uint8_t* b = row + 176 * (c >> 3);
    const int s = static_cast<int>(c & 7);
    const uint4* q = reinterpret_cast<const uint4*>(b + 48 + 32 * (s >> 1));
    const uint4* h = reinterpret_cast<const uint4*>(b + 16);
    Raw r;
    r.q0 = __ldg(q);
    r.q1 = __ldg(q + 1);
    r.h0 = __ldg(h);
    r.h1 = __ldg(h + 1);
    r.dd = __ldg(reinterpret_cast<const unsigned int*>(b));
    k_scale_min(s, b + 4, r.sc, r.m);
    r.shift = (s & 1) * 4;
    r.bit = static_cast<uint32_t>(s);
    return r;
  }
  __device__ static float dot(const Raw& r, const int* x, float2 ds) {
    const uint32_t q[8] = {r.q0.x, r.q0.y, r.q0.z, r.q0.w, r.q1.x, r.q1.y, r.q1.z, r.q1.w};
    const uint32_t h[8] = {r.h0.x, r.h0.y, r.h0.z, r.h0.w, r.h1.x, r.h1.y, r.h1.z, r.h1.w};
    int s = 0;
#pragma unroll
    for (int i = 0; i < 8; ++i) {
      const uint32_t v = ((q[i] >> r.shift) & 0x0F0F0F0Fu) | (((h[i] >> r.bit) & 0x01010101u) << 4);
      s = __dp4a(static_cast<int>(v), x[i], s);
    }
    const float d = __half2float(__ushort_as_half(static_cast<uint16_t>(r.dd & 0xFFFF))) * static_cast<float>(r.sc);
    const float m = __half2float(__ushort_as_half(static_cast<uint16_t>(r.dd >> 16))) * static_cast<float>(r.m);
    return d * ds.x * static_cast<float>(s) - m * ds.y;
  }
};

template <>
struct ChunkDotQ8<kDevQ6_K> : ChunkDot<kDevQ6_K> {  // elements 0..15 scale d0, 16..31 scale d1
  __device__ static float dot(const Raw& r, const int* x, float2 ds) {
    int s0 = 0, s1 = 0, x0 = 0, x1 = 0;
#pragma unroll
    for (int i = 0; i < 8; ++i) {
      const uint32_t q6 = ((r.ql[i] >> r.lshift) & 0x0F0F0F0Fu) | (((r.qh[i] >> r.hshift) & 0x03030303u) << 4);
      if (i < 4) {
        s0 = __dp4a(static_cast<int>(q6), x[i], s0);
        x0 = __dp4a(0x01010101, x[i], x0);
      } else {
        s1 = __dp4a(static_cast<int>(q6), x[i], s1);
        x1 = __dp4a(0x01010101, x[i], x1);
      }
    }
    const float d0 = static_cast<float>(static_cast<int8_t>(r.scu & 0xFF));
    const float d1 = static_cast<float>(static_cast<int8_t>(r.scu >> 8));
    return r.d * ds.x * (d0 * static_cast<float>(s0 - 32 * x0) + d1 * static_cast<float>(s1 - 32 * x1));
  }
};

}  // namespace quarrel::cuda
