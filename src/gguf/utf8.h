#pragma once
// Strict UTF-8 validation (no overlong forms, no surrogates, nothing above U+10FFFF).
#include <cstddef>
#include <string_view>

namespace quarrel::gguf {

// Returns the byte offset of the first invalid sequence, or npos when all of `s` is valid.
size_t find_invalid_utf8(std::string_view s);
inline bool is_valid_utf8(std::string_view s) { return find_invalid_utf8(s) == std::string_view::npos; }

}  // namespace quarrel::gguf
