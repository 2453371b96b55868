// Jinja tests: `x is name`, `x is name(arg)`, `x is name arg`, and as used by select/reject.
#include "chat/builtins.h"
#include "chat/interpreter.h"
#include "chat/template_error.h"
#include "chat/text.h"

namespace quarrel::chat::jinja {

namespace {

const Value& arg0(const std::string& name, const std::vector<Value>& args) {
  if (args.empty()) runtime_error("test '" + name + "' needs an argument");
  return args[0];
}

int compare_for_test(const std::string& name, const Value& a, const Value& b) {
  if ((a.is_number() || a.is_bool()) && (b.is_number() || b.is_bool())) return compare_values(a, b, true);
  if (a.is_string() && b.is_string()) return compare_values(a, b, true);
  runtime_error("test '" + name + "' cannot compare " + a.type_name() + " with " + b.type_name());
}

}  // namespace

bool Interpreter::apply_test(const std::string& name, const Value& v, const std::vector<Value>& args) {
  // The reference renderer's tests.
  if (name == "boolean") return v.is_bool();
  if (name == "callable") return v.is_function();
  if (name == "odd" || name == "even") {
    if (!v.is_int()) runtime_error("test '" + name + "' needs an integer, got " + v.type_name());
    const bool odd = v.as_int() % 2 != 0;
    return name == "odd" ? odd : !odd;
  }
  if (name == "false") return v.is_bool() && !v.as_bool();
  if (name == "true") return v.is_bool() && v.as_bool();
  if (name == "none") return v.is_null();
  if (name == "string") return v.is_string();
  if (name == "number") return v.is_number();
  if (name == "integer") return v.is_int();
  if (name == "iterable") return v.is_array() || v.is_string();
  if (name == "mapping") return v.is_object();
  if (name == "sequence") return v.is_array() || v.is_object() || v.is_string();
  if (name == "lower") return v.is_string() && text::to_lower(v.as_string()) == v.as_string();
  if (name == "upper") return v.is_string() && text::to_upper(v.as_string()) == v.as_string();
  if (name == "defined") return !v.is_undefined();
  if (name == "undefined") return v.is_undefined();
  if (name == "equalto" || name == "eq" || name == "==") return strict_equals(v, args.empty() ? Value() : args[0]);
  // Jinja's other tests.
  if (name == "ne" || name == "!=") return !strict_equals(v, arg0(name, args));
  if (name == "float") return v.is_float();
  if (name == "sameas") return strict_equals(v, arg0(name, args));
  if (name == "lt" || name == "lessthan" || name == "<") return compare_for_test(name, v, arg0(name, args)) < 0;
  if (name == "le" || name == "<=") return compare_for_test(name, v, arg0(name, args)) <= 0;
  if (name == "gt" || name == "greaterthan" || name == ">") return compare_for_test(name, v, arg0(name, args)) > 0;
  if (name == "ge" || name == ">=") return compare_for_test(name, v, arg0(name, args)) >= 0;
  if (name == "divisibleby") {
    const Value& d = arg0(name, args);
    if (!v.is_int() || !d.is_int()) runtime_error("test 'divisibleby' needs integers");
    if (d.as_int() == 0) runtime_error("test 'divisibleby' with zero");
    return v.as_int() % d.as_int() == 0;
  }
  if (name == "in") {
    const Value& seq = arg0(name, args);
    if (seq.is_array()) {
      for (const Value& x : seq.as_array())
        if (strict_equals(x, v)) return true;
      return false;
    }
    if (seq.is_string() && v.is_string()) return seq.as_string().find(v.as_string()) != std::string::npos;
    if (seq.is_object() && v.is_string()) return seq.as_object().contains(v.as_string());
    runtime_error(std::string("test 'in' cannot look for ") + v.type_name() + " in " + seq.type_name());
  }
  if (name == "escaped") return false;
  unsupported("unknown test '" + name + "'");
}

}  // namespace quarrel::chat::jinja
