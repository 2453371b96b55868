#include "server/ollama_response.h"

#include <chrono>
#include <ctime>
#include <fmt/format.h>

#include "server/openai_request.h"

namespace quarrel::server {

using json = nlohmann::json;

std::string rfc3339_now() {
  const auto now = std::chrono::system_clock::now();
  const std::time_t t = std::chrono::system_clock::to_time_t(now);
  const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(now.time_since_epoch()).count() % 1000000000;
  std::tm tm{};
  gmtime_r(&t, &tm);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:09}Z", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                     tm.tm_hour, tm.tm_min, tm.tm_sec, ns);
}

json ollama_error_body(const ApiError& e, const std::string& request_id) {
  return {{"error", e.what()}, {"code", e.code()}, {"request_id", request_id}};
}

OllamaFormatter::OllamaFormatter(const OllamaRequest& o) : o_(o) {}

json OllamaFormatter::envelope() const { return {{"model", o_.model}, {"created_at", rfc3339_now()}}; }

json OllamaFormatter::text_field(const std::string& text) const {
  return o_.chat ? json{{"role", "assistant"}, {"content", text}} : json(text);
}

json OllamaFormatter::chunk(const runtime::TokenEvent& ev) {
  tokens_.push_back(ev.token);
  text_ += ev.text;
  if (ev.text.empty()) return nullptr;
  json j = envelope();
  j[o_.chat ? "message" : "response"] = text_field(ev.text);
  j["done"] = false;
  return j;
}

json OllamaFormatter::final(const runtime::TokenEvent& ev) {
  json j = envelope();
  j[o_.chat ? "message" : "response"] = text_field(o_.stream ? ev.text : text_ + ev.text);
  j["done"] = true;
  const std::string reason = finish_reason(ev.reason);
  j["done_reason"] = reason;
  if (!o_.chat) {
    std::vector<int32_t> context = o_.request.prompt;
    context.insert(context.end(), tokens_.begin(), tokens_.end());  // (a stop token is never an event)
    j["context"] = context;
  }
  auto ns = [](double ms) { return static_cast<int64_t>(ms * 1e6); };
  j["total_duration"] = ns(ev.timings.total_ms);
  j["load_duration"] = ns(ev.timings.queue_ms);
  j["prompt_eval_count"] = ev.usage.prompt_tokens;
  j["prompt_eval_duration"] = ns(ev.timings.prompt_ms);
  j["eval_count"] = ev.usage.generated_tokens;
  j["eval_duration"] = ns(ev.timings.generate_ms);
  return j;
}

json OllamaFormatter::load_only() const {
  json j = envelope();
  j[o_.chat ? "message" : "response"] = text_field("");
  j["done"] = true;
  j["done_reason"] = "load";
  return j;
}

}  // namespace quarrel::server
