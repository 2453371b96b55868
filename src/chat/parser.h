#pragma once
// Tokens -> syntax tree, with @huggingface/jinja's grammar and operator precedence (lowest
// first): `a if c else b`, or, and, not, comparisons and `in` (left to right, not chained),
// + - ~, * / // %, ** (left-associative), `is` tests, `|` filters, unary + -, calls / member
// access / slices, literals. Beyond it: test arguments (`is divisibleby(3)`, `is ge 2`).
// Syntax errors and unsupported statements throw TemplateError naming the line.
#include <string_view>
#include <vector>

#include "chat/ast.h"
#include "chat/lexer.h"

namespace quarrel::chat::jinja {

Program parse(const std::vector<Token>& tokens);
inline Program parse_source(std::string_view source, const LexOptions& opts = {}) { return parse(tokenize(source, opts)); }

}  // namespace quarrel::chat::jinja
