#include "chat/ast.h"

namespace quarrel::chat::jinja {

void for_each_child(const Node& n, const std::function<void(const Node&)>& fn) {
  auto visit = [&](const NodePtr& p) {
    if (p) fn(*p);
  };
  auto visit_list = [&](const NodeList& l) {
    for (const auto& p : l) visit(p);
  };
  switch (n.kind) {
    case NodeKind::Text:
    case NodeKind::Break:
    case NodeKind::Continue:
    case NodeKind::IntLit:
    case NodeKind::FloatLit:
    case NodeKind::StringLit:
    case NodeKind::Identifier: return;
    case NodeKind::Output: visit(static_cast<const OutputNode&>(n).expr); return;
    case NodeKind::If: {
      const auto& x = static_cast<const IfNode&>(n);
      visit(x.test);
      visit_list(x.body);
      visit_list(x.alternate);
      return;
    }
    case NodeKind::For: {
      const auto& x = static_cast<const ForNode&>(n);
      visit(x.target);
      visit(x.iterable);
      visit(x.filter);
      visit_list(x.body);
      visit_list(x.else_body);
      return;
    }
    case NodeKind::Set: {
      const auto& x = static_cast<const SetNode&>(n);
      visit(x.target);
      visit(x.value);
      visit_list(x.body);
      visit(x.body_filter);
      return;
    }
    case NodeKind::Macro: {
      const auto& x = static_cast<const MacroNode&>(n);
      for (const auto& p : x.params) visit(p.default_value);
      visit_list(x.body);
      return;
    }
    case NodeKind::CallBlock: {
      const auto& x = static_cast<const CallBlockNode&>(n);
      visit(x.call);
      for (const auto& p : x.caller_params) visit(p.default_value);
      visit_list(x.body);
      return;
    }
    case NodeKind::FilterBlock: {
      const auto& x = static_cast<const FilterBlockNode&>(n);
      visit(x.filter);
      visit_list(x.body);
      return;
    }
    case NodeKind::ArrayLit:
    case NodeKind::TupleLit: visit_list(static_cast<const ListLit&>(n).items); return;
    case NodeKind::ObjectLit:
      for (const auto& [k, v] : static_cast<const ObjectLit&>(n).entries) {
        visit(k);
        visit(v);
      }
      return;
    case NodeKind::Member: {
      const auto& x = static_cast<const MemberNode&>(n);
      visit(x.object);
      if (x.computed) visit(x.property);
      return;
    }
    case NodeKind::Slice: {
      const auto& x = static_cast<const SliceNode&>(n);
      visit(x.start);
      visit(x.stop);
      visit(x.step);
      return;
    }
    case NodeKind::Call: {
      const auto& x = static_cast<const CallNode&>(n);
      visit(x.callee);
      visit_list(x.args);
      return;
    }
    case NodeKind::KwArg: visit(static_cast<const KwArgNode&>(n).value); return;
    case NodeKind::Spread:
    case NodeKind::KwSpread: visit(static_cast<const SpreadNode&>(n).expr); return;
    case NodeKind::Unary: visit(static_cast<const UnaryNode&>(n).arg); return;
    case NodeKind::Binary: {
      const auto& x = static_cast<const BinaryNode&>(n);
      visit(x.left);
      visit(x.right);
      return;
    }
    case NodeKind::Filter: {
      const auto& x = static_cast<const FilterNode&>(n);
      visit(x.operand);
      visit_list(x.args);
      return;
    }
    case NodeKind::Test: {
      const auto& x = static_cast<const TestNode&>(n);
      visit(x.operand);
      visit_list(x.args);
      return;
    }
    case NodeKind::Select: {
      const auto& x = static_cast<const SelectNode&>(n);
      visit(x.value);
      visit(x.test);
      return;
    }
    case NodeKind::Ternary: {
      const auto& x = static_cast<const TernaryNode&>(n);
      visit(x.test);
      visit(x.if_true);
      visit(x.if_false);
      return;
    }
  }
}

}  // namespace quarrel::chat::jinja
