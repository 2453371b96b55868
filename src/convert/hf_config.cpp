#include "convert/hf_config.h"

#include "core/error.h"

namespace quarrel::convert {
namespace {

using json = nlohmann::json;

std::string join_keys(std::initializer_list<std::string_view> keys) {
  std::string s;
  for (auto k : keys) s += (s.empty() ? "'" : " / '") + std::string(k) + "'";
  return s;
}

std::optional<double> num(const json& o, const char* key) {
  if (!o.is_object()) return std::nullopt;
  const auto it = o.find(key);
  if (it == o.end() || !it->is_number()) return std::nullopt;
  return it->get<double>();
}

}  // namespace

HfConfig::HfConfig(json j, std::string source) : j_(std::move(j)), source_(std::move(source)) {
  if (!j_.is_object()) fail(ErrorCode::kInvalidFile, "{}: not a JSON object", source_);
  // Multimodal checkpoints keep the language model's settings in text_config.
  const auto tc = j_.find("text_config");
  if (tc != j_.end() && tc->is_object())
    for (auto it = tc->begin(); it != tc->end(); ++it) j_[it.key()] = it.value();
}

const json* HfConfig::find(std::string_view key) const {
  const auto it = j_.find(std::string(key));
  if (it == j_.end() || it->is_null()) return nullptr;
  return &*it;
}

bool HfConfig::has(std::string_view key) const { return find(key) != nullptr; }

std::string HfConfig::architecture() const {
  const json* a = find("architectures");
  if (!a || !a->is_array() || a->empty() || !(*a)[0].is_string())
    fail(ErrorCode::kInvalidFile, "{}: no 'architectures' list naming the model class", source_);
  return (*a)[0].get<std::string>();
}

std::string HfConfig::model_type() const {
  const json* m = find("model_type");
  return m && m->is_string() ? m->get<std::string>() : std::string();
}

std::optional<int64_t> HfConfig::opt_int(std::initializer_list<std::string_view> keys) const {
  for (auto k : keys) {
    const json* v = find(k);
    if (!v) continue;
    if (!v->is_number_integer())
      fail(ErrorCode::kInvalidFile, "{}: '{}' should be an integer, found {}", source_, k, v->dump());
    return v->get<int64_t>();
  }
  return std::nullopt;
}

std::optional<double> HfConfig::opt_float(std::initializer_list<std::string_view> keys) const {
  for (auto k : keys) {
    const json* v = find(k);
    if (!v) continue;
    if (!v->is_number()) fail(ErrorCode::kInvalidFile, "{}: '{}' should be a number, found {}", source_, k, v->dump());
    return v->get<double>();
  }
  return std::nullopt;
}

int64_t HfConfig::get_int(std::initializer_list<std::string_view> keys) const {
  const auto v = opt_int(keys);
  if (!v) fail(ErrorCode::kInvalidFile, "{}: missing {}", source_, join_keys(keys));
  return *v;
}

double HfConfig::get_float(std::initializer_list<std::string_view> keys) const {
  const auto v = opt_float(keys);
  if (!v) fail(ErrorCode::kInvalidFile, "{}: missing {}", source_, join_keys(keys));
  return *v;
}

int64_t HfConfig::get_count(std::initializer_list<std::string_view> keys) const {
  const int64_t v = get_int(keys);
  if (v < 1 || v > (int64_t{1} << 31))
    fail(ErrorCode::kInvalidFile, "{}: {} = {} is out of range (1 .. 2^31)", source_, join_keys(keys), v);
  return v;
}

bool HfConfig::get_bool_or(std::string_view key, bool def) const {
  const json* v = find(key);
  if (!v) return def;
  if (!v->is_boolean()) fail(ErrorCode::kInvalidFile, "{}: '{}' should be true or false, found {}", source_, key, v->dump());
  return v->get<bool>();
}

RopeConfig HfConfig::rope_from(const json& p, double default_theta) const {
  RopeConfig r;
  r.theta = num(p, "rope_theta").value_or(default_theta);
  if (p.is_object()) {
    if (p.contains("rope_type") && p["rope_type"].is_string()) r.type = p["rope_type"].get<std::string>();
    else if (p.contains("type") && p["type"].is_string()) r.type = p["type"].get<std::string>();
  }
  r.factor = num(p, "factor");
  r.low_freq_factor = num(p, "low_freq_factor");
  r.high_freq_factor = num(p, "high_freq_factor");
  r.attention_factor = num(p, "attention_factor");
  if (!r.attention_factor) r.attention_factor = num(p, "attn_factor");
  r.beta_fast = num(p, "beta_fast");
  r.beta_slow = num(p, "beta_slow");
  if (auto o = num(p, "original_max_position_embeddings")) r.original_max_position_embeddings = static_cast<int64_t>(*o);
  else r.original_max_position_embeddings = opt_int({"original_max_position_embeddings"});
  r.partial_rotary_factor = num(p, "partial_rotary_factor");
  if (!r.partial_rotary_factor) r.partial_rotary_factor = opt_float({"partial_rotary_factor"});
  return r;
}

RopeConfig HfConfig::rope() const {
  const json* params = find("rope_parameters");
  if (!params || !params->is_object()) params = find("rope_scaling");
  const json empty = json::object();
  const json& p = params && params->is_object() ? *params : empty;
  const json& full = p.contains("full_attention") && p["full_attention"].is_object() ? p["full_attention"] : p;
  const double theta = opt_float({"rope_theta", "rope_global_base_freq", "rotary_emb_base"}).value_or(10000.0);
  return rope_from(full, theta);
}

std::optional<RopeConfig> HfConfig::rope_sliding() const {
  const json* p = find("rope_parameters");
  if (p && p->is_object() && p->contains("sliding_attention") && (*p)["sliding_attention"].is_object())
    return rope_from((*p)["sliding_attention"], 10000.0);
  if (const auto local = opt_float({"rope_local_base_freq", "local_rope_theta"})) {
    RopeConfig r;
    r.theta = *local;
    return r;
  }
  return std::nullopt;
}

std::optional<std::vector<std::string>> HfConfig::layer_types() const {
  const json* lt = find("layer_types");
  if (!lt) return std::nullopt;
  if (!lt->is_array()) fail(ErrorCode::kInvalidFile, "{}: 'layer_types' is not a list", source_);
  std::vector<std::string> v;
  for (const json& e : *lt) {
    if (!e.is_string()) fail(ErrorCode::kInvalidFile, "{}: 'layer_types' has a non-string entry", source_);
    v.push_back(e.get<std::string>());
  }
  return v;
}

}  // namespace quarrel::convert
