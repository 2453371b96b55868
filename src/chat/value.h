#pragma once
// The interpreter's dynamic value: undefined, none, booleans, integers, floats, strings, lists,
// dicts (insertion-ordered), namespaces and functions. Strings, lists, dicts and namespaces are
// shared on copy (lists and dicts compare by identity, as in the reference renderer, and a
// namespace is mutated in place through every copy).
#include <nlohmann/json.hpp>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace quarrel::chat::jinja {

class Value;
class ObjectMap;
class Environment;
class Interpreter;
using EnvPtr = std::shared_ptr<Environment>;

using Array = std::vector<Value>;

// Arguments of a call: positional values, then keyword arguments in the order written.
struct CallArgs {
  std::vector<Value> positional;
  std::vector<std::pair<std::string, Value>> keyword;

  const Value* kwarg(std::string_view name) const;
  // positional[i] if given, else keyword `name`, else nullptr.
  const Value* get(size_t i, std::string_view name) const;
};

// A callable: a builtin or a macro. `env` is the caller's scope (macros see it, as in the
// reference renderer).
struct Function {
  std::string name;
  std::function<Value(Interpreter&, CallArgs&, const EnvPtr& env)> call;
};

class Value {
 public:
  enum class Kind : uint8_t { Undefined, Null, Bool, Int, Float, String, Array, Object, Namespace, Function };

  Value() = default;  // undefined
  static Value null();
  static Value boolean(bool b);
  static Value integer(int64_t i);
  static Value number(double d);  // a float value
  static Value string(std::string s);
  static Value array(Array items = {});
  static Value object();
  static Value object(ObjectMap map);
  static Value namespace_(ObjectMap map);
  static Value function(std::string name, std::function<Value(Interpreter&, CallArgs&, const EnvPtr&)> fn);

  Kind kind() const { return kind_; }
  bool is_undefined() const { return kind_ == Kind::Undefined; }
  bool is_null() const { return kind_ == Kind::Null; }
  bool is_bool() const { return kind_ == Kind::Bool; }
  bool is_int() const { return kind_ == Kind::Int; }
  bool is_float() const { return kind_ == Kind::Float; }
  bool is_number() const { return kind_ == Kind::Int || kind_ == Kind::Float; }
  bool is_string() const { return kind_ == Kind::String; }
  bool is_array() const { return kind_ == Kind::Array; }
  bool is_object() const { return kind_ == Kind::Object; }
  bool is_namespace() const { return kind_ == Kind::Namespace; }
  bool is_function() const { return kind_ == Kind::Function; }
  // Dicts and namespaces: things with named attributes.
  bool is_mapping_like() const { return kind_ == Kind::Object || kind_ == Kind::Namespace; }

  bool as_bool() const { return b_; }
  int64_t as_int() const { return i_; }
  double as_float() const { return f_; }
  double as_double() const;  // int, float or bool as a double
  const std::string& as_string() const;
  Array& as_array() const;
  ObjectMap& as_object() const;  // objects and namespaces
  const Function& as_function() const;
  const void* identity() const { return ptr_.get(); }

  // Jinja truthiness (as the reference renderer: empty lists and dicts are false, a
  // namespace is always true).
  bool truthy() const;
  // The kind's name in messages: "undefined", "none", "boolean", "integer", "float", "string",
  // "list", "dict", "namespace", "function".
  const char* type_name() const;

  // How the value prints in template output ({{ x }}): floats keep ".0", lists and dicts as
  // JSON, booleans "true"/"false", none and undefined print nothing (handled by the caller).
  std::string display() const;
  // JavaScript's value.toString(), used by `~`, `+` and `join`: numbers without ".0", lists as
  // their items' display joined by ",", dicts as "[object Map]".
  std::string js_string() const;

 private:
  Kind kind_ = Kind::Undefined;
  union {
    bool b_;
    int64_t i_ = 0;
    double f_;
  };
  std::shared_ptr<void> ptr_;  // std::string, Array, ObjectMap or Function
};

// Insertion-ordered string -> Value map.
class ObjectMap {
 public:
  using Entry = std::pair<std::string, Value>;

  const Value* find(std::string_view key) const;
  Value* find(std::string_view key);
  bool contains(std::string_view key) const { return find(key) != nullptr; }
  void set(std::string key, Value v);  // overwrites in place or appends
  // Appends a key the map does not have yet (building a fresh map: no lookup).
  void append_new(std::string key, Value v);
  void clear();
  // Moves the values out (freeing a deep structure without recursion).
  void take_values(std::vector<Value>& out);
  size_t size() const { return entries_.size(); }
  bool empty() const { return entries_.empty(); }
  const std::vector<Entry>& entries() const { return entries_; }
  std::vector<Entry>::const_iterator begin() const { return entries_.begin(); }
  std::vector<Entry>::const_iterator end() const { return entries_.end(); }

 private:
  std::vector<Entry> entries_;
  std::unordered_map<std::string, size_t> index_;  // built once the map grows past a few keys
};

// ---- conversions and comparisons -------------------------------------------------------------

// Lists and dicts nest at most this deep (deeper JSON input, or a template building deeper
// values, is an error; this also catches a namespace that contains itself).
inline constexpr int kMaxNesting = 512;

// JSON to Value as the reference renderer receives it from JSON.parse: integral numbers are
// integers, object keys that are array indices come first in ascending order (JavaScript's
// property order), the rest in document order. Throws Error(kInvalidArgument) for JSON nested
// deeper than kMaxNesting.
Value from_json(const nlohmann::ordered_json& j);

struct JsonOptions {
  int indent = 0;  // 0: one line
  bool ensure_ascii = false;
  bool sort_keys = false;
  bool has_separators = false;
  std::string item_separator, key_separator;
};
// The tojson filter. undefined_as_null=false prints undefined as `undefined` (the way lists and
// dicts print in output). Throws for functions, for values nested deeper than kMaxNesting and
// for output over the interpreter's string limit.
std::string to_json(const Value& v, const JsonOptions& opts, bool undefined_as_null = true);

// JavaScript's `==` on the underlying values (the reference renderer's equality).
bool loose_equals(const Value& a, const Value& b);
// JavaScript's `===` (membership tests, unique, equalto).
bool strict_equals(const Value& a, const Value& b);
// Ordering for sort/dictsort/min/max: numbers (and booleans) with numbers, strings with strings
// (case-insensitive unless case_sensitive), none with none. Throws std::runtime_error otherwise.
int compare_values(const Value& a, const Value& b, bool case_sensitive);

}  // namespace quarrel::chat::jinja
