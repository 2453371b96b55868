#include "tokenizer/unicode.h"

#include <unicode/bytestream.h>
#include <unicode/normalizer2.h>
#include <unicode/uchar.h>

#include "core/error.h"

namespace quarrel::tokenizer {

// ---- UTF-8 ----------------------------------------------------------------------------------

void append_utf8(std::string& out, char32_t cp) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

namespace {

// What a lead byte asks for: the number of continuation bytes and the allowed range of the
// first one (which excludes overlongs, surrogates and values above U+10FFFF). need < 0: the
// byte cannot start a character.
struct Lead {
  int need;
  uint8_t lo, hi;
  char32_t bits;
};

inline Lead lead_of(uint8_t b) {
  if (b < 0x80) return {0, 0x80, 0xBF, b};
  if (b >= 0xC2 && b <= 0xDF) return {1, 0x80, 0xBF, char32_t(b & 0x1F)};
  if (b >= 0xE0 && b <= 0xEF)
    return {2, uint8_t(b == 0xE0 ? 0xA0 : 0x80), uint8_t(b == 0xED ? 0x9F : 0xBF), char32_t(b & 0x0F)};
  if (b >= 0xF0 && b <= 0xF4)
    return {3, uint8_t(b == 0xF0 ? 0x90 : 0x80), uint8_t(b == 0xF4 ? 0x8F : 0xBF), char32_t(b & 0x07)};
  return {-1, 0, 0, 0};
}

}  // namespace

char32_t next_utf8(std::string_view s, size_t& pos) {
  const auto b0 = static_cast<uint8_t>(s[pos]);
  if (b0 < 0x80) {
    ++pos;
    return b0;
  }
  Lead l = lead_of(b0);
  if (l.need < 0) {
    ++pos;
    return 0xFFFD;
  }
  size_t p = pos + 1;
  char32_t cp = l.bits;
  uint8_t lo = l.lo, hi = l.hi;
  for (int i = 0; i < l.need; ++i) {
    if (p >= s.size()) {
      pos = p;
      return 0xFFFD;
    }
    const auto b = static_cast<uint8_t>(s[p]);
    if (b < lo || b > hi) {  // the offending byte starts the next character
      pos = p;
      return 0xFFFD;
    }
    lo = 0x80;
    hi = 0xBF;
    cp = (cp << 6) | (b & 0x3F);
    ++p;
  }
  pos = p;
  return cp;
}

bool is_valid_utf8(std::string_view s) {
  size_t i = 0;
  const size_t n = s.size();
  while (i < n) {
    const auto b = static_cast<uint8_t>(s[i]);
    if (b < 0x80) {
      ++i;
      continue;
    }
    const size_t start = i;
    const char32_t cp = next_utf8(s, i);
    // U+FFFD decoded from its own 3 bytes is valid; from anything else it was a repair.
    if (cp == 0xFFFD && !(i - start == 3 && static_cast<uint8_t>(s[start]) == 0xEF)) return false;
  }
  return true;
}

std::string sanitize_utf8(std::string_view s) {
  if (is_valid_utf8(s)) return std::string(s);
  std::string out;
  out.reserve(s.size() + 8);
  size_t i = 0;
  while (i < s.size()) {
    const auto b = static_cast<uint8_t>(s[i]);
    if (b < 0x80) {
      out.push_back(static_cast<char>(b));
      ++i;
      continue;
    }
    const size_t start = i;
    const char32_t cp = next_utf8(s, i);
    if (cp == 0xFFFD && !(i - start == 3 && b == 0xEF))
      out += "\xEF\xBF\xBD";
    else
      out.append(s.substr(start, i - start));
  }
  return out;
}

size_t incomplete_utf8_tail(std::string_view s) {
  const size_t n = s.size();
  for (size_t k = 1; k <= 3 && k <= n; ++k) {
    const auto b = static_cast<uint8_t>(s[n - k]);
    if ((b & 0xC0) == 0x80) continue;  // a continuation byte: look further back
    const Lead l = lead_of(b);
    if (l.need <= 0 || static_cast<size_t>(l.need) + 1 <= k) return 0;
    uint8_t lo = l.lo, hi = l.hi;
    for (size_t j = n - k + 1; j < n; ++j) {
      const auto c = static_cast<uint8_t>(s[j]);
      if (c < lo || c > hi) return 0;
      lo = 0x80;
      hi = 0xBF;
    }
    return k;
  }
  return 0;
}

// ---- byte-level BPE ----------------------------------------------------------------------------

namespace {

struct ByteMaps {
  std::array<std::string, 256> to_unicode;
  std::array<int16_t, 324> to_byte;  // code points 0..323 cover all 256 characters

  ByteMaps() {
    to_byte.fill(-1);
    std::array<char32_t, 256> cps{};
    std::array<bool, 256> direct{};
    for (int b = 0; b < 256; ++b)
      direct[b] = (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
    int n = 0;
    for (int b = 0; b < 256; ++b) cps[b] = direct[b] ? char32_t(b) : char32_t(256 + n++);
    for (int b = 0; b < 256; ++b) {
      append_utf8(to_unicode[b], cps[b]);
      to_byte[cps[b]] = static_cast<int16_t>(b);
    }
  }
};

const ByteMaps& byte_maps() {
  static const ByteMaps maps;
  return maps;
}

}  // namespace

const std::array<std::string, 256>& byte_to_unicode() { return byte_maps().to_unicode; }

int unicode_to_byte(char32_t cp) {
  const auto& m = byte_maps();
  return cp < m.to_byte.size() ? m.to_byte[cp] : -1;
}

bool byte_level_decode(std::string_view text, std::string& out) {
  bool all = true;
  size_t i = 0;
  while (i < text.size()) {
    const size_t start = i;
    const char32_t cp = next_utf8(text, i);
    const int b = unicode_to_byte(cp);
    if (b >= 0) {
      out.push_back(static_cast<char>(b));
    } else {
      out.append(text.substr(start, i - start));
      all = false;
    }
  }
  return all;
}

// ---- character properties -----------------------------------------------------------------------

bool is_unicode_whitespace(char32_t cp) { return u_isUWhiteSpace(static_cast<UChar32>(cp)); }

bool is_unicode_control(char32_t cp) {
  return (U_GET_GC_MASK(static_cast<UChar32>(cp)) & U_GC_C_MASK) != 0;
}

bool is_unicode_punctuation(char32_t cp) {
  return (U_GET_GC_MASK(static_cast<UChar32>(cp)) & U_GC_P_MASK) != 0;
}

bool is_unicode_symbol(char32_t cp) {
  return (U_GET_GC_MASK(static_cast<UChar32>(cp)) & U_GC_S_MASK) != 0;
}

bool is_unicode_nonspacing_mark(char32_t cp) {
  return u_charType(static_cast<UChar32>(cp)) == U_NON_SPACING_MARK;
}

char32_t unicode_to_lower(char32_t cp) { return static_cast<char32_t>(u_tolower(static_cast<UChar32>(cp))); }

// ---- normalization -------------------------------------------------------------------------------

namespace {

bool all_ascii(std::string_view s) {
  for (char c : s)
    if (static_cast<uint8_t>(c) >= 0x80) return false;
  return true;
}

std::string normalize_with(const icu::Normalizer2* norm, std::string_view s, const char* what) {
  UErrorCode err = U_ZERO_ERROR;
  const icu::StringPiece piece(s.data(), static_cast<int32_t>(s.size()));
  if (norm->isNormalizedUTF8(piece, err) && U_SUCCESS(err)) return std::string(s);
  err = U_ZERO_ERROR;
  std::string out;
  icu::StringByteSink<std::string> sink(&out, static_cast<int32_t>(s.size()));
  norm->normalizeUTF8(0, piece, sink, nullptr, err);
  if (U_FAILURE(err)) fail(ErrorCode::kInternal, "ICU {} normalization failed: {}", what, u_errorName(err));
  return out;
}

}  // namespace

std::string normalize_nfc(std::string_view s) {
  if (all_ascii(s)) return std::string(s);
  UErrorCode err = U_ZERO_ERROR;
  const icu::Normalizer2* n = icu::Normalizer2::getNFCInstance(err);
  if (U_FAILURE(err)) fail(ErrorCode::kInternal, "ICU NFC unavailable: {}", u_errorName(err));
  return normalize_with(n, s, "NFC");
}

std::string normalize_nfd(std::string_view s) {
  if (all_ascii(s)) return std::string(s);
  UErrorCode err = U_ZERO_ERROR;
  const icu::Normalizer2* n = icu::Normalizer2::getNFDInstance(err);
  if (U_FAILURE(err)) fail(ErrorCode::kInternal, "ICU NFD unavailable: {}", u_errorName(err));
  return normalize_with(n, s, "NFD");
}

}  // namespace quarrel::tokenizer
