#pragma once
// Unicode helpers for the tokenizers: UTF-8 decoding and repair, the GPT-2 byte <-> character
// mapping of byte-level BPE, and character properties / normalization from ICU (a real Unicode
// database, no hand-written ranges).
#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace quarrel::tokenizer {

// ---- UTF-8 ----------------------------------------------------------------------------------

// Appends the UTF-8 encoding of `cp` (which must be a scalar value <= U+10FFFF).
void append_utf8(std::string& out, char32_t cp);

// Decodes one character at s[pos] and advances pos. Invalid input decodes to U+FFFD and
// advances over one maximal ill-formed subpart (the WHATWG / Unicode "maximal subpart"
// policy, what TextDecoder and Python's errors="replace" do).
char32_t next_utf8(std::string_view s, size_t& pos);

// True when all of `s` is well-formed UTF-8 (no overlongs, surrogates, or > U+10FFFF).
bool is_valid_utf8(std::string_view s);

// `s` with every maximal ill-formed subpart replaced by U+FFFD (U+FFFD per subpart, as a
// browser's TextDecoder does). Valid input comes back unchanged.
std::string sanitize_utf8(std::string_view s);

// Length of the trailing bytes of `s` that start a character but do not finish it and could
// still be completed by more bytes (0 when `s` ends on a character boundary or with bytes
// that can never become valid). Streaming holds these back.
size_t incomplete_utf8_tail(std::string_view s);

// ---- byte-level BPE (GPT-2) ------------------------------------------------------------------

// The printable character GPT-2 uses for each byte, as UTF-8.
const std::array<std::string, 256>& byte_to_unicode();
// The byte a GPT-2 byte character stands for, or -1 when `cp` is not one of the 256.
int unicode_to_byte(char32_t cp);
// Byte-level text (GPT-2 characters) to raw bytes. Characters outside the byte map are kept
// as their UTF-8 (returns false when there was any).
bool byte_level_decode(std::string_view text, std::string& out);

// ---- character properties (ICU) ----------------------------------------------------------------

bool is_unicode_whitespace(char32_t cp);  // White_Space
bool is_unicode_control(char32_t cp);     // general category C* (Cc, Cf, Cs, Co, Cn)
bool is_unicode_punctuation(char32_t cp); // P*
bool is_unicode_symbol(char32_t cp);      // S*
bool is_unicode_nonspacing_mark(char32_t cp);  // Mn
char32_t unicode_to_lower(char32_t cp);   // simple lowercase mapping

// ---- normalization (ICU) ------------------------------------------------------------------------

// NFC / NFD of valid UTF-8 (input must be valid; ASCII returns unchanged without work).
std::string normalize_nfc(std::string_view s);
std::string normalize_nfd(std::string_view s);

}  // namespace quarrel::tokenizer
