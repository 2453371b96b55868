#include "server/log.h"

#include <chrono>
#include <cstdio>
#include <ctime>
#include <fmt/format.h>
#include <mutex>

namespace quarrel::server {
namespace {
std::mutex g_mu;
LogFormat g_format = LogFormat::kText;

std::string now_iso() {
  const auto now = std::chrono::system_clock::now();
  const std::time_t t = std::chrono::system_clock::to_time_t(now);
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  return fmt::format("{}.{:03d}Z", buf, static_cast<int>(ms));
}
}  // namespace

void set_log_format(LogFormat format) {
  std::lock_guard lock(g_mu);
  g_format = format;
}

void log_line(const char* level, const std::string& request_id, const std::string& msg, const nlohmann::json& fields) {
  std::string line;
  std::lock_guard lock(g_mu);
  if (g_format == LogFormat::kJson) {
    nlohmann::json j = {{"ts", now_iso()}, {"level", level}};
    if (!request_id.empty()) j["request_id"] = request_id;
    j["msg"] = msg;
    for (auto it = fields.begin(); it != fields.end(); ++it) j[it.key()] = it.value();
    line = j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  } else {
    line = fmt::format("{} {:5} {}{}", now_iso(), level, request_id.empty() ? "" : request_id + " ", msg);
    for (auto it = fields.begin(); it != fields.end(); ++it)
      line += " " + it.key() + "=" + (it.value().is_string() ? it.value().get<std::string>() : it.value().dump());
  }
  line += '\n';
  std::fwrite(line.data(), 1, line.size(), stderr);
  std::fflush(stderr);
}

}  // namespace quarrel::server
