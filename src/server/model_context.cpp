#include "server/model_context.h"

#include <filesystem>

#include "chat/named_templates.h"
#include "core/error.h"
#include "server/api_error.h"

namespace quarrel::server {

ModelContext::ModelContext(runtime::Engine& engine, std::string id) : engine_(engine), id_(std::move(id)) {
  if (id_.empty()) id_ = std::filesystem::path(engine.model().path()).stem().string();
  created_ = std::time(nullptr);
  if (engine.tokenizer()) {
    try {
      auto sel = chat::select_template(engine.model().file(), std::nullopt);
      template_origin_ = sel.origin;
      template_source_ = sel.source;
      template_ = std::make_unique<chat::ChatTemplate>(sel.source);
    } catch (const std::exception&) {
      // No usable template: chat routes answer 400, completions still work.
    }
    const auto& tok = *engine.tokenizer();
    if (tok.bos() >= 0) options_.bos_token = tok.token_text(tok.bos());
    if (tok.eos() >= 0) options_.eos_token = tok.token_text(tok.eos());
  }
  options_.add_generation_prompt = true;
}

int32_t ModelContext::n_vocab() const {
  return engine_.tokenizer() ? static_cast<int32_t>(engine_.tokenizer()->n_tokens()) : 0;
}

const tokenizer::Tokenizer& ModelContext::tokenizer() const {
  if (!engine_.tokenizer()) throw ApiError(400, "INVALID_REQUEST", "the model has no tokenizer");
  return *engine_.tokenizer();
}

bool ModelContext::matches(const std::string& name) const {
  return name == id_ || name == std::filesystem::path(path()).filename().string();
}

std::vector<int32_t> ModelContext::chat_tokens(const nlohmann::ordered_json& messages) const {
  if (!template_) throw invalid_request(id_ + ": the model has no usable chat template");
  std::string text;
  try {
    text = template_->render(messages, options_);
  } catch (const std::exception& e) {
    throw invalid_request(std::string("messages: the chat template failed: ") + e.what());
  }
  const auto& tok = tokenizer();
  std::vector<int32_t> ids = tok.encode(text, /*add_special=*/false, /*parse_special=*/true);
  if (tok.add_bos() && tok.bos() >= 0 && (ids.empty() || ids.front() != tok.bos())) ids.insert(ids.begin(), tok.bos());
  return ids;
}

}  // namespace quarrel::server
