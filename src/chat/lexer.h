#pragma once
// Template source -> tokens, following @huggingface/jinja's lexer: the same preprocessing
// (one trailing newline dropped, lstrip_blocks and trim_blocks as its regular expressions apply
// them, the transformers-specific {% generation %} tags removed), the same whitespace control
// ({%- -%} {{- -}} {#- -#}) and the same token rules. Additionally {% raw %}...{% endraw %} is
// passed through verbatim. Every token carries the 1-based line of the original source.
#include <string>
#include <string_view>
#include <vector>

namespace quarrel::chat::jinja {

enum class Tok {
  Text,
  Number,          // 12, 1.5, -3 (a sign that cannot be binary is folded into the literal)
  String,          // contents with escapes resolved
  Identifier,      // names and keywords
  Equals,          // =
  OpenParen, CloseParen,
  OpenStatement, CloseStatement,    // {% %}
  OpenExpression, CloseExpression,  // {{ }}
  OpenBracket, CloseBracket,        // [ ]
  OpenCurly, CloseCurly,            // { }
  Comma, Dot, Colon, Pipe,
  Additive,        // + - ~
  Multiplicative,  // * / // %
  Power,           // **
  Comparison,      // < > <= >= == !=
  Unary,           // + - (unary, not followed by a number)
  Comment,
};

struct Token {
  Tok type;
  std::string value;
  int line = 0;
};

struct LexOptions {
  bool trim_blocks = true;
  bool lstrip_blocks = true;
};

// Throws TemplateError(kSyntax) naming the line.
std::vector<Token> tokenize(std::string_view source, const LexOptions& opts = {});

const char* token_name(Tok t);

}  // namespace quarrel::chat::jinja
