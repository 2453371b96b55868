#include "server/ollama_request.h"

#include <fmt/format.h>

#include "server/api_error.h"
#include "server/openai_request.h"

namespace quarrel::server {
namespace {

using json = nlohmann::ordered_json;

bool present(const json& obj, const char* key) {
  auto it = obj.find(key);
  return it != obj.end() && !it->is_null();
}

// A field we cannot honour yet: present and not empty -> 400.
void refuse_if_set(const json& obj, const char* key, const std::string& where) {
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return;
  if ((it->is_string() || it->is_array() || it->is_object()) && it->empty()) return;
  throw invalid_request(fmt::format("{}{}: not supported by this server yet", where, key));
}

json chat_messages(const json& messages) {
  if (!messages.is_array() || messages.empty()) throw invalid_request("messages: must be a non-empty array");
  json out = json::array();
  for (size_t i = 0; i < messages.size(); ++i) {
    const json& m = messages[i];
    const std::string where = fmt::format("messages[{}].", i);
    if (!m.is_object()) throw invalid_request(fmt::format("messages[{}]: must be an object", i));
    const std::string role = string_field(m, "role", where, "");
    if (role.empty()) throw invalid_request(where + "role: required");
    refuse_if_set(m, "images", where);
    refuse_if_set(m, "tool_calls", where);
    out.push_back({{"role", role}, {"content", string_field(m, "content", where, "")}});
  }
  return out;
}

}  // namespace

OllamaRequest parse_ollama_request(const json& body, bool chat, const ModelContext& model, int32_t max_tokens_limit) {
  if (!body.is_object()) throw invalid_request("the body must be a JSON object");
  OllamaRequest o;
  o.chat = chat;
  o.model = string_field(body, "model", "", "");
  if (o.model.empty()) throw invalid_request("model: required");
  if (!model.matches(o.model))
    throw ApiError(404, "MODEL_NOT_FOUND", fmt::format("model '{}' not found (this server has '{}')", o.model, model.id()));
  o.stream = bool_field(body, "stream", "", true);
  for (const char* key : {"format", "images", "tools", "suffix", "template"}) refuse_if_set(body, key, "");

  runtime::Request& r = o.request;
  sampling::SamplingParams& p = r.sampling;
  p.temperature = 0.8f;
  p.top_k = 40;
  p.top_p = 0.9f;
  p.min_p = 0.0f;
  p.repeat_penalty = 1.1f;
  p.repeat_last_n = 64;
  int64_t num_predict = -1;
  if (present(body, "options")) {
    const json& opt = body["options"];
    if (!opt.is_object()) throw invalid_request("options: must be an object");
    read_sampling_fields(opt, "options.", p);
    if (p.top_k < 0) throw invalid_request("options.top_k: must be 0 or more");
    if (p.repeat_last_n < -1) throw invalid_request("options.repeat_last_n: must be -1 or more");
    if (p.repeat_penalty <= 0) throw invalid_request("options.repeat_penalty: must be more than 0");
    num_predict = integer_field(opt, "num_predict", "options.", -1);
    if (num_predict < -2) throw invalid_request("options.num_predict: must be -2, -1 or 0 or more");
    r.stop = stop_field(opt, "stop", "options.");
  }
  if (num_predict < 0) num_predict = -1;
  if (max_tokens_limit > 0 && (num_predict < 0 || num_predict > max_tokens_limit)) num_predict = max_tokens_limit;
  r.max_tokens = static_cast<int32_t>(std::min<int64_t>(num_predict, INT32_MAX));

  if (chat) {
    if (!present(body, "messages")) throw invalid_request("messages: required");
    r.prompt = model.chat_tokens(chat_messages(body["messages"]));
  } else {
    const std::string prompt = string_field(body, "prompt", "", "");
    const std::string system = string_field(body, "system", "", "");
    const bool raw = bool_field(body, "raw", "", false);
    std::vector<int32_t> context;
    if (present(body, "context")) {
      const json& c = body["context"];
      if (!c.is_array()) throw invalid_request("context: must be an array of token ids");
      for (const json& t : c) {
        if (!t.is_number_integer() || t.get<int64_t>() < 0 || t.get<int64_t>() >= model.n_vocab())
          throw invalid_request("context: must be an array of this model's token ids");
        context.push_back(static_cast<int32_t>(t.get<int64_t>()));
      }
    }
    if (prompt.empty() && context.empty()) {
      o.load_only = true;
      return o;
    }
    const auto& tok = model.tokenizer();
    std::vector<int32_t> ids;
    if (!raw && !model.template_source().empty()) {
      json messages = json::array();
      if (!system.empty()) messages.push_back({{"role", "system"}, {"content", system}});
      messages.push_back({{"role", "user"}, {"content", prompt}});
      ids = model.chat_tokens(messages);
      // A continuation: the earlier turns' tokens already hold the BOS.
      if (!context.empty() && !ids.empty() && tok.bos() >= 0 && ids.front() == tok.bos()) ids.erase(ids.begin());
    } else {
      ids = tok.encode(prompt, /*add_special=*/context.empty(), /*parse_special=*/true);
    }
    r.prompt = std::move(context);
    r.prompt.insert(r.prompt.end(), ids.begin(), ids.end());
    if (r.prompt.empty()) throw invalid_request("prompt: tokenizes to nothing");
  }
  try {
    sampling::validate(p, model.n_vocab());
  } catch (const std::exception& e) {
    throw invalid_request(std::string("options: ") + e.what());
  }
  return o;
}

}  // namespace quarrel::server
