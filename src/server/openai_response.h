#pragma once
// OpenAI response bodies from engine events: the whole response (non-streaming) or one SSE
// chunk per event (streaming), for /v1/completions ("text_completion") and
// /v1/chat/completions ("chat.completion" / "chat.completion.chunk").
#include <nlohmann/json.hpp>

#include <string>

#include "runtime/request.h"
#include "server/model_context.h"
#include "server/openai_request.h"

namespace quarrel::server {

class OpenAiFormatter {
 public:
  OpenAiFormatter(const GenerationRequest& g, const ModelContext& model, std::string id);

  // Streaming. The first chunk (chat: the assistant role; completions with echo: the prompt).
  nlohmann::json first_chunk() const;
  // One token event -> a chunk (null when the event has nothing to send).
  nlohmann::json token_chunk(const runtime::TokenEvent& ev) const;
  // The final event -> the chunk carrying finish_reason (and any text released at the end).
  nlohmann::json final_chunk(const runtime::TokenEvent& ev) const;
  // stream_options.include_usage: the chunk with empty choices and the usage.
  nlohmann::json usage_chunk(const runtime::TokenEvent& final) const;

  // Non-streaming: add every event, then response(final).
  void add(const runtime::TokenEvent& ev);
  nlohmann::json response(const runtime::TokenEvent& final) const;

 private:
  nlohmann::json envelope(bool chunk) const;
  nlohmann::json chat_logprob_entry(const runtime::TokenEvent& ev) const;
  static nlohmann::json usage(const runtime::TokenEvent& final);

  const GenerationRequest& g_;
  const ModelContext& model_;
  std::string id_;
  std::time_t created_;
  std::string text_;
  nlohmann::json chat_logprobs_ = nlohmann::json::array();
  nlohmann::json tokens_ = nlohmann::json::array(), token_logprobs_ = nlohmann::json::array(),
                 top_logprobs_ = nlohmann::json::array(), text_offset_ = nlohmann::json::array();
};

}  // namespace quarrel::server
