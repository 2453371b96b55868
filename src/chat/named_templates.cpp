#include "chat/named_templates.h"

#include "core/error.h"

namespace quarrel::chat {

namespace {

// Every format starts with this macro: message content as a string, or a list of parts whose
// text parts are concatenated.
#define QUARREL_TEXT_MACRO                                                                              \
  "{%- macro text(content) -%}"                                                                         \
  "{%- if content is string -%}{{ content }}"                                                           \
  "{%- elif content is iterable -%}"                                                                    \
  "{%- for part in content -%}"                                                                         \
  "{%- if part is string -%}{{ part }}{%- elif part is mapping and part.type == 'text' -%}{{ part.text }}{%- endif -%}" \
  "{%- endfor -%}"                                                                                      \
  "{%- elif content is defined and content is not none -%}{{ content }}"                               \
  "{%- endif -%}"                                                                                       \
  "{%- endmacro -%}\n"

constexpr std::string_view kChatml = QUARREL_TEXT_MACRO R"J(
{%- for message in messages -%}
{{ '<|im_start|>' + message.role + '\n' + text(message.content) + '<|im_end|>\n' }}
{%- endfor -%}
{%- if add_generation_prompt -%}{{ '<|im_start|>assistant\n' }}{%- endif -%}
)J";

constexpr std::string_view kLlama2 = QUARREL_TEXT_MACRO R"J(
{%- if messages and messages[0].role == 'system' -%}
{%- set system = text(messages[0].content) -%}{%- set loop_messages = messages[1:] -%}
{%- else -%}
{%- set system = '' -%}{%- set loop_messages = messages -%}
{%- endif -%}
{%- for message in loop_messages -%}
{%- set content = text(message.content) -%}
{%- if loop.first and system -%}{%- set content = '<<SYS>>\n' + system + '\n<</SYS>>\n\n' + content -%}{%- endif -%}
{%- if message.role == 'user' -%}{{ bos_token + '[INST] ' + content.strip() + ' [/INST]' }}
{%- elif message.role == 'assistant' -%}{{ ' ' + content.strip() + ' ' + eos_token }}
{%- endif -%}
{%- endfor -%}
)J";

constexpr std::string_view kLlama3 = QUARREL_TEXT_MACRO R"J(
{{- bos_token -}}
{%- for message in messages -%}
{{ '<|start_header_id|>' + message.role + '<|end_header_id|>\n\n' + text(message.content) | trim + '<|eot_id|>' }}
{%- endfor -%}
{%- if add_generation_prompt -%}{{ '<|start_header_id|>assistant<|end_header_id|>\n\n' }}{%- endif -%}
)J";

constexpr std::string_view kMistral = QUARREL_TEXT_MACRO R"J(
{{- bos_token -}}
{%- for message in messages -%}
{%- if message.role == 'system' -%}{{ '[SYSTEM_PROMPT] ' + text(message.content) + '[/SYSTEM_PROMPT]' }}
{%- elif message.role == 'user' -%}{{ '[INST] ' + text(message.content) + '[/INST]' }}
{%- elif message.role == 'assistant' -%}{{ ' ' + text(message.content) + eos_token }}
{%- endif -%}
{%- endfor -%}
)J";

constexpr std::string_view kGemma = QUARREL_TEXT_MACRO R"J(
{{- bos_token -}}
{%- if messages and messages[0].role == 'system' -%}
{%- set system = text(messages[0].content) + '\n\n' -%}{%- set loop_messages = messages[1:] -%}
{%- else -%}
{%- set system = '' -%}{%- set loop_messages = messages -%}
{%- endif -%}
{%- for message in loop_messages -%}
{%- set role = 'model' if message.role == 'assistant' else message.role -%}
{{ '<start_of_turn>' + role + '\n' + (system if loop.first else '') + text(message.content) | trim + '<end_of_turn>\n' }}
{%- endfor -%}
{%- if add_generation_prompt -%}{{ '<start_of_turn>model\n' }}{%- endif -%}
)J";

constexpr std::string_view kPhi3 = QUARREL_TEXT_MACRO R"J(
{%- for message in messages -%}
{{ '<|' + message.role + '|>\n' + text(message.content) + '<|end|>\n' }}
{%- endfor -%}
{%- if add_generation_prompt -%}{{ '<|assistant|>\n' }}{%- else -%}{{ eos_token }}{%- endif -%}
)J";

constexpr std::string_view kZephyr = QUARREL_TEXT_MACRO R"J(
{%- for message in messages -%}
{{ '<|' + message.role + '|>\n' + text(message.content) + eos_token + '\n' }}
{%- endfor -%}
{%- if add_generation_prompt -%}{{ '<|assistant|>\n' }}{%- endif -%}
)J";

constexpr std::string_view kDeepseek = QUARREL_TEXT_MACRO R"J(
{{- bos_token -}}
{%- for message in messages -%}{%- if message.role == 'system' -%}{{ text(message.content) }}{%- endif -%}{%- endfor -%}
{%- for message in messages -%}
{%- if message.role == 'user' -%}{{ '<｜User｜>' + text(message.content) }}
{%- elif message.role == 'assistant' -%}{{ '<｜Assistant｜>' + text(message.content) + '<｜end▁of▁sentence｜>' }}
{%- endif -%}
{%- endfor -%}
{%- if add_generation_prompt -%}{{ '<｜Assistant｜>' }}{%- endif -%}
)J";

#undef QUARREL_TEXT_MACRO

std::string join_names(const std::vector<std::string>& names) {
  std::string s;
  for (const auto& n : names) s += (s.empty() ? "" : ", ") + n;
  return s.empty() ? "none" : s;
}

bool starts_with(std::string_view s, std::string_view p) { return s.substr(0, p.size()) == p; }

std::string_view format_for_architecture(std::string_view arch, const MetadataLookup& lookup) {
  if (starts_with(arch, "gemma")) return "gemma";
  if (arch == "llama") {
    const auto model = lookup("tokenizer.ggml.model");
    return model && *model == "gpt2" ? "llama3" : "llama2";
  }
  if (starts_with(arch, "phi3")) return "phi3";
  if (starts_with(arch, "qwen")) return "chatml";
  if (starts_with(arch, "deepseek")) return "deepseek";
  if (starts_with(arch, "mistral")) return "mistral";
  return "chatml";
}

}  // namespace

const std::vector<NamedTemplate>& builtin_templates() {
  static const std::vector<NamedTemplate> all = {
      {"chatml", "<|im_start|>role\\n...<|im_end|> (Qwen, Hermes, many fine-tunes)", kChatml},
      {"llama2", "[INST] <<SYS>>...<</SYS>> ... [/INST] (Llama 2 chat)", kLlama2},
      {"llama3", "<|start_header_id|>role<|end_header_id|>...<|eot_id|> (Llama 3)", kLlama3},
      {"mistral", "[SYSTEM_PROMPT]...[/SYSTEM_PROMPT][INST]...[/INST] (Mistral v7)", kMistral},
      {"gemma", "<start_of_turn>user/model ... <end_of_turn> (Gemma)", kGemma},
      {"phi3", "<|user|>...<|end|><|assistant|> (Phi-3)", kPhi3},
      {"zephyr", "<|user|>...</s> (Zephyr)", kZephyr},
      {"deepseek", "<｜User｜>...<｜Assistant｜> (DeepSeek R1 / V3)", kDeepseek},
  };
  return all;
}

const NamedTemplate* find_builtin_template(std::string_view name) {
  for (const auto& t : builtin_templates())
    if (t.name == name) return &t;
  return nullptr;
}

SelectedTemplate select_template(const MetadataLookup& lookup, std::string_view architecture,
                                 const std::vector<std::string>& template_names, std::optional<std::string> name) {
  static const std::string kDefaultKey = "tokenizer.chat_template";
  if (name) {
    if (*name == "default") {
      if (auto src = lookup(kDefaultKey)) return {kDefaultKey, *src};
      fail(ErrorCode::kNotFound, "the model has no default chat template (tokenizer.chat_template)");
    }
    const std::string key = kDefaultKey + "." + *name;
    if (auto src = lookup(key)) return {key, *src};
    if (const NamedTemplate* t = find_builtin_template(*name)) return {"builtin:" + *name, std::string(t->source)};
    std::vector<std::string> builtin;
    for (const auto& t : builtin_templates()) builtin.emplace_back(t.name);
    fail(ErrorCode::kNotFound, "no chat template named '{}' (the model has: {}; built in: {})", *name,
         join_names(template_names), join_names(builtin));
  }
  if (auto src = lookup(kDefaultKey)) return {kDefaultKey, *src};
  const std::string_view fmt = format_for_architecture(architecture, lookup);
  return {"builtin:" + std::string(fmt), std::string(find_builtin_template(fmt)->source)};
}

}  // namespace quarrel::chat
