#pragma once
// The --kv-type option of run, serve and bench: one parser and one help text for all three.
// Which of these types a backend can hold is backend::require_kv_type's (capabilities()).
#include <string_view>

#include "core/ggml_type.h"

namespace quarrel::cli {

inline constexpr const char* kKvTypeHelp =
    "KV cache type: f16, f32, q8_0 or f8_e4m3 (also fp8, fp8_e4m3) (default f16; cpu: f16, f32, q8_0; cuda: f16, "
    "f8_e4m3)";

// "f16" / "f32" / "q8_0" / "f8_e4m3", and vLLM's "fp8" / "fp8_e4m3" for F8_E4M3, in any case.
// Error(kInvalidArgument) naming the valid names otherwise.
GgmlType parse_kv_type_option(std::string_view name);

}  // namespace quarrel::cli
