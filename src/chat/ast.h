#pragma once
// The template's syntax tree. One Node type per construct; children are owned. Every node
// records the line it starts on so that errors can name it.
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace quarrel::chat::jinja {

enum class NodeKind {
  // statements
  Text, Output, If, For, Set, Macro, CallBlock, FilterBlock, Break, Continue,
  // expressions
  IntLit, FloatLit, StringLit, ArrayLit, TupleLit, ObjectLit, Identifier, Member, Slice, Call,
  KwArg, Spread, KwSpread, Unary, Binary, Filter, Test, Select, Ternary,
};

struct Node;
using NodePtr = std::unique_ptr<Node>;
using NodeList = std::vector<NodePtr>;

struct Node {
  explicit Node(NodeKind k, int l) : kind(k), line(l) {}
  virtual ~Node() = default;
  NodeKind kind;
  int line;
};

// ---- statements --------------------------------------------------------------------------

struct TextNode : Node {
  TextNode(int l, std::string t) : Node(NodeKind::Text, l), text(std::move(t)) {}
  std::string text;
};

struct OutputNode : Node {  // {{ expr }}
  OutputNode(int l, NodePtr e) : Node(NodeKind::Output, l), expr(std::move(e)) {}
  NodePtr expr;
};

struct IfNode : Node {
  explicit IfNode(int l) : Node(NodeKind::If, l) {}
  NodePtr test;
  NodeList body, alternate;  // an elif is an IfNode alone in `alternate`
};

struct ForNode : Node {
  explicit ForNode(int l) : Node(NodeKind::For, l) {}
  NodePtr target;    // Identifier or TupleLit of Identifiers
  NodePtr iterable;
  NodePtr filter;    // `for x in xs if cond`: cond, else null
  NodeList body, else_body;
};

struct SetNode : Node {
  explicit SetNode(int l) : Node(NodeKind::Set, l) {}
  NodePtr target;  // Identifier, TupleLit or Member (namespace attribute)
  NodePtr value;   // null for a block set
  NodeList body;
  // {% set x | f | g %}...{% endset %}: the filters applied to the body, as a FilterNode chain
  // whose innermost operand is null.
  NodePtr body_filter;
};

struct Param {
  std::string name;
  NodePtr default_value;  // may be null
};

struct MacroNode : Node {
  explicit MacroNode(int l) : Node(NodeKind::Macro, l) {}
  std::string name;
  std::vector<Param> params;
  NodeList body;
  bool uses_varargs = false, uses_kwargs = false;
};

struct CallBlockNode : Node {  // {% call(args) macro(...) %}body{% endcall %}
  explicit CallBlockNode(int l) : Node(NodeKind::CallBlock, l) {}
  NodePtr call;  // a CallNode
  std::vector<Param> caller_params;
  NodeList body;
  bool uses_varargs = false, uses_kwargs = false;
};

struct FilterBlockNode : Node {
  explicit FilterBlockNode(int l) : Node(NodeKind::FilterBlock, l) {}
  NodePtr filter;  // a FilterNode whose operand is null
  NodeList body;
};

// ---- expressions -------------------------------------------------------------------------

struct IntLit : Node {
  IntLit(int l, long long v) : Node(NodeKind::IntLit, l), value(v) {}
  long long value;
};

struct FloatLit : Node {
  FloatLit(int l, double v) : Node(NodeKind::FloatLit, l), value(v) {}
  double value;
};

struct StringLit : Node {
  StringLit(int l, std::string v) : Node(NodeKind::StringLit, l), value(std::move(v)) {}
  std::string value;
};

struct ListLit : Node {  // ArrayLit and TupleLit
  ListLit(NodeKind k, int l) : Node(k, l) {}
  NodeList items;
};

struct ObjectLit : Node {
  explicit ObjectLit(int l) : Node(NodeKind::ObjectLit, l) {}
  std::vector<std::pair<NodePtr, NodePtr>> entries;
};

struct Identifier : Node {
  Identifier(int l, std::string n) : Node(NodeKind::Identifier, l), name(std::move(n)) {}
  std::string name;
};

struct MemberNode : Node {  // obj.name, obj[expr], obj[a:b:c]
  explicit MemberNode(int l) : Node(NodeKind::Member, l) {}
  NodePtr object;
  NodePtr property;  // Identifier / IntLit when !computed; any expression or Slice when computed
  bool computed = false;
};

struct SliceNode : Node {
  explicit SliceNode(int l) : Node(NodeKind::Slice, l) {}
  NodePtr start, stop, step;  // each may be null
};

struct CallNode : Node {
  explicit CallNode(int l) : Node(NodeKind::Call, l) {}
  NodePtr callee;
  NodeList args;  // expressions, KwArg, Spread, KwSpread
};

struct KwArgNode : Node {
  KwArgNode(int l, std::string n, NodePtr v) : Node(NodeKind::KwArg, l), name(std::move(n)), value(std::move(v)) {}
  std::string name;
  NodePtr value;
};

struct SpreadNode : Node {  // *expr and **expr
  SpreadNode(NodeKind k, int l, NodePtr e) : Node(k, l), expr(std::move(e)) {}
  NodePtr expr;
};

struct UnaryNode : Node {
  UnaryNode(int l, std::string o, NodePtr a) : Node(NodeKind::Unary, l), op(std::move(o)), arg(std::move(a)) {}
  std::string op;  // "not", "-", "+"
  NodePtr arg;
};

struct BinaryNode : Node {
  BinaryNode(int l, std::string o, NodePtr a, NodePtr b)
      : Node(NodeKind::Binary, l), op(std::move(o)), left(std::move(a)), right(std::move(b)) {}
  std::string op;  // and or == != < > <= >= in "not in" + - ~ * / // % **
  NodePtr left, right;
};

struct FilterNode : Node {  // operand | name(args)
  explicit FilterNode(int l) : Node(NodeKind::Filter, l) {}
  NodePtr operand;  // null inside a filter block
  std::string name;
  bool called = false;  // written with parentheses
  NodeList args;
};

struct TestNode : Node {  // operand is [not] name(args)
  explicit TestNode(int l) : Node(NodeKind::Test, l) {}
  NodePtr operand;
  std::string name;
  bool negate = false;
  NodeList args;
};

struct SelectNode : Node {  // `a if cond` without else
  explicit SelectNode(int l) : Node(NodeKind::Select, l) {}
  NodePtr value, test;
};

struct TernaryNode : Node {
  explicit TernaryNode(int l) : Node(NodeKind::Ternary, l) {}
  NodePtr test, if_true, if_false;
};

struct Program {
  NodeList body;
};

// Calls fn on every direct child of n (statements and expressions).
void for_each_child(const Node& n, const std::function<void(const Node&)>& fn);

}  // namespace quarrel::chat::jinja
