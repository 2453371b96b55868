// quarrel template (MODEL | --file T.jinja | --name FORMAT) --messages M.json [--tools T.json]
//   [--add-generation-prompt] [--bos TEXT] [--eos TEXT] [--extra VARS.json]
// Renders a chat template with a conversation and prints the prompt exactly as a model would
// receive it (no newline added), so any template can be checked by hand.
#include <cstdio>
#include <fstream>
#include <iostream>
#include <iterator>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <string>

#include "apps/quarrel/command.h"
#include "chat/chat_template.h"
#include "chat/named_templates.h"
#include "core/error.h"
#include "gguf/gguf_file.h"

namespace quarrel::cli {
namespace {

using Json = nlohmann::ordered_json;

struct Options {
  std::string model;
  std::string file;
  std::string name;
  std::string messages;
  std::string tools;
  std::string extra;
  std::optional<std::string> bos, eos;
  bool add_generation_prompt = false;
};

std::string read_text(const std::string& path, const char* what) {
  if (path == "-") {
    std::ostringstream ss;
    ss << std::cin.rdbuf();
    return ss.str();
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) fail(ErrorCode::kNotFound, "cannot read {} file '{}'", what, path);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

Json read_json(const std::string& path, const char* what) {
  const std::string text = read_text(path, what);
  try {
    return Json::parse(text);
  } catch (const nlohmann::json::parse_error& e) {
    fail(ErrorCode::kInvalidArgument, "{} file '{}' is not valid JSON: {}", what, path, e.what());
  }
}

// The text of special token `which` ("bos", "eos") from the model's vocabulary, if it has one.
std::optional<std::string> special_token(const gguf::GgufFile& f, const char* which) {
  const gguf::Value* id = f.find(std::string("tokenizer.ggml.") + which + "_token_id");
  const gguf::Value* tokens = f.find("tokenizer.ggml.tokens");
  if (!id || !id->is_integer() || !tokens || !tokens->is_array()) return std::nullopt;
  const int64_t i = id->as_int();
  const auto& items = tokens->items();
  if (i < 0 || static_cast<size_t>(i) >= items.size() || !items[static_cast<size_t>(i)].is_string()) return std::nullopt;
  return items[static_cast<size_t>(i)].as_string();
}

int run(const Options& o) {
  const int sources = !o.model.empty() + !o.file.empty();
  if (sources > 1) fail(ErrorCode::kInvalidArgument, "give either MODEL or --file, not both");
  if (sources == 0 && o.name.empty()) fail(ErrorCode::kInvalidArgument, "give a MODEL, --file T.jinja or --name FORMAT");
  if (!o.file.empty() && !o.name.empty()) fail(ErrorCode::kInvalidArgument, "--name chooses a model's or a built-in template; it does not go with --file");

  chat::ChatOptions opts;
  std::string source;
  if (!o.file.empty()) {
    source = read_text(o.file, "template");
  } else if (!o.model.empty()) {
    const auto f = gguf::GgufFile::open(o.model);
    source = chat::select_template(f, o.name.empty() ? std::nullopt : std::optional<std::string>(o.name)).source;
    if (auto bos = special_token(f, "bos")) opts.bos_token = *bos;
    if (auto eos = special_token(f, "eos")) opts.eos_token = *eos;
  } else {
    const chat::NamedTemplate* t = chat::find_builtin_template(o.name);
    if (!t) {
      std::string names;
      for (const auto& b : chat::builtin_templates()) names += (names.empty() ? "" : ", ") + std::string(b.name);
      fail(ErrorCode::kNotFound, "no built-in chat format named '{}' (built in: {})", o.name, names);
    }
    source = std::string(t->source);
  }

  // --messages: a JSON array of messages, or an object with "messages" (and "tools"), as in an
  // OpenAI chat request.
  Json m = read_json(o.messages, "messages");
  Json messages;
  if (m.is_array()) {
    messages = std::move(m);
  } else if (m.is_object() && m.contains("messages")) {
    messages = m["messages"];
    if (m.contains("tools")) opts.tools = m["tools"];
  } else {
    fail(ErrorCode::kInvalidArgument, "messages file '{}' must hold a JSON array of messages (or an object with \"messages\")", o.messages);
  }
  if (!o.tools.empty()) {
    Json t = read_json(o.tools, "tools");
    if (t.is_object() && t.contains("tools")) t = t["tools"];
    if (!t.is_array()) fail(ErrorCode::kInvalidArgument, "tools file '{}' must hold a JSON array of tool definitions", o.tools);
    opts.tools = std::move(t);
  }
  if (!o.extra.empty()) {
    opts.extra = read_json(o.extra, "extra variables");
    if (!opts.extra.is_object()) fail(ErrorCode::kInvalidArgument, "extra variables file '{}' must hold a JSON object", o.extra);
  }
  if (o.bos) opts.bos_token = *o.bos;
  if (o.eos) opts.eos_token = *o.eos;
  opts.add_generation_prompt = o.add_generation_prompt;

  const std::string prompt = chat::ChatTemplate(std::move(source)).render(messages, opts);
  std::fwrite(prompt.data(), 1, prompt.size(), stdout);
  std::fflush(stdout);
  return 0;
}

const RegisterCommand kRegister{Command{
    "template", "Render a chat template with a conversation and print the exact prompt",
    [](CLI::App& sub) -> std::function<int()> {
      auto o = std::make_shared<Options>();
      sub.add_option("MODEL", o->model, "GGUF model whose template to use (tokenizer.chat_template)");
      sub.add_option("--file,-f", o->file, "Jinja template file to use instead of a model's");
      sub.add_option("--name,-n", o->name,
                     "A named template: the model's tokenizer.chat_template.NAME, or a built-in format "
                     "(chatml, llama2, llama3, mistral, gemma, phi3, zephyr, deepseek)");
      sub.add_option("--messages,-m", o->messages, "JSON file with the messages array ('-' for stdin)")->required();
      sub.add_option("--tools,-t", o->tools, "JSON file with an array of tool definitions");
      sub.add_flag("--add-generation-prompt,-g", o->add_generation_prompt, "End with the start of the assistant's turn");
      sub.add_option("--bos", o->bos, "Text of bos_token (default: the model's BOS token, else empty)");
      sub.add_option("--eos", o->eos, "Text of eos_token (default: the model's EOS token, else empty)");
      sub.add_option("--extra,-x", o->extra, "JSON file with an object of more template variables (enable_thinking, ...)");
      sub.footer(
          "The prompt is printed exactly, without a trailing newline. strftime_now() uses the current time, or "
          "QUARREL_FIXED_TIME (seconds since the epoch) when set.");
      return [o] { return run(*o); };
    }}};

}  // namespace
}  // namespace quarrel::cli
