#include "model/hparams.h"

#include <cmath>

#include "core/error.h"
#include "gguf/gguf_file.h"
#include "gguf/keys.h"

namespace quarrel::model {
namespace k = gguf::keys;
namespace {

// A required positive count, bounded so that products of a few of them cannot overflow.
int64_t positive(const gguf::GgufFile& f, std::string_view suffix, uint64_t value) {
  constexpr uint64_t kMax = uint64_t{1} << 24;
  if (value == 0 || value > kMax) {
    fail(ErrorCode::kInvalidFile, "{}: key '{}' = {} is out of range (1..{})", f.path(), f.arch_key(suffix), value, kMax);
  }
  return static_cast<int64_t>(value);
}

int64_t required_count(const gguf::GgufFile& f, std::string_view suffix) {
  return positive(f, suffix, f.get_uint(f.arch_key(suffix)));
}

int64_t optional_count(const gguf::GgufFile& f, std::string_view suffix, int64_t def) {
  const std::string key = f.arch_key(suffix);
  if (!f.has(key)) return def;
  return positive(f, suffix, f.get_uint(key));
}

RopeScaling parse_scaling(const gguf::GgufFile& f, const std::string& key, const std::string& name) {
  if (name.empty() || name == "none") return RopeScaling::kNone;
  if (name == "linear") return RopeScaling::kLinear;
  if (name == "yarn") return RopeScaling::kYarn;
  fail(ErrorCode::kUnsupported, "{}: key '{}' = '{}': RoPE scaling type not supported (none, linear, yarn)", f.path(), key,
       name);
}

}  // namespace

HParams read_common_hparams(const gguf::GgufFile& f, int64_t n_ctx_override) {
  HParams hp;
  hp.arch = f.architecture();
  hp.n_ctx_train = required_count(f, k::kContextLength);
  hp.n_ctx = n_ctx_override > 0 ? n_ctx_override : hp.n_ctx_train;
  hp.n_embd = required_count(f, k::kEmbeddingLength);
  hp.n_layer = required_count(f, k::kBlockCount);
  hp.n_head = required_count(f, k::kAttentionHeadCount);
  hp.n_head_kv = optional_count(f, k::kAttentionHeadCountKv, hp.n_head);
  hp.n_ff = required_count(f, k::kFeedForwardLength);
  if (hp.n_head % hp.n_head_kv != 0) {
    fail(ErrorCode::kInvalidFile, "{}: head_count {} is not a multiple of head_count_kv {}", f.path(), hp.n_head,
         hp.n_head_kv);
  }
  const int64_t default_head_dim = hp.n_embd % hp.n_head == 0 ? hp.n_embd / hp.n_head : 0;
  hp.head_dim_k = optional_count(f, k::kAttentionKeyLength, default_head_dim);
  hp.head_dim_v = optional_count(f, k::kAttentionValueLength, default_head_dim);
  if (hp.head_dim_k == 0 || hp.head_dim_v == 0) {
    fail(ErrorCode::kInvalidFile, "{}: embedding_length {} is not a multiple of head_count {} and no key_length is given",
         f.path(), hp.n_embd, hp.n_head);
  }

  const std::string eps_key = f.arch_key(k::kAttentionLayerNormRmsEpsilon);
  hp.rms_eps = static_cast<float>(f.get_float_or(eps_key, 1e-5));
  if (!(hp.rms_eps > 0.0f && hp.rms_eps < 1.0f)) {
    fail(ErrorCode::kInvalidFile, "{}: key '{}' = {} is out of range (0, 1)", f.path(), eps_key, hp.rms_eps);
  }

  hp.n_rot = optional_count(f, k::kRopeDimensionCount, hp.head_dim_k);
  if (hp.n_rot > hp.head_dim_k || hp.n_rot % 2 != 0) {
    fail(ErrorCode::kInvalidFile, "{}: rope.dimension_count {} must be even and at most the head size {}", f.path(),
         hp.n_rot, hp.head_dim_k);
  }
  const std::string base_key = f.arch_key(k::kRopeFreqBase);
  hp.rope_freq_base = static_cast<float>(f.get_float_or(base_key, 10000.0));
  if (!(hp.rope_freq_base > 1.0f) || !std::isfinite(hp.rope_freq_base)) {
    fail(ErrorCode::kInvalidFile, "{}: key '{}' = {} must be a finite number above 1", f.path(), base_key,
         hp.rope_freq_base);
  }

  // Scaling: rope.scaling.type + rope.scaling.factor, or the older rope.scale_linear.
  const std::string type_key = f.arch_key(k::kRopeScalingType);
  const std::string factor_key = f.arch_key(k::kRopeScalingFactor);
  const std::string linear_key = f.arch_key(k::kRopeScaleLinear);
  if (f.has(type_key)) {
    hp.rope_scaling = parse_scaling(f, type_key, f.get_string(type_key));
    hp.rope_scale_factor = static_cast<float>(f.get_float_or(factor_key, 1.0));
  } else if (f.has(linear_key)) {
    hp.rope_scale_factor = static_cast<float>(f.get_float(linear_key));
    hp.rope_scaling = RopeScaling::kLinear;
  } else if (f.has(factor_key)) {
    hp.rope_scale_factor = static_cast<float>(f.get_float(factor_key));
    hp.rope_scaling = RopeScaling::kLinear;
  }
  if (!(hp.rope_scale_factor > 0.0f) || !std::isfinite(hp.rope_scale_factor)) {
    fail(ErrorCode::kInvalidFile, "{}: RoPE scaling factor {} must be a positive number", f.path(),
         hp.rope_scale_factor);
  }
  if (hp.rope_scale_factor == 1.0f) hp.rope_scaling = RopeScaling::kNone;
  hp.rope_orig_ctx = optional_count(f, k::kRopeScalingOrigCtxLen, hp.n_ctx_train);
  hp.yarn_attn_factor = static_cast<float>(f.get_float_or(f.arch_key(k::kRopeScalingAttnFactor), 1.0));
  hp.attn_scale = read_positive_float(f, k::kAttentionScale, 0.0f);
  return hp;
}

float read_positive_float(const gguf::GgufFile& f, std::string_view suffix, float def) {
  const std::string key = f.arch_key(suffix);
  if (!f.has(key)) return def;
  const double v = f.get_float(key);
  if (!(v > 0.0) || !std::isfinite(v) || v > 1e30) {
    fail(ErrorCode::kInvalidFile, "{}: key '{}' = {} must be a positive finite number", f.path(), key, v);
  }
  return static_cast<float>(v);
}

void read_moe_hparams(const gguf::GgufFile& f, HParams& hp, bool required) {
  constexpr uint64_t kMaxExperts = 1024;
  const std::string count_key = f.arch_key(k::kExpertCount);
  if (!required && f.get_uint_or(count_key, 0) == 0) return;
  const uint64_t n_expert = f.get_uint(count_key);
  if (n_expert == 0 || n_expert > kMaxExperts) {
    fail(ErrorCode::kInvalidFile, "{}: key '{}' = {} is out of range (1..{})", f.path(), count_key, n_expert, kMaxExperts);
  }
  const std::string used_key = f.arch_key(k::kExpertUsedCount);
  const uint64_t n_used = f.get_uint(used_key);
  if (n_used == 0 || n_used > n_expert) {
    fail(ErrorCode::kInvalidFile, "{}: key '{}' = {} is out of range (1..{} experts)", f.path(), used_key, n_used,
         n_expert);
  }
  hp.n_expert = static_cast<int64_t>(n_expert);
  hp.n_expert_used = static_cast<int64_t>(n_used);
  hp.n_ff_exp = optional_count(f, k::kExpertFeedForwardLength, hp.n_ff);
  hp.expert_weights_norm = f.get_bool_or(f.arch_key(k::kExpertWeightsNorm), true);
}

}  // namespace quarrel::model
