#include "chat/chat_template.h"

#include <cstdlib>

#include "chat/interpreter.h"
#include "chat/parser.h"

namespace quarrel::chat {

namespace {

std::string describe(TemplateErrorKind kind, int line, const std::string& detail) {
  const std::string where = line > 0 ? " at line " + std::to_string(line) : std::string();
  switch (kind) {
    case TemplateErrorKind::kSyntax: return "chat template syntax error" + where + ": " + detail;
    case TemplateErrorKind::kUnsupported: return "chat template uses something unsupported" + where + ": " + detail;
    case TemplateErrorKind::kRuntime: return "chat template error" + where + ": " + detail;
    case TemplateErrorKind::kRaised: return "chat template rejected the conversation" + where + ": " + detail;
  }
  return detail;
}

ErrorCode code_for(TemplateErrorKind kind) {
  switch (kind) {
    case TemplateErrorKind::kSyntax:
    case TemplateErrorKind::kUnsupported: return ErrorCode::kUnsupported;
    default: return ErrorCode::kInvalidArgument;
  }
}

std::chrono::system_clock::time_point default_now() {
  if (const char* fixed = std::getenv("QUARREL_FIXED_TIME"); fixed && *fixed) {
    char* end = nullptr;
    const long long secs = std::strtoll(fixed, &end, 10);
    if (end && *end == '\0') return std::chrono::system_clock::time_point(std::chrono::seconds(secs));
  }
  return std::chrono::system_clock::now();
}

}  // namespace

TemplateError::TemplateError(TemplateErrorKind kind, int line, std::string detail)
    : Error(code_for(kind), describe(kind, line, detail)), kind_(kind), line_(line), detail_(std::move(detail)) {}

ChatTemplate::ChatTemplate(std::string source) : source_(std::move(source)) {
  program_ = std::make_shared<const jinja::Program>(jinja::parse_source(source_));
}

std::string ChatTemplate::render_variables(const nlohmann::ordered_json& variables,
                                           std::optional<std::chrono::system_clock::time_point> now) const {
  if (!variables.is_object()) fail(ErrorCode::kInvalidArgument, "chat template variables must be a JSON object");
  jinja::EnvPtr globals = jinja::make_global_env();
  for (auto it = variables.begin(); it != variables.end(); ++it) globals->set(it.key(), jinja::from_json(it.value()));
  jinja::Interpreter interpreter(now ? *now : default_now());
  return interpreter.render(*program_, globals);
}

std::string ChatTemplate::render(const nlohmann::ordered_json& messages, const ChatOptions& options) const {
  if (!messages.is_array()) fail(ErrorCode::kInvalidArgument, "messages must be a JSON array");
  if (!options.tools.is_null() && !options.tools.is_array())
    fail(ErrorCode::kInvalidArgument, "tools must be a JSON array (or null)");
  if (!options.extra.is_null() && !options.extra.is_object())
    fail(ErrorCode::kInvalidArgument, "extra template variables must be a JSON object");
  nlohmann::ordered_json vars = options.extra.is_object() ? options.extra : nlohmann::ordered_json::object();
  vars["messages"] = messages;
  vars["tools"] = options.tools;
  vars["add_generation_prompt"] = options.add_generation_prompt;
  vars["bos_token"] = options.bos_token;
  vars["eos_token"] = options.eos_token;
  return render_variables(vars, options.now);
}

std::string render_chat(const std::string& template_source, const nlohmann::ordered_json& messages,
                        const ChatOptions& options) {
  return ChatTemplate(template_source).render(messages, options);
}

}  // namespace quarrel::chat
