#include "chat/value.h"

#include <algorithm>
#include <cmath>

#include "chat/template_error.h"
#include "chat/text.h"

namespace quarrel::chat::jinja {

// ---- CallArgs ----------------------------------------------------------------------------

const Value* CallArgs::kwarg(std::string_view name) const {
  for (const auto& [k, v] : keyword)
    if (k == name) return &v;
  return nullptr;
}

const Value* CallArgs::get(size_t i, std::string_view name) const {
  if (i < positional.size()) return &positional[i];
  return kwarg(name);
}

// ---- freeing deep structures without recursion --------------------------------------------
//
// A list of lists of lists... (from hostile JSON, or built by a template) would be destroyed by
// recursion as deep as the nesting. Lists, dicts and namespaces are deleted through drain():
// their items are moved to a per-thread queue, which the outermost drain() empties in a loop.

namespace {

struct Drain {
  std::vector<Value> pending;
  bool draining = false;
};
thread_local Drain t_drain;

void collect(Array* a, std::vector<Value>& out) {
  for (Value& v : *a) out.push_back(std::move(v));
}
void collect(ObjectMap* m, std::vector<Value>& out) { m->take_values(out); }

template <typename T>
void drain_delete(T* p) {
  Drain& d = t_drain;
  collect(p, d.pending);
  delete p;
  if (d.draining) return;
  d.draining = true;
  while (!d.pending.empty()) {
    Value v = std::move(d.pending.back());
    d.pending.pop_back();
  }  // v is released here; its own children land in `pending`
  d.draining = false;
}

}  // namespace

// ---- Value -------------------------------------------------------------------------------

Value Value::null() {
  Value v;
  v.kind_ = Kind::Null;
  return v;
}

Value Value::boolean(bool b) {
  Value v;
  v.kind_ = Kind::Bool;
  v.b_ = b;
  return v;
}

Value Value::integer(int64_t i) {
  Value v;
  v.kind_ = Kind::Int;
  v.i_ = i;
  return v;
}

Value Value::number(double d) {
  Value v;
  v.kind_ = Kind::Float;
  v.f_ = d;
  return v;
}

Value Value::string(std::string s) {
  Value v;
  v.kind_ = Kind::String;
  v.ptr_ = std::make_shared<std::string>(std::move(s));
  return v;
}

Value Value::array(Array items) {
  Value v;
  v.kind_ = Kind::Array;
  v.ptr_ = std::shared_ptr<Array>(new Array(std::move(items)), drain_delete<Array>);
  return v;
}

Value Value::object() { return object(ObjectMap{}); }

Value Value::object(ObjectMap map) {
  Value v;
  v.kind_ = Kind::Object;
  v.ptr_ = std::shared_ptr<ObjectMap>(new ObjectMap(std::move(map)), drain_delete<ObjectMap>);
  return v;
}

Value Value::namespace_(ObjectMap map) {
  Value v;
  v.kind_ = Kind::Namespace;
  v.ptr_ = std::shared_ptr<ObjectMap>(new ObjectMap(std::move(map)), drain_delete<ObjectMap>);
  return v;
}

Value Value::function(std::string name, std::function<Value(Interpreter&, CallArgs&, const EnvPtr&)> fn) {
  Value v;
  v.kind_ = Kind::Function;
  v.ptr_ = std::make_shared<Function>(Function{std::move(name), std::move(fn)});
  return v;
}

double Value::as_double() const {
  switch (kind_) {
    case Kind::Int: return static_cast<double>(i_);
    case Kind::Float: return f_;
    case Kind::Bool: return b_ ? 1.0 : 0.0;
    default: return NAN;
  }
}

const std::string& Value::as_string() const { return *static_cast<const std::string*>(ptr_.get()); }
Array& Value::as_array() const { return *static_cast<Array*>(ptr_.get()); }
ObjectMap& Value::as_object() const { return *static_cast<ObjectMap*>(ptr_.get()); }
const Function& Value::as_function() const { return *static_cast<const Function*>(ptr_.get()); }

bool Value::truthy() const {
  switch (kind_) {
    case Kind::Undefined:
    case Kind::Null: return false;
    case Kind::Bool: return b_;
    case Kind::Int: return i_ != 0;
    case Kind::Float: return f_ != 0 && !std::isnan(f_);
    case Kind::String: return !as_string().empty();
    case Kind::Array: return !as_array().empty();
    case Kind::Object: return !as_object().empty();
    case Kind::Namespace:
    case Kind::Function: return true;
  }
  return false;
}

const char* Value::type_name() const {
  switch (kind_) {
    case Kind::Undefined: return "undefined";
    case Kind::Null: return "none";
    case Kind::Bool: return "boolean";
    case Kind::Int: return "integer";
    case Kind::Float: return "float";
    case Kind::String: return "string";
    case Kind::Array: return "list";
    case Kind::Object: return "dict";
    case Kind::Namespace: return "namespace";
    case Kind::Function: return "function";
  }
  return "?";
}

std::string Value::display() const {
  switch (kind_) {
    case Kind::Undefined: return "undefined";
    case Kind::Null: return "null";
    case Kind::Bool: return b_ ? "true" : "false";
    case Kind::Int: return std::to_string(i_);
    case Kind::Float: return text::js_float_display(f_);
    case Kind::String: return as_string();
    case Kind::Array:
    case Kind::Object:
    case Kind::Namespace: return to_json(*this, JsonOptions{}, false);
    case Kind::Function: return "<function " + as_function().name + ">";
  }
  return {};
}

std::string Value::js_string() const {
  switch (kind_) {
    case Kind::Int: return std::to_string(i_);
    case Kind::Float: return text::js_number(f_);
    case Kind::Array: {
      std::string out;
      bool first = true;
      for (const Value& item : as_array()) {
        if (!first) out.push_back(',');
        first = false;
        out += item.display();
      }
      return out;
    }
    case Kind::Object:
    case Kind::Namespace: return "[object Map]";
    default: return display();
  }
}

// ---- ObjectMap ---------------------------------------------------------------------------

namespace {
constexpr size_t kIndexThreshold = 12;
}

const Value* ObjectMap::find(std::string_view key) const {
  if (!index_.empty()) {
    auto it = index_.find(std::string(key));
    return it == index_.end() ? nullptr : &entries_[it->second].second;
  }
  for (const auto& e : entries_)
    if (e.first == key) return &e.second;
  return nullptr;
}

Value* ObjectMap::find(std::string_view key) {
  return const_cast<Value*>(static_cast<const ObjectMap*>(this)->find(key));
}

void ObjectMap::set(std::string key, Value v) {
  if (Value* existing = find(key)) {
    *existing = std::move(v);
    return;
  }
  append_new(std::move(key), std::move(v));
}

void ObjectMap::clear() {
  std::vector<Value> values;
  take_values(values);  // released below, through drain when they hold containers
}

void ObjectMap::take_values(std::vector<Value>& out) {
  for (auto& e : entries_) out.push_back(std::move(e.second));
  entries_.clear();
  index_.clear();
}

void ObjectMap::append_new(std::string key, Value v) {
  entries_.emplace_back(std::move(key), std::move(v));
  if (!index_.empty()) {
    index_.emplace(entries_.back().first, entries_.size() - 1);
  } else if (entries_.size() > kIndexThreshold) {
    for (size_t i = 0; i < entries_.size(); ++i) index_.emplace(entries_[i].first, i);
  }
}

// ---- JSON --------------------------------------------------------------------------------

namespace {

// A canonical array index ("0", "17", < 2^32 - 1), which JavaScript orders first.
bool is_array_index(const std::string& k, uint64_t& n) {
  if (k.empty() || k.size() > 10 || (k.size() > 1 && k[0] == '0')) return false;
  n = 0;
  for (char c : k) {
    if (c < '0' || c > '9') return false;
    n = n * 10 + static_cast<uint64_t>(c - '0');
  }
  return n < 4294967295ULL;
}

Value number_value(double d) {
  if (std::isfinite(d) && d == std::trunc(d) && std::fabs(d) < 9.2e18) return Value::integer(static_cast<int64_t>(d));
  return Value::number(d);
}

}  // namespace

namespace {
Value from_json_at(const nlohmann::ordered_json& j, int depth);
}

Value from_json(const nlohmann::ordered_json& j) { return from_json_at(j, 0); }

namespace {

Value from_json_at(const nlohmann::ordered_json& j, int depth) {
  using T = nlohmann::ordered_json::value_t;
  if (depth > kMaxNesting) fail(ErrorCode::kInvalidArgument, "JSON nested more than {} levels deep", kMaxNesting);
  switch (j.type()) {
    case T::null: return Value::null();
    case T::boolean: return Value::boolean(j.get<bool>());
    case T::number_integer: return Value::integer(j.get<int64_t>());
    case T::number_unsigned: {
      const auto u = j.get<uint64_t>();
      return u <= static_cast<uint64_t>(INT64_MAX) ? Value::integer(static_cast<int64_t>(u))
                                                   : Value::number(static_cast<double>(u));
    }
    case T::number_float: return number_value(j.get<double>());
    case T::string: return Value::string(j.get<std::string>());
    case T::array: {
      Array items;
      items.reserve(j.size());
      for (const auto& e : j) items.push_back(from_json_at(e, depth + 1));
      return Value::array(std::move(items));
    }
    case T::object: {
      ObjectMap map;
      std::vector<std::pair<uint64_t, const std::string*>> indices;
      for (auto it = j.begin(); it != j.end(); ++it) {
        uint64_t n;
        if (is_array_index(it.key(), n)) indices.emplace_back(n, &it.key());
      }
      std::sort(indices.begin(), indices.end());
      // ordered_json keys are unique.
      for (const auto& [n, k] : indices) map.append_new(*k, from_json_at(j.at(*k), depth + 1));
      for (auto it = j.begin(); it != j.end(); ++it) {
        uint64_t n;
        if (!is_array_index(it.key(), n)) map.append_new(it.key(), from_json_at(it.value(), depth + 1));
      }
      return Value::object(std::move(map));
    }
    default: return Value::null();
  }
}

}  // namespace

namespace {

constexpr size_t kMaxJsonBytes = size_t{256} << 20;

void json_append(std::string& out, const Value& v, const JsonOptions& o, int depth, bool undef_null) {
  std::string_view item_sep, key_sep;
  if (o.has_separators) {
    item_sep = o.item_separator;
    key_sep = o.key_separator;
  } else if (o.indent) {
    item_sep = ",";
    key_sep = ": ";
  } else {
    item_sep = ", ";
    key_sep = ": ";
  }
  switch (v.kind()) {
    case Value::Kind::Null: out += "null"; return;
    case Value::Kind::Undefined: out += undef_null ? "null" : "undefined"; return;
    case Value::Kind::Bool: out += v.as_bool() ? "true" : "false"; return;
    case Value::Kind::Int: out += std::to_string(v.as_int()); return;
    case Value::Kind::Float: out += std::isfinite(v.as_float()) ? text::js_number(v.as_float()) : "null"; return;
    case Value::Kind::String: text::append_json_string(out, v.as_string(), o.ensure_ascii); return;
    case Value::Kind::Function: runtime_error("cannot convert a function to JSON");
    default: break;
  }
  if (depth >= kMaxNesting) runtime_error("a list or dict nested too deeply (or containing itself)");
  if (out.size() > kMaxJsonBytes) runtime_error("a value too large to print");
  const std::string indent_unit(o.indent > 0 ? static_cast<size_t>(o.indent) : 0, ' ');
  std::string base = "\n";
  for (int i = 0; i < depth; ++i) base += indent_unit;
  const std::string children = base + indent_unit;
  if (v.is_array()) {
    const Array& items = v.as_array();
    out.push_back('[');
    for (size_t i = 0; i < items.size(); ++i) {
      if (i) out += item_sep;
      if (o.indent) out += children;
      json_append(out, items[i], o, depth + 1, undef_null);
      if (out.size() > kMaxJsonBytes) runtime_error("a value too large to print");
    }
    if (o.indent && !items.empty()) out += base;
    out.push_back(']');
    return;
  }
  const ObjectMap& map = v.as_object();
  std::vector<const ObjectMap::Entry*> entries;
  for (const auto& e : map) entries.push_back(&e);
  if (o.sort_keys)
    std::stable_sort(entries.begin(), entries.end(), [](auto* a, auto* b) { return a->first < b->first; });
  out.push_back('{');
  for (size_t i = 0; i < entries.size(); ++i) {
    if (i) out += item_sep;
    if (o.indent) out += children;
    text::append_json_string(out, entries[i]->first, o.ensure_ascii);
    out += key_sep;
    json_append(out, entries[i]->second, o, depth + 1, undef_null);
    if (out.size() > kMaxJsonBytes) runtime_error("a value too large to print");
  }
  if (o.indent && !entries.empty()) out += base;
  out.push_back('}');
}

}  // namespace

std::string to_json(const Value& v, const JsonOptions& opts, bool undefined_as_null) {
  std::string out;
  json_append(out, v, opts, 0, undefined_as_null);
  return out;
}

// ---- equality and ordering ---------------------------------------------------------------

namespace {

enum class JsType { Undefined, Null, Boolean, Number, String, Object };

JsType js_type(const Value& v) {
  switch (v.kind()) {
    case Value::Kind::Undefined: return JsType::Undefined;
    case Value::Kind::Null: return JsType::Null;
    case Value::Kind::Bool: return JsType::Boolean;
    case Value::Kind::Int:
    case Value::Kind::Float: return JsType::Number;
    case Value::Kind::String: return JsType::String;
    default: return JsType::Object;
  }
}

}  // namespace

bool strict_equals(const Value& a, const Value& b) {
  const JsType ta = js_type(a), tb = js_type(b);
  if (ta != tb) return false;
  switch (ta) {
    case JsType::Undefined:
    case JsType::Null: return true;
    case JsType::Boolean: return a.as_bool() == b.as_bool();
    case JsType::Number:
      if (a.is_int() && b.is_int()) return a.as_int() == b.as_int();
      return a.as_double() == b.as_double();
    case JsType::String: return a.as_string() == b.as_string();
    case JsType::Object: return a.identity() == b.identity();
  }
  return false;
}

bool loose_equals(const Value& a, const Value& b) {
  const JsType ta = js_type(a), tb = js_type(b);
  if (ta == tb) return strict_equals(a, b);
  const bool a_nullish = ta == JsType::Undefined || ta == JsType::Null;
  const bool b_nullish = tb == JsType::Undefined || tb == JsType::Null;
  if (a_nullish || b_nullish) return a_nullish && b_nullish;
  if (ta == JsType::Number && tb == JsType::String) return a.as_double() == text::js_string_to_number(b.as_string());
  if (ta == JsType::String && tb == JsType::Number) return text::js_string_to_number(a.as_string()) == b.as_double();
  if (ta == JsType::Boolean) return loose_equals(Value::integer(a.as_bool() ? 1 : 0), b);
  if (tb == JsType::Boolean) return loose_equals(a, Value::integer(b.as_bool() ? 1 : 0));
  if (ta == JsType::Object && (tb == JsType::Number || tb == JsType::String)) {
    if (a.is_function()) return false;
    return loose_equals(Value::string(a.js_string()), b);
  }
  if (tb == JsType::Object && (ta == JsType::Number || ta == JsType::String)) {
    if (b.is_function()) return false;
    return loose_equals(a, Value::string(b.js_string()));
  }
  return false;
}

int compare_values(const Value& a, const Value& b, bool case_sensitive) {
  if (a.is_null() && b.is_null()) return 0;
  if (a.is_null() || b.is_null()) runtime_error(std::string("cannot compare ") + a.type_name() + " with " + b.type_name());
  if (a.is_undefined() && b.is_undefined()) return 0;
  if (a.is_undefined() || b.is_undefined())
    runtime_error(std::string("cannot compare ") + a.type_name() + " with " + b.type_name());
  const auto numeric = [](const Value& v) { return v.is_number() || v.is_bool(); };
  if (numeric(a) && numeric(b)) {
    if (a.is_int() && b.is_int()) return a.as_int() < b.as_int() ? -1 : a.as_int() > b.as_int() ? 1 : 0;
    const double x = a.as_double(), y = b.as_double();
    return x < y ? -1 : x > y ? 1 : 0;
  }
  if (a.kind() != b.kind())
    runtime_error(std::string("cannot compare different types: ") + a.type_name() + " and " + b.type_name());
  if (a.is_string()) {
    if (case_sensitive) {
      const int c = a.as_string().compare(b.as_string());
      return c < 0 ? -1 : c > 0 ? 1 : 0;
    }
    const std::string x = text::to_lower(a.as_string()), y = text::to_lower(b.as_string());
    const int c = x.compare(y);
    return c < 0 ? -1 : c > 0 ? 1 : 0;
  }
  runtime_error(std::string("cannot compare values of type ") + a.type_name());
}

}  // namespace quarrel::chat::jinja
