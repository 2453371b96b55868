#pragma once
// Tensor element types as numbered in GGUF (ggml_type), with their block geometry, plus
// Quarrel-only element types (numbers >= 1000) that exist only in KV caches and are never valid
// in a file. A quantized row of n elements is n / block_size blocks of type_size bytes each.
#include <cstdint>
#include <optional>
#include <string_view>

namespace quarrel {

enum class GgmlType : uint32_t {
  F32 = 0, F16 = 1, Q4_0 = 2, Q4_1 = 3, Q5_0 = 6, Q5_1 = 7, Q8_0 = 8, Q8_1 = 9,
  Q2_K = 10, Q3_K = 11, Q4_K = 12, Q5_K = 13, Q6_K = 14, Q8_K = 15,
  IQ2_XXS = 16, IQ2_XS = 17, IQ3_XXS = 18, IQ1_S = 19, IQ4_NL = 20, IQ3_S = 21, IQ2_S = 22,
  IQ4_XS = 23, I8 = 24, I16 = 25, I32 = 26, I64 = 27, F64 = 28, IQ1_M = 29, BF16 = 30,
  TQ1_0 = 34, TQ2_0 = 35, MXFP4 = 39,
  // Quarrel-only (no GGUF number): FP8 E4M3 (1 sign, 4 exponent, 3 mantissa bits, bias 7,
  // finite range +-448), a KV cache element type only (core/fp8.h).
  F8_E4M3 = 1000,
};

struct GgmlTypeTraits {
  std::string_view name;  // "Q4_K", as llama.cpp spells it
  uint32_t block_size;    // elements per block (1 for plain types)
  uint32_t type_size;     // bytes per block
};

// Traits of a type number read from a file; nullopt for a number no GGUF type has (the
// Quarrel-only KV types included: a file can never hold them).
std::optional<GgmlTypeTraits> ggml_type_traits(uint32_t type);
// Traits of a known type, Quarrel-only ones included (never fails).
GgmlTypeTraits traits(GgmlType t);
std::string_view type_name(GgmlType t);
// Whether the type has a GGUF number (false for the Quarrel-only KV types).
bool is_gguf_type(GgmlType t);
// "q4_k" / "Q4_K" / "f8_e4m3" -> GgmlType; nullopt when no type has that name.
std::optional<GgmlType> parse_type_name(std::string_view name);

// Bytes taken by a row of n elements; n must be a multiple of the block size.
inline uint64_t row_bytes(GgmlType t, uint64_t n) {
  const auto tr = traits(t);
  return n / tr.block_size * tr.type_size;
}

}  // namespace quarrel
