#pragma once
// The sampler's rank order of logits as an unsigned key, for the host and for CUDA kernels:
// NaN ranks as -infinity, +infinity as the largest float, -0 as +0; a larger key ranks first
// (equal keys: the lower token id first). Plain C++17.
#include <cstdint>
#include <cstring>

#if defined(__CUDACC__)
#define QUARREL_HOST_DEVICE __host__ __device__
#else
#define QUARREL_HOST_DEVICE
#endif

namespace quarrel::backend {

QUARREL_HOST_DEVICE inline uint32_t logit_rank_key(float f) {
  uint32_t b;
  std::memcpy(&b, &f, sizeof b);
  if ((b & 0x7fffffffu) > 0x7f800000u) b = 0xff800000u;  // NaN -> -inf
  if (b == 0x7f800000u) b = 0x7f7fffffu;                  // +inf -> the largest float
  if (b == 0x80000000u) b = 0;                            // -0 -> +0
  return (b & 0x80000000u) ? ~b : (b | 0x80000000u);
}

}  // namespace quarrel::backend
