#include "chat/interpreter.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <optional>
#include <set>

#include "chat/template_error.h"
#include "chat/text.h"

namespace quarrel::chat::jinja {

namespace {
constexpr int kMaxCallDepth = 100;  // macro recursion; real templates nest a few levels
}

// ---- Environment -------------------------------------------------------------------------

Value Environment::lookup(std::string_view name) const {
  for (const Environment* e = this; e; e = e->parent_.get())
    for (const auto& [k, v] : e->vars_)
      if (k == name) return v;
  return Value();
}

void Environment::set(std::string_view name, Value v) {
  for (auto& [k, old] : vars_)
    if (k == name) {
      old = std::move(v);
      return;
    }
  vars_.emplace_back(std::string(name), std::move(v));
}

// ---- rendering ---------------------------------------------------------------------------

void Interpreter::charge(size_t units) {
  work_ += units;
  if (work_ > kWorkBudget) runtime_error("the template does too much work (runaway loop?)");
}

void Interpreter::check_string_size(size_t bytes) {
  if (bytes > kMaxStringBytes) runtime_error("the template builds a string over " + std::to_string(kMaxStringBytes >> 20) + " MiB");
}

std::string Interpreter::render(const Program& program, const EnvPtr& globals) {
  struct ClearNamespaces {
    ~ClearNamespaces() {
      for (Value& ns : list) ns.as_object().clear();
      list.clear();
    }
    std::vector<Value>& list;
  } clear_namespaces{namespaces_};
  std::string out;
  if (exec_block(program.body, globals, out) != Flow::Normal)
    throw TemplateError(TemplateErrorKind::kSyntax, 0, "{% break %} or {% continue %} outside a for loop");
  return out;
}

Interpreter::Flow Interpreter::exec_block(const NodeList& body, const EnvPtr& env, std::string& out) {
  for (const auto& n : body) {
    const Flow f = exec(*n, env, out);
    if (f != Flow::Normal) return f;
  }
  return Flow::Normal;
}

Interpreter::Flow Interpreter::exec(const Node& n, const EnvPtr& env, std::string& out) {
  try {
    switch (n.kind) {
      case NodeKind::Text: out += static_cast<const TextNode&>(n).text; return Flow::Normal;
      case NodeKind::Output: {
        const Value v = eval(*static_cast<const OutputNode&>(n).expr, env);
        if (!v.is_null() && !v.is_undefined()) out += v.display();
        check_string_size(out.size());
        return Flow::Normal;
      }
      case NodeKind::If: {
        const auto& x = static_cast<const IfNode&>(n);
        return exec_block(eval(*x.test, env).truthy() ? x.body : x.alternate, env, out);
      }
      case NodeKind::For: return exec_for(static_cast<const ForNode&>(n), env, out);
      case NodeKind::Set: exec_set(static_cast<const SetNode&>(n), env); return Flow::Normal;
      case NodeKind::Macro: {
        const auto& x = static_cast<const MacroNode&>(n);
        env->set(x.name, make_macro(x.name, &x.params, &x.body, x.uses_varargs, x.uses_kwargs, nullptr));
        return Flow::Normal;
      }
      case NodeKind::CallBlock: {
        const Value v = exec_call_block(static_cast<const CallBlockNode&>(n), env);
        if (!v.is_null() && !v.is_undefined()) out += v.display();
        return Flow::Normal;
      }
      case NodeKind::FilterBlock: {
        const auto& x = static_cast<const FilterBlockNode&>(n);
        std::string body;
        if (exec_block(x.body, env, body) != Flow::Normal) runtime_error("{% break %} or {% continue %} inside {% filter %}");
        const Value v = apply_filter(Value::string(std::move(body)), static_cast<const FilterNode&>(*x.filter), env);
        if (!v.is_null() && !v.is_undefined()) out += v.display();
        return Flow::Normal;
      }
      case NodeKind::Break: return Flow::Break;
      case NodeKind::Continue: return Flow::Continue;
      default: {
        const Value v = eval(n, env);
        if (!v.is_null() && !v.is_undefined()) out += v.display();
        return Flow::Normal;
      }
    }
  } catch (const EvalError& e) {
    throw TemplateError(e.kind(), n.line, e.what());
  }
}

Interpreter::Flow Interpreter::exec_for(const ForNode& n, const EnvPtr& env, std::string& out) {
  auto scope = std::make_shared<Environment>(env);
  Value iterable = eval(*n.iterable, scope);
  if (iterable.is_object()) {
    Array keys;
    for (const auto& [k, v] : iterable.as_object()) keys.push_back(Value::string(k));
    iterable = Value::array(std::move(keys));
  } else if (!iterable.is_array()) {
    runtime_error(std::string("cannot loop over ") + iterable.type_name() + " (a for loop needs a list or a dict)");
  }
  const Array source = iterable.as_array();  // a copy: the body may not change what we iterate

  auto bind = [&](const EnvPtr& target_env, const Value& item) {
    if (n.target->kind == NodeKind::Identifier) {
      target_env->set(static_cast<const Identifier&>(*n.target).name, item);
      return;
    }
    const auto& names = static_cast<const ListLit&>(*n.target).items;
    if (!item.is_array()) runtime_error(std::string("cannot unpack ") + item.type_name() + " into " + std::to_string(names.size()) + " loop variables");
    const Array& parts = item.as_array();
    if (parts.size() != names.size())
      runtime_error(std::string("too ") + (names.size() > parts.size() ? "few" : "many") + " items to unpack (expected " +
                    std::to_string(names.size()) + ", got " + std::to_string(parts.size()) + ")");
    for (size_t j = 0; j < names.size(); ++j) target_env->set(static_cast<const Identifier&>(*names[j]).name, parts[j]);
  };

  Array items;
  if (n.filter) {
    for (const Value& item : source) {
      auto loop_scope = std::make_shared<Environment>(scope);
      bind(loop_scope, item);
      if (eval(*n.filter, loop_scope).truthy()) items.push_back(item);
    }
  } else {
    items = source;
  }

  if (items.empty()) return exec_block(n.else_body, scope, out);

  const Value cycle = Value::function("loop.cycle", [](Interpreter&, CallArgs& args, const EnvPtr& caller) {
    if (args.positional.empty()) runtime_error("loop.cycle() needs at least one argument");
    const Value loop = caller->lookup("loop");
    const Value* idx = loop.is_object() ? loop.as_object().find("index0") : nullptr;
    const int64_t i = idx && idx->is_int() ? idx->as_int() : 0;
    return args.positional[static_cast<size_t>(i) % args.positional.size()];
  });

  const auto len = static_cast<int64_t>(items.size());
  for (int64_t i = 0; i < len; ++i) {
    ObjectMap loop;
    loop.append_new("index", Value::integer(i + 1));
    loop.append_new("index0", Value::integer(i));
    loop.append_new("revindex", Value::integer(len - i));
    loop.append_new("revindex0", Value::integer(len - i - 1));
    loop.append_new("first", Value::boolean(i == 0));
    loop.append_new("last", Value::boolean(i == len - 1));
    loop.append_new("length", Value::integer(len));
    loop.append_new("previtem", i > 0 ? items[static_cast<size_t>(i - 1)] : Value());
    loop.append_new("nextitem", i < len - 1 ? items[static_cast<size_t>(i + 1)] : Value());
    loop.append_new("cycle", cycle);
    scope->set("loop", Value::object(std::move(loop)));
    bind(scope, items[static_cast<size_t>(i)]);
    charge(kStepCost);
    check_string_size(out.size());
    const Flow f = exec_block(n.body, scope, out);
    if (f == Flow::Break) break;
  }
  return Flow::Normal;
}

void Interpreter::exec_set(const SetNode& n, const EnvPtr& env) {
  Value rhs;
  if (n.value) {
    rhs = eval(*n.value, env);
  } else {
    std::string body;
    if (exec_block(n.body, env, body) != Flow::Normal) runtime_error("{% break %} or {% continue %} inside {% set %}");
    rhs = Value::string(std::move(body));
    if (n.body_filter) rhs = apply_filter_chain(static_cast<const FilterNode&>(*n.body_filter), rhs, env);
  }
  const Node& t = *n.target;
  if (t.kind == NodeKind::Identifier) {
    env->set(static_cast<const Identifier&>(t).name, std::move(rhs));
  } else if (t.kind == NodeKind::TupleLit) {
    const auto& names = static_cast<const ListLit&>(t).items;
    if (!rhs.is_array()) runtime_error(std::string("cannot unpack ") + rhs.type_name() + " in {% set %}");
    const Array& parts = rhs.as_array();
    if (parts.size() != names.size())
      runtime_error(std::string("too ") + (names.size() > parts.size() ? "few" : "many") + " items to unpack in {% set %}");
    for (size_t i = 0; i < names.size(); ++i) {
      if (names[i]->kind != NodeKind::Identifier) runtime_error("can only unpack into names in {% set %}");
      env->set(static_cast<const Identifier&>(*names[i]).name, parts[i]);
    }
  } else {
    const auto& m = static_cast<const MemberNode&>(t);
    const Value obj = eval(*m.object, env);
    if (!obj.is_namespace())
      runtime_error(std::string("cannot assign an attribute of ") + obj.type_name() + " (only of a namespace())");
    if (m.computed || m.property->kind != NodeKind::Identifier) runtime_error("can only assign a named attribute of a namespace");
    obj.as_object().set(static_cast<const Identifier&>(*m.property).name, std::move(rhs));
  }
}

Value Interpreter::apply_filter_chain(const FilterNode& f, const Value& input, const EnvPtr& env) {
  const Value operand = f.operand ? apply_filter_chain(static_cast<const FilterNode&>(*f.operand), input, env) : input;
  return apply_filter(operand, f, env);
}

// ---- macros ------------------------------------------------------------------------------

void Interpreter::bind_params(const std::string& display_name, const std::vector<Param>& params, bool uses_varargs,
                              bool uses_kwargs, CallArgs& args, const EnvPtr& scope) {
  auto kwargs = args.keyword;
  std::vector<const Param*> pending;
  for (size_t i = 0; i < params.size(); ++i) {
    const Param& p = params[i];
    Value v;
    bool have = false;
    if (i < args.positional.size()) {
      v = args.positional[i];
      have = true;
    } else {
      for (auto it = kwargs.begin(); it != kwargs.end(); ++it)
        if (it->first == p.name) {
          v = it->second;
          kwargs.erase(it);
          have = true;
          break;
        }
    }
    if (!have && p.default_value) pending.push_back(&p);
    scope->set(p.name, v);
  }
  if (uses_kwargs) {
    ObjectMap m;
    for (auto& [k, v] : kwargs) m.set(k, v);
    scope->set("kwargs", Value::object(std::move(m)));
  } else if (!kwargs.empty()) {
    runtime_error("macro " + display_name + " takes no keyword argument '" + kwargs.front().first + "'");
  }
  if (uses_varargs) {
    Array rest;
    for (size_t i = params.size(); i < args.positional.size(); ++i) rest.push_back(args.positional[i]);
    scope->set("varargs", Value::array(std::move(rest)));
  } else if (args.positional.size() > params.size()) {
    runtime_error("macro " + display_name + " takes at most " + std::to_string(params.size()) + " argument(s), got " +
                  std::to_string(args.positional.size()));
  }
  for (const Param* p : pending) scope->set(p->name, eval(*p->default_value, scope));
}

Value Interpreter::make_macro(const std::string& name, const std::vector<Param>* params, const NodeList* body,
                              bool varargs, bool kwargs, EnvPtr lexical) {
  return Value::function(name, [name, params, body, varargs, kwargs, lexical](Interpreter& in, CallArgs& args, const EnvPtr& caller) {
    if (in.call_depth_ >= kMaxCallDepth) runtime_error("macro calls nested too deeply (recursion?) in '" + name + "'");
    struct Depth {
      explicit Depth(int& d) : d_(d) { ++d_; }
      ~Depth() { --d_; }
      int& d_;
    } depth(in.call_depth_);
    in.charge(kStepCost);
    auto scope = std::make_shared<Environment>(lexical ? lexical : caller);
    in.bind_params("'" + name + "'", *params, varargs, kwargs, args, scope);
    std::string out;
    if (in.exec_block(*body, scope, out) != Flow::Normal) runtime_error("{% break %} or {% continue %} outside a for loop in macro '" + name + "'");
    return Value::string(std::move(out));
  });
}

Value Interpreter::exec_call_block(const CallBlockNode& n, const EnvPtr& env) {
  const Value caller = make_macro("caller", &n.caller_params, &n.body, n.uses_varargs, n.uses_kwargs, env);
  const auto& call = static_cast<const CallNode&>(*n.call);
  CallArgs args = eval_args(call.args, env);
  const Value fn = eval(*call.callee, env);
  if (!fn.is_function())
    runtime_error("{% call %} of '" + static_cast<const Identifier&>(*call.callee).name + "', which is not a macro");
  auto scope = std::make_shared<Environment>(env);
  scope->set("caller", caller);
  return this->call(fn, args, scope);
}

Value Interpreter::call(const Value& fn, CallArgs& args, const EnvPtr& env) {
  return fn.as_function().call(*this, args, env);
}

// ---- expressions -------------------------------------------------------------------------

Value Interpreter::eval(const Node& n, const EnvPtr& env) {
  try {
    return eval_impl(n, env);
  } catch (const EvalError& e) {
    throw TemplateError(e.kind(), n.line, e.what());
  }
}

CallArgs Interpreter::eval_args(const NodeList& args, const EnvPtr& env) {
  CallArgs out;
  for (const auto& a : args) {
    if (a->kind == NodeKind::Spread) {
      const Value v = eval(*static_cast<const SpreadNode&>(*a).expr, env);
      if (!v.is_array()) runtime_error(std::string("cannot unpack ") + v.type_name() + " with '*'");
      for (const Value& x : v.as_array()) out.positional.push_back(x);
    } else if (a->kind != NodeKind::KwArg && a->kind != NodeKind::KwSpread) {
      out.positional.push_back(eval(*a, env));
    }
  }
  auto add = [&](const std::string& k, Value v) {
    if (out.kwarg(k)) runtime_error("got multiple values for keyword argument '" + k + "'");
    out.keyword.emplace_back(k, std::move(v));
  };
  for (const auto& a : args) {
    if (a->kind == NodeKind::KwArg) {
      const auto& kw = static_cast<const KwArgNode&>(*a);
      add(kw.name, eval(*kw.value, env));
    } else if (a->kind == NodeKind::KwSpread) {
      const Value v = eval(*static_cast<const SpreadNode&>(*a).expr, env);
      if (!v.is_object()) runtime_error(std::string("argument after ** must be a dict, not ") + v.type_name());
      for (const auto& [k, x] : v.as_object()) add(k, x);
    }
  }
  return out;
}

Value Interpreter::eval_impl(const Node& n, const EnvPtr& env) {
  switch (n.kind) {
    case NodeKind::IntLit: return Value::integer(static_cast<const IntLit&>(n).value);
    case NodeKind::FloatLit: return Value::number(static_cast<const FloatLit&>(n).value);
    case NodeKind::StringLit: return Value::string(static_cast<const StringLit&>(n).value);
    case NodeKind::Text: return Value::string(static_cast<const TextNode&>(n).text);
    case NodeKind::ArrayLit:
    case NodeKind::TupleLit: {
      Array items;
      for (const auto& item : static_cast<const ListLit&>(n).items) items.push_back(eval(*item, env));
      return Value::array(std::move(items));
    }
    case NodeKind::ObjectLit: {
      ObjectMap m;
      for (const auto& [k, v] : static_cast<const ObjectLit&>(n).entries) {
        const Value key = eval(*k, env);
        if (!key.is_string()) runtime_error(std::string("dict keys must be strings, got ") + key.type_name());
        m.set(key.as_string(), eval(*v, env));
      }
      return Value::object(std::move(m));
    }
    case NodeKind::Identifier: return env->lookup(static_cast<const Identifier&>(n).name);
    case NodeKind::Member: return eval_member(static_cast<const MemberNode&>(n), env);
    case NodeKind::Call: return eval_call(static_cast<const CallNode&>(n), env);
    case NodeKind::Unary: return eval_unary(static_cast<const UnaryNode&>(n), env);
    case NodeKind::Binary: return eval_binary(static_cast<const BinaryNode&>(n), env);
    case NodeKind::Filter: {
      const auto& f = static_cast<const FilterNode&>(n);
      return apply_filter(eval(*f.operand, env), f, env);
    }
    case NodeKind::Test: {
      const auto& t = static_cast<const TestNode&>(n);
      const Value operand = eval(*t.operand, env);
      std::vector<Value> args;
      for (const auto& a : t.args) {
        if (a->kind == NodeKind::KwArg || a->kind == NodeKind::Spread || a->kind == NodeKind::KwSpread)
          unsupported("keyword or unpacked arguments to test '" + t.name + "'");
        args.push_back(eval(*a, env));
      }
      const bool r = apply_test(t.name, operand, args);
      return Value::boolean(t.negate ? !r : r);
    }
    case NodeKind::Select: {
      const auto& s = static_cast<const SelectNode&>(n);
      if (!eval(*s.test, env).truthy()) return Value();
      return eval(*s.value, env);
    }
    case NodeKind::Ternary: {
      const auto& t = static_cast<const TernaryNode&>(n);
      return eval(*t.test, env).truthy() ? eval(*t.if_true, env) : eval(*t.if_false, env);
    }
    case NodeKind::Slice: runtime_error("a slice can only appear inside []");
    case NodeKind::KwArg:
    case NodeKind::Spread:
    case NodeKind::KwSpread: runtime_error("keyword or unpacked argument outside a call");
    default: {
      std::string out;
      exec(n, env, out);
      return Value::string(std::move(out));
    }
  }
}

Value Interpreter::eval_unary(const UnaryNode& n, const EnvPtr& env) {
  const Value a = eval(*n.arg, env);
  if (n.op == "not") return Value::boolean(!a.truthy());
  const bool neg = n.op == "-";
  if (a.is_float()) return Value::number(neg ? -a.as_float() : a.as_float());
  if (a.is_int()) return Value::integer(neg ? -a.as_int() : a.as_int());
  if (a.is_bool()) return Value::integer(neg ? -(a.as_bool() ? 1 : 0) : (a.as_bool() ? 1 : 0));
  runtime_error("unary '" + n.op + "' on " + a.type_name());
}

namespace {

Value int_or_float(double d) {
  if (std::isfinite(d) && std::fabs(d) < 9.2e18) return Value::integer(static_cast<int64_t>(d));
  return Value::number(d);
}

}  // namespace

Value Interpreter::concat_strings(const std::string& a, const std::string& b) {
  check_string_size(a.size() + b.size());
  charge(a.size() + b.size());
  return Value::string(a + b);
}

Value Interpreter::eval_binary(const BinaryNode& n, const EnvPtr& env) {
  const std::string& op = n.op;
  Value left = eval(*n.left, env);
  if (op == "and") return left.truthy() ? eval(*n.right, env) : left;
  if (op == "or") return left.truthy() ? left : eval(*n.right, env);
  Value right = eval(*n.right, env);
  if (op == "==") return Value::boolean(loose_equals(left, right));
  if (op == "!=") return Value::boolean(!loose_equals(left, right));

  if (left.is_undefined() || right.is_undefined()) {
    if (right.is_undefined() && (op == "in" || op == "not in")) return Value::boolean(op == "not in");
    runtime_error("cannot apply '" + op + "' to an undefined value (" + left.type_name() + " " + op + " " +
                  right.type_name() + ")");
  }
  if (left.is_null() || right.is_null())
    runtime_error("cannot apply '" + op + "' to none (" + left.type_name() + " " + op + " " + right.type_name() + ")");
  if (op == "~") return concat_strings(left.js_string(), right.js_string());

  const auto numeric_like = [](const Value& v) { return v.is_number() || v.is_bool(); };
  if (op == "**" && numeric_like(left) && numeric_like(right)) {
    const double a = left.as_double(), b = right.as_double();
    if (a == 0 && b < 0) runtime_error("0.0 cannot be raised to a negative power");
    const double r = std::pow(a, b);
    if (!std::isfinite(r)) runtime_error("exponentiation result is not a finite real number");
    if (left.is_float() || right.is_float() || b < 0) return Value::number(r);
    return int_or_float(r);
  }
  if (left.is_number() && right.is_number()) {
    const bool is_float = left.is_float() || right.is_float();
    const double a = left.as_double(), b = right.as_double();
    if (op == "+" || op == "-" || op == "*") {
      if (!is_float) {
        int64_t r;
        const int64_t x = left.as_int(), y = right.as_int();
        const bool overflow = op == "+" ? __builtin_add_overflow(x, y, &r)
                              : op == "-" ? __builtin_sub_overflow(x, y, &r)
                                          : __builtin_mul_overflow(x, y, &r);
        if (!overflow) return Value::integer(r);
      }
      const double r = op == "+" ? a + b : op == "-" ? a - b : a * b;
      return is_float ? Value::number(r) : int_or_float(r);
    }
    if (op == "/") {
      if (b == 0) runtime_error("division by zero");
      return Value::number(a / b);
    }
    if (op == "//") {
      if (b == 0) runtime_error("division by zero");
      if (!is_float) {
        const int64_t x = left.as_int(), y = right.as_int();
        int64_t q = x / y;
        if ((x % y != 0) && ((x < 0) != (y < 0))) --q;
        return Value::integer(q);
      }
      return Value::number(std::floor(a / b));
    }
    if (op == "%") {
      if (b == 0) runtime_error("division by zero");
      if (!is_float) return Value::integer(left.as_int() % right.as_int());
      return Value::number(std::fmod(a, b));
    }
    if (op == "<") return Value::boolean(a < b);
    if (op == ">") return Value::boolean(a > b);
    if (op == "<=") return Value::boolean(a <= b);
    if (op == ">=") return Value::boolean(a >= b);
  } else if (left.is_array() && right.is_array()) {
    if (op == "+") {
      const Array& b = right.as_array();
      if (left.as_array().size() + b.size() > kMaxListItems) runtime_error("the template builds a list that is too long");
      charge(left.as_array().size() + b.size());
      Array r = left.as_array();
      r.insert(r.end(), b.begin(), b.end());
      return Value::array(std::move(r));
    }
  } else if (right.is_array()) {
    if (op == "in" || op == "not in") {
      bool found = false;
      for (const Value& x : right.as_array())
        if (strict_equals(x, left)) {
          found = true;
          break;
        }
      return Value::boolean(op == "in" ? found : !found);
    }
  }
  if ((left.is_string() || right.is_string()) && op == "+") return concat_strings(left.js_string(), right.js_string());
  if (left.is_string() && right.is_string()) {
    const std::string& a = left.as_string();
    const std::string& b = right.as_string();
    if (op == "in") return Value::boolean(b.find(a) != std::string::npos);
    if (op == "not in") return Value::boolean(b.find(a) == std::string::npos);
    if (op == "<") return Value::boolean(a < b);
    if (op == ">") return Value::boolean(a > b);
    if (op == "<=") return Value::boolean(a <= b);
    if (op == ">=") return Value::boolean(a >= b);
  }
  if (left.is_string() && right.is_object()) {
    const bool has = right.as_object().contains(left.as_string());
    if (op == "in") return Value::boolean(has);
    if (op == "not in") return Value::boolean(!has);
  }
  runtime_error("unsupported operation: " + std::string(left.type_name()) + " " + op + " " + right.type_name());
}

std::vector<size_t> slice_indices(size_t n, const Value& start_v, const Value& stop_v, const Value& step_v) {
  auto as_opt = [](const Value& v, const char* what) -> std::optional<int64_t> {
    if (v.is_undefined() || v.is_null()) return std::nullopt;
    if (!v.is_int()) runtime_error(std::string("slice ") + what + " must be an integer, got " + v.type_name());
    return v.as_int();
  };
  const auto len = static_cast<int64_t>(n);
  const int64_t step = as_opt(step_v, "step").value_or(1);
  if (step == 0) runtime_error("slice step cannot be zero");
  std::optional<int64_t> start = as_opt(start_v, "start"), stop = as_opt(stop_v, "stop");
  int64_t s, e;
  if (step > 0) {
    s = start.value_or(0);
    s = s < 0 ? std::max<int64_t>(len + s, 0) : std::min(s, len);
    e = stop.value_or(len);
    e = e < 0 ? std::max<int64_t>(len + e, 0) : std::min(e, len);
  } else {
    s = start.value_or(len - 1);
    s = s < 0 ? std::max<int64_t>(len + s, -1) : std::min(s, len - 1);
    e = stop.value_or(-1);
    e = e < -1 ? std::max<int64_t>(len + e, -1) : std::min(e, len - 1);
  }
  std::vector<size_t> idx;
  for (int64_t i = s; step > 0 ? i < e : i > e; i += step) idx.push_back(static_cast<size_t>(i));
  return idx;
}

Value Interpreter::eval_member(const MemberNode& n, const EnvPtr& env) {
  const Value obj = eval(*n.object, env);
  if (n.computed && n.property->kind == NodeKind::Slice) {
    const auto& s = static_cast<const SliceNode&>(*n.property);
    const Value start = s.start ? eval(*s.start, env) : Value();
    const Value stop = s.stop ? eval(*s.stop, env) : Value();
    const Value step = s.step ? eval(*s.step, env) : Value();
    if (obj.is_array()) {
      const Array& a = obj.as_array();
      Array r;
      for (size_t i : slice_indices(a.size(), start, stop, step)) r.push_back(a[i]);
      return Value::array(std::move(r));
    }
    if (obj.is_string()) {
      const std::string& str = obj.as_string();
      std::vector<std::pair<size_t, size_t>> cps;  // byte offset, length of each code point
      for (size_t i = 0; i < str.size();) {
        const size_t b = i;
        text::decode(str, i);
        cps.emplace_back(b, i - b);
      }
      std::string r;
      for (size_t i : slice_indices(cps.size(), start, stop, step)) r.append(str, cps[i].first, cps[i].second);
      return Value::string(std::move(r));
    }
    runtime_error(std::string("cannot slice ") + obj.type_name() + " (only lists and strings)");
  }
  Value prop;
  if (n.computed) prop = eval(*n.property, env);
  else if (n.property->kind == NodeKind::IntLit) prop = Value::integer(static_cast<const IntLit&>(*n.property).value);
  else prop = Value::string(static_cast<const Identifier&>(*n.property).name);
  return get_member(obj, prop);
}

Value Interpreter::eval_call(const CallNode& n, const EnvPtr& env) {
  CallArgs args = eval_args(n.args, env);
  const Value fn = eval(*n.callee, env);
  if (!fn.is_function()) {
    if (n.callee->kind == NodeKind::Identifier) {
      const auto& name = static_cast<const Identifier&>(*n.callee).name;
      if (fn.is_undefined()) unsupported("unknown function '" + name + "'");
      runtime_error("'" + name + "' is " + fn.type_name() + ", not a function");
    }
    if (n.callee->kind == NodeKind::Member) {
      const auto& m = static_cast<const MemberNode&>(*n.callee);
      if (!m.computed && m.property->kind == NodeKind::Identifier && fn.is_undefined()) {
        const Value obj = eval(*m.object, env);
        const auto& name = static_cast<const Identifier&>(*m.property).name;
        // Python methods of these types that the interpreter lacks are "unsupported"; any other
        // name simply does not exist on the value (often a message of an unexpected shape).
        static const std::set<std::string, std::less<>> kPythonStr = {
            "zfill", "center", "ljust", "rjust", "partition", "rpartition", "rsplit", "expandtabs", "encode",
            "swapcase", "translate", "isnumeric", "isdecimal", "istitle", "isidentifier", "isprintable", "isascii",
            "rindex", "maketrans"};
        static const std::set<std::string, std::less<>> kPythonList = {
            "append", "extend", "insert", "remove", "pop", "clear", "index", "count", "sort", "reverse", "copy"};
        static const std::set<std::string, std::less<>> kPythonDict = {"pop", "popitem", "update", "setdefault",
                                                                       "clear", "copy", "fromkeys"};
        const bool python_method = (obj.is_string() && kPythonStr.count(name)) ||
                                   (obj.is_array() && kPythonList.count(name)) ||
                                   (obj.is_object() && kPythonDict.count(name));
        if (python_method) unsupported(std::string("the method ") + obj.type_name() + "." + name + "() is not implemented");
        runtime_error(std::string(obj.type_name()) + " has no method '" + name + "'");
      }
    }
    runtime_error(std::string("cannot call ") + fn.type_name() + ", it is not a function");
  }
  return call(fn, args, env);
}

}  // namespace quarrel::chat::jinja
