#include "tokenizer/hf_tokenizer.h"

#include <fstream>
#include <sstream>
#include <unordered_map>

#include "core/error.h"
#include "gguf/gguf_writer.h"
#include "gguf/keys.h"
#include "tokenizer/pre_tokenizer.h"
#include "tokenizer/unicode.h"
#include "tokenizer/vocab.h"

namespace quarrel::tokenizer {

namespace {

using json = nlohmann::json;
namespace keys = gguf::keys;

const std::string kSpaceMark = "\xE2\x96\x81";  // U+2581

std::string str_or(const json& j, const char* key, std::string def = "") {
  if (!j.is_object()) return def;
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : def;
}

bool bool_or(const json& j, const char* key, bool def) {
  if (!j.is_object()) return def;
  auto it = j.find(key);
  return it != j.end() && it->is_boolean() ? it->get<bool>() : def;
}

// A tokenizer_config.json token: "text" or {"content": "text", ...}.
std::optional<std::string> config_token(const json* config, const char* key) {
  if (!config || !config->is_object()) return std::nullopt;
  auto it = config->find(key);
  if (it == config->end()) return std::nullopt;
  if (it->is_string()) return it->get<std::string>();
  if (it->is_object()) {
    const std::string c = str_or(*it, "content");
    if (!c.empty()) return c;
  }
  return std::nullopt;
}

std::optional<bool> config_bool(const json* config, const char* key) {
  if (!config || !config->is_object()) return std::nullopt;
  auto it = config->find(key);
  if (it == config->end() || !it->is_boolean()) return std::nullopt;
  return it->get<bool>();
}

// Visits a component and, for "Sequence" types, its children (under `list_key`).
template <typename F>
void visit(const json& node, const char* list_key, F&& f) {
  if (!node.is_object()) return;
  if (str_or(node, "type") == "Sequence") {
    auto it = node.find(list_key);
    if (it != node.end() && it->is_array())
      for (const json& c : *it) visit(c, list_key, f);
    return;
  }
  f(node);
}

std::string regex_quote(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (std::string_view("\\^$.|?*+()[]{}").find(c) != std::string_view::npos) out += '\\';
    out += c;
  }
  return out;
}

// Regex text for comparison: \x{...} escapes as their characters, and GPT-2's trailing `|\s+`
// dropped (the text between matches is kept either way, so the pieces are the same).
std::string canonical_regex(std::string_view re) {
  std::string out;
  for (size_t i = 0; i < re.size(); ++i) {
    if (re[i] == '\\' && i + 2 < re.size() && re[i + 1] == 'x' && re[i + 2] == '{') {
      const size_t close = re.find('}', i + 3);
      if (close != std::string_view::npos) {
        append_utf8(out, static_cast<char32_t>(std::stoul(std::string(re.substr(i + 3, close - i - 3)), nullptr, 16)));
        i = close;
        continue;
      }
    }
    if (re[i] == '\\' && i + 1 < re.size()) {
      out += re[i];
      out += re[++i];
      continue;
    }
    out += re[i];
  }
  const std::string tail = R"(\s+(?!\S)|\s+)";
  if (out.size() > tail.size() && out.compare(out.size() - tail.size(), tail.size(), tail) == 0)
    out.resize(out.size() - 4);
  return out;
}

struct PreInfo {
  std::vector<std::string> regexes;
  bool byte_level = false;
  bool metaspace_prefix = false;
};

PreInfo read_pre_tokenizer(const json& pre) {
  PreInfo info;
  const std::string gpt2 = find_pre_tokenizer("gpt-2")->regexes.at(0);
  visit(pre, "pretokenizers", [&](const json& p) {
    const std::string type = str_or(p, "type");
    if (type == "Split") {
      const json& pat = p.value("pattern", json::object());
      if (pat.contains("Regex") && pat["Regex"].is_string())
        info.regexes.push_back(pat["Regex"].get<std::string>());
      else if (pat.contains("String") && pat["String"].is_string())
        info.regexes.push_back(regex_quote(pat["String"].get<std::string>()));
    } else if (type == "ByteLevel") {
      info.byte_level = true;
      if (bool_or(p, "use_regex", true)) info.regexes.push_back(gpt2);
    } else if (type == "Digits") {
      info.regexes.push_back(bool_or(p, "individual_digits", false) ? R"(\p{N})" : R"(\p{N}+)");
    } else if (type == "Metaspace") {
      const std::string scheme = str_or(p, "prepend_scheme", "");
      info.metaspace_prefix = scheme.empty() ? bool_or(p, "add_prefix_space", true) : scheme != "never";
    }
  });
  return info;
}

// The tokenizer.ggml.pre whose rules equal these regexes (and flags).
std::string detect_pre(const PreInfo& info, bool ignore_merges, bool nfc) {
  std::vector<std::string> want;
  for (const auto& r : info.regexes) want.push_back(canonical_regex(r));
  const PreTokenizerSpec* best = nullptr;
  int best_score = -1;
  for (const auto& spec : pre_tokenizer_specs()) {
    if (spec.regexes.size() != want.size()) continue;
    bool same = true;
    for (size_t i = 0; i < want.size() && same; ++i) same = canonical_regex(spec.regexes[i]) == want[i];
    if (!same) continue;
    const int score = (spec.ignore_merges == ignore_merges ? 2 : 0) + (spec.nfc == nfc ? 1 : 0);
    if (score > best_score) {
      best = &spec;
      best_score = score;
    }
  }
  if (!best) {
    std::string list;
    for (const auto& r : info.regexes) list += (list.empty() ? "" : ", ") + ("'" + r + "'");
    fail(ErrorCode::kUnsupported, "tokenizer.json: no known pre-tokenizer has these split rules: [{}]", list);
  }
  return best->name;
}

bool has_normalizer(const json& norm, const char* type) {
  bool found = false;
  visit(norm, "normalizers", [&](const json& n) { found = found || str_or(n, "type") == type; });
  return found;
}

bool normalizer_prepends_space_mark(const json& norm) {
  bool found = false;
  visit(norm, "normalizers", [&](const json& n) {
    if (str_or(n, "type") == "Prepend" && str_or(n, "prepend") == kSpaceMark) found = true;
  });
  return found;
}

bool normalizer_replaces_space(const json& norm) {
  bool found = false;
  visit(norm, "normalizers", [&](const json& n) {
    if (str_or(n, "type") == "Replace" && str_or(n, "content") == kSpaceMark) found = true;
  });
  return found;
}

bool is_byte_token(std::string_view t) {
  auto hex = [](char c) { return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'F'); };
  return t.size() == 6 && t.substr(0, 3) == "<0x" && t[5] == '>' && hex(t[3]) && hex(t[4]);
}

bool more_than_one_char(std::string_view s) {
  size_t pos = 0;
  if (s.empty()) return false;
  next_utf8(s, pos);
  return pos < s.size();
}

std::string read_text_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail(ErrorCode::kNotFound, "cannot open {}", path);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

json parse_json_file(const std::string& path) {
  try {
    return json::parse(read_text_file(path));
  } catch (const json::exception& e) {
    fail(ErrorCode::kInvalidFile, "{}: not valid JSON: {}", path, e.what());
  }
}

}  // namespace

GgufKeyValues convert_hf_tokenizer(const json& tj, const json* config, const HfConvertOptions& opt) {
  if (!tj.is_object() || !tj.contains("model") || !tj["model"].is_object())
    fail(ErrorCode::kInvalidFile, "tokenizer.json: no \"model\" object");
  const json& model = tj["model"];
  const std::string model_type = str_or(model, "type", tj["model"].contains("merges") ? "BPE" : "");
  const json normalizer = tj.value("normalizer", json());
  const json pre = tj.value("pre_tokenizer", json());
  const json decoder = tj.value("decoder", json());
  const PreInfo pre_info = read_pre_tokenizer(pre);
  bool decoder_byte_level = false;
  visit(decoder, "decoders", [&](const json& d) { decoder_byte_level = decoder_byte_level || str_or(d, "type") == "ByteLevel"; });

  VocabKind kind;
  if (model_type == "WordPiece") {
    kind = VocabKind::kWpm;
  } else if (model_type == "BPE") {
    if (pre_info.byte_level || decoder_byte_level)
      kind = VocabKind::kBpe;
    else if (bool_or(model, "byte_fallback", false) || normalizer_replaces_space(normalizer) || pre_info.metaspace_prefix)
      kind = VocabKind::kSpm;
    else
      fail(ErrorCode::kUnsupported, "tokenizer.json: a BPE model that is neither byte-level nor SentencePiece-style");
  } else {
    fail(ErrorCode::kUnsupported, "tokenizer.json: model type '{}' is not supported (BPE and WordPiece are)", model_type);
  }

  // ---- tokens and their types ----
  if (!model.contains("vocab") || !model["vocab"].is_object())
    fail(ErrorCode::kInvalidFile, "tokenizer.json: model.vocab is not an object");
  const json& vocab = model["vocab"];
  const json added = tj.value("added_tokens", json::array());
  size_t n = 0;
  for (const auto& [text, id] : vocab.items()) {
    if (!id.is_number_integer() || id.get<int64_t>() < 0 || id.get<int64_t>() >= INT32_MAX)
      fail(ErrorCode::kInvalidFile, "tokenizer.json: token '{}' has a bad id", text);
    n = std::max(n, static_cast<size_t>(id.get<int64_t>()) + 1);
  }
  for (const json& a : added) {
    if (!a.is_object() || !a.contains("id") || !a["id"].is_number_integer() || a["id"].get<int64_t>() < 0 ||
        a["id"].get<int64_t>() >= INT32_MAX || !a.contains("content") || !a["content"].is_string())
      fail(ErrorCode::kInvalidFile, "tokenizer.json: a malformed entry in added_tokens");
    n = std::max(n, static_cast<size_t>(a["id"].get<int64_t>()) + 1);
  }
  if (opt.vocab_size) {
    if (*opt.vocab_size < n)
      fail(ErrorCode::kInvalidArgument, "vocab_size {} is smaller than the tokenizer's {} tokens", *opt.vocab_size, n);
    n = *opt.vocab_size;
  }
  if (n == 0) fail(ErrorCode::kInvalidFile, "tokenizer.json: no tokens");

  std::vector<std::string> tokens(n);
  std::vector<int32_t> types(n, 0);
  std::unordered_map<std::string, int32_t> id_of;
  for (const auto& [text, id] : vocab.items()) {
    const auto i = static_cast<size_t>(id.get<int64_t>());
    tokens[i] = text;
    types[i] = static_cast<int32_t>(TokenType::kNormal);
    id_of.emplace(text, static_cast<int32_t>(i));
  }
  for (const json& a : added) {
    const auto i = static_cast<size_t>(a["id"].get<int64_t>());
    tokens[i] = a["content"].get<std::string>();
    types[i] = static_cast<int32_t>(bool_or(a, "special", false) ? TokenType::kControl : TokenType::kUserDefined);
    id_of[tokens[i]] = static_cast<int32_t>(i);
  }
  for (size_t i = 0; i < n; ++i) {
    if (types[i] == 0) {
      tokens[i] = "[PAD" + std::to_string(i) + "]";
      types[i] = static_cast<int32_t>(TokenType::kUnused);
    }
  }
  auto find_id = [&](const std::string& t) -> int32_t {
    auto it = id_of.find(t);
    return it == id_of.end() ? -1 : it->second;
  };
  const std::string unk_text = str_or(model, "unk_token");
  if (!unk_text.empty())
    if (int32_t id = find_id(unk_text); id >= 0) types[static_cast<size_t>(id)] = static_cast<int32_t>(TokenType::kUnknown);
  if (kind == VocabKind::kSpm)
    for (size_t i = 0; i < n; ++i)
      if (types[i] == static_cast<int32_t>(TokenType::kNormal) && is_byte_token(tokens[i]))
        types[i] = static_cast<int32_t>(TokenType::kByte);

  GgufKeyValues kv;
  auto set = [&](std::string_view key, gguf::Value v) { kv.emplace_back(std::string(key), std::move(v)); };
  set(keys::kTokenizerModel, gguf::Value::string(Vocab::model_name(kind)));

  // ---- merges (byte-level) or scores (SentencePiece-style) ----
  std::vector<std::string> merges;
  if (kind != VocabKind::kWpm) {
    static const json kNoMerges = json::array();
    const auto mit = model.find("merges");
    const json& m = mit != model.end() ? *mit : kNoMerges;
    if (!m.is_array()) fail(ErrorCode::kInvalidFile, "tokenizer.json: model.merges is not an array");
    merges.reserve(m.size());
    for (const json& e : m) {
      if (e.is_string()) {
        merges.push_back(e.get<std::string>());
      } else if (e.is_array() && e.size() == 2 && e[0].is_string() && e[1].is_string()) {
        merges.push_back(e[0].get<std::string>() + " " + e[1].get<std::string>());
      } else {
        fail(ErrorCode::kInvalidFile, "tokenizer.json: a malformed merge");
      }
    }
  }
  if (kind == VocabKind::kBpe) {
    const bool nfc = has_normalizer(normalizer, "NFC");
    set(keys::kTokenizerPre, gguf::Value::string(detect_pre(pre_info, bool_or(model, "ignore_merges", false), nfc)));
  } else if (kind == VocabKind::kSpm) {
    set(keys::kTokenizerPre, gguf::Value::string("default"));
  }

  if (kind == VocabKind::kWpm) {
    // llama.cpp's WordPiece layout: word-initial pieces get U+2581, continuations lose "##".
    for (size_t i = 0; i < n; ++i) {
      std::string& t = tokens[i];
      if (types[i] != static_cast<int32_t>(TokenType::kNormal)) continue;
      if (t.size() >= 2 && t.front() == '[' && t.back() == ']') continue;
      t = t.rfind("##", 0) == 0 ? t.substr(2) : kSpaceMark + t;
    }
  }
  set(keys::kTokenizerTokens, gguf::Value::string_array(tokens));
  set(keys::kTokenizerTokenType, gguf::Value::i32_array(types));
  if (kind == VocabKind::kSpm) {
    // A token made by merge r scores -r; tokens no merge makes score below every merge.
    std::vector<float> scores(n, 0.0f);
    std::vector<uint8_t> scored(n, 0);
    std::string joined;
    for (size_t r = 0; r < merges.size(); ++r) {
      const size_t sp = merges[r].find(' ', 1);
      if (sp == std::string::npos) continue;
      joined = merges[r].substr(0, sp) + merges[r].substr(sp + 1);
      const int32_t id = find_id(joined);
      if (id >= 0 && !scored[static_cast<size_t>(id)]) {
        scores[static_cast<size_t>(id)] = -static_cast<float>(r);
        scored[static_cast<size_t>(id)] = 1;
      }
    }
    const float floor = -static_cast<float>(merges.size()) - 1.0f;
    for (size_t i = 0; i < n; ++i)
      if (!scored[i] && types[i] == static_cast<int32_t>(TokenType::kNormal) && more_than_one_char(tokens[i]))
        scores[i] = floor;
    set(keys::kTokenizerScores, gguf::Value::f32_array(scores));
  } else if (kind == VocabKind::kBpe) {
    set(keys::kTokenizerMerges, gguf::Value::string_array(merges));
  }

  // ---- special ids and flags ----
  auto set_id = [&](std::string_view key, const std::optional<std::string>& text) -> int32_t {
    if (!text) return -1;
    const int32_t id = find_id(*text);
    if (id >= 0) set(key, gguf::Value::u32(static_cast<uint32_t>(id)));
    return id;
  };
  int32_t bos = -1, eos = -1;
  if (kind == VocabKind::kWpm) {
    bos = set_id(keys::kTokenizerBosId, config_token(config, "cls_token"));
    set_id(keys::kTokenizerSeparatorId, config_token(config, "sep_token"));
    set_id(keys::kTokenizerMaskId, config_token(config, "mask_token"));
  } else {
    bos = set_id(keys::kTokenizerBosId, config_token(config, "bos_token"));
    eos = set_id(keys::kTokenizerEosId, config_token(config, "eos_token"));
  }
  if (auto unk = config_token(config, "unk_token")) {
    set_id(keys::kTokenizerUnknownId, unk);
  } else if (!unk_text.empty()) {
    set_id(keys::kTokenizerUnknownId, unk_text);
  }
  set_id(keys::kTokenizerPaddingId, config_token(config, "pad_token"));

  std::optional<bool> add_bos = config_bool(config, "add_bos_token");
  std::optional<bool> add_eos = config_bool(config, "add_eos_token");
  if (kind != VocabKind::kWpm && (!add_bos || !add_eos)) {
    // The post-processor's template for a single sequence: [BOS] $A [EOS].
    const json* tmpl = nullptr;
    const json post = tj.value("post_processor", json());
    visit(post, "processors", [&](const json& p) {
      if (str_or(p, "type") == "TemplateProcessing" && p.contains("single") && p["single"].is_array()) tmpl = &p;
    });
    if (tmpl) {
      const json& single = (*tmpl)["single"];
      auto special_id = [&](const json& item) -> int32_t {
        const std::string name = item["SpecialToken"].value("id", "");
        const json& st = tmpl->value("special_tokens", json::object());
        if (st.contains(name) && st[name].contains("ids") && st[name]["ids"].is_array() && !st[name]["ids"].empty())
          return st[name]["ids"][0].get<int32_t>();
        return find_id(name);
      };
      const bool first_special = !single.empty() && single.front().contains("SpecialToken");
      const bool last_special = single.size() > 1 && single.back().contains("SpecialToken");
      if (!add_bos) {
        add_bos = first_special;
        if (first_special && bos < 0 && (bos = special_id(single.front())) >= 0)
          set(keys::kTokenizerBosId, gguf::Value::u32(static_cast<uint32_t>(bos)));
      }
      if (!add_eos) {
        add_eos = last_special;
        if (last_special && eos < 0 && (eos = special_id(single.back())) >= 0)
          set(keys::kTokenizerEosId, gguf::Value::u32(static_cast<uint32_t>(eos)));
      }
    }
  }
  if (add_bos && kind != VocabKind::kWpm) set(keys::kTokenizerAddBos, gguf::Value::boolean(*add_bos && bos >= 0));
  if (add_eos && kind != VocabKind::kWpm) set(keys::kTokenizerAddEos, gguf::Value::boolean(*add_eos && eos >= 0));
  if (kind == VocabKind::kSpm)
    set(keys::kTokenizerAddSpacePrefix,
        gguf::Value::boolean(normalizer_prepends_space_mark(normalizer) || pre_info.metaspace_prefix));
  if (kind == VocabKind::kWpm) {
    visit(normalizer, "normalizers", [&](const json& nj) {
      if (str_or(nj, "type") != "BertNormalizer") return;
      const bool lower = bool_or(nj, "lowercase", true);
      set("tokenizer.ggml.normalizer.lowercase", gguf::Value::boolean(lower));
      if (nj.contains("strip_accents") && nj["strip_accents"].is_boolean())
        set("tokenizer.ggml.normalizer.strip_accents", gguf::Value::boolean(nj["strip_accents"].get<bool>()));
    });
  }

  // ---- chat templates ----
  if (config && config->is_object() && config->contains("chat_template")) {
    const json& ct = (*config)["chat_template"];
    if (ct.is_string()) {
      set(keys::kTokenizerChatTemplate, gguf::Value::string(ct.get<std::string>()));
    } else if (ct.is_array()) {
      for (const json& e : ct) {
        const std::string name = str_or(e, "name"), tmpl = str_or(e, "template");
        if (name.empty() || tmpl.empty()) continue;
        set(name == "default" ? std::string(keys::kTokenizerChatTemplate) : std::string(keys::kTokenizerChatTemplate) + "." + name,
            gguf::Value::string(tmpl));
      }
    }
  }
  return kv;
}

GgufKeyValues convert_hf_tokenizer_files(const std::string& tokenizer_json_path, const std::string& config_path,
                                         const HfConvertOptions& opt) {
  const json tj = parse_json_file(tokenizer_json_path);
  if (config_path.empty()) return convert_hf_tokenizer(tj, nullptr, opt);
  const json cfg = parse_json_file(config_path);
  return convert_hf_tokenizer(tj, &cfg, opt);
}

void set_gguf_metadata(gguf::GgufWriter& w, const GgufKeyValues& kv) {
  for (const auto& [k, v] : kv) w.set(k, v);
}

}  // namespace quarrel::tokenizer
