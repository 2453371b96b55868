#pragma once
// Evaluates a parsed template. Scoping follows the reference renderer (@huggingface/jinja):
// `set` writes to the current scope; a for loop has one scope for all its iterations; a macro
// runs in a new scope whose parent is the caller's. Output of a for-loop iteration before a
// {% break %} / {% continue %} is kept, as in Jinja.
#include <chrono>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "chat/ast.h"
#include "chat/value.h"

namespace quarrel::chat::jinja {

class Environment {
 public:
  explicit Environment(EnvPtr parent = nullptr) : parent_(std::move(parent)) {}

  // The variable in this scope or the nearest enclosing one; undefined when none has it.
  Value lookup(std::string_view name) const;
  // Sets the variable in this scope.
  void set(std::string_view name, Value v);
  const EnvPtr& parent() const { return parent_; }

 private:
  EnvPtr parent_;
  std::vector<std::pair<std::string, Value>> vars_;
};

// A fresh global scope with true/false/none (and True/False/None), raise_exception, range,
// namespace, dict and strftime_now.
EnvPtr make_global_env();

class Interpreter {
 public:
  // `now` is what strftime_now formats (local time of this instant).
  explicit Interpreter(std::chrono::system_clock::time_point now) : now_(now) {}

  std::string render(const Program& program, const EnvPtr& globals);

  Value eval(const Node& n, const EnvPtr& env);
  Value call(const Value& fn, CallArgs& args, const EnvPtr& env);
  std::chrono::system_clock::time_point now() const { return now_; }

  // Work accounting, so that no template can hang a server or exhaust its memory: every loop
  // iteration and macro call costs kStepCost, every string or list built costs its size (bytes,
  // items). Over the budget (about a second of work), or over the size limits, rendering stops
  // with an error.
  void charge(size_t units);
  static constexpr size_t kWorkBudget = size_t{1} << 30;
  static constexpr size_t kStepCost = 256;
  static constexpr size_t kMaxStringBytes = size_t{256} << 20;
  static constexpr size_t kMaxListItems = size_t{1} << 20;
  static void check_string_size(size_t bytes);
  // Namespaces are the only values a template can change, so the only way to build a cycle
  // (`{% set ns.me = ns %}`); every one is emptied when rendering ends, freeing any cycle.
  void track_namespace(const Value& ns) { namespaces_.push_back(ns); }

  // filters.cpp
  Value apply_filter(const Value& operand, const FilterNode& f, const EnvPtr& env);
  // Applies a filter by name to already evaluated arguments (map('upper'), {% filter %}).
  Value apply_filter_by_name(const Value& operand, const std::string& name, bool called, CallArgs& args);
  // tests.cpp: `operand is name(args)`.
  bool apply_test(const std::string& name, const Value& operand, const std::vector<Value>& args);
  // methods.cpp: obj.name / obj[key] (dict entries, then methods such as str.split).
  Value get_member(const Value& object, const Value& property);

 private:
  enum class Flow { Normal, Break, Continue };

  Flow exec_block(const NodeList& body, const EnvPtr& env, std::string& out);
  Flow exec(const Node& n, const EnvPtr& env, std::string& out);
  Value eval_impl(const Node& n, const EnvPtr& env);

  Flow exec_for(const ForNode& n, const EnvPtr& env, std::string& out);
  void exec_set(const SetNode& n, const EnvPtr& env);
  // f's filters (innermost first) applied to input; f's innermost operand is null.
  Value apply_filter_chain(const FilterNode& f, const Value& input, const EnvPtr& env);
  Value exec_call_block(const CallBlockNode& n, const EnvPtr& env);
  Value eval_binary(const BinaryNode& n, const EnvPtr& env);
  Value concat_strings(const std::string& a, const std::string& b);
  Value eval_unary(const UnaryNode& n, const EnvPtr& env);
  Value eval_member(const MemberNode& n, const EnvPtr& env);
  Value eval_call(const CallNode& n, const EnvPtr& env);
  CallArgs eval_args(const NodeList& args, const EnvPtr& env);
  Value make_macro(const std::string& name, const std::vector<Param>* params, const NodeList* body, bool varargs,
                   bool kwargs, EnvPtr lexical);
  void bind_params(const std::string& display_name, const std::vector<Param>& params, bool uses_varargs,
                   bool uses_kwargs, CallArgs& args, const EnvPtr& scope);

  std::chrono::system_clock::time_point now_;
  int call_depth_ = 0;
  size_t work_ = 0;
  std::vector<Value> namespaces_;
};

// Python-style slice of n items; returns the indices taken.
std::vector<size_t> slice_indices(size_t n, const Value& start, const Value& stop, const Value& step);

}  // namespace quarrel::chat::jinja
