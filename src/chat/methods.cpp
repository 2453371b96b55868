// Attribute and item access (obj.name, obj[key]) and the methods of strings and dicts.
#include <unicode/uchar.h>

#include <algorithm>
#include <cmath>

#include "chat/builtins.h"
#include "chat/interpreter.h"
#include "chat/template_error.h"
#include "chat/text.h"

namespace quarrel::chat::jinja {

// ---- shared helpers ----------------------------------------------------------------------

std::string replace_all(std::string_view s, std::string_view from, std::string_view to, int64_t count) {
  if (count == 0) return std::string(s);
  int64_t remaining = count < 0 ? INT64_MAX : count;
  std::string out;
  if (from.empty()) {
    for (size_t i = 0; i <= s.size();) {
      if (remaining > 0) {
        out.append(to);
        --remaining;
        Interpreter::check_string_size(out.size());
      }
      if (i == s.size()) break;
      const size_t b = i;
      text::decode(s, i);
      out.append(s.substr(b, i - b));
    }
    return out;
  }
  size_t pos = 0;
  while (remaining > 0) {
    const size_t hit = s.find(from, pos);
    if (hit == std::string_view::npos) break;
    out.append(s.substr(pos, hit - pos));
    out.append(to);
    pos = hit + from.size();
    --remaining;
    Interpreter::check_string_size(out.size());
  }
  out.append(s.substr(pos));
  return out;
}

Value dict_items(const Value& dict) {
  Array items;
  for (const auto& [k, v] : dict.as_object()) items.push_back(Value::array({Value::string(k), v}));
  return Value::array(std::move(items));
}

Value dictsort(const Value& dict, const CallArgs& args) {
  const Value* cs = args.get(0, "case_sensitive");
  const Value* by = args.get(1, "by");
  const Value* rev = args.get(2, "reverse");
  const bool case_sensitive = cs ? expect_bool(*cs, "dictsort case_sensitive") : false;
  const std::string by_what = by ? expect_string(*by, "dictsort by") : "key";
  if (by_what != "key" && by_what != "value") runtime_error("dictsort: by must be 'key' or 'value'");
  const bool reverse = rev ? expect_bool(*rev, "dictsort reverse") : false;
  Array items = dict_items(dict).as_array();
  const size_t idx = by_what == "key" ? 0 : 1;
  std::stable_sort(items.begin(), items.end(), [&](const Value& a, const Value& b) {
    const int c = compare_values(a.as_array()[idx], b.as_array()[idx], case_sensitive);
    return reverse ? c > 0 : c < 0;
  });
  return Value::array(std::move(items));
}

Value attribute_path(const Value& item, std::string_view path) {
  Value v = item;
  size_t start = 0;
  while (true) {
    const size_t dot = path.find('.', start);
    const std::string_view part = path.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start);
    if (v.is_mapping_like()) {
      const Value* f = v.as_object().find(part);
      v = f ? *f : Value();
    } else if (v.is_array()) {
      // parseInt semantics: leading digits.
      double d;
      if (!text::js_parse_int(part, d) || d < 0 || d >= static_cast<double>(v.as_array().size())) return Value();
      v = v.as_array()[static_cast<size_t>(d)];
    } else {
      return Value();
    }
    if (dot == std::string_view::npos) return v;
    start = dot + 1;
  }
}

std::string join_piece(const Value& v) {
  if (v.is_null() || v.is_undefined()) return {};
  return v.js_string();
}

const std::string& expect_string(const Value& v, const char* what) {
  if (!v.is_string()) runtime_error(std::string(what) + " must be a string, got " + v.type_name());
  return v.as_string();
}

int64_t expect_int(const Value& v, const char* what) {
  if (!v.is_int()) runtime_error(std::string(what) + " must be an integer, got " + v.type_name());
  return v.as_int();
}

bool expect_bool(const Value& v, const char* what) {
  if (!v.is_bool()) runtime_error(std::string(what) + " must be a boolean, got " + v.type_name());
  return v.as_bool();
}

Value int_value(double d) {
  if (std::isfinite(d) && d == std::trunc(d) && std::fabs(d) < 9.2e18) return Value::integer(static_cast<int64_t>(d));
  return Value::number(d);
}

// ---- string methods ----------------------------------------------------------------------

namespace {

using Method = Value (*)(const std::string& s, CallArgs& a);

Value str(std::string s) { return Value::string(std::move(s)); }

Value strip_method(const std::string& s, CallArgs& a, bool left, bool right) {
  const Value* chars = a.get(0, "chars");
  if (chars && !chars->is_null() && !chars->is_undefined()) {
    return str(std::string(text::strip_chars(s, expect_string(*chars, "strip() argument"), left, right)));
  }
  if (left && right) return str(std::string(text::trim(s)));
  return str(std::string(left ? text::trim_start(s) : text::trim_end(s)));
}

Value starts_ends(const std::string& s, CallArgs& a, bool starts, const char* name) {
  if (a.positional.empty()) runtime_error(std::string(name) + "() needs an argument");
  auto test = [&](const std::string& p) {
    if (p.size() > s.size()) return false;
    return starts ? s.compare(0, p.size(), p) == 0 : s.compare(s.size() - p.size(), p.size(), p) == 0;
  };
  const Value& p = a.positional[0];
  if (p.is_string()) return Value::boolean(test(p.as_string()));
  if (p.is_array()) {
    for (const Value& x : p.as_array()) {
      if (!x.is_string()) runtime_error(std::string(name) + "() tuple items must be strings");
      if (test(x.as_string())) return Value::boolean(true);
    }
    return Value::boolean(false);
  }
  runtime_error(std::string(name) + "() argument must be a string or a tuple of strings");
}

Value split_method(const std::string& s, CallArgs& a) {
  const Value* sep_v = a.get(0, "sep");
  const Value* max_v = a.get(1, "maxsplit");
  const bool no_sep = !sep_v || sep_v->is_null() || sep_v->is_undefined();
  if (!no_sep && !sep_v->is_string()) runtime_error("split(): sep must be a string or none");
  int64_t maxsplit = -1;
  if (max_v) maxsplit = expect_int(*max_v, "split(): maxsplit");
  Array parts;
  if (no_sep) {
    const std::string_view t = text::trim_start(s);
    size_t i = 0;
    while (i < t.size()) {
      while (size_t n = text::js_space_at(t, i)) i += n;
      if (i >= t.size()) break;
      const size_t start = i;
      while (i < t.size() && text::js_space_at(t, i) == 0) {
        text::decode(t, i);
      }
      if (parts.size() >= Interpreter::kMaxListItems) runtime_error("split(): too many parts");
      if (maxsplit != -1 && static_cast<int64_t>(parts.size()) >= maxsplit) {
        parts.push_back(str(std::string(t.substr(start))));
        break;
      }
      parts.push_back(str(std::string(t.substr(start, i - start))));
    }
    return Value::array(std::move(parts));
  }
  const std::string& sep = sep_v->as_string();
  if (sep.empty()) runtime_error("split(): empty separator");
  std::vector<std::string> pieces;
  size_t pos = 0;
  while (true) {
    const size_t hit = s.find(sep, pos);
    if (hit == std::string::npos) break;
    pieces.push_back(s.substr(pos, hit - pos));
    pos = hit + sep.size();
    if (pieces.size() >= Interpreter::kMaxListItems) runtime_error("split(): too many parts");
  }
  pieces.push_back(s.substr(pos));
  if (maxsplit != -1 && static_cast<int64_t>(pieces.size()) > maxsplit) {
    std::string rest;
    for (size_t i = static_cast<size_t>(maxsplit); i < pieces.size(); ++i) {
      if (i > static_cast<size_t>(maxsplit)) rest += sep;
      rest += pieces[i];
    }
    pieces.resize(static_cast<size_t>(maxsplit));
    pieces.push_back(std::move(rest));
  }
  for (auto& p : pieces) parts.push_back(str(std::move(p)));
  return Value::array(std::move(parts));
}

Value replace_method(const std::string& s, CallArgs& a) {
  if (a.positional.size() < 2) runtime_error("replace() needs two arguments");
  const Value& from = a.positional[0];
  const Value& to = a.positional[1];
  if (!from.is_string() || !to.is_string()) runtime_error("replace() arguments must be strings");
  const Value* count = a.get(2, "count");
  int64_t n = -1;
  if (count && !count->is_null()) n = expect_int(*count, "replace() count");
  return str(replace_all(s, from.as_string(), to.as_string(), n));
}

// Code point index of the byte offset.
int64_t cp_index(const std::string& s, size_t byte) {
  return static_cast<int64_t>(text::count_code_points(std::string_view(s).substr(0, byte)));
}

Value find_method(const std::string& s, CallArgs& a, bool reverse, bool must) {
  if (a.positional.empty()) runtime_error("find() needs an argument");
  const std::string& sub = expect_string(a.positional[0], "find() argument");
  const size_t hit = reverse ? s.rfind(sub) : s.find(sub);
  if (hit == std::string::npos) {
    if (must) runtime_error("substring not found");
    return Value::integer(-1);
  }
  return Value::integer(cp_index(s, hit));
}

Value count_method(const std::string& s, CallArgs& a) {
  if (a.positional.empty()) runtime_error("count() needs an argument");
  const std::string& sub = expect_string(a.positional[0], "count() argument");
  if (sub.empty()) return Value::integer(static_cast<int64_t>(text::count_code_points(s)) + 1);
  int64_t n = 0;
  for (size_t pos = s.find(sub); pos != std::string::npos; pos = s.find(sub, pos + sub.size())) ++n;
  return Value::integer(n);
}

Value join_method(const std::string& s, CallArgs& a) {
  if (a.positional.empty()) runtime_error("join() needs an argument");
  const Value& it = a.positional[0];
  std::vector<std::string> pieces;
  if (it.is_array()) {
    for (const Value& x : it.as_array()) {
      if (!x.is_string()) runtime_error(std::string("join(): expected strings, got ") + x.type_name());
      pieces.push_back(x.as_string());
    }
  } else if (it.is_string()) {
    const std::string& t = it.as_string();
    for (size_t i = 0; i < t.size();) {
      const size_t b = i;
      text::decode(t, i);
      pieces.push_back(t.substr(b, i - b));
    }
  } else if (it.is_object()) {
    for (const auto& [k, v] : it.as_object()) pieces.push_back(k);
  } else {
    runtime_error(std::string("join(): cannot join ") + it.type_name());
  }
  std::string out;
  for (size_t i = 0; i < pieces.size(); ++i) {
    if (i) out += s;
    out += pieces[i];
  }
  return str(std::move(out));
}

// str.format with {} / {0} / {name} fields (no format specs).
Value format_method(const std::string& s, CallArgs& a) {
  std::string out;
  size_t auto_index = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (c == '{' && i + 1 < s.size() && s[i + 1] == '{') {
      out.push_back('{');
      ++i;
      continue;
    }
    if (c == '}' && i + 1 < s.size() && s[i + 1] == '}') {
      out.push_back('}');
      ++i;
      continue;
    }
    if (c != '{') {
      out.push_back(c);
      continue;
    }
    const size_t close = s.find('}', i);
    if (close == std::string::npos) runtime_error("format(): unmatched '{'");
    const std::string field = s.substr(i + 1, close - i - 1);
    if (field.find_first_of(":!") != std::string::npos) unsupported("format(): format specs such as '{" + field + "}'");
    const Value* v = nullptr;
    if (field.empty()) {
      if (auto_index >= a.positional.size()) runtime_error("format(): not enough arguments");
      v = &a.positional[auto_index++];
    } else if (std::all_of(field.begin(), field.end(), [](char d) { return d >= '0' && d <= '9'; })) {
      const size_t k = std::stoul(field);
      if (k >= a.positional.size()) runtime_error("format(): index " + field + " out of range");
      v = &a.positional[k];
    } else {
      v = a.kwarg(field);
      if (!v) runtime_error("format(): no argument named '" + field + "'");
    }
    out += v->is_null() ? "None" : v->is_bool() ? (v->as_bool() ? "True" : "False") : v->display();
    i = close;
  }
  return str(std::move(out));
}

template <typename Pred>
Value all_chars(const std::string& s, Pred pred) {
  if (s.empty()) return Value::boolean(false);
  for (size_t i = 0; i < s.size();)
    if (!pred(text::decode(s, i))) return Value::boolean(false);
  return Value::boolean(true);
}

Value splitlines_method(const std::string& s) {
  Array lines;
  size_t start = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\n' || s[i] == '\r') {
      lines.push_back(str(s.substr(start, i - start)));
      if (s[i] == '\r' && i + 1 < s.size() && s[i + 1] == '\n') ++i;
      start = i + 1;
    }
  }
  if (start < s.size()) lines.push_back(str(s.substr(start)));
  return Value::array(std::move(lines));
}

Value call_string_method(const std::string& name, const std::string& s, CallArgs& a) {
  if (name == "upper") return str(text::to_upper(s));
  if (name == "lower" || name == "casefold") return str(text::to_lower(s));
  if (name == "strip") return strip_method(s, a, true, true);
  if (name == "lstrip") return strip_method(s, a, true, false);
  if (name == "rstrip") return strip_method(s, a, false, true);
  if (name == "title") return str(text::title_case(s));
  if (name == "capitalize") return str(text::capitalize_first(s));
  if (name == "startswith") return starts_ends(s, a, true, "startswith");
  if (name == "endswith") return starts_ends(s, a, false, "endswith");
  if (name == "split") return split_method(s, a);
  if (name == "replace") return replace_method(s, a);
  if (name == "find") return find_method(s, a, false, false);
  if (name == "rfind") return find_method(s, a, true, false);
  if (name == "index") return find_method(s, a, false, true);
  if (name == "count") return count_method(s, a);
  if (name == "join") return join_method(s, a);
  if (name == "format") return format_method(s, a);
  if (name == "splitlines") return splitlines_method(s);
  if (name == "removeprefix" || name == "removesuffix") {
    if (a.positional.empty()) runtime_error(name + "() needs an argument");
    const std::string& p = expect_string(a.positional[0], (name + "() argument").c_str());
    if (name == "removeprefix") return str(s.compare(0, p.size(), p) == 0 && p.size() <= s.size() ? s.substr(p.size()) : s);
    return str(p.size() <= s.size() && s.compare(s.size() - p.size(), p.size(), p) == 0 ? s.substr(0, s.size() - p.size()) : s);
  }
  if (name == "isdigit") return all_chars(s, [](uint32_t c) { return c < 0x110000 && u_isdigit(static_cast<UChar32>(c)); });
  if (name == "isalpha") return all_chars(s, [](uint32_t c) { return c < 0x110000 && u_isalpha(static_cast<UChar32>(c)); });
  if (name == "isalnum") return all_chars(s, [](uint32_t c) { return c < 0x110000 && u_isalnum(static_cast<UChar32>(c)); });
  if (name == "isspace") return all_chars(s, [](uint32_t c) { return text::is_js_space(c); });
  if (name == "islower") return Value::boolean(text::to_lower(s) == s && text::to_upper(s) != s);
  if (name == "isupper") return Value::boolean(text::to_upper(s) == s && text::to_lower(s) != s);
  return Value();  // not a method
}

const char* const kStringMethods[] = {
    "upper", "lower", "casefold", "strip", "lstrip", "rstrip", "title", "capitalize", "startswith", "endswith",
    "split", "replace", "find", "rfind", "index", "count", "join", "format", "splitlines", "removeprefix",
    "removesuffix", "isdigit", "isalpha", "isalnum", "isspace", "islower", "isupper",
};

Value string_member(const Value& obj, const std::string& name) {
  if (name == "length") return Value::integer(static_cast<int64_t>(text::utf16_length(obj.as_string())));
  for (const char* m : kStringMethods) {
    if (name == m) {
      return Value::function("str." + name, [obj, name](Interpreter&, CallArgs& a, const EnvPtr&) {
        return call_string_method(name, obj.as_string(), a);
      });
    }
  }
  return Value();
}

Value dict_member(const Value& obj, const std::string& name) {
  if (name == "get") {
    return Value::function("dict.get", [obj](Interpreter&, CallArgs& a, const EnvPtr&) {
      const Value key = a.positional.empty() ? Value() : a.positional[0];
      if (!key.is_string()) runtime_error(std::string("dict.get(): key must be a string, got ") + key.type_name());
      if (const Value* v = obj.as_object().find(key.as_string()); v && !v->is_undefined()) return *v;
      if (const Value* d = a.get(1, "default"); d && !d->is_undefined()) return *d;
      return Value::null();
    });
  }
  if (name == "items") return Value::function("dict.items", [obj](Interpreter&, CallArgs&, const EnvPtr&) { return dict_items(obj); });
  if (name == "keys") {
    return Value::function("dict.keys", [obj](Interpreter&, CallArgs&, const EnvPtr&) {
      Array keys;
      for (const auto& [k, v] : obj.as_object()) keys.push_back(Value::string(k));
      return Value::array(std::move(keys));
    });
  }
  if (name == "values") {
    return Value::function("dict.values", [obj](Interpreter&, CallArgs&, const EnvPtr&) {
      Array values;
      for (const auto& [k, v] : obj.as_object()) values.push_back(v);
      return Value::array(std::move(values));
    });
  }
  if (name == "dictsort")
    return Value::function("dict.dictsort", [obj](Interpreter&, CallArgs& a, const EnvPtr&) { return dictsort(obj, a); });
  return Value();
}

}  // namespace

Value Interpreter::get_member(const Value& obj, const Value& prop) {
  if (obj.is_mapping_like()) {
    if (!prop.is_string()) runtime_error(std::string("cannot index a ") + obj.type_name() + " with " + prop.type_name() + " (keys are strings)");
    if (const Value* v = obj.as_object().find(prop.as_string())) return *v;
    if (obj.is_object()) return dict_member(obj, prop.as_string());
    return Value();
  }
  if (obj.is_array() || obj.is_string()) {
    if (prop.is_int()) {
      int64_t i = prop.as_int();
      if (obj.is_array()) {
        const Array& a = obj.as_array();
        if (i < 0) i += static_cast<int64_t>(a.size());
        if (i < 0 || i >= static_cast<int64_t>(a.size())) return Value();
        return a[static_cast<size_t>(i)];
      }
      const std::string& s = obj.as_string();
      std::vector<std::pair<size_t, size_t>> cps;
      for (size_t k = 0; k < s.size();) {
        const size_t b = k;
        text::decode(s, k);
        cps.emplace_back(b, k - b);
      }
      if (i < 0) i += static_cast<int64_t>(cps.size());
      if (i < 0 || i >= static_cast<int64_t>(cps.size())) return Value();
      return Value::string(s.substr(cps[static_cast<size_t>(i)].first, cps[static_cast<size_t>(i)].second));
    }
    if (prop.is_string()) {
      if (obj.is_array()) {
        if (prop.as_string() == "length") return Value::integer(static_cast<int64_t>(obj.as_array().size()));
        return Value();
      }
      return string_member(obj, prop.as_string());
    }
    runtime_error(std::string("cannot index a ") + obj.type_name() + " with " + prop.type_name());
  }
  if (!prop.is_string()) runtime_error(std::string("cannot index ") + obj.type_name() + " with " + prop.type_name());
  return Value();
}

}  // namespace quarrel::chat::jinja
