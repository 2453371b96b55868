#pragma once
// Helpers for the interpreter's unit tests: render a template source with variables given as
// a JSON text, and catch the TemplateError of a failing one.
#include <gtest/gtest.h>

#include <chrono>
#include <optional>
#include <string>

#include "chat/chat_template.h"

namespace quarrel::chat::testing {

inline std::string render(const std::string& source, const std::string& vars_json = "{}") {
  // A fixed instant: 2025-03-07 09:05:00 UTC (strftime_now uses local time; tests set TZ=UTC).
  const auto now = std::chrono::system_clock::time_point(std::chrono::seconds(1741338300));
  return ChatTemplate(source).render_variables(nlohmann::ordered_json::parse(vars_json), now);
}

// The TemplateError a render throws (fails the test if it renders).
inline std::optional<TemplateError> render_error(const std::string& source, const std::string& vars_json = "{}") {
  try {
    const std::string out = render(source, vars_json);
    ADD_FAILURE() << "expected an error, rendered: " << out;
  } catch (const TemplateError& e) {
    return e;
  }
  return std::nullopt;
}

}  // namespace quarrel::chat::testing
