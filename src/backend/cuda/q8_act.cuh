#pragma once
// One warp quantizes one 32-element chunk of activations to int8 (kernels.h's Q8Act): lane l
// holds element l; d = max|x| / 127, q = round(x / d), and (d, d * sum q) go beside the bytes.
// Shared by the standalone quantizer and the kernels that produce a matvec's input (RMSNorm,
// SwiGLU, attention) so that the decode step needs no extra launch for it.
#include <cstdint>

#include "backend/cuda/kernels.h"
#include "backend/cuda/reduce.cuh"

namespace quarrel::cuda {

// Column `col`, chunk `chunk` of `out` gets this warp's 32 values (one per lane).
__device__ __forceinline__ void quantize_chunk_warp(float v, const Q8Act& out, int64_t col, int64_t chunk) {
  const int lane = static_cast<int>(threadIdx.x & 31);
  const float amax = warp_max(fabsf(v));
  const float d = amax / 127.0f;
  const int q = amax > 0.0f ? __float2int_rn(v / d) : 0;
  int sum = q;
#pragma unroll
  for (int off = 16; off > 0; off >>= 1) sum += __shfl_xor_sync(0xffffffffu, sum, off);
  out.q[col * out.ldq + 32 * chunk + lane] = static_cast<int8_t>(q);
  if (lane == 0) out.ds[col * (out.ldq / 32) + chunk] = make_float2(d, d * static_cast<float>(sum));
}

}  // namespace quarrel::cuda
