#pragma once
// Scalar reference (de)quantization of every tensor type Quarrel computes with.
//
// dequantize_row / quantize_row work on n elements (a multiple of the type's block size,
// else Error kInvalidArgument). They are bit-exact with the reference implementation
// (ggml): dequantization for every supported type, quantization for the same search
// algorithms without an importance matrix (what `llama-quantize` does without --imatrix).
// Both are deterministic and single-threaded; callers split rows across threads.
//
// The typed functions below are what the CPU/CUDA kernels use for activations
// (Q8_0 / Q8_1 / Q8_K) and as the reference their SIMD versions are tested against.
#include <cstdint>
#include <span>
#include <string_view>

#include "core/ggml_type.h"
#include "quant/blocks.h"

namespace quarrel::quant {

// ---- type support -----------------------------------------------------------------------------

// Whether a tensor stored in this type can be loaded and computed with: F32, F16, BF16,
// Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K, IQ4_NL, IQ4_XS, MXFP4.
bool is_supported(GgmlType type);
// Throws Error(kUnsupported, "tensor 'NAME' has type T, which Quarrel cannot compute with")
// when !is_supported(type). The model loader calls it for every tensor.
void require_supported(std::string_view tensor_name, GgmlType type);
// The supported tensor types, in GGUF number order.
std::span<const GgmlType> supported_types();

// Whether dequantize_row handles the type: the supported types plus Q8_1 and Q8_K.
bool can_dequantize(GgmlType type);
// Whether quantize_row handles the type: the supported types plus Q8_1 and Q8_K.
bool can_quantize(GgmlType type);

// ---- generic entry points ------------------------------------------------------------------

// src holds row_bytes(type, n) bytes; dst receives n floats.
void dequantize_row(GgmlType type, const void* src, float* dst, int64_t n);
// src holds n floats; dst receives row_bytes(type, n) bytes. The reference quantizers
// (no importance matrix); F16 / BF16 round to nearest even; F32 copies.
void quantize_row(GgmlType type, const float* src, void* dst, int64_t n);

// ---- typed reference functions (n: elements, a multiple of the block size) ----------------

void dequantize_row_q4_0(const BlockQ4_0* x, float* y, int64_t n);
void dequantize_row_q4_1(const BlockQ4_1* x, float* y, int64_t n);
void dequantize_row_q5_0(const BlockQ5_0* x, float* y, int64_t n);
void dequantize_row_q5_1(const BlockQ5_1* x, float* y, int64_t n);
void dequantize_row_q8_0(const BlockQ8_0* x, float* y, int64_t n);
void dequantize_row_q8_1(const BlockQ8_1* x, float* y, int64_t n);
void dequantize_row_q2_K(const BlockQ2_K* x, float* y, int64_t n);
void dequantize_row_q3_K(const BlockQ3_K* x, float* y, int64_t n);
void dequantize_row_q4_K(const BlockQ4_K* x, float* y, int64_t n);
void dequantize_row_q5_K(const BlockQ5_K* x, float* y, int64_t n);
void dequantize_row_q6_K(const BlockQ6_K* x, float* y, int64_t n);
void dequantize_row_q8_K(const BlockQ8_K* x, float* y, int64_t n);
void dequantize_row_iq4_nl(const BlockIQ4_NL* x, float* y, int64_t n);
void dequantize_row_iq4_xs(const BlockIQ4_XS* x, float* y, int64_t n);
void dequantize_row_mxfp4(const BlockMXFP4* x, float* y, int64_t n);
void dequantize_row_f16(const uint16_t* x, float* y, int64_t n);
void dequantize_row_bf16(const uint16_t* x, float* y, int64_t n);

void quantize_row_q4_0(const float* x, BlockQ4_0* y, int64_t n);
void quantize_row_q4_1(const float* x, BlockQ4_1* y, int64_t n);
void quantize_row_q5_0(const float* x, BlockQ5_0* y, int64_t n);
void quantize_row_q5_1(const float* x, BlockQ5_1* y, int64_t n);
// Activation formats. Q8_0: d = amax/127, q = round(x/d). Q8_1: the same plus
// s = fp16(d * sum(q)). Q8_K: d = max/-127 (float32), q = min(127, nearest(x/d)),
// bsums[i] = sum of q over the i-th 16 elements.
void quantize_row_q8_0(const float* x, BlockQ8_0* y, int64_t n);
void quantize_row_q8_1(const float* x, BlockQ8_1* y, int64_t n);
void quantize_row_q8_K(const float* x, BlockQ8_K* y, int64_t n);
void quantize_row_q2_K(const float* x, BlockQ2_K* y, int64_t n);
void quantize_row_q3_K(const float* x, BlockQ3_K* y, int64_t n);
void quantize_row_q4_K(const float* x, BlockQ4_K* y, int64_t n);
void quantize_row_q5_K(const float* x, BlockQ5_K* y, int64_t n);
void quantize_row_q6_K(const float* x, BlockQ6_K* y, int64_t n);
void quantize_row_iq4_nl(const float* x, BlockIQ4_NL* y, int64_t n);
void quantize_row_iq4_xs(const float* x, BlockIQ4_XS* y, int64_t n);
void quantize_row_mxfp4(const float* x, BlockMXFP4* y, int64_t n);
void quantize_row_f16(const float* x, uint16_t* y, int64_t n);
void quantize_row_bf16(const float* x, uint16_t* y, int64_t n);

}  // namespace quarrel::quant
