#pragma once
// Ollama request bodies (/api/generate, /api/chat) -> an engine Request, checked field by field
// (ApiError 400 INVALID_REQUEST naming the field, 404 MODEL_NOT_FOUND for a model not served).
//
// `options` carries the sampling fields with Ollama's defaults (temperature 0.8, top_k 40,
// top_p 0.9, min_p 0, repeat_penalty 1.1 over the last 64 tokens): temperature, top_k, top_p,
// min_p, typical_p, seed, num_predict (-1, -2: until a stop or the context is full), stop,
// repeat_penalty, repeat_last_n, presence_penalty, frequency_penalty. Options that only tune a
// runner (num_ctx, num_thread, num_gpu, ...) are accepted and ignored, like unknown ones.
// /api/generate renders the prompt (and `system`) through the model's chat template unless
// `raw` is true or the model has none; `context` (token ids from an earlier answer) goes first.
// Not supported yet (400): format, images, tools, suffix, a template override.
#include <nlohmann/json.hpp>

#include <string>

#include "runtime/request.h"
#include "server/model_context.h"

namespace quarrel::server {

struct OllamaRequest {
  runtime::Request request;
  bool chat = false;
  bool stream = true;       // Ollama streams unless "stream": false
  bool load_only = false;   // /api/generate with no prompt: answer done_reason "load" at once
  std::string model;        // the name the client used (echoed in answers)
};

OllamaRequest parse_ollama_request(const nlohmann::ordered_json& body, bool chat, const ModelContext& model,
                                   int32_t max_tokens_limit);

}  // namespace quarrel::server
