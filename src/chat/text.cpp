#include "chat/text.h"

#include <unicode/uchar.h>
#include <unicode/ustring.h>

#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <vector>

namespace quarrel::chat::text {

namespace {
// Invalid bytes decode to kInvalidBase + byte: never whitespace, never a letter, and written
// back as the original byte.
constexpr uint32_t kInvalidBase = 0x110000;
}  // namespace

uint32_t decode(std::string_view s, size_t& i) {
  const auto b0 = static_cast<unsigned char>(s[i]);
  if (b0 < 0x80) {
    ++i;
    return b0;
  }
  int len = 0;
  uint32_t cp = 0;
  if ((b0 & 0xE0) == 0xC0) len = 2, cp = b0 & 0x1F;
  else if ((b0 & 0xF0) == 0xE0) len = 3, cp = b0 & 0x0F;
  else if ((b0 & 0xF8) == 0xF0) len = 4, cp = b0 & 0x07;
  if (len == 0 || i + len > s.size()) {
    ++i;
    return kInvalidBase + b0;
  }
  for (int k = 1; k < len; ++k) {
    const auto b = static_cast<unsigned char>(s[i + k]);
    if ((b & 0xC0) != 0x80) {
      ++i;
      return kInvalidBase + b0;
    }
    cp = (cp << 6) | (b & 0x3F);
  }
  const bool overlong = (len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000);
  if (overlong || cp > 0x10FFFF) {
    ++i;
    return kInvalidBase + b0;
  }
  i += len;
  return cp;
}

void append_utf8(std::string& out, uint32_t cp) {
  if (cp >= kInvalidBase) {
    out.push_back(static_cast<char>(cp - kInvalidBase));
  } else if (cp < 0x80) {
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

size_t count_code_points(std::string_view s) {
  size_t n = 0;
  for (size_t i = 0; i < s.size(); ++n) decode(s, i);
  return n;
}

size_t utf16_length(std::string_view s) {
  size_t n = 0;
  for (size_t i = 0; i < s.size();) {
    const uint32_t cp = decode(s, i);
    n += (cp >= 0x10000 && cp < kInvalidBase) ? 2 : 1;
  }
  return n;
}

bool is_js_space(uint32_t cp) {
  switch (cp) {
    case 0x09: case 0x0A: case 0x0B: case 0x0C: case 0x0D: case 0x20: case 0xA0: case 0x1680:
    case 0x2028: case 0x2029: case 0x202F: case 0x205F: case 0x3000: case 0xFEFF:
      return true;
    default:
      return cp >= 0x2000 && cp <= 0x200A;
  }
}

size_t js_space_at(std::string_view s, size_t i) {
  if (i >= s.size()) return 0;
  size_t j = i;
  const uint32_t cp = decode(s, j);
  return is_js_space(cp) ? j - i : 0;
}

std::string_view trim_start(std::string_view s) {
  size_t i = 0;
  while (size_t n = js_space_at(s, i)) i += n;
  return s.substr(i);
}

std::string_view trim_end(std::string_view s) {
  // Walk forward remembering where the trailing run of whitespace starts.
  size_t end = 0;
  for (size_t i = 0; i < s.size();) {
    const uint32_t cp = decode(s, i);
    if (!is_js_space(cp)) end = i;
  }
  return s.substr(0, end);
}

std::string_view trim(std::string_view s) { return trim_end(trim_start(s)); }

std::string_view strip_chars(std::string_view s, std::string_view chars, bool left, bool right) {
  std::vector<uint32_t> set;
  for (size_t i = 0; i < chars.size();) set.push_back(decode(chars, i));
  auto in_set = [&](uint32_t cp) {
    for (uint32_t c : set)
      if (c == cp) return true;
    return false;
  };
  size_t begin = 0;
  if (left) {
    while (begin < s.size()) {
      size_t j = begin;
      if (!in_set(decode(s, j))) break;
      begin = j;
    }
  }
  size_t end = s.size();
  if (right) {
    size_t last_keep = begin;
    for (size_t i = begin; i < s.size();) {
      const uint32_t cp = decode(s, i);
      if (!in_set(cp)) last_keep = i;
    }
    end = last_keep;
  }
  return s.substr(begin, end - begin);
}

namespace {

std::u16string to_utf16(std::string_view s) {
  std::u16string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size();) {
    uint32_t cp = decode(s, i);
    if (cp >= kInvalidBase) cp = 0xFFFD;
    if (cp >= 0x10000) {
      cp -= 0x10000;
      out.push_back(static_cast<char16_t>(0xD800 + (cp >> 10)));
      out.push_back(static_cast<char16_t>(0xDC00 + (cp & 0x3FF)));
    } else {
      out.push_back(static_cast<char16_t>(cp));
    }
  }
  return out;
}

std::string from_utf16(const std::u16string& s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    uint32_t cp = s[i];
    if (cp >= 0xD800 && cp < 0xDC00 && i + 1 < s.size() && s[i + 1] >= 0xDC00 && s[i + 1] < 0xE000) {
      cp = 0x10000 + ((cp - 0xD800) << 10) + (s[i + 1] - 0xDC00);
      ++i;
    }
    append_utf8(out, cp);
  }
  return out;
}

bool is_ascii(std::string_view s) {
  for (char c : s)
    if (static_cast<unsigned char>(c) >= 0x80) return false;
  return true;
}

std::string icu_case(std::string_view s, bool upper) {
  const std::u16string src = to_utf16(s);
  std::u16string dst(src.size() * 3 + 8, u'\0');
  UErrorCode err = U_ZERO_ERROR;
  const auto* in = reinterpret_cast<const UChar*>(src.data());
  auto* out = reinterpret_cast<UChar*>(dst.data());
  const int32_t n = upper ? u_strToUpper(out, static_cast<int32_t>(dst.size()), in, static_cast<int32_t>(src.size()), "", &err)
                          : u_strToLower(out, static_cast<int32_t>(dst.size()), in, static_cast<int32_t>(src.size()), "", &err);
  if (U_FAILURE(err)) return std::string(s);
  dst.resize(static_cast<size_t>(n));
  return from_utf16(dst);
}

}  // namespace

std::string to_upper(std::string_view s) {
  if (is_ascii(s)) {
    std::string r(s);
    for (char& c : r)
      if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 32);
    return r;
  }
  return icu_case(s, true);
}

std::string to_lower(std::string_view s) {
  if (is_ascii(s)) {
    std::string r(s);
    for (char& c : r)
      if (c >= 'A' && c <= 'Z') c = static_cast<char>(c + 32);
    return r;
  }
  return icu_case(s, false);
}

std::string title_case(std::string_view s) {
  auto word = [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
  };
  std::string r(s);
  for (size_t i = 0; i < r.size(); ++i)
    if (word(r[i]) && (i == 0 || !word(r[i - 1])) && r[i] >= 'a' && r[i] <= 'z') r[i] = static_cast<char>(r[i] - 32);
  return r;
}

std::string capitalize_first(std::string_view s) {
  if (s.empty()) return {};
  size_t i = 0;
  const uint32_t cp = decode(s, i);
  if (cp >= 0x10000) return std::string(s);  // JavaScript uppercases half a surrogate pair: a no-op
  return to_upper(s.substr(0, i)) + std::string(s.substr(i));
}

// ---- numbers --------------------------------------------------------------------------

std::string js_number(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v < 0 ? "-Infinity" : "Infinity";
  if (v == 0) return "0";
  char buf[64];
  const auto res = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::scientific);
  std::string sci(buf, res.ptr);  // "-1.2345e+02"
  std::string out;
  size_t p = 0;
  if (sci[0] == '-') {
    out.push_back('-');
    p = 1;
  }
  const size_t epos = sci.find('e');
  std::string digits;
  for (size_t i = p; i < epos; ++i)
    if (sci[i] != '.') digits.push_back(sci[i]);
  while (digits.size() > 1 && digits.back() == '0') digits.pop_back();
  const int e = std::atoi(sci.c_str() + epos + 1);
  const int k = static_cast<int>(digits.size());
  const int n = e + 1;  // value = 0.d1d2... * 10^n
  if (k <= n && n <= 21) {
    out += digits;
    out.append(static_cast<size_t>(n - k), '0');
  } else if (0 < n && n <= 21) {
    out += digits.substr(0, static_cast<size_t>(n));
    out.push_back('.');
    out += digits.substr(static_cast<size_t>(n));
  } else if (-6 < n && n <= 0) {
    out += "0.";
    out.append(static_cast<size_t>(-n), '0');
    out += digits;
  } else {
    out.push_back(digits[0]);
    if (k > 1) {
      out.push_back('.');
      out += digits.substr(1);
    }
    out.push_back('e');
    out.push_back(n - 1 >= 0 ? '+' : '-');
    out += std::to_string(std::abs(n - 1));
  }
  return out;
}

std::string js_float_display(double v) {
  if (v == 0 && std::signbit(v)) return "-0.0";
  if (std::isfinite(v) && v == std::trunc(v)) {
    if (std::fabs(v) >= 1e21) return js_number(v);  // toFixed falls back to ToString
    char buf[400];
    const auto res = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::fixed, 1);
    return std::string(buf, res.ptr);
  }
  return js_number(v);
}

namespace {

bool is_digit(char c) { return c >= '0' && c <= '9'; }

// Length of the longest StrDecimalLiteral prefix of s ([+-] (Infinity | digits[.digits][e..] |
// .digits[e..])), 0 if none.
size_t decimal_prefix(std::string_view s) {
  size_t i = 0;
  if (i < s.size() && (s[i] == '+' || s[i] == '-')) ++i;
  if (s.substr(i, 8) == "Infinity") return i + 8;
  size_t int_digits = 0, frac_digits = 0;
  while (i < s.size() && is_digit(s[i])) ++i, ++int_digits;
  size_t end = int_digits ? i : 0;
  if (i < s.size() && s[i] == '.') {
    size_t j = i + 1;
    while (j < s.size() && is_digit(s[j])) ++j, ++frac_digits;
    if (int_digits || frac_digits) {
      i = j;
      end = i;
    }
  }
  if (!int_digits && !frac_digits) return 0;
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    size_t j = i + 1;
    if (j < s.size() && (s[j] == '+' || s[j] == '-')) ++j;
    size_t exp_digits = 0;
    while (j < s.size() && is_digit(s[j])) ++j, ++exp_digits;
    if (exp_digits) end = j;
  }
  return end;
}

double parse_decimal(std::string_view s) {
  std::string t(s);
  if (t.find("Infinity") != std::string::npos) return t[0] == '-' ? -INFINITY : INFINITY;
  return std::strtod(t.c_str(), nullptr);
}

}  // namespace

double js_string_to_number(std::string_view s) {
  s = trim(s);
  if (s.empty()) return 0;
  if (s.size() > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X' || s[1] == 'o' || s[1] == 'O' || s[1] == 'b' || s[1] == 'B')) {
    const int base = (s[1] == 'x' || s[1] == 'X') ? 16 : (s[1] == 'o' || s[1] == 'O') ? 8 : 2;
    double v = 0;
    for (size_t i = 2; i < s.size(); ++i) {
      const char c = s[i];
      int d = is_digit(c) ? c - '0' : (c >= 'a' && c <= 'f') ? c - 'a' + 10 : (c >= 'A' && c <= 'F') ? c - 'A' + 10 : 99;
      if (d >= base) return NAN;
      v = v * base + d;
    }
    return v;
  }
  const size_t n = decimal_prefix(s);
  if (n == 0 || n != s.size()) return NAN;
  return parse_decimal(s);
}

bool js_parse_int(std::string_view s, double& out) {
  s = trim_start(s);
  size_t i = 0;
  bool neg = false;
  if (i < s.size() && (s[i] == '+' || s[i] == '-')) neg = s[i++] == '-';
  const size_t start = i;
  double v = 0;
  while (i < s.size() && is_digit(s[i])) v = v * 10 + (s[i++] - '0');
  if (i == start) return false;
  if (i - start > 15) v = std::strtod(std::string(s.substr(start, i - start)).c_str(), nullptr);
  out = neg ? -v : v;
  return true;
}

bool js_parse_float(std::string_view s, double& out) {
  s = trim_start(s);
  const size_t n = decimal_prefix(s);
  if (n == 0) return false;
  out = parse_decimal(s.substr(0, n));
  return true;
}

// ---- JSON strings -----------------------------------------------------------------------

void append_json_string(std::string& out, std::string_view s, bool ensure_ascii) {
  static const char* hex = "0123456789abcdef";
  auto u_escape = [&](uint32_t unit) {
    out += "\\u";
    out.push_back(hex[(unit >> 12) & 15]);
    out.push_back(hex[(unit >> 8) & 15]);
    out.push_back(hex[(unit >> 4) & 15]);
    out.push_back(hex[unit & 15]);
  };
  out.push_back('"');
  for (size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      switch (c) {
        case '"': out += "\\\""; break;
        case '\\': out += "\\\\"; break;
        case '\b': out += "\\b"; break;
        case '\f': out += "\\f"; break;
        case '\n': out += "\\n"; break;
        case '\r': out += "\\r"; break;
        case '\t': out += "\\t"; break;
        default:
          if (c < 0x20) u_escape(c);
          else if (c == 0x7f && ensure_ascii) u_escape(c);
          else out.push_back(static_cast<char>(c));
      }
      ++i;
      continue;
    }
    const size_t start = i;
    const uint32_t cp = decode(s, i);
    if (!ensure_ascii) {
      out.append(s.substr(start, i - start));
    } else if (cp >= kInvalidBase) {
      u_escape(0xFFFD);
    } else if (cp >= 0x10000) {
      const uint32_t v = cp - 0x10000;
      u_escape(0xD800 + (v >> 10));
      u_escape(0xDC00 + (v & 0x3FF));
    } else {
      u_escape(cp);
    }
  }
  out.push_back('"');
}

}  // namespace quarrel::chat::text
