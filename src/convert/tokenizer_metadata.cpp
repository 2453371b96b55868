#include "convert/tokenizer_metadata.h"

#include <fstream>
#include <sstream>

#include "core/error.h"
#include "gguf/keys.h"

namespace quarrel::convert {
namespace {

using json = nlohmann::json;
namespace k = gguf::keys;

bool has_key(const tokenizer::GgufKeyValues& kv, std::string_view key) {
  for (const auto& [name, v] : kv)
    if (name == key) return true;
  return false;
}

// The first id of an int or a list of ints; -1 otherwise.
int64_t first_id(const json& j, const char* key) {
  if (!j.is_object() || !j.contains(key)) return -1;
  const json& v = j[key];
  if (v.is_number_integer()) return v.get<int64_t>();
  if (v.is_array() && !v.empty() && v[0].is_number_integer()) return v[0].get<int64_t>();
  return -1;
}

// The single-sequence template of a TemplateProcessing post-processor (possibly inside a
// Sequence), or nullptr.
const json* single_template(const json& pp) {
  if (!pp.is_object()) return nullptr;
  const std::string type = pp.value("type", "");
  if (type == "TemplateProcessing" && pp.contains("single") && pp["single"].is_array()) return &pp["single"];
  if (type == "Sequence" && pp.contains("processors") && pp["processors"].is_array())
    for (const json& c : pp["processors"])
      if (const json* s = single_template(c)) return s;
  return nullptr;
}

// add_bos_token / add_eos_token as tokenizers applies them (the post-processor's template for
// one sequence: [BOS] $A [EOS]), written into the config when it does not state them.
void complete_special_flags(const json& tok, json& config) {
  const json* single = tok.contains("post_processor") ? single_template(tok["post_processor"]) : nullptr;
  if (!single) return;
  const bool first = !single->empty() && single->front().contains("SpecialToken");
  const bool last = single->size() > 1 && single->back().contains("SpecialToken");
  if (!config.contains("add_bos_token")) config["add_bos_token"] = first;
  if (!config.contains("add_eos_token")) config["add_eos_token"] = last;
}

}  // namespace

tokenizer::GgufKeyValues tokenizer_metadata(const HfCheckpoint& ckpt, int64_t n_vocab) {
  const std::string tok_path = ckpt.tokenizer_json();
  if (tok_path.empty())
    fail(ErrorCode::kNotFound, "{}: missing tokenizer.json (a SentencePiece tokenizer.model alone is not supported)",
         ckpt.dir());
  const json tok = HfCheckpoint::read_json(tok_path);
  json config = json::object();
  if (const std::string p = ckpt.tokenizer_config_json(); !p.empty()) {
    config = HfCheckpoint::read_json(p);
    if (!config.is_object()) fail(ErrorCode::kInvalidFile, "{}: not a JSON object", p);
  }
  if (!config.contains("chat_template")) {
    if (const std::string p = ckpt.chat_template_jinja(); !p.empty()) {
      std::ifstream in(p, std::ios::binary);
      std::stringstream ss;
      ss << in.rdbuf();
      config["chat_template"] = ss.str();
    }
  }
  complete_special_flags(tok, config);
  tokenizer::HfConvertOptions opt;
  opt.vocab_size = static_cast<size_t>(n_vocab);
  tokenizer::GgufKeyValues kv;
  try {
    kv = tokenizer::convert_hf_tokenizer(tok, &config, opt);
  } catch (const Error& e) {
    throw Error(e.code(), fmt::format("{}: tokenizer: {}", ckpt.dir(), e.what()));
  }

  // BOS / EOS from generation_config.json, then config.json, when the tokenizer files did not say.
  json gen = json::object();
  if (const std::string p = ckpt.generation_config_json(); !p.empty()) gen = HfCheckpoint::read_json(p);
  for (const auto& [key, name] : {std::pair{k::kTokenizerBosId, "bos_token_id"}, std::pair{k::kTokenizerEosId, "eos_token_id"}}) {
    if (has_key(kv, key)) continue;
    int64_t id = first_id(gen, name);
    if (id < 0) id = first_id(ckpt.config().raw(), name);
    if (id >= 0 && id < n_vocab) kv.emplace_back(std::string(key), gguf::Value::u32(static_cast<uint32_t>(id)));
  }
  return kv;
}

}  // namespace quarrel::convert
