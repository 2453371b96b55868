#include "chat/parser.h"

#include <cerrno>
#include <cstdlib>
#include <set>
#include <string>

#include "chat/template_error.h"

namespace quarrel::chat::jinja {

namespace {

constexpr int kMaxDepth = 200;
// Tokens inside one {{ }} or {% %}: bounds the height of an expression tree built by loops
// (a + b + c ..., x|f|g ..., a.b.c ...), whose evaluation and destruction recurse.
constexpr size_t kMaxTagTokens = 2000;

// Statements of full Jinja that this interpreter (like the reference renderer) does not have.
const std::set<std::string, std::less<>> kUnsupportedStatements = {
    "extends", "block", "include", "import", "from", "with", "autoescape", "do", "trans", "pluralize",
};

// Tests that take one argument without parentheses (`x is divisibleby 3`).
const std::set<std::string, std::less<>> kArgTests = {
    "divisibleby", "eq", "equalto", "ne", "lt", "le", "gt", "ge", "lessthan", "greaterthan", "sameas", "in",
};

class Parser {
 public:
  explicit Parser(const std::vector<Token>& t) : tokens_(t) {}

  Program run() {
    Program p;
    while (pos_ < tokens_.size())
      if (NodePtr n = parse_any()) p.body.push_back(std::move(n));
    return p;
  }

 private:
  // ---- token helpers ----
  bool at_end(size_t k = 0) const { return pos_ + k >= tokens_.size(); }
  const Token* peek(size_t k = 0) const { return at_end(k) ? nullptr : &tokens_[pos_ + k]; }
  bool is(Tok t, size_t k = 0) const { return !at_end(k) && tokens_[pos_ + k].type == t; }
  bool is_ident(std::string_view name, size_t k = 0) const {
    return is(Tok::Identifier, k) && tokens_[pos_ + k].value == name;
  }
  bool is_statement(std::initializer_list<std::string_view> names) const {
    if (!is(Tok::OpenStatement) || !is(Tok::Identifier, 1)) return false;
    for (auto n : names)
      if (tokens_[pos_ + 1].value == n) return true;
    return false;
  }
  int line() const {
    if (!at_end()) return tokens_[pos_].line;
    return tokens_.empty() ? 1 : tokens_.back().line;
  }

  [[noreturn]] void fail(const std::string& msg) const { throw TemplateError(TemplateErrorKind::kSyntax, line(), msg); }
  [[noreturn]] void fail_at(int l, const std::string& msg) const {
    throw TemplateError(TemplateErrorKind::kSyntax, l, msg);
  }

  std::string describe_current() const {
    if (at_end()) return "the end of the template";
    const Token& t = tokens_[pos_];
    switch (t.type) {
      case Tok::Identifier:
      case Tok::Number: return "'" + t.value + "'";
      case Tok::String: return "string '" + t.value.substr(0, 40) + "'";
      case Tok::Text: return "text";
      default: return token_name(t.type) + (t.type == Tok::Additive || t.type == Tok::Multiplicative ||
                                                    t.type == Tok::Comparison || t.type == Tok::Unary
                                                ? " '" + t.value + "'"
                                                : std::string());
    }
  }

  const Token& expect(Tok t, const char* what) {
    if (!is(t)) fail(std::string("expected ") + what + ", got " + describe_current());
    return tokens_[pos_++];
  }

  void expect_ident(std::string_view name) {
    if (!is_ident(name)) fail("expected '" + std::string(name) + "', got " + describe_current());
    ++pos_;
  }

  // Parses statements until {% name ... %} for one of `names` (not consumed); a missing end
  // tag is an error naming the block.
  void parse_body(NodeList& out, std::initializer_list<std::string_view> names, const char* block, int start_line) {
    while (!is_statement(names)) {
      if (at_end()) fail_at(start_line, std::string("unclosed {% ") + block + " %} (missing {% " + std::string(*names.begin()) + " %})");
      if (NodePtr n = parse_any()) out.push_back(std::move(n));
    }
  }

  struct DepthGuard {
    explicit DepthGuard(Parser& p) : p_(p) {
      if (++p_.depth_ > kMaxDepth) p_.fail("template nested too deeply");
    }
    ~DepthGuard() { --p_.depth_; }
    Parser& p_;
  };

  // ---- statements ----
  void check_tag_length() const {
    size_t n = 0;
    for (size_t k = pos_ + 1; k < tokens_.size(); ++k) {
      const Tok type = tokens_[k].type;
      if (type == Tok::CloseStatement || type == Tok::CloseExpression) return;
      if (++n > kMaxTagTokens) fail("a tag with more than " + std::to_string(kMaxTagTokens) + " tokens");
    }
  }

  NodePtr parse_any() {
    DepthGuard guard(*this);
    const Token& t = tokens_[pos_];
    if (t.type == Tok::OpenStatement || t.type == Tok::OpenExpression) check_tag_length();
    switch (t.type) {
      case Tok::Comment: ++pos_; return nullptr;
      case Tok::Text: ++pos_; return std::make_unique<TextNode>(t.line, t.value);
      case Tok::OpenStatement: return parse_statement();
      case Tok::OpenExpression: {
        ++pos_;
        NodePtr e = parse_expression();
        expect(Tok::CloseExpression, "'}}'");
        return std::make_unique<OutputNode>(t.line, std::move(e));
      }
      default: fail("unexpected " + describe_current());
    }
  }

  NodePtr parse_statement() {
    const int l = line();
    expect(Tok::OpenStatement, "'{%'");
    if (!is(Tok::Identifier)) fail("expected a statement name after '{%', got " + describe_current());
    const std::string name = tokens_[pos_].value;
    if (kUnsupportedStatements.count(name))
      throw TemplateError(TemplateErrorKind::kUnsupported, l, "unsupported statement {% " + name + " %}");
    ++pos_;
    if (name == "set") return parse_set(l);
    if (name == "if") {
      NodePtr n = parse_if(l);
      close_block("endif");
      return n;
    }
    if (name == "for") {
      NodePtr n = parse_for(l);
      close_block("endfor");
      return n;
    }
    if (name == "macro") {
      NodePtr n = parse_macro(l);
      close_block("endmacro");
      return n;
    }
    if (name == "call") return parse_call_block(l);
    if (name == "filter") return parse_filter_block(l);
    if (name == "break" || name == "continue") {
      expect(Tok::CloseStatement, "'%}'");
      return std::make_unique<Node>(name == "break" ? NodeKind::Break : NodeKind::Continue, l);
    }
    static const std::set<std::string, std::less<>> kEnds = {"endif", "endfor", "endmacro", "endcall", "endfilter",
                                                             "endset", "elif", "else", "endraw"};
    if (kEnds.count(name)) fail_at(l, "unexpected {% " + name + " %} (no open block it belongs to)");
    throw TemplateError(TemplateErrorKind::kUnsupported, l, "unknown statement {% " + name + " %}");
  }

  void close_block(std::string_view end) {
    expect(Tok::OpenStatement, "'{%'");
    expect_ident(end);
    expect(Tok::CloseStatement, "'%}'");
  }

  NodePtr parse_set(int l) {
    auto n = std::make_unique<SetNode>(l);
    n->target = parse_expression_sequence(false);
    if (n->target->kind == NodeKind::Filter && !is(Tok::Equals)) {
      // {% set name | filters %}: split the filters off the name.
      Node* innermost = n->target.get();
      while (static_cast<FilterNode*>(innermost)->operand->kind == NodeKind::Filter)
        innermost = static_cast<FilterNode*>(innermost)->operand.get();
      auto& slot = static_cast<FilterNode*>(innermost)->operand;
      if (slot->kind != NodeKind::Identifier) fail_at(l, "expected a name before the filters of a block {% set %}");
      NodePtr name = std::move(slot);
      n->body_filter = std::move(n->target);
      n->target = std::move(name);
    }
    const NodeKind tk = n->target->kind;
    if (tk != NodeKind::Identifier && tk != NodeKind::TupleLit && tk != NodeKind::Member)
      fail_at(l, "cannot assign to this expression in {% set %}");
    if (is(Tok::Equals)) {
      ++pos_;
      n->value = parse_expression_sequence(false);
    } else {
      expect(Tok::CloseStatement, "'=' or '%}'");
      parse_body(n->body, {"endset"}, "set", l);
      expect(Tok::OpenStatement, "'{%'");
      expect_ident("endset");
    }
    expect(Tok::CloseStatement, "'%}'");
    return n;
  }

  NodePtr parse_if(int l) {
    auto n = std::make_unique<IfNode>(l);
    n->test = parse_expression();
    expect(Tok::CloseStatement, "'%}'");
    parse_body(n->body, {"endif", "elif", "else"}, "if", l);
    if (is_statement({"elif"})) {
      const int el = line();
      pos_ += 2;
      n->alternate.push_back(parse_if(el));
    } else if (is_statement({"else"})) {
      pos_ += 2;
      expect(Tok::CloseStatement, "'%}'");
      parse_body(n->alternate, {"endif"}, "if", l);
    }
    return n;
  }

  NodePtr parse_for(int l) {
    auto n = std::make_unique<ForNode>(l);
    n->target = parse_expression_sequence(true);
    if (n->target->kind == NodeKind::TupleLit) {
      for (const auto& item : static_cast<ListLit&>(*n->target).items)
        if (item->kind != NodeKind::Identifier) fail_at(l, "a for loop can only unpack into names");
    } else if (n->target->kind != NodeKind::Identifier) {
      fail_at(l, "expected a name or names for the loop variable");
    }
    if (!is_ident("in")) fail("expected 'in' after the loop variable, got " + describe_current());
    ++pos_;
    NodePtr it = parse_expression();
    if (it->kind == NodeKind::Select) {
      auto& sel = static_cast<SelectNode&>(*it);
      n->iterable = std::move(sel.value);
      n->filter = std::move(sel.test);
    } else {
      n->iterable = std::move(it);
    }
    if (is_ident("recursive"))
      throw TemplateError(TemplateErrorKind::kUnsupported, l, "unsupported recursive for loop");
    expect(Tok::CloseStatement, "'%}'");
    parse_body(n->body, {"endfor", "else"}, "for", l);
    if (is_statement({"else"})) {
      pos_ += 2;
      expect(Tok::CloseStatement, "'%}'");
      parse_body(n->else_body, {"endfor"}, "for", l);
    }
    return n;
  }

  std::vector<Param> parse_params() {
    std::vector<Param> params;
    NodeList args = parse_args(true);
    for (auto& a : args) {
      Param p;
      if (a->kind == NodeKind::Identifier) {
        p.name = static_cast<Identifier&>(*a).name;
      } else {
        auto& kw = static_cast<KwArgNode&>(*a);
        p.name = kw.name;
        p.default_value = std::move(kw.value);
      }
      params.push_back(std::move(p));
    }
    return params;
  }

  static void scan_special(const Node& n, bool& varargs, bool& kwargs) {
    if (n.kind == NodeKind::Identifier) {
      const auto& name = static_cast<const Identifier&>(n).name;
      if (name == "varargs") varargs = true;
      if (name == "kwargs") kwargs = true;
    }
    for_each_child(n, [&](const Node& c) { scan_special(c, varargs, kwargs); });
  }

  NodePtr parse_macro(int l) {
    auto n = std::make_unique<MacroNode>(l);
    if (!is(Tok::Identifier)) fail("expected a macro name, got " + describe_current());
    n->name = tokens_[pos_++].value;
    n->params = parse_params();
    expect(Tok::CloseStatement, "'%}'");
    parse_body(n->body, {"endmacro"}, "macro", l);
    for (const auto& s : n->body) scan_special(*s, n->uses_varargs, n->uses_kwargs);
    return n;
  }

  NodePtr parse_call_block(int l) {
    auto n = std::make_unique<CallBlockNode>(l);
    if (is(Tok::OpenParen)) n->caller_params = parse_params();
    if (!is(Tok::Identifier)) fail("expected a macro name after {% call %}, got " + describe_current());
    auto callee = std::make_unique<Identifier>(line(), tokens_[pos_++].value);
    auto call = std::make_unique<CallNode>(l);
    call->callee = std::move(callee);
    call->args = parse_args(false);
    n->call = std::move(call);
    expect(Tok::CloseStatement, "'%}'");
    parse_body(n->body, {"endcall"}, "call", l);
    close_block("endcall");
    for (const auto& s : n->body) scan_special(*s, n->uses_varargs, n->uses_kwargs);
    return n;
  }

  NodePtr parse_filter_block(int l) {
    auto n = std::make_unique<FilterBlockNode>(l);
    n->filter = parse_filter_spec(nullptr);
    expect(Tok::CloseStatement, "'%}'");
    parse_body(n->body, {"endfilter"}, "filter", l);
    close_block("endfilter");
    return n;
  }

  // ---- expressions ----
  NodePtr parse_expression_sequence(bool primary) {
    const int l = line();
    NodeList items;
    items.push_back(primary ? parse_primary() : parse_expression());
    const bool tuple = is(Tok::Comma);
    while (tuple) {
      ++pos_;
      items.push_back(primary ? parse_primary() : parse_expression());
      if (!is(Tok::Comma)) break;
    }
    if (!tuple) return std::move(items[0]);
    auto t = std::make_unique<ListLit>(NodeKind::TupleLit, l);
    t->items = std::move(items);
    return t;
  }

  NodePtr parse_expression() {
    DepthGuard guard(*this);
    return parse_if_expression();
  }

  NodePtr parse_if_expression() {
    const int l = line();
    NodePtr a = parse_or();
    if (is_ident("if")) {
      ++pos_;
      NodePtr test = parse_or();
      if (is_ident("else")) {
        ++pos_;
        auto t = std::make_unique<TernaryNode>(l);
        t->test = std::move(test);
        t->if_true = std::move(a);
        t->if_false = parse_if_expression();
        return t;
      }
      auto s = std::make_unique<SelectNode>(l);
      s->value = std::move(a);
      s->test = std::move(test);
      return s;
    }
    return a;
  }

  NodePtr parse_or() {
    NodePtr left = parse_and();
    while (is_ident("or")) {
      const int l = line();
      ++pos_;
      left = std::make_unique<BinaryNode>(l, "or", std::move(left), parse_and());
    }
    return left;
  }

  NodePtr parse_and() {
    NodePtr left = parse_not();
    while (is_ident("and")) {
      const int l = line();
      ++pos_;
      left = std::make_unique<BinaryNode>(l, "and", std::move(left), parse_not());
    }
    return left;
  }

  NodePtr parse_not() {
    if (is_ident("not")) {
      DepthGuard guard(*this);
      const int l = line();
      ++pos_;
      return std::make_unique<UnaryNode>(l, "not", parse_not());
    }
    return parse_comparison();
  }

  NodePtr parse_comparison() {
    NodePtr left = parse_additive();
    while (true) {
      const int l = line();
      std::string op;
      if (is_ident("not") && is_ident("in", 1)) {
        op = "not in";
        pos_ += 2;
      } else if (is_ident("in")) {
        op = "in";
        ++pos_;
      } else if (is(Tok::Comparison)) {
        op = tokens_[pos_++].value;
      } else {
        break;
      }
      left = std::make_unique<BinaryNode>(l, op, std::move(left), parse_additive());
    }
    return left;
  }

  NodePtr parse_additive() {
    NodePtr left = parse_multiplicative();
    while (is(Tok::Additive)) {
      const int l = line();
      std::string op = tokens_[pos_++].value;
      left = std::make_unique<BinaryNode>(l, op, std::move(left), parse_multiplicative());
    }
    return left;
  }

  NodePtr parse_multiplicative() {
    NodePtr left = parse_power();
    while (is(Tok::Multiplicative)) {
      const int l = line();
      std::string op = tokens_[pos_++].value;
      left = std::make_unique<BinaryNode>(l, op, std::move(left), parse_power());
    }
    return left;
  }

  NodePtr parse_power() {
    NodePtr left = parse_test();
    while (is(Tok::Power)) {
      const int l = line();
      ++pos_;
      left = std::make_unique<BinaryNode>(l, "**", std::move(left), parse_test());
    }
    return left;
  }

  NodePtr parse_test() {
    NodePtr operand = parse_filter();
    while (is_ident("is")) {
      const int l = line();
      ++pos_;
      auto t = std::make_unique<TestNode>(l);
      if (is_ident("not")) {
        t->negate = true;
        ++pos_;
      }
      if (!is(Tok::Identifier)) fail("expected a test name after 'is', got " + describe_current());
      t->name = tokens_[pos_++].value;
      if (is(Tok::OpenParen)) {
        t->args = parse_args(false);
      } else if (kArgTests.count(t->name) && bare_test_argument_follows()) {
        t->args.push_back(parse_member(parse_primary()));
      }
      t->operand = std::move(operand);
      operand = std::move(t);
    }
    return operand;
  }

  bool bare_test_argument_follows() const {
    if (is(Tok::Number) || is(Tok::String) || is(Tok::OpenBracket) || is(Tok::OpenCurly)) return true;
    if (!is(Tok::Identifier)) return false;
    static const std::set<std::string, std::less<>> kKeywords = {"and", "or", "not", "if", "else", "is", "in"};
    return !kKeywords.count(tokens_[pos_].value);
  }

  // name or name(args), after a '|' or {% filter %}.
  NodePtr parse_filter_spec(NodePtr operand) {
    const int l = line();
    if (!is(Tok::Identifier)) fail("expected a filter name, got " + describe_current());
    auto f = std::make_unique<FilterNode>(l);
    f->name = tokens_[pos_++].value;
    // Dotted filter names do not exist; `x|a.b` is an error in the reference too.
    if (is(Tok::OpenParen)) {
      f->called = true;
      f->args = parse_args(false);
    }
    f->operand = std::move(operand);
    return f;
  }

  NodePtr parse_filter() {
    NodePtr operand = parse_unary_sign();
    while (is(Tok::Pipe)) {
      ++pos_;
      operand = parse_filter_spec(std::move(operand));
    }
    return operand;
  }

  NodePtr parse_unary_sign() {
    if ((is(Tok::Unary) || is(Tok::Additive)) && (tokens_[pos_].value == "-" || tokens_[pos_].value == "+")) {
      DepthGuard guard(*this);
      const int l = line();
      std::string op = tokens_[pos_++].value;
      return std::make_unique<UnaryNode>(l, op, parse_unary_sign());
    }
    return parse_call_member();
  }

  NodePtr parse_call_member() {
    NodePtr member = parse_member(parse_primary());
    if (is(Tok::OpenParen)) return parse_call(std::move(member));
    return member;
  }

  NodePtr parse_call(NodePtr callee) {
    DepthGuard guard(*this);
    auto c = std::make_unique<CallNode>(callee->line);
    c->callee = std::move(callee);
    c->args = parse_args(false);
    NodePtr e = parse_member(std::move(c));
    if (is(Tok::OpenParen)) e = parse_call(std::move(e));
    return e;
  }

  // (a, b, k=v, *xs, **kw); parameters mode: names with optional defaults only.
  NodeList parse_args(bool parameters) {
    expect(Tok::OpenParen, "'('");
    NodeList args;
    std::set<std::string> names;
    bool saw_keyword = false, saw_spread = false;
    while (!is(Tok::CloseParen)) {
      if (at_end()) fail("unclosed '(' in argument list");
      const int l = line();
      const bool kw_spread = is(Tok::Power);
      const bool pos_spread = is(Tok::Multiplicative) && tokens_[pos_].value == "*";
      if (parameters && (kw_spread || pos_spread)) fail("argument unpacking is not allowed in parameter declarations");
      if (kw_spread) {
        ++pos_;
        args.push_back(std::make_unique<SpreadNode>(NodeKind::KwSpread, l, parse_expression()));
        if (is(Tok::Comma)) ++pos_;
        if (!is(Tok::CloseParen)) fail("'**' must be applied to the final argument");
        break;
      }
      NodePtr arg;
      if (pos_spread) {
        if (saw_spread) fail("only one '*' argument unpacking is allowed");
        saw_spread = true;
        ++pos_;
        arg = std::make_unique<SpreadNode>(NodeKind::Spread, l, parse_expression());
      } else {
        arg = parse_expression();
        if (is(Tok::Equals)) {
          ++pos_;
          if (arg->kind != NodeKind::Identifier)
            fail(parameters ? "expected a name for the parameter" : "expected a name for the keyword argument");
          std::string name = static_cast<Identifier&>(*arg).name;
          arg = std::make_unique<KwArgNode>(l, std::move(name), parse_expression());
        }
        if (parameters) {
          if (arg->kind != NodeKind::Identifier && arg->kind != NodeKind::KwArg)
            fail("expected a name for the parameter");
          const std::string& pname = arg->kind == NodeKind::Identifier ? static_cast<Identifier&>(*arg).name
                                                                        : static_cast<KwArgNode&>(*arg).name;
          if (!names.insert(pname).second) fail("duplicate parameter name '" + pname + "'");
        }
        if (arg->kind == NodeKind::KwArg) {
          saw_keyword = true;
        } else if (saw_keyword) {
          fail(parameters ? "non-default parameter follows a default one" : "positional argument follows a keyword argument");
        } else if (saw_spread) {
          fail("positional argument follows '*' unpacking");
        }
      }
      args.push_back(std::move(arg));
      if (is(Tok::Comma)) ++pos_;
    }
    expect(Tok::CloseParen, "')'");
    return args;
  }

  NodePtr parse_subscript() {
    const int l = line();
    std::vector<NodePtr> parts;
    bool slice = false;
    bool any = false;
    while (!is(Tok::CloseBracket)) {
      if (at_end()) fail("unclosed '['");
      any = true;
      if (is(Tok::Colon)) {
        parts.push_back(nullptr);
        ++pos_;
        slice = true;
      } else {
        parts.push_back(parse_expression());
        if (is(Tok::Colon)) {
          ++pos_;
          slice = true;
        }
      }
    }
    if (!any) fail("expected an index or slice inside '[]'");
    if (slice) {
      if (parts.size() > 3) fail("a slice has at most three parts");
      auto s = std::make_unique<SliceNode>(l);
      if (parts.size() > 0) s->start = std::move(parts[0]);
      if (parts.size() > 1) s->stop = std::move(parts[1]);
      if (parts.size() > 2) s->step = std::move(parts[2]);
      return s;
    }
    if (parts.size() != 1) fail("expected one index inside '[]'");
    return std::move(parts[0]);
  }

  NodePtr parse_member(NodePtr object) {
    while (is(Tok::Dot) || is(Tok::OpenBracket)) {
      const int l = line();
      const bool computed = is(Tok::OpenBracket);
      ++pos_;
      auto m = std::make_unique<MemberNode>(l);
      m->computed = computed;
      if (computed) {
        m->property = parse_subscript();
        expect(Tok::CloseBracket, "']'");
      } else {
        NodePtr prop = parse_primary();
        if (prop->kind != NodeKind::Identifier && prop->kind != NodeKind::IntLit)
          fail_at(l, "expected a name or an integer after '.'");
        m->property = std::move(prop);
      }
      m->object = std::move(object);
      object = std::move(m);
    }
    return object;
  }

  NodePtr parse_primary() {
    DepthGuard guard(*this);
    if (at_end()) fail("unexpected end of template in an expression");
    const Token& t = tokens_[pos_++];
    switch (t.type) {
      case Tok::Number: {
        if (t.value.find('.') != std::string::npos) return std::make_unique<FloatLit>(t.line, std::strtod(t.value.c_str(), nullptr));
        errno = 0;
        const long long v = std::strtoll(t.value.c_str(), nullptr, 10);
        if (errno == ERANGE) return std::make_unique<FloatLit>(t.line, std::strtod(t.value.c_str(), nullptr));
        return std::make_unique<IntLit>(t.line, v);
      }
      case Tok::String: {
        std::string v = t.value;
        while (is(Tok::String)) v += tokens_[pos_++].value;
        return std::make_unique<StringLit>(t.line, std::move(v));
      }
      case Tok::Identifier: return std::make_unique<Identifier>(t.line, t.value);
      case Tok::OpenParen: {
        NodePtr e = parse_expression_sequence(false);
        expect(Tok::CloseParen, "')'");
        return e;
      }
      case Tok::OpenBracket: {
        auto a = std::make_unique<ListLit>(NodeKind::ArrayLit, t.line);
        while (!is(Tok::CloseBracket)) {
          if (at_end()) fail_at(t.line, "unclosed '['");
          a->items.push_back(parse_expression());
          if (is(Tok::Comma)) ++pos_;
        }
        ++pos_;
        return a;
      }
      case Tok::OpenCurly: {
        auto o = std::make_unique<ObjectLit>(t.line);
        while (!is(Tok::CloseCurly)) {
          if (at_end()) fail_at(t.line, "unclosed '{'");
          NodePtr k = parse_expression();
          expect(Tok::Colon, "':' between key and value");
          NodePtr v = parse_expression();
          o->entries.emplace_back(std::move(k), std::move(v));
          if (is(Tok::Comma)) ++pos_;
        }
        ++pos_;
        return o;
      }
      default:
        --pos_;
        fail("unexpected " + describe_current() + " in an expression");
    }
  }

  const std::vector<Token>& tokens_;
  size_t pos_ = 0;
  int depth_ = 0;
};

}  // namespace

Program parse(const std::vector<Token>& tokens) { return Parser(tokens).run(); }

}  // namespace quarrel::chat::jinja
