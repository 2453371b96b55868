// Filters: `x | name` and `x | name(args)`. Where @huggingface/jinja implements a filter for a
// type, its behaviour is reproduced exactly (including its choices, e.g. `int` parses like
// parseInt); filters and forms it lacks follow Jinja's documentation.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <unordered_set>

#include "chat/builtins.h"
#include "chat/interpreter.h"
#include "chat/template_error.h"
#include "chat/text.h"
#include "core/html_escape.h"

namespace quarrel::chat::jinja {

namespace {

bool is_attribute_container(const Value& v) { return v.is_mapping_like(); }

Value to_json_filter(const Value& operand, const CallArgs& a) {
  JsonOptions o;
  const Value* indent = a.get(0, "indent");
  if (indent && !indent->is_null()) {
    if (!indent->is_int()) runtime_error("tojson: indent must be an integer");
    o.indent = static_cast<int>(std::clamp<int64_t>(indent->as_int(), 0, 64));
  }
  if (const Value* v = a.kwarg("ensure_ascii")) o.ensure_ascii = expect_bool(*v, "tojson: ensure_ascii");
  if (const Value* v = a.kwarg("sort_keys")) o.sort_keys = expect_bool(*v, "tojson: sort_keys");
  if (const Value* v = a.kwarg("separators"); v && !v->is_null()) {
    if (!v->is_array() || v->as_array().size() != 2 || !v->as_array()[0].is_string() || !v->as_array()[1].is_string())
      runtime_error("tojson: separators must be a pair of strings");
    o.has_separators = true;
    o.item_separator = v->as_array()[0].as_string();
    o.key_separator = v->as_array()[1].as_string();
  }
  return Value::string(to_json(operand, o));
}

std::string indent_lines(const std::string& s, const std::string& pad, bool first, bool blank) {
  std::string out;
  Interpreter::check_string_size(s.size() + pad.size() * static_cast<size_t>(std::count(s.begin(), s.end(), '\n') + 1));
  size_t start = 0;
  size_t line = 0;
  while (true) {
    const size_t nl = s.find('\n', start);
    const std::string_view piece = std::string_view(s).substr(start, nl == std::string::npos ? std::string::npos : nl - start);
    if (line > 0) out.push_back('\n');
    if (!((!first && line == 0) || (!blank && piece.empty()))) out += pad;
    out.append(piece);
    if (nl == std::string::npos) break;
    start = nl + 1;
    ++line;
  }
  return out;
}

std::vector<std::string> code_points(const std::string& s) {
  std::vector<std::string> out;
  for (size_t i = 0; i < s.size();) {
    const size_t b = i;
    text::decode(s, i);
    out.push_back(s.substr(b, i - b));
  }
  return out;
}

Value parse_int_value(const std::string& s, const Value& fallback) {
  double d;
  if (!text::js_parse_int(s, d)) return fallback;
  return int_value(d);
}

Value parse_float_value(const std::string& s, const Value& fallback) {
  double d;
  if (!text::js_parse_float(s, d)) return fallback;
  return Value::number(d);
}

Value sort_filter(const Value& operand, const CallArgs& a) {
  const Value* rev = a.get(0, "reverse");
  const Value* cs = a.get(1, "case_sensitive");
  const Value* attr = a.get(2, "attribute");
  const bool reverse = rev ? expect_bool(*rev, "sort: reverse") : false;
  const bool case_sensitive = cs ? expect_bool(*cs, "sort: case_sensitive") : false;
  std::string path;
  bool by_attr = false;
  if (attr && !attr->is_null()) {
    if (attr->is_string()) path = attr->as_string();
    else if (attr->is_int()) path = std::to_string(attr->as_int());
    else runtime_error("sort: attribute must be a string or an integer");
    by_attr = true;
  }
  Array items = operand.as_array();
  std::stable_sort(items.begin(), items.end(), [&](const Value& x, const Value& y) {
    const Value xv = by_attr ? attribute_path(x, path) : x;
    const Value yv = by_attr ? attribute_path(y, path) : y;
    const int c = compare_values(xv, yv, case_sensitive);
    return reverse ? c > 0 : c < 0;
  });
  return Value::array(std::move(items));
}

// Keeps the first of values that are === equal (numbers by value, strings by content, lists and
// dicts by identity), in linear time.
Value unique_values(const Array& in) {
  auto key = [](const Value& v) -> std::string {
    switch (v.kind()) {
      case Value::Kind::Undefined: return "u";
      case Value::Kind::Null: return "n";
      case Value::Kind::Bool: return v.as_bool() ? "t" : "f";
      case Value::Kind::Int:
      case Value::Kind::Float: return "#" + text::js_number(v.as_double());
      case Value::Kind::String: return "s" + v.as_string();
      default: return "@" + std::to_string(reinterpret_cast<uintptr_t>(v.identity()));
    }
  };
  std::unordered_set<std::string> seen;
  Array out;
  for (const Value& x : in)
    if (seen.insert(key(x)).second) out.push_back(x);
  return Value::array(std::move(out));
}

// Python's round(x, precision) with Jinja's methods: common (half away from zero), ceil, floor.
Value round_filter(const Value& v, const CallArgs& a) {
  const Value* p = a.get(0, "precision");
  const Value* m = a.get(1, "method");
  const int64_t precision = p ? expect_int(*p, "round: precision") : 0;
  const std::string method = m ? expect_string(*m, "round: method") : "common";
  const double scale = std::pow(10.0, static_cast<double>(precision));
  const double x = v.as_double() * scale;
  double r;
  if (method == "common") r = std::nearbyint(x);  // Python rounds half to even
  else if (method == "ceil") r = std::ceil(x);
  else if (method == "floor") r = std::floor(x);
  else runtime_error("round: method must be 'common', 'ceil' or 'floor'");
  return Value::number(r / scale);
}

Value truncate_filter(const std::string& s, const CallArgs& a) {
  const Value* l = a.get(0, "length");
  const Value* k = a.get(1, "killwords");
  const Value* e = a.get(2, "end");
  const Value* lw = a.get(3, "leeway");
  const int64_t length = l ? expect_int(*l, "truncate: length") : 255;
  const bool killwords = k ? k->truthy() : false;
  const std::string end = e ? expect_string(*e, "truncate: end") : "...";
  const int64_t leeway = lw && !lw->is_null() ? expect_int(*lw, "truncate: leeway") : 5;
  const std::vector<std::string> cps = code_points(s);
  if (static_cast<int64_t>(cps.size()) <= length + leeway) return Value::string(s);
  const int64_t keep = std::max<int64_t>(length - static_cast<int64_t>(text::count_code_points(end)), 0);
  std::string head;
  for (int64_t i = 0; i < keep; ++i) head += cps[static_cast<size_t>(i)];
  if (!killwords) {
    const size_t sp = head.rfind(' ');
    if (sp != std::string::npos) head = head.substr(0, sp);
  }
  return Value::string(head + end);
}

Value center_filter(const std::string& s, const CallArgs& a) {
  const Value* w = a.get(0, "width");
  const int64_t width = w ? expect_int(*w, "center: width") : 80;
  if (width > (1 << 20)) runtime_error("center: width too large");
  const auto n = static_cast<int64_t>(text::count_code_points(s));
  if (width <= n) return Value::string(s);
  const int64_t total = width - n;
  // Python's str.center puts the extra space on the right when the padding is odd... unless
  // the string length is odd; this is its formula.
  const int64_t left = total / 2 + (total & width & 1);
  return Value::string(std::string(static_cast<size_t>(left), ' ') + s + std::string(static_cast<size_t>(total - left), ' '));
}

int64_t word_count(const std::string& s) {
  int64_t n = 0;
  bool in_word = false;
  for (size_t i = 0; i < s.size();) {
    const uint32_t cp = text::decode(s, i);
    const bool w = (cp >= 'a' && cp <= 'z') || (cp >= 'A' && cp <= 'Z') || (cp >= '0' && cp <= '9') || cp == '_' ||
                   (cp >= 0x80 && cp < 0x110000 && !text::is_js_space(cp));
    if (w && !in_word) ++n;
    in_word = w;
  }
  return n;
}

// "%s and %d"|format(a, b): printf-style %s %d %i %f %.Nf %x %% (as Python's % operator).
std::string printf_format(const std::string& fmt, const CallArgs& a) {
  std::string out;
  size_t next = 0;
  for (size_t i = 0; i < fmt.size(); ++i) {
    if (fmt[i] != '%') {
      out.push_back(fmt[i]);
      continue;
    }
    if (i + 1 < fmt.size() && fmt[i + 1] == '%') {
      out.push_back('%');
      ++i;
      continue;
    }
    size_t j = i + 1;
    int precision = -1;
    if (j < fmt.size() && fmt[j] == '.') {
      precision = 0;
      for (++j; j < fmt.size() && fmt[j] >= '0' && fmt[j] <= '9'; ++j) precision = precision * 10 + (fmt[j] - '0');
    }
    if (j >= fmt.size()) runtime_error("format: incomplete format");
    const char conv = fmt[j];
    if (next >= a.positional.size()) runtime_error("format: not enough arguments for format string");
    const Value& v = a.positional[next++];
    switch (conv) {
      case 's': out += v.is_null() ? "None" : v.is_bool() ? (v.as_bool() ? "True" : "False") : v.display(); break;
      case 'd':
      case 'i':
        if (!v.is_number() && !v.is_bool()) runtime_error("format: %d needs a number");
        out += std::to_string(static_cast<int64_t>(std::trunc(v.as_double())));
        break;
      case 'f': {
        if (!v.is_number() && !v.is_bool()) runtime_error("format: %f needs a number");
        char buf[64];
        std::snprintf(buf, sizeof buf, "%.*f", precision < 0 ? 6 : std::min(precision, 30), v.as_double());
        out += buf;
        break;
      }
      case 'x': {
        if (!v.is_int()) runtime_error("format: %x needs an integer");
        char buf[32];
        std::snprintf(buf, sizeof buf, "%llx", static_cast<long long>(v.as_int()));
        out += buf;
        break;
      }
      default: unsupported(std::string("format: conversion %") + conv);
    }
    i = j;
  }
  return out;
}

}  // namespace

Value Interpreter::apply_filter(const Value& operand, const FilterNode& f, const EnvPtr& env) {
  CallArgs args;
  if (f.called) args = eval_args(f.args, env);
  Value r = apply_filter_by_name(operand, f.name, f.called, args);
  charge(r.is_string() ? r.as_string().size() : r.is_array() ? r.as_array().size() : 1);
  return r;
}

Value Interpreter::apply_filter_by_name(const Value& v, const std::string& name, bool called, CallArgs& a) {
  const bool no_args = a.positional.empty() && a.keyword.empty();
  // A call without arguments behaves like the plain form.
  if (called && no_args && name != "tojson" && name != "join" && name != "int" && name != "float" &&
      name != "default" && name != "d")
    called = false;

  if (name == "safe") return v;
  if (name == "tojson") return to_json_filter(v, a);
  if (name == "default" || name == "d") {
    const Value* dv = a.get(0, "default_value");
    const Value* bv = a.get(1, "boolean");
    const bool boolean = bv ? expect_bool(*bv, "default: boolean") : false;
    if (v.is_undefined() || (boolean && !v.truthy())) return dv ? *dv : Value::string("");
    return v;
  }

  if (called) {
    if (name == "join") {
      std::vector<std::string> pieces;
      const Value* attr = a.kwarg("attribute");
      if (v.is_string()) pieces = code_points(v.as_string());
      else if (v.is_array())
        for (const Value& x : v.as_array()) pieces.push_back(join_piece(attr ? attribute_path(x, expect_string(*attr, "join: attribute")) : x));
      else runtime_error(std::string("join cannot be applied to ") + v.type_name());
      const Value* sep = !a.positional.empty() ? &a.positional[0] : a.kwarg("d");
      if (!sep) sep = a.kwarg("separator");
      const std::string s = sep ? expect_string(*sep, "join: separator") : "";
      std::string out;
      for (size_t i = 0; i < pieces.size(); ++i) {
        if (i) out += s;
        out += pieces[i];
      }
      return Value::string(std::move(out));
    }
    if (name == "int" || name == "float") {
      const Value* dv = a.get(0, "default");
      const Value fallback = dv ? *dv : name == "int" ? Value::integer(0) : Value::number(0.0);
      if (v.is_string()) return name == "int" ? parse_int_value(v.as_string(), fallback) : parse_float_value(v.as_string(), fallback);
      if (v.is_number()) return v;
      if (v.is_bool()) return name == "int" ? Value::integer(v.as_bool()) : Value::number(v.as_bool() ? 1.0 : 0.0);
      runtime_error("filter '" + name + "' cannot be applied to " + v.type_name());
    }
  }

  // ---- lists ----
  if (v.is_array()) {
    const Array& items = v.as_array();
    if (!called) {
      if (name == "list") return v;
      if (name == "first") return items.empty() ? Value() : items.front();
      if (name == "last") return items.empty() ? Value() : items.back();
      if (name == "length" || name == "count") return Value::integer(static_cast<int64_t>(items.size()));
      if (name == "reverse") return Value::array(Array(items.rbegin(), items.rend()));
      if (name == "sort") return sort_filter(v, a);
      if (name == "join") {
        std::string out;
        for (const Value& x : items) out += join_piece(x);
        return Value::string(std::move(out));
      }
      if (name == "string") return Value::string(to_json(v, JsonOptions{}, false));
      if (name == "unique") return unique_values(items);
    } else {
      if (name == "sort") return sort_filter(v, a);
      if (name == "selectattr" || name == "rejectattr") {
        const bool select = name == "selectattr";
        for (const Value& x : items)
          if (!is_attribute_container(x)) runtime_error("'" + name + "' can only be applied to a list of dicts");
        if (a.positional.empty()) runtime_error("'" + name + "' needs an attribute name");
        const std::string& attr = expect_string(a.positional[0], "selectattr attribute");
        std::string test;
        if (a.positional.size() > 1) test = expect_string(a.positional[1], "selectattr test name");
        std::vector<Value> test_args(a.positional.size() > 2 ? a.positional.begin() + 2 : a.positional.end(), a.positional.end());
        Array out;
        for (const Value& x : items) {
          const Value* direct = x.as_object().find(attr);
          Value val;
          bool present = direct != nullptr;
          if (direct) val = *direct;
          else if (attr.find('.') != std::string::npos) {
            val = attribute_path(x, attr);
            present = !val.is_undefined();
          }
          const bool r = present ? (test.empty() ? val.truthy() : apply_test(test, val, test_args)) : false;
          if (r == select) out.push_back(x);
        }
        return Value::array(std::move(out));
      }
      if (name == "map") {
        if (const Value* attr = a.kwarg("attribute")) {
          const std::string& path = expect_string(*attr, "map: attribute");
          const Value* dv = a.kwarg("default");
          Array out;
          for (const Value& x : items) {
            if (!is_attribute_container(x)) runtime_error("map(attribute=...) needs a list of dicts");
            Value r = attribute_path(x, path);
            out.push_back(r.is_undefined() && dv ? *dv : r);
          }
          return Value::array(std::move(out));
        }
        // map('filter', args...)
        if (a.positional.empty()) runtime_error("map needs a filter name or attribute=");
        const std::string filter = expect_string(a.positional[0], "map: filter name");
        CallArgs rest;
        rest.positional.assign(a.positional.begin() + 1, a.positional.end());
        rest.keyword = a.keyword;
        const bool with_args = !rest.positional.empty() || !rest.keyword.empty();
        Array out;
        for (const Value& x : items) {
          CallArgs copy = rest;
          out.push_back(apply_filter_by_name(x, filter, with_args, copy));
        }
        return Value::array(std::move(out));
      }
    }
    // Jinja filters the reference renderer lacks.
    if (name == "select" || name == "reject") {
      const bool select = name == "select";
      std::string test;
      if (!a.positional.empty()) test = expect_string(a.positional[0], "select test name");
      std::vector<Value> test_args(a.positional.size() > 1 ? a.positional.begin() + 1 : a.positional.end(), a.positional.end());
      Array out;
      for (const Value& x : items) {
        const bool r = test.empty() ? x.truthy() : apply_test(test, x, test_args);
        if (r == select) out.push_back(x);
      }
      return Value::array(std::move(out));
    }
    if (name == "batch") {
      const Value* n = a.get(0, "linecount");
      const Value* fill = a.get(1, "fill_with");
      const int64_t size = n ? expect_int(*n, "batch: linecount") : 0;
      if (size <= 0 || static_cast<size_t>(size) > kMaxListItems) runtime_error("batch: linecount must be between 1 and 2^20");
      Array out, cur;
      for (const Value& x : items) {
        cur.push_back(x);
        if (static_cast<int64_t>(cur.size()) == size) {
          out.push_back(Value::array(std::move(cur)));
          cur.clear();
        }
      }
      if (!cur.empty()) {
        if (fill && !fill->is_null())
          while (static_cast<int64_t>(cur.size()) < size) cur.push_back(*fill);
        out.push_back(Value::array(std::move(cur)));
      }
      return Value::array(std::move(out));
    }
    if (name == "sum") {
      const Value* attr = a.get(0, "attribute");
      const Value* start = a.get(1, "start");
      Value total = start ? *start : Value::integer(0);
      for (const Value& x : items) {
        const Value item = attr && !attr->is_null() ? attribute_path(x, expect_string(*attr, "sum: attribute")) : x;
        if (!item.is_number() && !item.is_bool()) runtime_error(std::string("sum: cannot add ") + item.type_name());
        if (total.is_int() && item.is_int()) total = Value::integer(total.as_int() + item.as_int());
        else total = Value::number(total.as_double() + item.as_double());
      }
      return total;
    }
    if (name == "min" || name == "max") {
      const Value* cs = a.get(0, "case_sensitive");
      const Value* attr = a.get(1, "attribute");
      const bool case_sensitive = cs ? expect_bool(*cs, "case_sensitive") : false;
      if (items.empty()) return Value();
      size_t best = 0;
      auto key = [&](const Value& x) { return attr && !attr->is_null() ? attribute_path(x, expect_string(*attr, "attribute")) : x; };
      for (size_t i = 1; i < items.size(); ++i) {
        const int c = compare_values(key(items[i]), key(items[best]), case_sensitive);
        if (name == "min" ? c < 0 : c > 0) best = i;
      }
      return items[best];
    }
    if (name == "unique") return unique_values(items);
    if (name == "first" || name == "last" || name == "length" || name == "count" || name == "reverse" || name == "list")
      return apply_filter_by_name(v, name, false, a);
    if (name == "items") runtime_error("filter 'items' needs a dict, got a list");
  }

  // ---- strings ----
  if (v.is_string()) {
    const std::string& s = v.as_string();
    if (!called) {
      if (name == "length" || name == "count") return Value::integer(static_cast<int64_t>(text::utf16_length(s)));
      if (name == "upper") return Value::string(text::to_upper(s));
      if (name == "lower") return Value::string(text::to_lower(s));
      if (name == "title") return Value::string(text::title_case(s));
      if (name == "capitalize") return Value::string(text::capitalize_first(s));
      if (name == "trim") return Value::string(std::string(text::trim(s)));
      if (name == "indent") return Value::string(indent_lines(s, "    ", false, false));
      if (name == "join" || name == "string") return v;
      if (name == "int") return parse_int_value(s, Value::integer(0));
      if (name == "float") return parse_float_value(s, Value::number(0.0));
    } else {
      if (name == "indent") {
        const Value* w = a.get(0, "width");
        const Value* first = a.get(1, "first");
        const Value* blank = a.get(2, "blank");
        std::string pad = "    ";
        if (w) {
          if (w->is_int()) pad = std::string(static_cast<size_t>(std::clamp<int64_t>(w->as_int(), 0, 1024)), ' ');
          else if (w->is_string()) pad = w->as_string().substr(0, 1024);
          else runtime_error("indent: width must be an integer or a string");
        }
        return Value::string(indent_lines(s, pad, first && first->truthy(), blank && blank->truthy()));
      }
      if (name == "replace") {
        if (a.positional.size() < 2) runtime_error("replace needs two arguments");
        const Value& from = a.positional[0];
        const Value& to = a.positional[1];
        if (!from.is_string() || !to.is_string()) runtime_error("replace arguments must be strings");
        const Value* count = a.get(2, "count");
        return Value::string(replace_all(s, from.as_string(), to.as_string(), count && !count->is_null() ? expect_int(*count, "replace count") : -1));
      }
      if (name == "trim") {
        const Value* chars = a.get(0, "chars");
        if (chars && !chars->is_null()) return Value::string(std::string(text::strip_chars(s, expect_string(*chars, "trim: chars"), true, true)));
        return Value::string(std::string(text::trim(s)));
      }
      if (name == "truncate") return truncate_filter(s, a);
      if (name == "center") return center_filter(s, a);
      if (name == "format") return Value::string(printf_format(s, a));
    }
    if (name == "list") {
      Array out;
      if (s.size() > kMaxListItems) runtime_error("list: the string is too long to split into characters");
      for (auto& cp : code_points(s)) out.push_back(Value::string(std::move(cp)));
      return Value::array(std::move(out));
    }
    if (name == "first" || name == "last") {
      const auto cps = code_points(s);
      if (cps.empty()) return Value();
      return Value::string(name == "first" ? cps.front() : cps.back());
    }
    if (name == "reverse") {
      auto cps = code_points(s);
      std::string out;
      for (auto it = cps.rbegin(); it != cps.rend(); ++it) out += *it;
      return Value::string(std::move(out));
    }
    if (name == "wordcount") return Value::integer(word_count(s));
    if (name == "escape" || name == "e" || name == "forceescape") return Value::string(html_escape(s));
    if (name == "center") return center_filter(s, a);
    if (name == "truncate") return truncate_filter(s, a);
    if (name == "items") runtime_error("filter 'items' needs a dict, got a string");
  }

  // ---- numbers ----
  if (v.is_number()) {
    if (!called) {
      if (name == "abs") return v.is_int() ? Value::integer(v.as_int() < 0 ? -v.as_int() : v.as_int()) : Value::number(std::fabs(v.as_float()));
      if (name == "int") return v.is_int() ? v : int_value(std::floor(v.as_float()));
      if (name == "float") return Value::number(v.as_double());
      if (name == "string") return Value::string(v.display());
    }
    if (name == "round") return round_filter(v, a);
  }

  // ---- dicts ----
  if (v.is_object()) {
    if (!called) {
      if (name == "items") return dict_items(v);
      if (name == "length" || name == "count") return Value::integer(static_cast<int64_t>(v.as_object().size()));
      if (name == "keys" || name == "values") {
        Array out;
        for (const auto& [k, x] : v.as_object()) out.push_back(name == "keys" ? Value::string(k) : x);
        return Value::array(std::move(out));
      }
      if (name == "dictsort") return dictsort(v, a);
      if (name == "string") return Value::string(v.display());
      if (name == "list") {
        Array out;
        for (const auto& [k, x] : v.as_object()) out.push_back(Value::string(k));
        return Value::array(std::move(out));
      }
    } else {
      if (name == "dictsort") return dictsort(v, a);
      if (name == "items" || name == "keys" || name == "values") return apply_filter_by_name(v, name, false, a);
      if (name == "get") {
        const Value* key = a.get(0, "key");
        if (!key || !key->is_string()) runtime_error("get: key must be a string");
        if (const Value* x = v.as_object().find(key->as_string())) return *x;
        const Value* dv = a.get(1, "default");
        return dv ? *dv : Value::null();
      }
    }
    if (name == "attr" && !a.positional.empty()) return get_member(v, a.positional[0]);
  }

  // ---- booleans ----
  if (v.is_bool() && !called) {
    if (name == "bool") return v;
    if (name == "int") return Value::integer(v.as_bool() ? 1 : 0);
    if (name == "float") return Value::number(v.as_bool() ? 1.0 : 0.0);
    if (name == "string") return Value::string(v.as_bool() ? "true" : "false");
  }

  static const char* const kKnown[] = {
      "abs", "attr", "batch", "bool", "capitalize", "center", "count", "dictsort", "e", "escape", "first", "float",
      "forceescape", "indent", "int", "items", "join", "last", "length", "list", "lower", "map", "max", "min",
      "reject", "rejectattr", "replace", "reverse", "round", "select", "selectattr", "sort", "string", "sum",
      "title", "trim", "truncate", "unique", "upper", "wordcount", "keys", "values", "get",
  };
  for (const char* k : kKnown)
    if (name == k) runtime_error("filter '" + name + "'" + (called ? " with these arguments" : "") + " cannot be applied to " + v.type_name());
  unsupported("unknown filter '" + name + "'");
}

}  // namespace quarrel::chat::jinja
