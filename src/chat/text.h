#pragma once
// Text helpers for the template interpreter. Strings are UTF-8 throughout; where the reference
// renderer (@huggingface/jinja, JavaScript) defines a behaviour in terms of UTF-16 or of
// JavaScript's own rules (what counts as whitespace, how a number prints), these reproduce it.
#include <cstdint>
#include <string>
#include <string_view>

namespace quarrel::chat::text {

// Decodes the code point at s[i] and advances i; invalid bytes decode as themselves (one byte,
// value 0xDC00 + byte is never produced: an invalid byte yields its byte value).
uint32_t decode(std::string_view s, size_t& i);
void append_utf8(std::string& out, uint32_t cp);
// Number of code points; number of UTF-16 code units (JavaScript's String.length).
size_t count_code_points(std::string_view s);
size_t utf16_length(std::string_view s);

// JavaScript's whitespace (/\s/, String.prototype.trim): WhiteSpace and LineTerminator.
bool is_js_space(uint32_t cp);
// Byte length of the JavaScript whitespace code point starting at s[i] (0 if none).
size_t js_space_at(std::string_view s, size_t i);
std::string_view trim(std::string_view s);        // String.prototype.trim
std::string_view trim_start(std::string_view s);  // trimStart
std::string_view trim_end(std::string_view s);    // trimEnd
// Python's str.strip(chars) / lstrip / rstrip with an explicit set of characters.
std::string_view strip_chars(std::string_view s, std::string_view chars, bool left, bool right);

// Full Unicode case mapping (as String.prototype.toUpperCase / toLowerCase).
std::string to_upper(std::string_view s);
std::string to_lower(std::string_view s);
// @huggingface/jinja's title(): an ASCII word character after a non-word one is uppercased.
std::string title_case(std::string_view s);
// First code point uppercased, the rest unchanged.
std::string capitalize_first(std::string_view s);

// JavaScript's Number.prototype.toString() for a double ("1", "0.1", "1e+21", "NaN").
std::string js_number(double v);
// How a float value prints in a template: integral values keep one decimal ("2.0").
std::string js_float_display(double v);
// JavaScript's Number(string) (StringToNumber): NaN when not a number.
double js_string_to_number(std::string_view s);
// parseInt(s, 10) / parseFloat(s): false when no number starts the string.
bool js_parse_int(std::string_view s, double& out);
bool js_parse_float(std::string_view s, double& out);

// JSON.stringify of a string (quotes included); ensure_ascii escapes every UTF-16 unit >= 0x7f.
void append_json_string(std::string& out, std::string_view s, bool ensure_ascii);

}  // namespace quarrel::chat::text
