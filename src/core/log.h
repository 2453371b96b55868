#pragma once
// Structured logging: one JSON object per line on stderr (or plain text), with a level and
// optional fields such as a request id. Everything that logs goes through here.
#include <nlohmann/json.hpp>

#include <string>
#include <string_view>

namespace quarrel::log {

enum class Level { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3 };
enum class Format { kText, kJson };

void set_level(Level level);
void set_format(Format format);
Level level();
bool enabled(Level level);

// Writes one line: {"ts":..., "level":..., "msg":..., ...fields}.
void write(Level level, std::string_view msg, const nlohmann::json& fields = nlohmann::json::object());

inline void debug(std::string_view m, const nlohmann::json& f = nlohmann::json::object()) { write(Level::kDebug, m, f); }
inline void info(std::string_view m, const nlohmann::json& f = nlohmann::json::object()) { write(Level::kInfo, m, f); }
inline void warn(std::string_view m, const nlohmann::json& f = nlohmann::json::object()) { write(Level::kWarn, m, f); }
inline void error(std::string_view m, const nlohmann::json& f = nlohmann::json::object()) { write(Level::kError, m, f); }

}  // namespace quarrel::log
