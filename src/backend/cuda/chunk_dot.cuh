#pragma once
// Dot products of one 32-element weight chunk (dequant.cuh's chunks) with G activation columns
// held in registers, for the decode matvec. The quantized types never convert integers to
// floats with I2F (16 per clock per SM on Hopper, an eighth of the FMA rate): a byte b placed
// under the exponent bits 0x4B000000 is the float 2^23 + b, and one FADD takes the bias (and
// the type's zero point) off exactly. Q4_0, Q8_0, Q4_K and Q6_K rows are split on the device
// (device_rows.h): their quants are read with aligned 16-byte loads.
#include "backend/cuda/dequant.cuh"

namespace quarrel::cuda {

// The 4 bytes of w (each 0..255) as floats minus `bias` (= 2^23 + zero point).
__device__ __forceinline__ void bytes_minus(uint32_t w, float bias, float* y) {
  y[0] = __uint_as_float(__byte_perm(w, 0x4B00u, 0x5440u)) - bias;
  y[1] = __uint_as_float(__byte_perm(w, 0x4B00u, 0x5441u)) - bias;
  y[2] = __uint_as_float(__byte_perm(w, 0x4B00u, 0x5442u)) - bias;
  y[3] = __uint_as_float(__byte_perm(w, 0x4B00u, 0x5443u)) - bias;
}
constexpr float kTwo23 = 8388608.0f;

// A streamed weight load: read-only (the non-coherent path) and not allocated in L1
// (ld.global.nc.L1::no_allocate), so the activations every block re-reads stay there. For loads
// that no other instruction of the block reads again (a warp's load is 512 contiguous bytes):
// matvec.cu's interleaved F16/BF16 loads (H200 tg: 8B F16 248.1 -> 254.5 tok/s, 1B 1145 ->
// 1178) and the quants of split rows (ld_quants; 8B `-p 0`: Q4_0 587 -> 600, Q4_K_M 520.0 ->
// 526.6, Q8_0 409.9 -> 418.8). On GGUF rows, where a Q4_K super-block's header and nibbles share
// lines across loads, it had lost (8B Q4_K_M 508 -> 494). Headers and scales keep __ldg.
__device__ __forceinline__ uint4 ldg_stream(const uint4* p) {
  uint4 v;
  asm("ld.global.nc.L1::no_allocate.v4.u32 {%0, %1, %2, %3}, [%4];" : "=r"(v.x), "=r"(v.y), "=r"(v.z), "=r"(v.w) : "l"(p));
  return v;
}

// A read-only load: through the non-coherent global path (__ldg), or a plain load when S (the
// bytes were staged in shared memory: matvec_q8's staged kernel).
template <bool S, typename V>
__device__ __forceinline__ V ld(const V* p) {
  if constexpr (S) {
    return *p;
  } else {
    return __ldg(p);
  }
}

// A load of quants no other load of the block reads again (split rows, device_rows.h: a warp's
// load is 512 contiguous bytes): streamed (ldg_stream), or a plain load when S (staged).
template <bool S>
__device__ __forceinline__ uint4 ld_quants(const uint4* p) {
  if constexpr (S) {
    return *p;
  } else {
    return ldg_stream(p);
  }
}

template <bool S = false>
__device__ __forceinline__ float f16_at(const uint8_t* p) {
  return __half2float(__ushort_as_half(ld<S>(reinterpret_cast<const unsigned short*>(p))));
}

// load(): the raw bytes of chunk c of `row` (issued for all of a thread's rows before any
// arithmetic, so their loads are in flight together); dot(): acc[g] += sum_l W[l] * x[g][l],
// with xsum[g] = sum_l x[g][l] where kNeedsXsum.
template <uint32_t T>
struct ChunkDot {
  static constexpr bool kNeedsXsum = false;
  static constexpr int kMaxRows = 2;  // rows per thread (registers: 32 floats of raw data each)
  struct Raw {
    float v[32];
  };
  __device__ static Raw load(const uint8_t* row, int64_t c, int64_t k) {
    Raw r;
    Chunk<T>::get(row, c, k, r.v);
    return r;
  }
  template <int G>
  __device__ static void dot(const Raw& r, const float (*x)[32], const float*, float* acc) {
    const float* v = r.v;
#pragma unroll
    for (int g = 0; g < G; ++g) {
      float a = 0.0f;
#pragma unroll
      for (int l = 0; l < 32; ++l) a = fmaf(v[l], x[g][l], a);
      acc[g] += a;
    }
  }
};

// The 2-byte float types (F16, BF16): 64 bytes, four 128-bit loads when the chunk is whole and
// aligned; a 32-bit word's two elements widened to floats exactly.
template <uint32_t T>
struct ChunkDot16 {
  static constexpr bool kNeedsXsum = false;
  static constexpr int kMaxRows = 4;
  struct Raw {
    uint4 u[4];
  };
  __device__ static Raw load(const uint8_t* row, int64_t c, int64_t k) {
    const uint16_t* h = reinterpret_cast<const uint16_t*>(row) + 32 * c;
    Raw r;
    if (32 * c + 32 <= k && (reinterpret_cast<uintptr_t>(h) & 15) == 0) {
#pragma unroll
      for (int i = 0; i < 4; ++i) r.u[i] = __ldg(reinterpret_cast<const uint4*>(h) + i);
    } else {
      uint32_t* words = reinterpret_cast<uint32_t*>(r.u);
#pragma unroll
      for (int i = 0; i < 16; ++i) {
        const uint32_t lo = 32 * c + 2 * i < k ? h[2 * i] : 0u;
        const uint32_t hi = 32 * c + 2 * i + 1 < k ? h[2 * i + 1] : 0u;
        words[i] = lo | (hi << 16);
      }
    }
    return r;
  }
  __device__ static float2 widen(uint32_t w) {
    if constexpr (T == kDevBF16) {
      return make_float2(__uint_as_float(w << 16), __uint_as_float(w & 0xFFFF0000u));
    } else {
      return __half22float2(*reinterpret_cast<const __half2*>(&w));
    }
  }
  template <int G>
  __device__ static void dot(const Raw& r, const float (*x)[32], const float*, float* acc) {
    float a[G];
#pragma unroll
    for (int g = 0; g < G; ++g) a[g] = 0.0f;
#pragma unroll
    for (int i = 0; i < 4; ++i) {
      const uint32_t* w = reinterpret_cast<const uint32_t*>(&r.u[i]);
#pragma unroll
      for (int j = 0; j < 4; ++j) {
        const float2 f = widen(w[j]);
#pragma unroll
        for (int g = 0; g < G; ++g) {
          a[g] = fmaf(f.x, x[g][8 * i + 2 * j], a[g]);
          a[g] = fmaf(f.y, x[g][8 * i + 2 * j + 1], a[g]);
        }
      }
    }
#pragma unroll
    for (int g = 0; g < G; ++g) acc[g] += a[g];
  }
};
template <>
struct ChunkDot<kDevF16> : ChunkDot16<kDevF16> {};
template <>
struct ChunkDot<kDevBF16> : ChunkDot16<kDevBF16> {};

template <>
struct ChunkDot<kDevQ8_0> {  // split rows (device_rows.h): 32 x int8 per block (interleaved), then the d
  static constexpr bool kNeedsXsum = false;
  static constexpr int kMaxRows = 8;
  struct Raw {
    uint32_t q[8];
    float d;
  };
  template <bool S = false>
  __device__ static Raw load(const uint8_t* row, int64_t c, int64_t k) {
    const int64_t nb = k / 32;
    const uint4* q0 = reinterpret_cast<const uint4*>(row + unit_half(c, nb, 0));
    const uint4* q1 = reinterpret_cast<const uint4*>(row + unit_half(c, nb, 1));
    const uint4 a = ld_quants<S>(q0), b = ld_quants<S>(q1);
    Raw r{{a.x, a.y, a.z, a.w, b.x, b.y, b.z, b.w}, f16_at<S>(row + SplitQ8_0::d(c, nb))};
    return r;
  }
  template <int G>
  __device__ static void dot(const Raw& r, const float (*x)[32], const float*, float* acc) {
    const uint32_t* q = r.q;
    const float d = r.d;
    float a[G];
#pragma unroll
    for (int g = 0; g < G; ++g) a[g] = 0.0f;
#pragma unroll
    for (int i = 0; i < 8; ++i) {
      float v[4];
      bytes_minus(q[i] ^ 0x80808080u, kTwo23 + 128.0f, v);
#pragma unroll
      for (int e = 0; e < 4; ++e) {
#pragma unroll
        for (int g = 0; g < G; ++g) a[g] = fmaf(v[e], x[g][4 * i + e], a[g]);
      }
    }
#pragma unroll
    for (int g = 0; g < G; ++g) acc[g] += d * a[g];
  }
};

template <>
struct ChunkDot<kDevQ4_0> {  // split rows: 16 bytes of nibbles per block (low: elements 0..15, high: 16..31), then the d
  static constexpr bool kNeedsXsum = false;
  static constexpr int kMaxRows = 8;
  struct Raw {
    uint32_t q[4];
    float d;
  };
  template <bool S = false>
  __device__ static Raw load(const uint8_t* row, int64_t c, int64_t k) {
    const uint4 a = ld_quants<S>(reinterpret_cast<const uint4*>(row + SplitQ4_0::quants(c)));
    Raw r{{a.x, a.y, a.z, a.w}, f16_at<S>(row + SplitQ4_0::d(c, k / 32))};
    return r;
  }
  template <int G>
  __device__ static void dot(const Raw& r, const float (*x)[32], const float*, float* acc) {
    const uint32_t* q = r.q;
    const float d = r.d;
    float a[G];
#pragma unroll
    for (int g = 0; g < G; ++g) a[g] = 0.0f;
#pragma unroll
    for (int i = 0; i < 4; ++i) {
      float lo[4], hi[4];
      bytes_minus(q[i] & 0x0F0F0F0Fu, kTwo23 + 8.0f, lo);
      bytes_minus((q[i] >> 4) & 0x0F0F0F0Fu, kTwo23 + 8.0f, hi);
#pragma unroll
      for (int e = 0; e < 4; ++e) {
#pragma unroll
        for (int g = 0; g < G; ++g) {
          a[g] = fmaf(lo[e], x[g][4 * i + e], a[g]);
          a[g] = fmaf(hi[e], x[g][16 + 4 * i + e], a[g]);
        }
      }
    }
#pragma unroll
    for (int g = 0; g < G; ++g) acc[g] += d * a[g];
  }
};

template <>
struct ChunkDot<kDevQ4_K> {  // split rows: qs[128] per super-block (interleaved), then d, dmin, scales[12]
  static constexpr bool kNeedsXsum = true;
  static constexpr int kMaxRows = 8;
  struct Raw {
    uint4 v0, v1;
    uint32_t dd, shift;
    int sc, m;
  };
  __device__ static Raw load(const uint8_t* row, int64_t c, int64_t k) {
    const int64_t sb = c >> 3, nb = k / 256;
    const int s = static_cast<int>(c & 7);
    const int64_t u = 4 * sb + (s >> 1);  // the unit of sub-blocks s and s ^ 1
    const uint8_t* head = row + SplitQ4_K::scales(sb, nb);
    Raw r;
    r.v0 = ld_quants<false>(reinterpret_cast<const uint4*>(row + unit_half(u, 4 * nb, 0)));
    r.v1 = ld_quants<false>(reinterpret_cast<const uint4*>(row + unit_half(u, 4 * nb, 1)));
    r.dd = __ldg(reinterpret_cast<const unsigned int*>(head));
    k_scale_min(s, head + 4, r.sc, r.m);
    r.shift = (s & 1) * 4;
    return r;
  }
  template <int G>
  __device__ static void dot(const Raw& r, const float (*x)[32], const float* xsum, float* acc) {
    const float d1 = __half2float(__ushort_as_half(static_cast<uint16_t>(r.dd & 0xFFFF))) * static_cast<float>(r.sc);
    const float m1 = __half2float(__ushort_as_half(static_cast<uint16_t>(r.dd >> 16))) * static_cast<float>(r.m);
    const uint32_t shift = r.shift;
    const uint32_t w[8] = {r.v0.x, r.v0.y, r.v0.z, r.v0.w, r.v1.x, r.v1.y, r.v1.z, r.v1.w};
    float a[G];
#pragma unroll
    for (int g = 0; g < G; ++g) a[g] = 0.0f;
#pragma unroll
    for (int i = 0; i < 8; ++i) {
      float v[4];
      bytes_minus((w[i] >> shift) & 0x0F0F0F0Fu, kTwo23, v);
#pragma unroll
      for (int e = 0; e < 4; ++e) {
#pragma unroll
        for (int g = 0; g < G; ++g) a[g] = fmaf(v[e], x[g][4 * i + e], a[g]);
      }
    }
#pragma unroll
    for (int g = 0; g < G; ++g) acc[g] += d1 * a[g] - m1 * xsum[g];
  }
};

// Q6_K, split rows (device_rows.h): chunk c = chunk qi of half h of super-block sb is the low
// (qi < 2) or high nibbles of unit u = 4 sb + 2 h + (qi & 1), its tops bits 0-1 (qi < 2) or 2-3
// of the unit's tops nibbles; two int8 scales (one per 16 elements) and d.
template <>
struct ChunkDot<kDevQ6_K> {
  static constexpr bool kNeedsXsum = false;
  static constexpr int kMaxRows = 4;
  struct Raw {
    uint4 ql[2], tops;
    uint32_t scu, lshift, tshift;
    float d;
  };
  __device__ static Raw load(const uint8_t* row, int64_t c, int64_t k) {
    const int64_t sb = c >> 3, nb = k / 256;
    const int s = static_cast<int>(c & 7);
    const int h = s >> 2, qi = s & 3;
    const int64_t u = 4 * sb + 2 * h + (qi & 1);
    Raw r;
    r.ql[0] = ld_quants<false>(reinterpret_cast<const uint4*>(row + unit_half(u, 4 * nb, 0)));
    r.ql[1] = ld_quants<false>(reinterpret_cast<const uint4*>(row + unit_half(u, 4 * nb, 1)));
    r.tops = ld_quants<false>(reinterpret_cast<const uint4*>(row + q6k_tops(u, nb)));
    r.scu = __ldg(reinterpret_cast<const unsigned short*>(row + SplitQ6_K::scales(sb, nb) + 8 * h + 2 * qi));
    r.d = f16_at(row + SplitQ6_K::d(sb, nb));
    r.lshift = (qi >> 1) * 4;
    r.tshift = (qi >> 1) * 2;
    return r;
  }
  template <int G>
  __device__ static void dot(const Raw& r, const float (*x)[32], const float*, float* acc) {
    const float d0 = r.d * static_cast<float>(static_cast<int8_t>(r.scu & 0xFF));
    const float d1 = r.d * static_cast<float>(static_cast<int8_t>(r.scu >> 8));
    const uint32_t ql[8] = {r.ql[0].x, r.ql[0].y, r.ql[0].z, r.ql[0].w, r.ql[1].x, r.ql[1].y, r.ql[1].z, r.ql[1].w};
    const uint32_t t[4] = {r.tops.x, r.tops.y, r.tops.z, r.tops.w};
    float a0[G], a1[G];
#pragma unroll
    for (int g = 0; g < G; ++g) a0[g] = a1[g] = 0.0f;
#pragma unroll
    for (int i = 0; i < 8; ++i) {
      const uint32_t top = (t[i & 3] >> (4 * (i >> 2) + r.tshift)) & 0x03030303u;
      const uint32_t q6 = ((ql[i] >> r.lshift) & 0x0F0F0F0Fu) | (top << 4);
      float v[4];
      bytes_minus(q6, kTwo23 + 32.0f, v);
#pragma unroll
      for (int e = 0; e < 4; ++e) {
#pragma unroll
        for (int g = 0; g < G; ++g) {
          if (i < 4) {
            a0[g] = fmaf(v[e], x[g][4 * i + e], a0[g]);
          } else {
            a1[g] = fmaf(v[e], x[g][4 * i + e], a1[g]);
          }
        }
      }
    }
#pragma unroll
    for (int g = 0; g < G; ++g) acc[g] += d0 * a0[g] + d1 * a1[g];
  }
};

}  // namespace quarrel::cuda
