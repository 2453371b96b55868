#pragma once
// OpenAI request bodies (/v1/completions, /v1/chat/completions) -> an engine Request, checked
// field by field: a field of the wrong type, a value out of range or a model that is not served
// throws ApiError (400 INVALID_REQUEST, 404 MODEL_NOT_FOUND) naming the field.
//
// Defaults follow OpenAI (temperature 1, top_p 1, no top-k / min-p); Quarrel's extra fields
// top_k, min_p, repeat_penalty are accepted too. max_completion_tokens wins over max_tokens.
#include <nlohmann/json.hpp>

#include <string>

#include "runtime/request.h"
#include "server/model_context.h"

namespace quarrel::server {

struct GenerationRequest {
  runtime::Request request;
  bool chat = false;
  bool stream = false;
  bool include_usage = false;   // stream_options.include_usage
  bool logprobs = false;        // report logprobs (chat: logprobs=true; completions: logprobs=N)
  int32_t top_logprobs = 0;
  bool echo = false;            // completions: put the prompt text in front
  std::string prompt_text;      // completions with a text prompt (for echo)
};

// `body` is the parsed JSON; throws ApiError for anything wrong with it.
GenerationRequest parse_openai_request(const nlohmann::ordered_json& body, bool chat, const ModelContext& model,
                                       int32_t max_tokens_limit);

// Sampling fields shared with the Ollama routes, read from one JSON object: temperature, top_p,
// top_k, min_p, typical_p, seed, presence_penalty, frequency_penalty, repeat_penalty,
// repeat_last_n. `where` names the object in messages ("" or "options.").
void read_sampling_fields(const nlohmann::ordered_json& obj, const std::string& where, sampling::SamplingParams& p);

// Field readers: ApiError(400) naming `where + key` when the field has the wrong type.
double number_field(const nlohmann::ordered_json& obj, const std::string& key, const std::string& where, double def);
int64_t integer_field(const nlohmann::ordered_json& obj, const std::string& key, const std::string& where,
                      int64_t def);
bool bool_field(const nlohmann::ordered_json& obj, const std::string& key, const std::string& where, bool def);
std::string string_field(const nlohmann::ordered_json& obj, const std::string& key, const std::string& where,
                         const std::string& def);
// A string, or an array of strings (OpenAI's `stop`), or null.
std::vector<std::string> stop_field(const nlohmann::ordered_json& obj, const std::string& key, const std::string& where);

// OpenAI's finish_reason for a stop reason: "stop", "length", "cancelled", "timeout", "error".
std::string finish_reason(runtime::StopReason reason);

}  // namespace quarrel::server
