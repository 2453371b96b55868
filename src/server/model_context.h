#pragma once
// What the routes need to know about the one served model: its API id, the engine, and its
// chat template with the tokenizer (messages -> prompt token ids).
#include <nlohmann/json.hpp>

#include <cstdint>
#include <ctime>
#include <string>
#include <vector>

#include "chat/chat_template.h"
#include "runtime/engine.h"

namespace quarrel::server {

class ModelContext {
 public:
  // id: the model's name in the API ("" = the file name without ".gguf").
  ModelContext(runtime::Engine& engine, std::string id);

  runtime::Engine& engine() const { return engine_; }
  const std::string& id() const { return id_; }
  const std::string& path() const { return engine_.model().path(); }
  int32_t n_vocab() const;
  std::time_t created() const { return created_; }
  const tokenizer::Tokenizer& tokenizer() const;
  // Whether `name` names this model (its id, or its file name).
  bool matches(const std::string& name) const;

  // Renders the messages with add_generation_prompt and tokenizes them (special-token text
  // becomes the token; one BOS in front when the model wants it). Throws ApiError(400) for a
  // template error or messages it cannot render.
  std::vector<int32_t> chat_tokens(const nlohmann::ordered_json& messages) const;
  const std::string& template_origin() const { return template_origin_; }
  const std::string& template_source() const { return template_source_; }

 private:
  runtime::Engine& engine_;
  std::string id_;
  std::time_t created_;
  std::string template_origin_, template_source_;
  std::unique_ptr<chat::ChatTemplate> template_;
  chat::ChatOptions options_;
};

}  // namespace quarrel::server
