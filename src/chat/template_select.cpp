// select_template for a GGUF file (the metadata lookup over GgufFile).
#include "chat/named_templates.h"
#include "gguf/gguf_file.h"

namespace quarrel::chat {

SelectedTemplate select_template(const gguf::GgufFile& file, std::optional<std::string> name) {
  const MetadataLookup lookup = [&file](std::string_view key) -> std::optional<std::string> {
    const gguf::Value* v = file.find(key);
    if (!v || !v->is_string()) return std::nullopt;
    return v->as_string();
  };
  static constexpr std::string_view kPrefix = "tokenizer.chat_template.";
  std::vector<std::string> names;
  for (const auto& [key, value] : file.metadata())
    if (key.size() > kPrefix.size() && key.compare(0, kPrefix.size(), kPrefix) == 0 && value.is_string())
      names.push_back(key.substr(kPrefix.size()));
  const gguf::Value* arch = file.find("general.architecture");
  const std::string architecture = arch && arch->is_string() ? arch->as_string() : std::string();
  return select_template(lookup, architecture, names, std::move(name));
}

}  // namespace quarrel::chat
