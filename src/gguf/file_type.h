#pragma once
// general.file_type (llama.cpp's llama_ftype): the quantization mix of a whole file.
#include <cstdint>
#include <optional>
#include <string_view>

namespace quarrel::gguf {

// 15 -> "MOSTLY_Q4_K_M", 0 -> "ALL_F32"; nullopt for a number llama.cpp does not define.
std::optional<std::string_view> file_type_name(uint32_t ftype);
// "Q4_K_M", "q4_k_m" or "MOSTLY_Q4_K_M" -> 15; "F32" / "ALL_F32" -> 0; nullopt if unknown.
std::optional<uint32_t> file_type_from_name(std::string_view name);

}  // namespace quarrel::gguf
