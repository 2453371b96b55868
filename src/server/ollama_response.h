#pragma once
// Ollama answers from engine events: NDJSON lines while streaming ({"model", "created_at",
// "response" | "message", "done": false}), then the final object with done: true, done_reason
// and the counters Ollama reports (durations in nanoseconds: total_duration, load_duration
// = time waiting for a slot, prompt_eval_count / prompt_eval_duration, eval_count /
// eval_duration; /api/generate also `context`: the prompt and answer token ids).
// Errors: {"error": "message", "code", "request_id"} (Ollama clients read "error" as a string).
#include <nlohmann/json.hpp>

#include <string>
#include <vector>

#include "runtime/request.h"
#include "server/api_error.h"
#include "server/ollama_request.h"

namespace quarrel::server {

// "2026-11-22T06:40:01.123456789Z" for now.
std::string rfc3339_now();

nlohmann::json ollama_error_body(const ApiError& e, const std::string& request_id);

class OllamaFormatter {
 public:
  explicit OllamaFormatter(const OllamaRequest& o);

  // Every token event (streaming or not) -> the line to stream (null when it carries no text).
  nlohmann::json chunk(const runtime::TokenEvent& ev);
  // The final event -> the done: true object (streaming: with any text released at the end;
  // not streaming: with everything added).
  nlohmann::json final(const runtime::TokenEvent& ev);
  // /api/generate with no prompt: done at once with done_reason "load".
  nlohmann::json load_only() const;

 private:
  nlohmann::json envelope() const;
  nlohmann::json text_field(const std::string& text) const;

  const OllamaRequest& o_;
  std::string text_;
  std::vector<int32_t> tokens_;
};

}  // namespace quarrel::server
