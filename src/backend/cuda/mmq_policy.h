#pragma once
// Which batches the tensor-core products of quantized weights take (matmul_q8: int8 activations,
// matmul_f16act: f16), and with which activations, as measured on an H200 with 8B models,
// S sequences decoding together (`quarrel bench --parallel S`, scripts/gpu run batched).
// Plain C++ (the backend's host code includes it).
#include <algorithm>
#include <cstdint>

#include "backend/cuda/env_knob.h"
#include "backend/cuda/kernels.h"

namespace quarrel::cuda {

// The most columns any batch takes them for (matrices without an F16 copy; cuBLAS would
// dequantize those per batch).
constexpr int64_t kMmqMaxCols = 64;

// The most columns they take for matrices with an F16 copy (QUARREL_CUDA_MMQ_COLS, default 32, 16
// for IQ4_XS; 0: never, not even without a copy): f16act / cuBLAS on the copies, tok/s: Q4_K_M S=16
// 2818 / 2560, 32 4794 / 4674; IQ4_XS 2573 / 2563, 4384 / 4726.
inline int64_t mmq_cols(uint32_t type = 0) {
  static const int64_t cols = env_int("QUARREL_CUDA_MMQ_COLS", 32);
  return type == kDevIQ4_XS ? std::min<int64_t>(cols, 16) : cols;
}

// Decode batches from this many tokens (to kMatvecMaxCols) take matmul_q8 on the int8 copies the
// norms make, not the int8 matvec (its __dp4a work grows with the columns): 6 tokens, 8 for Q8_0
// (matvec -> matmul_q8 tok/s: Q4_K_M S=6 1161 -> 1275, S=8 1197 -> 1670; Q4_0 1465 -> 1560, 1601 ->
// 2055; Q8_0 1431 -> 1263, 1616 -> 1640; IQ4_XS 747 -> 1205, 731 -> 1589; S=4: the matvec for all).
// QUARREL_CUDA_MMQ_MIN_COLS overrides it for every type.
inline int64_t mmq_min_cols(uint32_t type) {
  static const int64_t v = env_int("QUARREL_CUDA_MMQ_MIN_COLS", 0);
  return v > 0 ? v : (type == kDevQ8_0 ? 8 : 6);
}

// Whether a batch of n tokens past the matvec's takes f16 activations (matmul_f16act) for this
// type rather than int8 ones (matmul_q8): from 17 tokens for every type, and at 9-16 but for Q8_0
// and IQ4_XS, whose int8 kernel is the faster there (gpu_cuda_matvec_bench mmq, 16 columns, us,
// int8 / f16: gate/up Q8_0 35.7 / 39.3, IQ4_XS 33.1 / 40.6; Q6_K down 42.0 / 35.3, Q4_K 33.2 /
// 34.1). QUARREL_CUDA_MMQ_F16=0: int8 for all.
inline bool mmq_f16_activations(uint32_t type, int64_t n) {
  static const bool on = env_on("QUARREL_CUDA_MMQ_F16");
  return on && (n > 16 || (type != kDevQ8_0 && type != kDevIQ4_XS));
}

}  // namespace quarrel::cuda
