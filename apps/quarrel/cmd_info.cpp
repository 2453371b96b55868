// quarrel info MODEL [--json]: what a GGUF file holds: architecture, parameter count, file type
// and tensor-type mix, context length, vocabulary, chat template, every metadata key (long
// arrays summarised) and the tensor table.
#include <fmt/format.h>

#include <algorithm>
#include <cstdio>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "apps/quarrel/command.h"
#include "core/error.h"
#include "gguf/file_type.h"
#include "gguf/gguf_file.h"
#include "gguf/keys.h"

namespace quarrel::cli {
namespace {

using gguf::GgufFile;
using gguf::Value;
using gguf::ValueType;
using Json = nlohmann::ordered_json;

constexpr size_t kArrayShown = 8;        // items shown of an array longer than kArrayFull
constexpr size_t kArrayFull = 16;        // arrays up to this long are shown whole
constexpr size_t kTextStringChars = 100;  // text output cuts strings after this many bytes

std::string human_bytes(uint64_t n) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double v = static_cast<double>(n);
  int u = 0;
  while (v >= 1024 && u < 4) {
    v /= 1024;
    ++u;
  }
  return u == 0 ? fmt::format("{} B", n) : fmt::format("{:.2f} {}", v, units[u]);
}

std::string human_count(uint64_t n) {
  if (n >= 1000000000ull) return fmt::format("{:.2f}B", static_cast<double>(n) / 1e9);
  if (n >= 1000000ull) return fmt::format("{:.2f}M", static_cast<double>(n) / 1e6);
  if (n >= 1000ull) return fmt::format("{:.2f}K", static_cast<double>(n) / 1e3);
  return std::to_string(n);
}

// Summary facts, tolerant of keys that are missing or of an unexpected type.
struct Summary {
  std::string architecture;  // "" when general.architecture is missing
  std::string name;
  uint64_t parameters = 0;
  std::optional<uint64_t> file_type;
  std::optional<std::string> file_type_name;
  std::optional<uint64_t> context_length;
  std::optional<uint64_t> vocab_size;
  std::optional<std::string> tokenizer;
  bool chat_template = false;
  struct Mix {
    size_t count = 0;
    uint64_t bytes = 0;
  };
  std::vector<std::pair<GgmlType, Mix>> mix;  // by type number
};

std::optional<uint64_t> uint_key(const GgufFile& f, std::string_view key) {
  const Value* v = f.find(key);
  if (!v || !v->is_integer() || v->as_float() < 0) return std::nullopt;
  return v->as_uint();
}

std::optional<std::string> string_key(const GgufFile& f, std::string_view key) {
  const Value* v = f.find(key);
  if (!v || !v->is_string()) return std::nullopt;
  return v->as_string();
}

Summary summarize(const GgufFile& f) {
  Summary s;
  s.architecture = string_key(f, gguf::keys::kGeneralArchitecture).value_or("");
  s.name = string_key(f, gguf::keys::kGeneralName).value_or("");
  std::map<uint32_t, Summary::Mix> mix;
  for (const auto& t : f.tensors()) {
    s.parameters += t.n_elements();
    auto& m = mix[static_cast<uint32_t>(t.type)];
    ++m.count;
    m.bytes += t.n_bytes();
  }
  for (const auto& [type, m] : mix) s.mix.emplace_back(static_cast<GgmlType>(type), m);
  s.file_type = uint_key(f, gguf::keys::kGeneralFileType);
  if (s.file_type) {
    const auto n = gguf::file_type_name(static_cast<uint32_t>(std::min<uint64_t>(*s.file_type, UINT32_MAX)));
    s.file_type_name = n ? std::string(*n) : fmt::format("unknown ({})", *s.file_type);
  }
  if (!s.architecture.empty()) {
    s.context_length = uint_key(f, s.architecture + "." + std::string(gguf::keys::kContextLength));
    s.vocab_size = uint_key(f, s.architecture + "." + std::string(gguf::keys::kVocabSize));
  }
  if (const Value* tokens = f.find(gguf::keys::kTokenizerTokens); tokens && tokens->is_array())
    s.vocab_size = tokens->size();
  s.tokenizer = string_key(f, gguf::keys::kTokenizerModel);
  s.chat_template = f.has(gguf::keys::kTokenizerChatTemplate);
  return s;
}

// ---- JSON ---------------------------------------------------------------------------------

Json scalar_json(const Value& v) {
  switch (v.type()) {
    case ValueType::kString: return v.as_string();
    case ValueType::kBool: return v.as_bool();
    case ValueType::kF32: case ValueType::kF64: return v.as_float();
    case ValueType::kI8: case ValueType::kI16: case ValueType::kI32: case ValueType::kI64: return v.as_int();
    default: return v.as_uint();
  }
}

// {"type": "u32", "value": 7}, or for arrays {"type": "array", "element_type": "string",
// "length": 512, "items": [first 8...], "truncated": true}.
Json value_json(const Value& v) {
  Json j;
  j["type"] = std::string(gguf::value_type_name(v.type()));
  if (!v.is_array()) {
    j["value"] = scalar_json(v);
    return j;
  }
  j["element_type"] = std::string(gguf::value_type_name(v.array_type()));
  j["length"] = v.size();
  const size_t shown = v.size() <= kArrayFull ? v.size() : kArrayShown;
  Json items = Json::array();
  for (size_t i = 0; i < shown; ++i) {
    const Value& it = v.items()[i];
    items.push_back(it.is_array() ? value_json(it) : scalar_json(it));
  }
  j["items"] = std::move(items);
  j["truncated"] = shown < v.size();
  return j;
}

Json info_json(const GgufFile& f, const Summary& s) {
  Json j;
  j["path"] = f.path();
  j["file_size"] = f.file_size();
  j["gguf_version"] = f.version();
  j["alignment"] = f.alignment();
  j["data_offset"] = f.tensors().empty() ? Json() : Json(f.data_offset());  // no data section without tensors
  j["architecture"] = s.architecture.empty() ? Json() : Json(s.architecture);
  j["name"] = s.name.empty() ? Json() : Json(s.name);
  j["parameters"] = s.parameters;
  if (s.file_type)
    j["file_type"] = {{"id", *s.file_type}, {"name", *s.file_type_name}};
  else
    j["file_type"] = nullptr;
  Json mix = Json::array();
  for (const auto& [type, m] : s.mix)
    mix.push_back({{"type", std::string(type_name(type))}, {"count", m.count}, {"bytes", m.bytes}});
  j["tensor_types"] = std::move(mix);
  j["context_length"] = s.context_length ? Json(*s.context_length) : Json();
  j["vocab_size"] = s.vocab_size ? Json(*s.vocab_size) : Json();
  j["tokenizer"] = s.tokenizer ? Json(*s.tokenizer) : Json();
  j["chat_template"] = s.chat_template;
  Json meta = Json::object();
  for (const auto& [k, v] : f.metadata()) meta[k] = value_json(v);
  j["metadata"] = std::move(meta);
  Json tensors = Json::array();
  for (const auto& t : f.tensors())
    tensors.push_back({{"name", t.name},
                       {"shape", t.shape},
                       {"type", std::string(type_name(t.type))},
                       {"bytes", t.n_bytes()},
                       {"offset", t.offset}});
  j["tensors"] = std::move(tensors);
  return j;
}

// ---- text ---------------------------------------------------------------------------------

std::string value_text(const Value& v) {
  if (v.is_array()) {
    const size_t shown = v.size() <= kArrayFull ? kArrayFull : kArrayShown;
    return v.to_display(shown, 40);
  }
  if (v.is_string() && v.as_string().size() > kTextStringChars)
    return v.to_display(kArrayShown, kTextStringChars) + fmt::format(" ({} bytes)", v.as_string().size());
  return v.to_display(kArrayShown, kTextStringChars);
}

void print_text(const GgufFile& f, const Summary& s) {
  auto opt = [](const auto& o) { return o ? fmt::format("{}", *o) : std::string("(not set)"); };
  fmt::print("file:           {} ({}, GGUF v{}, alignment {})\n", f.path(), human_bytes(f.file_size()), f.version(),
             f.alignment());
  fmt::print("architecture:   {}\n", s.architecture.empty() ? "(not set)" : s.architecture);
  if (!s.name.empty()) fmt::print("name:           {}\n", s.name);
  fmt::print("parameters:     {} ({})\n", human_count(s.parameters), s.parameters);
  fmt::print("file type:      {}\n", s.file_type ? fmt::format("{} ({})", *s.file_type_name, *s.file_type) : "(not set)");
  fmt::print("context length: {}\n", opt(s.context_length));
  fmt::print("vocabulary:     {} tokens, tokenizer {}\n", opt(s.vocab_size), opt(s.tokenizer));
  fmt::print("chat template:  {}\n", s.chat_template ? "yes" : "no");
  fmt::print("\ntensor types:\n");
  for (const auto& [type, m] : s.mix)
    fmt::print("  {:<8} {:>6} tensors  {:>12}  ({} bytes)\n", type_name(type), m.count, human_bytes(m.bytes), m.bytes);

  fmt::print("\nmetadata ({} keys):\n", f.metadata().size());
  size_t kw = 0;
  for (const auto& [k, v] : f.metadata()) kw = std::max(kw, k.size());
  for (const auto& [k, v] : f.metadata())
    fmt::print("  {:<{}}  {:<6}  {}\n", k, kw, gguf::value_type_name(v.type()), value_text(v));

  fmt::print("\ntensors ({}):\n", f.tensors().size());
  size_t nw = 4, sw = 5;
  for (const auto& t : f.tensors()) {
    nw = std::max(nw, t.name.size());
    sw = std::max(sw, gguf::format_shape(t.shape).size());
  }
  fmt::print("  {:<{}}  {:<{}}  {:<7}  {:>12}\n", "name", nw, "shape", sw, "type", "bytes");
  for (const auto& t : f.tensors())
    fmt::print("  {:<{}}  {:<{}}  {:<7}  {:>12}\n", t.name, nw, gguf::format_shape(t.shape), sw, type_name(t.type),
               t.n_bytes());
}

int run(const std::string& model, bool json) {
  const GgufFile f = GgufFile::open(model);
  const Summary s = summarize(f);
  if (json)
    fmt::print("{}\n", info_json(f, s).dump(2));
  else
    print_text(f, s);
  std::fflush(stdout);
  return 0;
}

const RegisterCommand kRegister{Command{
    "info", "Show what a GGUF model file holds: architecture, size, types, metadata, tensors",
    [](CLI::App& sub) -> std::function<int()> {
      auto model = std::make_shared<std::string>();
      auto json = std::make_shared<bool>(false);
      sub.add_option("MODEL", *model, "GGUF file")->required();
      sub.add_flag("--json", *json, "Print one JSON object instead of text");
      return [model, json] { return run(*model, *json); };
    }}};

}  // namespace
}  // namespace quarrel::cli
