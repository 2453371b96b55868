#pragma once
// Internal: the per-level kernel tables (scalar, avx2, avx512) that the public operations
// (matmul.h, ops.h, attention.h) dispatch through. Each level fills one CpuKernels in its own
// translation unit (kernels_scalar.cpp, kernels_avx2.cpp, kernels_avx512.cpp); a level's table
// is only built and used when the CPU supports it.
//
// Conventions: k is a row length in elements; a quantized row is whole blocks. Activation rows
// for the quantized dot products are in the weight type's activation format (ActFormat), made by
// the table's quantize_* functions, then passed through the type's prepare function when it has
// one (vec_dot then takes the prepared row).
#include <cstddef>
#include <cstdint>

#include "backend/cpu/cpu_info.h"
#include "core/ggml_type.h"

namespace quarrel::cpu {

inline constexpr int kNumGgmlTypes = 40;

enum class ActFormat : uint8_t {
  kNone,  // the type has no kernels
  kF32,   // activations stay float32 (F32, F16, BF16 weights)
  kQ8_0,  // BlockQ8_0 per 32 (legacy 32-element types and IQ4_NL)
  kQ8_K,  // BlockQ8_K per 256 (k-quants and IQ4_XS)
};

// out[r] = dot(row r of w, x), r < n_rows; row r starts row_bytes * r bytes after w.
using VecDotFn = void (*)(int64_t k, const void* w, size_t row_bytes, int64_t n_rows, const void* x, float* out);
// One row of k elements to float32 (bit-exact with the reference dequantization).
using DequantFn = void (*)(const void* w, float* out, int64_t k);
// One row of k floats to an activation format.
using QuantizeFn = void (*)(const float* x, void* out, int64_t k);
// Optional per-type step on a quantized activation row, done once per matmul column before the
// dot products (a kernel-specific layout of the quants, scales converted ahead): out receives
// prepared_size(k) bytes, 64-byte aligned.
using PrepareFn = void (*)(const void* act, void* out, int64_t k);
using PreparedSizeFn = size_t (*)(int64_t k);

// GEMM micro-kernel on float32: a panel of gemm_mr weight rows (w, row r at w + r * ldw, k
// floats each) times a block of gemm_nr activation columns packed as xt[kk * gemm_nr + j]
// (zero-padded past n_c). Writes y[j * ldy + r] for j < n_c, r < n_r (n_r <= gemm_mr,
// n_c <= gemm_nr); accumulates into y when accumulate is set. All gemm_mr rows of w are read.
using GemmFn = void (*)(int64_t k, const float* w, int64_t ldw, int n_r, const float* xt, float* y,
                        int64_t ldy, int n_c, bool accumulate);

// KV-cache row kernels (attention inner loops). A KV row is head_dim elements of the cache type
// (F32, F16 or Q8_0); rows of one block and head are contiguous, row_bytes apart.
// scores[t] = dot(q, K_t) for t < n.
using KvDotFn = void (*)(const void* k, size_t row_bytes, int64_t n, int head_dim, const float* q, float* scores);
// acc[d] += sum_t p[t] * V_t[d].
using KvAxpyFn = void (*)(const void* v, size_t row_bytes, int64_t n, int head_dim, const float* p, float* acc);
// One KV row from floats (F16: round to nearest even; Q8_0: the reference quantizer).
using KvStoreFn = void (*)(const float* x, void* row, int head_dim);

struct TypeKernels {
  ActFormat act = ActFormat::kNone;
  VecDotFn vec_dot = nullptr;
  DequantFn dequant = nullptr;
  PrepareFn prepare = nullptr;  // null: vec_dot takes the activation row as it is
  PreparedSizeFn prepared_size = nullptr;
};

struct KvKernels {
  KvDotFn dot = nullptr;
  KvAxpyFn axpy = nullptr;
  KvStoreFn store = nullptr;
};

struct CpuKernels {
  CpuLevel level = CpuLevel::kScalar;
  TypeKernels types[kNumGgmlTypes];  // by GgmlType number
  QuantizeFn quantize_q8_0 = nullptr;
  QuantizeFn quantize_q8_K = nullptr;

  int gemm_mr = 0, gemm_nr = 0;
  GemmFn gemm = nullptr;
  // Optional: the same packing, for column blocks of at most gemm_narrow_nr columns.
  int gemm_narrow_nr = 0;
  GemmFn gemm_narrow = nullptr;

  KvKernels kv_f32, kv_f16, kv_q8_0;

  // Float vectors.
  float (*dot_f32)(const float* a, const float* b, int64_t n) = nullptr;
  float (*sum_squares)(const float* x, int64_t n) = nullptr;
  // y = x * s * w (w may be null: y = x * s)
  void (*scale_mul)(const float* x, float s, const float* w, float* y, int64_t n) = nullptr;
  void (*add)(const float* a, const float* b, float* y, int64_t n) = nullptr;
  void (*scale)(const float* x, float s, float* y, int64_t n) = nullptr;
  float (*max)(const float* x, int64_t n) = nullptr;
  // x[i] = exp(x[i] - m); returns the sum (float accumulation).
  float (*exp_sub_sum)(float* x, int64_t n, float m) = nullptr;
  // y = silu(g) * u and y = gelu_tanh(g) * u
  void (*swiglu)(const float* g, const float* u, float* y, int64_t n) = nullptr;
  void (*geglu)(const float* g, const float* u, float* y, int64_t n) = nullptr;
  // x = c * tanh(x * s / c) (soft-capping with a pre-scale)
  void (*softcap)(float* x, int64_t n, float s, float c) = nullptr;
  void (*f32_to_f16)(const float* x, uint16_t* y, int64_t n) = nullptr;
  void (*f16_to_f32)(const uint16_t* x, float* y, int64_t n) = nullptr;
};

// The table of a level; Error(kUnsupported) if the CPU lacks it.
const CpuKernels& kernels_for(CpuLevel level);
// The active level's table (cpu_info.h: active_level()).
const CpuKernels& kernels();

// Bytes of one activation row of k elements in a format.
size_t act_row_bytes(ActFormat f, int64_t k);
// Which KV kernels serve a cache type (F32, F16, Q8_0); nullptr for other types.
const KvKernels* kv_kernels(const CpuKernels& t, GgmlType type);

// Filled by the level translation units (only called when the level is supported).
const CpuKernels& scalar_kernels();
const CpuKernels& avx2_kernels();
const CpuKernels& avx512_kernels();

}  // namespace quarrel::cpu
