#pragma once
// Matrix products straight on the weights as stored in the model file (F32, F16, BF16, Q4_0,
// Q4_1, Q5_0, Q5_1, Q8_0, Q2_K..Q6_K, IQ4_NL, IQ4_XS, MXFP4), batch-first:
//
//   y[:, j] = W x[:, j]  for j < m      W: [k, n] (n rows of k elements, GGUF order ne0 = k)
//                                       x: [k, m] (column j at x + j * ldx)
//                                       y: [n, m] (column j at y + j * ldy)
//
// Two paths, chosen by m:
//  - small m (decode): each activation column is quantized once to the weight type's 8-bit
//    activation format (Q8_0 / Q8_K; float32 for float weights) and reused across all rows; the
//    rows are split into chunks that the threads take dynamically.
//  - large m (prompt processing): panels of weight rows are dequantized to float32 once per
//    panel and multiplied against all m columns with a register-blocked FMA micro-kernel; the
//    panels are shared out dynamically. The columns are first taken through the same 8-bit
//    activation format (quantized and dequantized), so both paths compute on the same values:
//    a token's logits do not depend on the batch it is in, beyond float rounding order.
#include <cstddef>
#include <cstdint>
#include <span>

#include "core/ggml_type.h"
#include "core/thread_pool.h"

namespace quarrel::cpu {

struct CpuKernels;

struct WeightMatrix {
  GgmlType type = GgmlType::F32;
  const void* data = nullptr;  // [k, n]: row r at data + r * row_stride
  int64_t k = 0;               // ne0: elements per row (input size); a multiple of the block size
  int64_t n = 0;               // ne1: rows (output size)
  size_t row_stride = 0;       // bytes between rows; 0: row_bytes(type, k)
};

// Whether matmul computes on weights of this type.
bool matmul_supported(GgmlType type);

// One product in a matmul_multi call: y = w x, y column j at y + j * ldy (ldy 0: w.n).
struct MatmulOut {
  WeightMatrix w;
  float* y = nullptr;
  int64_t ldy = 0;
};

enum class MatmulPath { kAuto, kVecDot, kGemm };

struct MatmulOptions {
  const CpuKernels* kernels = nullptr;  // nullptr: the active level (cpu_info.h)
  MatmulPath path = MatmulPath::kAuto;  // forcing a path is for tests and benchmarks
};

// m at and above which kAuto takes the GEMM path.
inline constexpr int64_t kGemmMinColumns = 8;
// The GEMM path works through the columns in groups of about this many (the packed group stays
// in cache; each weight panel is dequantized once per group).
inline constexpr int64_t kGemmGroupColumns = 256;

// y = W x; x [k, m] packed (ldx = k), y [n, m] packed (ldy = n).
void matmul(const WeightMatrix& w, const float* x, float* y, int64_t m, ThreadPool& pool);
// With column strides (in floats).
void matmul(const WeightMatrix& w, const float* x, int64_t ldx, float* y, int64_t ldy, int64_t m, ThreadPool& pool);
// Several products of the same input (Q, K, V; gate, up) in one dispatch. All w.k must match.
void matmul_multi(std::span<const MatmulOut> outs, const float* x, int64_t ldx, int64_t m, ThreadPool& pool,
                  const MatmulOptions& options = {});

}  // namespace quarrel::cpu
