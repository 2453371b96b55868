#include "server/openai_response.h"

#include <ctime>

namespace quarrel::server {

using json = nlohmann::json;

OpenAiFormatter::OpenAiFormatter(const GenerationRequest& g, const ModelContext& model, std::string id)
    : g_(g), model_(model), id_(std::move(id)), created_(std::time(nullptr)) {
  if (g_.echo) text_ = g_.prompt_text;
}

json OpenAiFormatter::envelope(bool chunk) const {
  return {{"id", id_},
          {"object", g_.chat ? (chunk ? "chat.completion.chunk" : "chat.completion") : "text_completion"},
          {"created", created_},
          {"model", model_.id()},
          {"system_fingerprint", "quarrel-0.1.0"}};
}

json OpenAiFormatter::usage(const runtime::TokenEvent& final) {
  const auto& u = final.usage;
  return {{"prompt_tokens", u.prompt_tokens},
          {"completion_tokens", u.generated_tokens},
          {"total_tokens", u.prompt_tokens + u.generated_tokens},
          {"prompt_tokens_details", {{"cached_tokens", u.cached_prompt_tokens}}}};
}

json OpenAiFormatter::chat_logprob_entry(const runtime::TokenEvent& ev) const {
  const auto& tok = model_.tokenizer();
  auto entry = [&](int32_t id, float lp) {
    const std::string piece = tok.token_to_piece(id);
    json bytes = json::array();
    for (unsigned char c : piece) bytes.push_back(static_cast<int>(c));
    return json{{"token", piece},
                {"logprob", lp},
                {"bytes", bytes}};
  };
  json e = entry(ev.token, ev.logprob);
  json top = json::array();
  for (const auto& t : ev.top_logprobs) top.push_back(entry(t.token, t.logprob));
  e["top_logprobs"] = top;
  return e;
}

json OpenAiFormatter::first_chunk() const {
  json c = envelope(true);
  if (g_.chat)
    c["choices"] = json::array({{{"index", 0}, {"delta", {{"role", "assistant"}, {"content", ""}}},
                                 {"logprobs", nullptr}, {"finish_reason", nullptr}}});
  else
    c["choices"] = json::array({{{"index", 0}, {"text", g_.echo ? g_.prompt_text : ""}, {"logprobs", nullptr},
                                 {"finish_reason", nullptr}}});
  return c;
}

json OpenAiFormatter::token_chunk(const runtime::TokenEvent& ev) const {
  if (ev.text.empty() && !g_.logprobs) return nullptr;
  json c = envelope(true);
  json choice = {{"index", 0}};
  if (g_.chat) {
    choice["delta"] = {{"content", ev.text}};
    choice["logprobs"] = g_.logprobs ? json{{"content", json::array({chat_logprob_entry(ev)})}} : json(nullptr);
  } else {
    choice["text"] = ev.text;
    if (g_.logprobs) {
      json top = json::object();
      for (const auto& t : ev.top_logprobs) top[model_.tokenizer().token_to_piece(t.token)] = t.logprob;
      choice["logprobs"] = {{"tokens", {model_.tokenizer().token_to_piece(ev.token)}},
                            {"token_logprobs", {ev.logprob}},
                            {"top_logprobs", {top}},
                            {"text_offset", {0}}};
    } else {
      choice["logprobs"] = nullptr;
    }
  }
  choice["finish_reason"] = nullptr;
  c["choices"] = json::array({choice});
  return c;
}

json OpenAiFormatter::final_chunk(const runtime::TokenEvent& ev) const {
  json c = envelope(true);
  json choice = {{"index", 0}};
  if (g_.chat)
    choice["delta"] = ev.text.empty() ? json::object() : json{{"content", ev.text}};
  else
    choice["text"] = ev.text;
  choice["logprobs"] = nullptr;
  choice["finish_reason"] = finish_reason(ev.reason);
  c["choices"] = json::array({choice});
  return c;
}

json OpenAiFormatter::usage_chunk(const runtime::TokenEvent& final) const {
  json c = envelope(true);
  c["choices"] = json::array();
  c["usage"] = usage(final);
  return c;
}

void OpenAiFormatter::add(const runtime::TokenEvent& ev) {
  if (!ev.final && g_.logprobs) {
    if (g_.chat) {
      chat_logprobs_.push_back(chat_logprob_entry(ev));
    } else {
      json top = json::object();
      for (const auto& t : ev.top_logprobs) top[model_.tokenizer().token_to_piece(t.token)] = t.logprob;
      tokens_.push_back(model_.tokenizer().token_to_piece(ev.token));
      token_logprobs_.push_back(ev.logprob);
      top_logprobs_.push_back(top);
      text_offset_.push_back(text_.size());
    }
  }
  text_ += ev.text;
}

json OpenAiFormatter::response(const runtime::TokenEvent& final) const {
  json r = envelope(false);
  json choice = {{"index", 0}};
  if (g_.chat) {
    choice["message"] = {{"role", "assistant"}, {"content", text_}};
    choice["logprobs"] = g_.logprobs ? json{{"content", chat_logprobs_}} : json(nullptr);
  } else {
    choice["text"] = text_;
    choice["logprobs"] = g_.logprobs ? json{{"tokens", tokens_}, {"token_logprobs", token_logprobs_},
                                            {"top_logprobs", top_logprobs_}, {"text_offset", text_offset_}}
                                     : json(nullptr);
  }
  choice["finish_reason"] = finish_reason(final.reason);
  r["choices"] = json::array({choice});
  r["usage"] = usage(final);
  return r;
}

}  // namespace quarrel::server
