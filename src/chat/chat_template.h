#pragma once
// Chat templates: turn a conversation (OpenAI-style messages) into the prompt text a model was
// trained on, by rendering the Jinja template the model ships (`tokenizer.chat_template`) or
// a built-in named format. The interpreter reproduces @huggingface/jinja (the renderer of
// transformers.js) byte for byte on real templates, with trim_blocks and lstrip_blocks on as
// transformers sets them.
//
//   quarrel::chat::ChatTemplate t(source);          // parse once (throws TemplateError)
//   std::string prompt = t.render(messages, opts);  // render per request; thread-safe
//
// Messages and tools are nlohmann::ordered_json so that objects keep their key order (tool
// schemas render with tojson in the order the client sent them).
#include <nlohmann/json.hpp>

#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include "chat/template_error.h"

namespace quarrel::chat {

namespace jinja {
struct Program;
}

struct ChatOptions {
  nlohmann::ordered_json tools;  // null (no tools) or an array of tool definitions
  bool add_generation_prompt = false;
  std::string bos_token;
  std::string eos_token;
  // More template variables (an object, or null): enable_thinking, reasoning_effort, documents...
  // The five above take precedence over keys of the same name here.
  nlohmann::ordered_json extra;
  // What strftime_now() formats (local time). Default: $QUARREL_FIXED_TIME (seconds since the
  // epoch) when set, else the current time.
  std::optional<std::chrono::system_clock::time_point> now;
};

class ChatTemplate {
 public:
  // Parses the template; a syntax error or an unsupported statement throws TemplateError.
  explicit ChatTemplate(std::string source);

  // Renders with the variables messages, tools, add_generation_prompt, bos_token, eos_token
  // and options.extra. `messages` must be an array. Errors are TemplateError (kRaised when the
  // template itself rejects the conversation) or Error(kInvalidArgument) for bad arguments.
  std::string render(const nlohmann::ordered_json& messages, const ChatOptions& options = {}) const;
  // Renders with exactly these variables (an object).
  std::string render_variables(const nlohmann::ordered_json& variables,
                               std::optional<std::chrono::system_clock::time_point> now = std::nullopt) const;

  const std::string& source() const { return source_; }

 private:
  std::string source_;
  std::shared_ptr<const jinja::Program> program_;
};

// Parse and render in one step.
std::string render_chat(const std::string& template_source, const nlohmann::ordered_json& messages,
                        const ChatOptions& options = {});

}  // namespace quarrel::chat
