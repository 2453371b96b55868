#include "chat/lexer.h"

#include "chat/template_error.h"
#include "chat/text.h"

namespace quarrel::chat::jinja {

namespace {

// Preprocessed text with, for every byte, the line it came from.
struct Source {
  std::string text;
  std::vector<int> line;

  void push(char c, int l) {
    text.push_back(c);
    line.push_back(l);
  }
  void copy(const Source& s, size_t begin, size_t end) {
    text.append(s.text, begin, end - begin);
    line.insert(line.end(), s.line.begin() + static_cast<long>(begin), s.line.begin() + static_cast<long>(end));
  }
};

Source number_lines(std::string_view src) {
  Source s;
  s.text.assign(src);
  s.line.resize(src.size());
  int l = 1;
  for (size_t i = 0; i < src.size(); ++i) {
    s.line[i] = l;
    if (src[i] == '\n') ++l;
  }
  return s;
}

bool is_line_terminator_end(const std::string& t, size_t i) {
  // True when t[i] is the last byte of \n, \r, U+2028 or U+2029.
  if (t[i] == '\n' || t[i] == '\r') return true;
  return i >= 2 && t[i - 2] == '\xE2' && t[i - 1] == '\x80' && (t[i] == '\xA8' || t[i] == '\xA9');
}

// /^[ \t]*({[#%-])/gm -> "$1"
Source lstrip_blocks(const Source& s) {
  Source out;
  const std::string& t = s.text;
  bool line_start = true;
  for (size_t i = 0; i < t.size();) {
    if (line_start) {
      size_t j = i;
      while (j < t.size() && (t[j] == ' ' || t[j] == '\t')) ++j;
      if (j + 1 < t.size() && t[j] == '{' && (t[j + 1] == '#' || t[j + 1] == '%' || t[j + 1] == '-')) i = j;
    }
    out.push(t[i], s.line[i]);
    line_start = is_line_terminator_end(t, i);
    ++i;
  }
  return out;
}

// /([#%-]})\n/g -> "$1"
Source trim_blocks(const Source& s) {
  Source out;
  const std::string& t = s.text;
  for (size_t i = 0; i < t.size();) {
    if (i + 2 < t.size() && (t[i] == '#' || t[i] == '%' || t[i] == '-') && t[i + 1] == '}' && t[i + 2] == '\n') {
      out.push(t[i], s.line[i]);
      out.push(t[i + 1], s.line[i + 1]);
      i += 3;
      continue;
    }
    out.push(t[i], s.line[i]);
    ++i;
  }
  return out;
}

// Byte length of the JavaScript whitespace code point that ends just before t[i] (0 if none).
size_t js_space_before(const std::string& t, size_t i) {
  for (size_t len = 1; len <= 3 && len <= i; ++len) {
    if (text::js_space_at(t, i - len) == len) return len;
  }
  return 0;
}

// /(\s*){%(-?)\s*(?:end)?generation\s*(-?)%}(\s*)/gs -> (lstrip ? "" : $1) + (rstrip ? "" : $4)
Source remove_generation_tags(const Source& s) {
  const std::string& t = s.text;
  if (t.find("generation") == std::string::npos) return s;
  Source out;
  size_t cursor = 0;
  size_t search = 0;
  while (true) {
    const size_t tag = t.find("{%", search);
    if (tag == std::string::npos) break;
    size_t q = tag + 2;
    const bool lstrip = q < t.size() && t[q] == '-';
    if (lstrip) ++q;
    while (size_t n = text::js_space_at(t, q)) q += n;
    if (t.compare(q, 3, "end") == 0 && t.compare(q + 3, 10, "generation") == 0) q += 3;
    if (t.compare(q, 10, "generation") != 0) {
      search = tag + 1;
      continue;
    }
    q += 10;
    while (size_t n = text::js_space_at(t, q)) q += n;
    const bool rstrip = q < t.size() && t[q] == '-';
    if (rstrip) ++q;
    if (t.compare(q, 2, "%}") != 0) {
      search = tag + 1;
      continue;
    }
    q += 2;
    size_t ws_start = tag;
    while (ws_start > cursor) {
      const size_t n = js_space_before(t, ws_start);
      if (n == 0 || ws_start - n < cursor) break;
      ws_start -= n;
    }
    size_t ws_end = q;
    while (size_t n = text::js_space_at(t, ws_end)) ws_end += n;
    out.copy(s, cursor, ws_start);
    if (!lstrip) out.copy(s, ws_start, tag);
    if (!rstrip) out.copy(s, q, ws_end);
    cursor = ws_end;
    search = ws_end;
  }
  out.copy(s, cursor, t.size());
  return out;
}

bool is_word(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}
bool is_digit(char c) { return c >= '0' && c <= '9'; }

struct Rule {
  const char* seq;
  Tok type;
};
// Order matters, as in the reference: "**" before "*", "//" before "/".
const Rule kRules[] = {
    {"{%", Tok::OpenStatement}, {"%}", Tok::CloseStatement}, {"{{", Tok::OpenExpression},
    {"}}", Tok::CloseExpression}, {"(", Tok::OpenParen},      {")", Tok::CloseParen},
    {"{", Tok::OpenCurly},       {"}", Tok::CloseCurly},      {"[", Tok::OpenBracket},
    {"]", Tok::CloseBracket},    {",", Tok::Comma},           {".", Tok::Dot},
    {":", Tok::Colon},           {"|", Tok::Pipe},            {"<=", Tok::Comparison},
    {">=", Tok::Comparison},     {"==", Tok::Comparison},     {"!=", Tok::Comparison},
    {"<", Tok::Comparison},      {">", Tok::Comparison},      {"+", Tok::Additive},
    {"-", Tok::Additive},        {"~", Tok::Additive},        {"**", Tok::Power},
    {"*", Tok::Multiplicative},  {"//", Tok::Multiplicative}, {"/", Tok::Multiplicative},
    {"%", Tok::Multiplicative},  {"=", Tok::Equals},
};

class Lexer {
 public:
  explicit Lexer(Source s) : src_(std::move(s)), t_(src_.text) {}

  std::vector<Token> run() {
    while (pos_ < t_.size()) {
      if (text_allowed()) {
        const size_t start = pos_;
        while (pos_ < t_.size() && !(t_[pos_] == '{' && pos_ + 1 < t_.size() &&
                                     (t_[pos_ + 1] == '%' || t_[pos_ + 1] == '{' || t_[pos_ + 1] == '#')))
          ++pos_;
        if (pos_ > start) {
          push(Tok::Text, t_.substr(start, pos_ - start), start);
          raw_text_ = false;
          continue;
        }
      }
      raw_text_ = false;
      if (starts("{#")) {
        comment();
        continue;
      }
      if (starts("{%-")) {
        strip_trailing_whitespace();
        push(Tok::OpenStatement, "{%", pos_);
        pos_ += 3;
        continue;
      }
      if (starts("{{-")) {
        strip_trailing_whitespace();
        push(Tok::OpenExpression, "{{", pos_);
        curly_depth_ = 0;
        pos_ += 3;
        continue;
      }
      skip_whitespace_checked();
      if (starts("-%}")) {
        push(Tok::CloseStatement, "%}", pos_);
        pos_ += 3;
        skip_whitespace();
        maybe_raw(true);
        continue;
      }
      if (starts("-}}")) {
        push(Tok::CloseExpression, "}}", pos_);
        pos_ += 3;
        skip_whitespace();
        continue;
      }
      if (pos_ >= t_.size()) break;
      const char c = t_[pos_];
      if (c == '-' || c == '+') {
        if (tokens_.empty() || tokens_.back().type == Tok::Text) fail(std::string("unexpected character '") + c + "'");
        const Tok last = tokens_.back().type;
        if (last != Tok::Identifier && last != Tok::Number && last != Tok::String && last != Tok::CloseParen &&
            last != Tok::CloseBracket) {
          const size_t start = pos_++;
          std::string num = consume_digits();
          if (!num.empty() && pos_ + 1 < t_.size() && t_[pos_] == '.' && is_digit(t_[pos_ + 1])) {
            ++pos_;
            num += "." + consume_digits();
          }
          push(num.empty() ? Tok::Unary : Tok::Number, std::string(1, c) + num, start);
          continue;
        }
      }
      if (match_rule()) continue;
      if (c == '\'' || c == '"') {
        const size_t start = pos_++;
        std::string s = consume_string(c);
        push(Tok::String, std::move(s), start);
        ++pos_;
        continue;
      }
      if (is_digit(c)) {
        const size_t start = pos_;
        std::string num = consume_digits();
        if ((tokens_.empty() || tokens_.back().type != Tok::Dot) && pos_ + 1 < t_.size() && t_[pos_] == '.' &&
            is_digit(t_[pos_ + 1])) {
          ++pos_;
          num += "." + consume_digits();
        }
        push(Tok::Number, std::move(num), start);
        continue;
      }
      if (is_word(c)) {
        const size_t start = pos_;
        while (pos_ < t_.size() && is_word(t_[pos_])) ++pos_;
        if (pos_ >= t_.size()) fail("unexpected end of template inside a tag");
        push(Tok::Identifier, t_.substr(start, pos_ - start), start);
        continue;
      }
      size_t j = pos_;
      const uint32_t cp = text::decode(t_, j);
      std::string shown;
      text::append_utf8(shown, cp);
      fail("unexpected character '" + shown + "'");
    }
    return std::move(tokens_);
  }

 private:
  [[noreturn]] void fail(const std::string& msg) const {
    const int line = src_.line.empty() ? 1 : src_.line[std::min(pos_, src_.line.size() - 1)];
    throw TemplateError(TemplateErrorKind::kSyntax, line, msg);
  }

  bool starts(std::string_view s) const { return t_.compare(pos_, s.size(), s) == 0; }

  bool text_allowed() const {
    if (tokens_.empty() || raw_text_) return true;
    const Tok last = tokens_.back().type;
    return last == Tok::CloseStatement || last == Tok::CloseExpression || last == Tok::Comment;
  }

  void push(Tok type, std::string value, size_t at) {
    const int line = src_.line.empty() ? 1 : src_.line[std::min(at, src_.line.size() - 1)];
    tokens_.push_back(Token{type, std::move(value), line});
  }

  void strip_trailing_whitespace() {
    if (!tokens_.empty() && tokens_.back().type == Tok::Text) {
      Token& t = tokens_.back();
      t.value = std::string(text::trim_end(t.value));
      if (t.value.empty()) tokens_.pop_back();
    }
  }

  void skip_whitespace() {
    while (size_t n = text::js_space_at(t_, pos_)) pos_ += n;
  }

  // consumeWhile(isWhitespace): whitespace that runs to the end of the input is an error.
  void skip_whitespace_checked() {
    bool moved = false;
    while (size_t n = text::js_space_at(t_, pos_)) {
      pos_ += n;
      moved = true;
    }
    if (moved && pos_ >= t_.size()) fail("unexpected end of template inside a tag");
  }

  std::string consume_digits() {
    const size_t start = pos_;
    while (pos_ < t_.size() && is_digit(t_[pos_])) ++pos_;
    return t_.substr(start, pos_ - start);
  }

  std::string consume_string(char quote) {
    std::string out;
    while (true) {
      if (pos_ >= t_.size()) fail("unterminated string literal");
      const char c = t_[pos_];
      if (c == quote) return out;
      if (c == '\\') {
        ++pos_;
        if (pos_ >= t_.size()) fail("unterminated string literal");
        const char e = t_[pos_++];
        switch (e) {
          case 'n': out.push_back('\n'); break;
          case 't': out.push_back('\t'); break;
          case 'r': out.push_back('\r'); break;
          case 'b': out.push_back('\b'); break;
          case 'f': out.push_back('\f'); break;
          case 'v': out.push_back('\v'); break;
          case '\'': out.push_back('\''); break;
          case '"': out.push_back('"'); break;
          case '\\': out.push_back('\\'); break;
          case 'x':
          case 'u': {
            const size_t len = e == 'x' ? 2 : 4;
            if (pos_ + len > t_.size()) fail(std::string("invalid escape sequence \\") + e);
            uint32_t cp = 0;
            for (size_t k = 0; k < len; ++k) {
              const char h = t_[pos_ + k];
              const int d = is_digit(h) ? h - '0' : (h >= 'a' && h <= 'f') ? h - 'a' + 10 : (h >= 'A' && h <= 'F') ? h - 'A' + 10 : -1;
              if (d < 0) fail(std::string("invalid escape sequence \\") + e + t_.substr(pos_, len));
              cp = cp * 16 + static_cast<uint32_t>(d);
            }
            pos_ += len;
            text::append_utf8(out, cp);
            break;
          }
          default:  // kept as written, as Python does
            out.push_back('\\');
            out.push_back(e);
        }
        continue;
      }
      out.push_back(c);
      ++pos_;
    }
  }

  bool match_rule() {
    for (const Rule& r : kRules) {
      const std::string_view seq(r.seq);
      if (seq == "}}" && curly_depth_ > 0) continue;
      if (!starts(seq)) continue;
      push(r.type, std::string(seq), pos_);
      if (r.type == Tok::OpenExpression) curly_depth_ = 0;
      else if (r.type == Tok::OpenCurly) ++curly_depth_;
      else if (r.type == Tok::CloseCurly) --curly_depth_;
      pos_ += seq.size();
      if (r.type == Tok::CloseStatement) maybe_raw(false);
      return true;
    }
    return false;
  }

  void comment() {
    const size_t start = pos_;
    pos_ += 2;
    const bool strip_before = pos_ < t_.size() && t_[pos_] == '-';
    if (strip_before) ++pos_;
    const size_t body = pos_;
    while (!(pos_ + 1 < t_.size() && t_[pos_] == '#' && t_[pos_ + 1] == '}')) {
      if (pos_ + 2 >= t_.size()) {
        pos_ = start;
        fail("unterminated comment (missing #})");
      }
      ++pos_;
    }
    const bool strip_after = pos_ > body && t_[pos_ - 1] == '-';
    if (strip_before) strip_trailing_whitespace();
    push(Tok::Comment, "", start);
    pos_ += 2;
    if (strip_after) skip_whitespace();
  }

  // After {% raw %}: everything up to {% endraw %} is text.
  void maybe_raw(bool stripped_after) {
    (void)stripped_after;
    const size_t n = tokens_.size();
    if (n < 3 || tokens_[n - 3].type != Tok::OpenStatement || tokens_[n - 2].type != Tok::Identifier ||
        tokens_[n - 2].value != "raw")
      return;
    const int line = tokens_[n - 3].line;
    tokens_.resize(n - 3);
    size_t search = pos_;
    while (true) {
      const size_t tag = t_.find("{%", search);
      if (tag == std::string::npos) {
        throw TemplateError(TemplateErrorKind::kSyntax, line, "{% raw %} without {% endraw %}");
      }
      size_t q = tag + 2;
      const bool lstrip = q < t_.size() && t_[q] == '-';
      if (lstrip) ++q;
      while (size_t k = text::js_space_at(t_, q)) q += k;
      if (t_.compare(q, 6, "endraw") != 0) {
        search = tag + 2;
        continue;
      }
      q += 6;
      while (size_t k = text::js_space_at(t_, q)) q += k;
      const bool rstrip = q < t_.size() && t_[q] == '-';
      if (rstrip) ++q;
      if (t_.compare(q, 2, "%}") != 0) {
        search = tag + 2;
        continue;
      }
      std::string content = t_.substr(pos_, tag - pos_);
      if (lstrip) content = std::string(text::trim_end(content));
      if (!content.empty()) push(Tok::Text, std::move(content), pos_);
      pos_ = q + 2;
      if (rstrip) skip_whitespace();
      raw_text_ = true;
      return;
    }
  }

  Source src_;
  const std::string& t_;
  size_t pos_ = 0;
  int curly_depth_ = 0;
  bool raw_text_ = false;  // the last token is the content of a raw block: text may follow
  std::vector<Token> tokens_;
};

}  // namespace

std::vector<Token> tokenize(std::string_view source, const LexOptions& opts) {
  Source s = number_lines(source);
  if (!s.text.empty() && s.text.back() == '\n') {
    s.text.pop_back();
    s.line.pop_back();
  }
  if (opts.lstrip_blocks) s = lstrip_blocks(s);
  if (opts.trim_blocks) s = trim_blocks(s);
  s = remove_generation_tags(s);
  return Lexer(std::move(s)).run();
}

const char* token_name(Tok t) {
  switch (t) {
    case Tok::Text: return "text";
    case Tok::Number: return "number";
    case Tok::String: return "string";
    case Tok::Identifier: return "name";
    case Tok::Equals: return "'='";
    case Tok::OpenParen: return "'('";
    case Tok::CloseParen: return "')'";
    case Tok::OpenStatement: return "'{%'";
    case Tok::CloseStatement: return "'%}'";
    case Tok::OpenExpression: return "'{{'";
    case Tok::CloseExpression: return "'}}'";
    case Tok::OpenBracket: return "'['";
    case Tok::CloseBracket: return "']'";
    case Tok::OpenCurly: return "'{'";
    case Tok::CloseCurly: return "'}'";
    case Tok::Comma: return "','";
    case Tok::Dot: return "'.'";
    case Tok::Colon: return "':'";
    case Tok::Pipe: return "'|'";
    case Tok::Additive: return "operator";
    case Tok::Multiplicative: return "operator";
    case Tok::Power: return "'**'";
    case Tok::Comparison: return "comparison";
    case Tok::Unary: return "unary operator";
    case Tok::Comment: return "comment";
  }
  return "?";
}

}  // namespace quarrel::chat::jinja
