#pragma once
// Built-in chat formats for models whose GGUF carries no template, and the choice of template
// for a model: a named template the GGUF has, the GGUF's default template, or a built-in format
// chosen by name or by the model's architecture.
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace quarrel::gguf {
class GgufFile;
}

namespace quarrel::chat {

struct NamedTemplate {
  std::string_view name;         // chatml, llama2, llama3, mistral, gemma, phi3, zephyr, deepseek
  std::string_view description;  // one line
  std::string_view source;       // Jinja source (message content may be a string or text parts)
};

const std::vector<NamedTemplate>& builtin_templates();
const NamedTemplate* find_builtin_template(std::string_view name);

struct SelectedTemplate {
  // Where it came from: "tokenizer.chat_template", "tokenizer.chat_template.<name>", or
  // "builtin:<name>".
  std::string origin;
  std::string source;
};

// Reads one string key of the model's metadata (nullopt when absent or not a string).
using MetadataLookup = std::function<std::optional<std::string>(std::string_view key)>;

// `name` given: the GGUF's tokenizer.chat_template.<name> if present, else the built-in format
// of that name ("default" means tokenizer.chat_template); an unknown name is an Error listing
// the choices. No name: tokenizer.chat_template if present, else the built-in format for the
// architecture (gemma* -> gemma, llama -> llama3 for a BPE vocabulary, llama2 otherwise, phi3,
// qwen* -> chatml, deepseek* -> deepseek, mistral* -> mistral), else chatml.
// `template_names` lists the NAMEs of the tokenizer.chat_template.NAME keys (for messages).
SelectedTemplate select_template(const MetadataLookup& lookup, std::string_view architecture,
                                 const std::vector<std::string>& template_names, std::optional<std::string> name);
SelectedTemplate select_template(const gguf::GgufFile& file, std::optional<std::string> name);

}  // namespace quarrel::chat
