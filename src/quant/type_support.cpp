#include <algorithm>
#include <array>

#include "core/error.h"
#include "quant/quant.h"

namespace quarrel::quant {
namespace {

constexpr std::array kSupported = {
    GgmlType::F32,  GgmlType::F16,  GgmlType::Q4_0, GgmlType::Q4_1,   GgmlType::Q5_0,   GgmlType::Q5_1,
    GgmlType::Q8_0, GgmlType::Q2_K, GgmlType::Q3_K, GgmlType::Q4_K,   GgmlType::Q5_K,   GgmlType::Q6_K,
    GgmlType::IQ4_NL, GgmlType::IQ4_XS, GgmlType::BF16, GgmlType::MXFP4,
};

}  // namespace

bool is_supported(GgmlType type) {
  return std::find(kSupported.begin(), kSupported.end(), type) != kSupported.end();
}

std::span<const GgmlType> supported_types() { return kSupported; }

void require_supported(std::string_view tensor_name, GgmlType type) {
  if (is_supported(type)) return;
  const auto tr = ggml_type_traits(static_cast<uint32_t>(type));
  const std::string name = tr ? std::string(tr->name) : fmt::format("#{}", static_cast<uint32_t>(type));
  fail(ErrorCode::kUnsupported, "tensor '{}' has type {}, which Quarrel cannot compute with", tensor_name, name);
}

bool can_dequantize(GgmlType type) { return is_supported(type) || type == GgmlType::Q8_1 || type == GgmlType::Q8_K; }

bool can_quantize(GgmlType type) { return can_dequantize(type); }

}  // namespace quarrel::quant
