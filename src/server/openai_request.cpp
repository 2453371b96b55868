#include "server/openai_request.h"

#include <cmath>
#include <fmt/format.h>

#include "server/api_error.h"

namespace quarrel::server {
namespace {

using json = nlohmann::ordered_json;

const json* find(const json& obj, const std::string& key) {
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return nullptr;
  return &*it;
}

[[noreturn]] void wrong_type(const std::string& where, const std::string& key, const char* want) {
  throw invalid_request(fmt::format("{}{}: must be {}", where, key, want));
}

// Chat message content: a string, or an array of {type: "text", text} parts (joined).
json normalize_messages(const json& messages) {
  if (!messages.is_array() || messages.empty()) throw invalid_request("messages: must be a non-empty array");
  json out = json::array();
  for (size_t i = 0; i < messages.size(); ++i) {
    const json& m = messages[i];
    const std::string where = fmt::format("messages[{}]", i);
    if (!m.is_object()) throw invalid_request(where + ": must be an object");
    auto role = m.find("role");
    if (role == m.end() || !role->is_string()) throw invalid_request(where + ".role: must be a string");
    json msg = m;
    auto content = m.find("content");
    if (content != m.end() && content->is_array()) {
      std::string text;
      for (const json& part : *content) {
        if (!part.is_object() || part.value("type", "") != "text" || !part.contains("text") || !part["text"].is_string())
          throw invalid_request(where + ".content: only text parts are supported");
        text += part["text"].get<std::string>();
      }
      msg["content"] = text;
    } else if (content != m.end() && !content->is_string() && !content->is_null()) {
      throw invalid_request(where + ".content: must be a string or an array of text parts");
    }
    out.push_back(std::move(msg));
  }
  return out;
}

}  // namespace

double number_field(const json& obj, const std::string& key, const std::string& where, double def) {
  const json* v = find(obj, key);
  if (!v) return def;
  if (!v->is_number()) wrong_type(where, key, "a number");
  const double d = v->get<double>();
  if (!std::isfinite(d)) wrong_type(where, key, "a finite number");
  return d;
}

int64_t integer_field(const json& obj, const std::string& key, const std::string& where, int64_t def) {
  const json* v = find(obj, key);
  if (!v) return def;
  if (v->is_number_integer()) return v->get<int64_t>();
  if (v->is_number_float() && std::floor(v->get<double>()) == v->get<double>() && std::abs(v->get<double>()) < 1e15)
    return static_cast<int64_t>(v->get<double>());
  wrong_type(where, key, "an integer");
}

bool bool_field(const json& obj, const std::string& key, const std::string& where, bool def) {
  const json* v = find(obj, key);
  if (!v) return def;
  if (!v->is_boolean()) wrong_type(where, key, "true or false");
  return v->get<bool>();
}

std::string string_field(const json& obj, const std::string& key, const std::string& where, const std::string& def) {
  const json* v = find(obj, key);
  if (!v) return def;
  if (!v->is_string()) wrong_type(where, key, "a string");
  return v->get<std::string>();
}

std::vector<std::string> stop_field(const json& obj, const std::string& key, const std::string& where) {
  const json* v = find(obj, key);
  std::vector<std::string> out;
  if (!v) return out;
  if (v->is_string()) {
    out.push_back(v->get<std::string>());
  } else if (v->is_array()) {
    for (const json& s : *v) {
      if (!s.is_string()) wrong_type(where, key, "a string or an array of strings");
      out.push_back(s.get<std::string>());
    }
  } else {
    wrong_type(where, key, "a string or an array of strings");
  }
  if (out.size() > 16) throw invalid_request(fmt::format("{}{}: at most 16 stop strings", where, key));
  for (const auto& s : out)
    if (s.empty()) throw invalid_request(fmt::format("{}{}: stop strings must not be empty", where, key));
  return out;
}

void read_sampling_fields(const json& obj, const std::string& where, sampling::SamplingParams& p) {
  p.temperature = static_cast<float>(number_field(obj, "temperature", where, p.temperature));
  if (p.temperature < 0 || p.temperature > 2) throw invalid_request(where + "temperature: must be in [0, 2]");
  p.top_p = static_cast<float>(number_field(obj, "top_p", where, p.top_p));
  if (p.top_p <= 0 || p.top_p > 1) throw invalid_request(where + "top_p: must be in (0, 1]");
  p.top_k = static_cast<int32_t>(integer_field(obj, "top_k", where, p.top_k));
  p.min_p = static_cast<float>(number_field(obj, "min_p", where, p.min_p));
  p.typical_p = static_cast<float>(number_field(obj, "typical_p", where, p.typical_p));
  p.presence_penalty = static_cast<float>(number_field(obj, "presence_penalty", where, p.presence_penalty));
  p.frequency_penalty = static_cast<float>(number_field(obj, "frequency_penalty", where, p.frequency_penalty));
  if (std::abs(p.presence_penalty) > 2) throw invalid_request(where + "presence_penalty: must be in [-2, 2]");
  if (std::abs(p.frequency_penalty) > 2) throw invalid_request(where + "frequency_penalty: must be in [-2, 2]");
  p.repeat_penalty = static_cast<float>(number_field(obj, "repeat_penalty", where, p.repeat_penalty));
  p.repeat_last_n = static_cast<int32_t>(integer_field(obj, "repeat_last_n", where, p.repeat_last_n));
  const json* seed = find(obj, "seed");
  if (seed) {
    const int64_t s = integer_field(obj, "seed", where, 0);
    p.seed = static_cast<uint64_t>(s);
  }
}

GenerationRequest parse_openai_request(const json& body, bool chat, const ModelContext& model,
                                       int32_t max_tokens_limit) {
  if (!body.is_object()) throw invalid_request("the body must be a JSON object");
  GenerationRequest g;
  g.chat = chat;
  const json* m = find(body, "model");
  if (m && !m->is_string()) wrong_type("", "model", "a string");
  if (m && !model.matches(m->get<std::string>()))
    throw ApiError(404, "MODEL_NOT_FOUND", fmt::format("model '{}' is not served here (try '{}')",
                                                       m->get<std::string>(), model.id()));
  const int64_t n = integer_field(body, "n", "", 1);
  if (n != 1) throw invalid_request("n: only 1 is supported");

  runtime::Request& r = g.request;
  sampling::SamplingParams& p = r.sampling;
  p.temperature = 1.0f;
  p.top_p = 1.0f;
  p.top_k = 0;
  p.min_p = 0.0f;
  p.repeat_last_n = -1;
  read_sampling_fields(body, "", p);

  int64_t max_tokens = integer_field(body, "max_tokens", "", chat ? -1 : 16);
  max_tokens = integer_field(body, "max_completion_tokens", "", max_tokens);
  if (max_tokens < -1) throw invalid_request("max_tokens: must be 0 or more");
  if (max_tokens_limit > 0 && max_tokens > max_tokens_limit)
    throw invalid_request(fmt::format("max_tokens: at most {}", max_tokens_limit));
  if (max_tokens > model.engine().n_ctx() && model.engine().n_ctx() > 0)
    throw ApiError(400, "CONTEXT_OVERFLOW",
                   fmt::format("max_tokens: {} is more than the context ({})", max_tokens, model.engine().n_ctx()));
  r.max_tokens = static_cast<int32_t>(max_tokens);
  r.stop = stop_field(body, "stop", "");

  if (const json* lb = find(body, "logit_bias")) {
    if (!lb->is_object()) wrong_type("", "logit_bias", "an object of token id -> bias");
    for (auto it = lb->begin(); it != lb->end(); ++it) {
      int64_t id = -1;
      try {
        size_t used = 0;
        id = std::stoll(it.key(), &used);
        if (used != it.key().size()) id = -1;
      } catch (const std::exception&) {
        id = -1;
      }
      if (id < 0 || id >= model.n_vocab())
        throw invalid_request(fmt::format("logit_bias: '{}' is not a token id of this model", it.key()));
      if (!it.value().is_number()) wrong_type("logit_bias.", it.key(), "a number");
      const double b = it.value().get<double>();
      if (b < -100 || b > 100) throw invalid_request(fmt::format("logit_bias.{}: must be in [-100, 100]", it.key()));
      p.logit_bias[static_cast<int32_t>(id)] = b <= -100 ? -INFINITY : static_cast<float>(b);
    }
  }

  g.stream = bool_field(body, "stream", "", false);
  if (const json* so = find(body, "stream_options")) {
    if (!so->is_object()) wrong_type("", "stream_options", "an object");
    g.include_usage = bool_field(*so, "include_usage", "stream_options.", false);
  }

  if (chat) {
    g.logprobs = bool_field(body, "logprobs", "", false);
    g.top_logprobs = static_cast<int32_t>(integer_field(body, "top_logprobs", "", 0));
    if (g.top_logprobs < 0 || g.top_logprobs > 20) throw invalid_request("top_logprobs: must be in [0, 20]");
    if (g.top_logprobs > 0 && !g.logprobs) throw invalid_request("top_logprobs: needs logprobs: true");
    const json* messages = find(body, "messages");
    if (!messages) throw invalid_request("messages: required");
    r.prompt = model.chat_tokens(normalize_messages(*messages));
  } else {
    const json* lp = find(body, "logprobs");
    if (lp) {
      g.top_logprobs = static_cast<int32_t>(integer_field(body, "logprobs", "", 0));
      if (g.top_logprobs < 0 || g.top_logprobs > 5) throw invalid_request("logprobs: must be in [0, 5]");
      g.logprobs = true;
    }
    g.echo = bool_field(body, "echo", "", false);
    const json* prompt = find(body, "prompt");
    if (!prompt) throw invalid_request("prompt: required");
    if (prompt->is_array() && prompt->size() == 1 && (*prompt)[0].is_string()) prompt = &(*prompt)[0];
    if (prompt->is_string()) {
      r.prompt_text = prompt->get<std::string>();
      g.prompt_text = r.prompt_text;
    } else if (prompt->is_array() && !prompt->empty()) {
      for (const json& t : *prompt) {
        if (!t.is_number_integer()) wrong_type("", "prompt", "a string or an array of token ids");
        const int64_t id = t.get<int64_t>();
        if (id < 0 || id >= model.n_vocab()) throw invalid_request(fmt::format("prompt: token id {} is out of range", id));
        r.prompt.push_back(static_cast<int32_t>(id));
      }
      if (g.echo) g.prompt_text = model.tokenizer().decode(r.prompt);
    } else {
      wrong_type("", "prompt", "a string or a non-empty array of token ids");
    }
    if (const json* suffix = find(body, "suffix"); suffix && !suffix->is_string()) wrong_type("", "suffix", "a string");
  }
  p.logprobs = g.logprobs;
  p.top_logprobs = g.top_logprobs;
  try {
    sampling::validate(p, model.n_vocab());
  } catch (const std::exception& e) {
    throw invalid_request(e.what());
  }
  return g;
}

std::string finish_reason(runtime::StopReason reason) {
  switch (reason) {
    case runtime::StopReason::kStopToken:
    case runtime::StopReason::kStopString:
      return "stop";
    case runtime::StopReason::kLength:
    case runtime::StopReason::kContextFull:
      return "length";
    case runtime::StopReason::kCancelled:
      return "cancelled";
    case runtime::StopReason::kTimeout:
      return "timeout";
    case runtime::StopReason::kError:
      return "error";
    case runtime::StopReason::kNone:
      break;
  }
  return "stop";
}

}  // namespace quarrel::server
