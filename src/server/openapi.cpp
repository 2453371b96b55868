#include "server/openapi.h"

#include <initializer_list>
#include <utility>

namespace quarrel::server {
namespace {

using ojson = nlohmann::ordered_json;

ojson ref(const std::string& name) { return {{"$ref", "#/components/schemas/" + name}}; }

ojson prop(const char* type, const char* description) { return {{"type", type}, {"description", description}}; }

ojson object(std::initializer_list<std::pair<const char*, ojson>> props, std::initializer_list<const char*> required = {}) {
  ojson o = {{"type", "object"}, {"properties", ojson::object()}};
  for (const auto& [k, v] : props) o["properties"][k] = v;
  if (required.size()) o["required"] = ojson::array();
  for (const char* r : required) o["required"].push_back(r);
  return o;
}

ojson json_body(const ojson& schema) { return {{"required", true}, {"content", {{"application/json", {{"schema", schema}}}}}}; }

ojson responses(const ojson& ok_schema, const char* ok_type = "application/json", const char* ok_text = "OK") {
  return {{"200", {{"description", ok_text}, {"content", {{ok_type, {{"schema", ok_schema}}}}}}},
          {"4XX", {{"description", "Invalid request, model not found, context overflow, unauthorized, rate limited"},
                   {"content", {{"application/json", {{"schema", ref("Error")}}}}}}},
          {"5XX", {{"description", "Overloaded (503, with Retry-After) or inference error"},
                   {"content", {{"application/json", {{"schema", ref("Error")}}}}}}}};
}

ojson op(const char* tag, const char* summary, const char* description, ojson resp, ojson body = nullptr) {
  ojson o = {{"tags", {tag}}, {"summary", summary}, {"description", description}, {"responses", std::move(resp)}};
  if (!body.is_null()) o["requestBody"] = json_body(body);
  return o;
}

ojson sampling_props(bool ollama) {
  ojson p = {
      {"temperature", prop("number", "0..2; 0 is greedy")},
      {"top_p", prop("number", "nucleus sampling, (0, 1]")},
      {"top_k", prop("integer", "keep the k most likely tokens (0: off)")},
      {"min_p", prop("number", "drop tokens below min_p times the top probability")},
      {"seed", prop("integer", "the same seed gives the same answer")},
      {"presence_penalty", prop("number", "-2..2")},
      {"frequency_penalty", prop("number", "-2..2")},
      {"repeat_penalty", prop("number", "> 1 discourages repeats (1: off)")},
      {"stop", {{"description", "stop strings (never part of the answer)"},
                {"oneOf", {{{"type", "string"}}, {{"type", "array"}, {"items", {{"type", "string"}}}}}}}},
  };
  if (ollama) {
    p["num_predict"] = prop("integer", "tokens to generate (-1: until a stop or the context is full)");
    p["repeat_last_n"] = prop("integer", "the repeat penalty's window (-1: everything, 0: off)");
    p["typical_p"] = prop("number", "locally typical sampling (1: off)");
  }
  return p;
}

ojson schemas(const std::string& model_id) {
  ojson s = ojson::object();
  s["Error"] = {{"type", "object"},
                {"description", "OpenAI-style routes: error is an object; Ollama routes (/api/*): error is the message "
                                "string, with code and request_id beside it"},
                {"properties",
                 {{"error", {{"oneOf", {{{"type", "string"}}, object({{"message", prop("string", "what is wrong")},
                                                                      {"type", prop("string", "invalid_request_error or server_error")},
                                                                      {"code", prop("string", "INVALID_REQUEST, MODEL_NOT_FOUND, INFERENCE_ERROR, CONTEXT_OVERFLOW, RATE_LIMITED, OVERLOADED, UNAUTHORIZED, NOT_FOUND")},
                                                                      {"request_id", prop("string", "also in the X-Request-Id header")}})}}}},
                  {"code", prop("string", "the error code (Ollama routes)")},
                  {"request_id", prop("string", "the request id (Ollama routes)")}}}};
  ojson message = object({{"role", prop("string", "system, user or assistant")}, {"content", prop("string", "the text")}},
                         {"role", "content"});
  s["Message"] = message;
  ojson completion = object({{"model", {{"type", "string"}, {"example", model_id}}},
                             {"prompt", {{"description", "text, or an array of token ids"},
                                         {"oneOf", {{{"type", "string"}}, {{"type", "array"}, {"items", {{"type", "integer"}}}}}}}},
                             {"max_tokens", prop("integer", "default 16")},
                             {"stream", prop("boolean", "server-sent events ending with data: [DONE]")},
                             {"stream_options", object({{"include_usage", prop("boolean", "a last chunk with usage")}})},
                             {"logprobs", prop("integer", "0..5 alternatives per token")},
                             {"echo", prop("boolean", "the prompt in front of the answer")},
                             {"logit_bias", {{"type", "object"}, {"additionalProperties", {{"type", "number"}}}}},
                             {"n", prop("integer", "only 1")}},
                            {"prompt"});
  const ojson sampling = sampling_props(false);  // (not a temporary: items() would outlive it)
  for (const auto& [k, v] : sampling.items()) completion["properties"][k] = v;
  s["CompletionRequest"] = completion;
  ojson chat = object({{"model", {{"type", "string"}, {"example", model_id}}},
                       {"messages", {{"type", "array"}, {"items", ref("Message")}}},
                       {"max_tokens", prop("integer", "default: until a stop or the context is full")},
                       {"max_completion_tokens", prop("integer", "wins over max_tokens")},
                       {"stream", prop("boolean", "server-sent events ending with data: [DONE]")},
                       {"stream_options", object({{"include_usage", prop("boolean", "a last chunk with usage")}})},
                       {"logprobs", prop("boolean", "log-probabilities of the chosen tokens")},
                       {"top_logprobs", prop("integer", "0..20 alternatives per token")},
                       {"logit_bias", {{"type", "object"}, {"additionalProperties", {{"type", "number"}}}}},
                       {"n", prop("integer", "only 1")}},
                      {"messages"});
  for (const auto& [k, v] : sampling.items()) chat["properties"][k] = v;
  s["ChatCompletionRequest"] = chat;
  ojson usage = object({{"prompt_tokens", prop("integer", "")}, {"completion_tokens", prop("integer", "")},
                        {"total_tokens", prop("integer", "")}});
  s["Completion"] = object({{"id", prop("string", "")}, {"object", prop("string", "text_completion / chat.completion")},
                            {"created", prop("integer", "")}, {"model", prop("string", "")},
                            {"choices", {{"type", "array"}, {"items", object({{"index", prop("integer", "")},
                                                                              {"text", prop("string", "completions")},
                                                                              {"message", ref("Message")},
                                                                              {"finish_reason", prop("string", "stop, length, cancelled, timeout")}})}}},
                            {"usage", usage}});
  s["Model"] = object({{"id", {{"type", "string"}, {"example", model_id}}}, {"object", prop("string", "model")},
                       {"created", prop("integer", "")}, {"owned_by", prop("string", "")}});
  ojson options = object({});
  options["properties"] = sampling_props(true);
  options["description"] = "sampling options (Ollama's defaults: temperature 0.8, top_k 40, top_p 0.9, repeat_penalty 1.1)";
  s["OllamaOptions"] = options;
  s["OllamaGenerateRequest"] = object({{"model", {{"type", "string"}, {"example", model_id}}},
                                       {"prompt", prop("string", "empty: answers done_reason \"load\" at once")},
                                       {"system", prop("string", "a system message for the chat template")},
                                       {"raw", prop("boolean", "no chat template")},
                                       {"context", {{"type", "array"}, {"items", {{"type", "integer"}}}, {"description", "token ids from an earlier answer"}}},
                                       {"stream", prop("boolean", "NDJSON lines (default true)")},
                                       {"options", ref("OllamaOptions")},
                                       {"keep_alive", prop("string", "accepted, ignored")}},
                                      {"model"});
  s["OllamaChatRequest"] = object({{"model", {{"type", "string"}, {"example", model_id}}},
                                   {"messages", {{"type", "array"}, {"items", ref("Message")}}},
                                   {"stream", prop("boolean", "NDJSON lines (default true)")},
                                   {"options", ref("OllamaOptions")},
                                   {"keep_alive", prop("string", "accepted, ignored")}},
                                  {"model", "messages"});
  s["OllamaAnswer"] = object({{"model", prop("string", "")}, {"created_at", prop("string", "RFC 3339")},
                              {"response", prop("string", "/api/generate: text")},
                              {"message", ref("Message")},
                              {"done", prop("boolean", "the last line has done: true and the counters")},
                              {"done_reason", prop("string", "stop, length, load, cancelled, timeout")},
                              {"context", {{"type", "array"}, {"items", {{"type", "integer"}}}}},
                              {"total_duration", prop("integer", "nanoseconds")},
                              {"load_duration", prop("integer", "nanoseconds waiting for a slot")},
                              {"prompt_eval_count", prop("integer", "")},
                              {"prompt_eval_duration", prop("integer", "nanoseconds")},
                              {"eval_count", prop("integer", "")},
                              {"eval_duration", prop("integer", "nanoseconds")}});
  ojson details = object({{"format", prop("string", "gguf")}, {"family", prop("string", "the architecture")},
                          {"parameter_size", prop("string", "e.g. 260.0K")},
                          {"quantization_level", prop("string", "e.g. Q8_0")}});
  s["OllamaModel"] = object({{"name", prop("string", "")}, {"model", prop("string", "")},
                             {"modified_at", prop("string", "")}, {"size", prop("integer", "bytes")},
                             {"digest", prop("string", "")}, {"details", details}});
  s["WsMessage"] = object({{"type", prop("string", "client: inference, stop, status, metrics, ping; server: inference, "
                                                   "status, metrics, pong, error")},
                           {"id", prop("string", "the generation (or message) id; replies carry it")},
                           {"payload", {{"type", "object"}, {"description",
                              "inference: {prompt | messages, model, temperature, topk, topp, max_tokens, seed, stop, ignore_eos, "
                              "stream}; answers: {token, token_id, complete, tokens_per_sec} then {complete: true, "
                              "finish_reason, usage, tokens_per_sec, text (not streaming)}; error: {code, message}"}}}},
                          {"type"});
  return s;
}

}  // namespace

ojson openapi_document(const std::string& model_id, const std::string& version) {
  ojson doc = {{"openapi", "3.0.3"},
               {"info", {{"title", "Quarrel"}, {"version", version},
                         {"description", "quarrel serve: OpenAI- and Ollama-compatible HTTP API, a native WebSocket API, "
                                         "tokenizer routes, health and Prometheus metrics. With API keys configured every "
                                         "route but /healthz needs Authorization: Bearer KEY (?api_key= for /ws)."}}},
               {"paths", ojson::object()},
               {"components", {{"schemas", schemas(model_id)},
                               {"securitySchemes", {{"bearer", {{"type", "http"}, {"scheme", "bearer"}}}}}}}};
  ojson& p = doc["paths"];
  const ojson text = {{"type", "string"}};
  auto status_obj = object({{"status", prop("string", "")}});
  p["/healthz"]["get"] = op("health", "Liveness", "200 while the process serves HTTP", responses(status_obj));
  p["/readyz"]["get"] = op("health", "Readiness", "200 when the model is loaded and the engine runs, else 503",
                           responses(status_obj));
  p["/version"]["get"] = op("health", "Server version", "", responses(object({{"version", prop("string", "")},
                                                                             {"name", prop("string", "quarrel")}})));
  p["/metrics"]["get"] = op("health", "Prometheus metrics",
                            "Text exposition format: quarrel_requests_total, quarrel_request_duration_seconds, "
                            "quarrel_time_to_first_token_seconds, quarrel_inter_token_latency_seconds, "
                            "quarrel_tokens_total, quarrel_connections_active, quarrel_queue_depth, "
                            "quarrel_kv_blocks_used/_total, quarrel_errors_total",
                            responses(text, "text/plain"));
  p["/v1/models"]["get"] = op("openai", "List models", "",
                              responses(object({{"object", prop("string", "list")},
                                                {"data", {{"type", "array"}, {"items", ref("Model")}}}})));
  ojson model_param = {{"name", "model"}, {"in", "path"}, {"required", true}, {"schema", text}};
  p["/v1/models/{model}"]["get"] = op("openai", "One model", "404 MODEL_NOT_FOUND for another name", responses(ref("Model")));
  p["/v1/models/{model}"]["get"]["parameters"] = ojson::array({model_param});
  p["/v1/completions"]["post"] = op("openai", "Text completion", "OpenAI-compatible; JSON, or SSE with stream: true",
                                    responses(ref("Completion")), ref("CompletionRequest"));
  p["/v1/chat/completions"]["post"] = op("openai", "Chat completion",
                                         "OpenAI-compatible; the model's chat template renders the messages",
                                         responses(ref("Completion")), ref("ChatCompletionRequest"));
  p["/api/generate"]["post"] = op("ollama", "Generate (Ollama)", "NDJSON lines unless stream: false",
                                  responses(ref("OllamaAnswer"), "application/x-ndjson"), ref("OllamaGenerateRequest"));
  p["/api/chat"]["post"] = op("ollama", "Chat (Ollama)", "NDJSON lines unless stream: false",
                              responses(ref("OllamaAnswer"), "application/x-ndjson"), ref("OllamaChatRequest"));
  p["/api/tags"]["get"] = op("ollama", "Local models (Ollama)", "",
                             responses(object({{"models", {{"type", "array"}, {"items", ref("OllamaModel")}}}})));
  p["/api/ps"]["get"] = op("ollama", "Loaded models (Ollama)", "",
                           responses(object({{"models", {{"type", "array"}, {"items", ref("OllamaModel")}}}})));
  p["/api/show"]["post"] = op("ollama", "Model details (Ollama)", "",
                              responses(object({{"modelfile", prop("string", "")}, {"template", prop("string", "the chat template")},
                                                {"details", {{"type", "object"}}}, {"model_info", {{"type", "object"}}},
                                                {"capabilities", {{"type", "array"}, {"items", text}}}})),
                              object({{"model", {{"type", "string"}, {"example", model_id}}}}, {"model"}));
  p["/api/version"]["get"] = op("ollama", "Ollama API version", "", responses(object({{"version", prop("string", "")}})));
  p["/tokenize"]["post"] = op("tokenizer", "Text to token ids", "llama.cpp's shape",
                              responses(object({{"tokens", {{"type", "array"}, {"items", {{"oneOf", {{{"type", "integer"}},
                                  object({{"id", prop("integer", "")}, {"piece", {{"description", "a string, or its bytes when not valid UTF-8"}}}})}}}}}}})),
                              object({{"content", prop("string", "the text (or \"prompt\")")},
                                      {"add_special", prop("boolean", "BOS/EOS as the model wants (default false)")},
                                      {"parse_special", prop("boolean", "special-token text becomes the token (default true)")},
                                      {"with_pieces", prop("boolean", "[{id, piece}] instead of ids")}},
                                     {"content"}));
  p["/detokenize"]["post"] = op("tokenizer", "Token ids to text", "llama.cpp's shape",
                                responses(object({{"content", prop("string", "")}})),
                                object({{"tokens", {{"type", "array"}, {"items", {{"type", "integer"}}}}}}, {"tokens"}));
  p["/ws"]["get"] = op("websocket", "WebSocket API",
                       "Upgrade to a WebSocket; JSON text messages {type, id, payload} (see WsMessage). Several "
                       "generations per connection, each with its id; stop {id} cancels one; ping -> pong; closing "
                       "the connection cancels its generations.",
                       {{"101", {{"description", "Switching protocols"}}},
                        {"400", {{"description", "Not an upgrade request"}, {"content", {{"application/json", {{"schema", ref("Error")}}}}}}}});
  p["/ws"]["get"]["parameters"] = ojson::array({{{"name", "api_key"}, {"in", "query"}, {"required", false}, {"schema", text},
                                                 {"description", "the API key, when keys are configured"}}});
  p["/openapi.json"]["get"] = op("docs", "This document", "", responses({{"type", "object"}}));
  p["/docs"]["get"] = op("docs", "This document as a page", "", responses(text, "text/html"));
  return doc;
}

}  // namespace quarrel::server
