#pragma once
// Helpers shared by the filters, tests, methods and globals of the interpreter (internal).
#include <string>
#include <string_view>

#include "chat/value.h"

namespace quarrel::chat::jinja {

// Python's str.replace(old, new, count): count < 0 replaces all; an empty `old` inserts `new`
// between every code point (and at both ends).
std::string replace_all(std::string_view s, std::string_view from, std::string_view to, int64_t count);

// dict.dictsort(case_sensitive=false, by='key', reverse=false) -> [[key, value], ...].
Value dictsort(const Value& dict, const CallArgs& args);
// [[key, value], ...] in insertion order.
Value dict_items(const Value& dict);

// item.a.b.0: dict keys and list indices along a dotted path; undefined when missing.
Value attribute_path(const Value& item, std::string_view path);

// How `join` writes one element: none and undefined as "", others as JavaScript would.
std::string join_piece(const Value& v);

// Value -> string for string-only arguments; throws naming `what` otherwise.
const std::string& expect_string(const Value& v, const char* what);
int64_t expect_int(const Value& v, const char* what);
bool expect_bool(const Value& v, const char* what);

// A Value holding an integer when d fits int64 exactly, else a float.
Value int_value(double d);

}  // namespace quarrel::chat::jinja
