#include "core/log.h"

#include <atomic>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <mutex>

#include <fmt/format.h>

namespace quarrel::log {
namespace {

std::atomic<Level> g_level{Level::kInfo};
std::atomic<Format> g_format{Format::kText};
std::mutex g_mu;

const char* level_name(Level l) {
  switch (l) {
    case Level::kDebug: return "debug";
    case Level::kInfo: return "info";
    case Level::kWarn: return "warn";
    case Level::kError: return "error";
  }
  return "?";
}

std::string timestamp() {
  using namespace std::chrono;
  const auto now = system_clock::now();
  const std::time_t t = system_clock::to_time_t(now);
  const auto ms = duration_cast<milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[40];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  char out[48];
  std::snprintf(out, sizeof out, "%s.%03dZ", buf, static_cast<int>(ms));
  return out;
}

}  // namespace

void set_level(Level level) { g_level = level; }
void set_format(Format format) { g_format = format; }
Level level() { return g_level; }
bool enabled(Level l) { return l >= g_level.load(); }

void write(Level l, std::string_view msg, const nlohmann::json& fields) {
  if (!enabled(l)) return;
  std::string line;
  if (g_format == Format::kJson) {
    nlohmann::json j = {{"ts", timestamp()}, {"level", level_name(l)}, {"msg", msg}};
    if (fields.is_object())
      for (auto it = fields.begin(); it != fields.end(); ++it) j[it.key()] = it.value();
    line = j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  } else {
    line = fmt::format("{}: {}", level_name(l), msg);
    if (fields.is_object() && !fields.empty())
      line = fmt::format("{} {}", line, fields.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
  }
  std::lock_guard lk(g_mu);
  std::fprintf(stderr, "%s\n", line.c_str());
}

}  // namespace quarrel::log
