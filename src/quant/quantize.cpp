// quantize_row: the one entry point that checks the type and the element count and hands the
// row to the type's quantizer (quantize_blocks.cpp, quantize_k.cpp, quantize_iq4.cpp).
#include <cstring>

#include "core/error.h"
#include "quant/quant.h"

namespace quarrel::quant {

void quantize_row(GgmlType type, const float* src, void* dst, int64_t n) {
  if (!can_quantize(type)) fail(ErrorCode::kUnsupported, "cannot quantize to tensor type {}", type_name(type));
  const auto tr = traits(type);
  if (n < 0 || n % tr.block_size != 0)
    fail(ErrorCode::kInvalidArgument, "quantize {}: {} elements is not a multiple of the block size {}", type_name(type),
         n, tr.block_size);
  switch (type) {
    case GgmlType::F32: std::memcpy(dst, src, static_cast<size_t>(n) * sizeof(float)); return;
    case GgmlType::F16: return quantize_row_f16(src, static_cast<uint16_t*>(dst), n);
    case GgmlType::BF16: return quantize_row_bf16(src, static_cast<uint16_t*>(dst), n);
    case GgmlType::Q4_0: return quantize_row_q4_0(src, static_cast<BlockQ4_0*>(dst), n);
    case GgmlType::Q4_1: return quantize_row_q4_1(src, static_cast<BlockQ4_1*>(dst), n);
    case GgmlType::Q5_0: return quantize_row_q5_0(src, static_cast<BlockQ5_0*>(dst), n);
    case GgmlType::Q5_1: return quantize_row_q5_1(src, static_cast<BlockQ5_1*>(dst), n);
    case GgmlType::Q8_0: return quantize_row_q8_0(src, static_cast<BlockQ8_0*>(dst), n);
    case GgmlType::Q8_1: return quantize_row_q8_1(src, static_cast<BlockQ8_1*>(dst), n);
    case GgmlType::Q2_K: return quantize_row_q2_K(src, static_cast<BlockQ2_K*>(dst), n);
    case GgmlType::Q3_K: return quantize_row_q3_K(src, static_cast<BlockQ3_K*>(dst), n);
    case GgmlType::Q4_K: return quantize_row_q4_K(src, static_cast<BlockQ4_K*>(dst), n);
    case GgmlType::Q5_K: return quantize_row_q5_K(src, static_cast<BlockQ5_K*>(dst), n);
    case GgmlType::Q6_K: return quantize_row_q6_K(src, static_cast<BlockQ6_K*>(dst), n);
    case GgmlType::Q8_K: return quantize_row_q8_K(src, static_cast<BlockQ8_K*>(dst), n);
    case GgmlType::IQ4_NL: return quantize_row_iq4_nl(src, static_cast<BlockIQ4_NL*>(dst), n);
    case GgmlType::IQ4_XS: return quantize_row_iq4_xs(src, static_cast<BlockIQ4_XS*>(dst), n);
    case GgmlType::MXFP4: return quantize_row_mxfp4(src, static_cast<BlockMXFP4*>(dst), n);
    default: break;
  }
  QUARREL_ASSERT(false);
}

}  // namespace quarrel::quant
