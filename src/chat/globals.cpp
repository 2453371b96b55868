// Global names: true/false/none, raise_exception, range, namespace, dict, strftime_now.
#include <ctime>

#include "chat/builtins.h"
#include "chat/interpreter.h"
#include "chat/template_error.h"
#include "chat/text.h"

namespace quarrel::chat::jinja {

namespace {

constexpr size_t kMaxRange = Interpreter::kMaxListItems;

const char* const kMonths[] = {"January", "February", "March",     "April",   "May",      "June",
                               "July",    "August",   "September", "October", "November", "December"};
const char* const kDays[] = {"Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"};

std::string pad(int v, int width = 2, char fill = '0') {
  std::string s = std::to_string(v);
  while (static_cast<int>(s.size()) < width) s.insert(s.begin(), fill);
  return s;
}

// Python's strftime for the common directives; others are kept as written.
std::string strftime_local(std::chrono::system_clock::time_point now, const std::string& fmt) {
  const std::time_t t = std::chrono::system_clock::to_time_t(now);
  std::tm tm{};
  localtime_r(&t, &tm);
  std::string out;
  for (size_t i = 0; i < fmt.size(); ++i) {
    if (fmt[i] != '%' || i + 1 >= fmt.size()) {
      out.push_back(fmt[i]);
      continue;
    }
    const char d = fmt[++i];
    switch (d) {
      case 'Y': out += std::to_string(tm.tm_year + 1900); break;
      case 'y': out += pad((tm.tm_year + 1900) % 100); break;
      case 'm': out += pad(tm.tm_mon + 1); break;
      case 'd': out += pad(tm.tm_mday); break;
      case 'e': out += pad(tm.tm_mday, 2, ' '); break;
      case 'b': out += std::string(kMonths[tm.tm_mon]).substr(0, 3); break;
      case 'B': out += kMonths[tm.tm_mon]; break;
      case 'a': out += std::string(kDays[tm.tm_wday]).substr(0, 3); break;
      case 'A': out += kDays[tm.tm_wday]; break;
      case 'H': out += pad(tm.tm_hour); break;
      case 'I': out += pad(tm.tm_hour % 12 == 0 ? 12 : tm.tm_hour % 12); break;
      case 'p': out += tm.tm_hour < 12 ? "AM" : "PM"; break;
      case 'M': out += pad(tm.tm_min); break;
      case 'S': out += pad(tm.tm_sec); break;
      case 'j': out += pad(tm.tm_yday + 1, 3); break;
      case '%': out.push_back('%'); break;
      default:
        out.push_back('%');
        out.push_back(d);
    }
  }
  return out;
}

void add_pairs(ObjectMap& m, const Value& source, const char* who) {
  if (source.is_object()) {
    for (const auto& [k, v] : source.as_object()) m.set(k, v);
  } else if (source.is_array()) {
    for (const Value& pair : source.as_array()) {
      if (!pair.is_array() || pair.as_array().size() != 2)
        runtime_error(std::string(who) + " expected a dict or a list of [key, value] pairs");
      const Value& k = pair.as_array()[0];
      if (!k.is_string()) runtime_error(std::string(who) + " keys must be strings");
      m.set(k.as_string(), pair.as_array()[1]);
    }
  } else {
    runtime_error(std::string(who) + "() cannot take a " + source.type_name());
  }
}

}  // namespace

EnvPtr make_global_env() {
  auto env = std::make_shared<Environment>();
  env->set("true", Value::boolean(true));
  env->set("false", Value::boolean(false));
  env->set("none", Value::null());
  env->set("True", Value::boolean(true));
  env->set("False", Value::boolean(false));
  env->set("None", Value::null());

  env->set("raise_exception", Value::function("raise_exception", [](Interpreter&, CallArgs& a, const EnvPtr&) -> Value {
    std::string msg;
    if (!a.positional.empty() && !a.positional[0].is_undefined()) msg = a.positional[0].js_string();
    throw EvalError(msg, TemplateErrorKind::kRaised);
  }));

  env->set("range", Value::function("range", [](Interpreter& in, CallArgs& a, const EnvPtr&) {
    if (a.positional.empty() || a.positional.size() > 3) runtime_error("range() takes 1 to 3 arguments");
    for (const Value& v : a.positional)
      if (!v.is_int()) runtime_error(std::string("range() arguments must be integers, got ") + v.type_name());
    int64_t start = 0, stop, step = 1;
    if (a.positional.size() == 1) {
      stop = a.positional[0].as_int();
    } else {
      start = a.positional[0].as_int();
      stop = a.positional[1].as_int();
      if (a.positional.size() == 3) step = a.positional[2].as_int();
    }
    if (step == 0) runtime_error("range() step must not be zero");
    Array out;
    for (int64_t i = start; step > 0 ? i < stop : i > stop; i += step) {
      if (out.size() >= kMaxRange) runtime_error("range() is too long");
      out.push_back(Value::integer(i));
    }
    in.charge(out.size());
    return Value::array(std::move(out));
  }));

  env->set("namespace", Value::function("namespace", [](Interpreter& in, CallArgs& a, const EnvPtr&) {
    if (a.positional.size() > 1)
      runtime_error("namespace() takes at most 1 positional argument, got " + std::to_string(a.positional.size()));
    ObjectMap m;
    if (!a.positional.empty()) add_pairs(m, a.positional[0], "namespace");
    for (const auto& [k, v] : a.keyword) m.set(k, v);
    Value ns = Value::namespace_(std::move(m));
    in.track_namespace(ns);
    return ns;
  }));

  env->set("dict", Value::function("dict", [](Interpreter&, CallArgs& a, const EnvPtr&) {
    if (a.positional.size() > 1) runtime_error("dict() takes at most 1 positional argument");
    ObjectMap m;
    if (!a.positional.empty()) add_pairs(m, a.positional[0], "dict");
    for (const auto& [k, v] : a.keyword) m.set(k, v);
    return Value::object(std::move(m));
  }));

  env->set("strftime_now", Value::function("strftime_now", [](Interpreter& in, CallArgs& a, const EnvPtr&) {
    if (a.positional.empty()) runtime_error("strftime_now() needs a format");
    return Value::string(strftime_local(in.now(), expect_string(a.positional[0], "strftime_now() format")));
  }));
  return env;
}

}  // namespace quarrel::chat::jinja
