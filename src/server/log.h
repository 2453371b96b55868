#pragma once
// One log line per event on stderr: text ("2026-... INFO req-1 message key=value") or JSON lines
// ({"ts", "level", "request_id", "msg", ...fields}). Thread-safe. Prompts and keys are never
// passed here.
#include <nlohmann/json.hpp>

#include <string>

namespace quarrel::server {

enum class LogFormat { kText, kJson };
void set_log_format(LogFormat format);
void log_line(const char* level, const std::string& request_id, const std::string& msg,
              const nlohmann::json& fields = nlohmann::json::object());

}  // namespace quarrel::server
