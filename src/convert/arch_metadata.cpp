// The <arch>.* keys of each architecture, as llama.cpp's convert_hf_to_gguf.py writes them
// (TextModel.set_gguf_parameters plus each model class's additions), and the tensors computed
// from the config (Llama 3 rope_freqs, Phi-3 long-RoPE factors).
#include <cmath>
#include <numbers>

#include "convert/convert_arch.h"
#include "core/error.h"
#include "gguf/keys.h"

namespace quarrel::convert {
namespace {

namespace k = gguf::keys;
using gguf::Value;
using json = nlohmann::json;

struct Keys {
  ConvertPlan& plan;
  void set(std::string_view suffix, Value v) {
    plan.metadata.emplace_back(plan.arch + "." + std::string(suffix), std::move(v));
  }
  void u32(std::string_view suffix, int64_t v) { set(suffix, Value::u32(static_cast<uint32_t>(v))); }
  void f32(std::string_view suffix, double v) { set(suffix, Value::f32(static_cast<float>(v))); }
};

void add_computed(ConvertPlan& plan, std::string name, std::vector<float> values) {
  OutputTensor t;
  t.name = std::move(name);
  t.shape = {values.size()};
  t.unit = 1;
  t.values = std::move(values);
  plan.tensors.push_back(std::move(t));
}

// Llama 3.1 RoPE frequency factors (rope_freqs.weight [n_rot / 2]): ggml divides each
// frequency by its factor, which is what transformers' llama3 rope init does to inv_freq.
std::vector<float> llama3_rope_factors(const RopeConfig& r, int64_t dim) {
  const double factor = r.factor.value_or(8.0);
  const double lo = r.low_freq_factor.value_or(1.0), hi = r.high_freq_factor.value_or(4.0);
  const double old_ctx = static_cast<double>(r.original_max_position_embeddings.value_or(8192));
  const double lo_wavelen = old_ctx / lo, hi_wavelen = old_ctx / hi;
  std::vector<float> f;
  for (int64_t i = 0; i < dim; i += 2) {
    const double freq = 1.0 / std::pow(r.theta, static_cast<double>(i) / static_cast<double>(dim));
    const double wavelen = 2.0 * std::numbers::pi / freq;
    if (wavelen < hi_wavelen) {
      f.push_back(1.0f);
    } else if (wavelen > lo_wavelen) {
      f.push_back(static_cast<float>(factor));
    } else {
      const double smooth = (old_ctx / wavelen - lo) / (hi - lo);
      f.push_back(static_cast<float>(1.0 / ((1.0 - smooth) / factor + smooth)));
    }
  }
  return f;
}

// rope.scaling.* for the types ggml implements; llama3 becomes rope_freqs.weight.
void rope_scaling_keys(Keys& kv, const HfConfig& c, const RopeConfig& r, int64_t rope_dim, bool allow_longrope) {
  if (r.type == "default" || r.type.empty()) return;
  if (r.type == "linear") {
    if (!r.factor) return;
    kv.set(k::kRopeScalingType, Value::string("linear"));
    kv.f32(k::kRopeScalingFactor, *r.factor);
  } else if (r.type == "yarn") {
    if (!r.factor) return;
    if (!r.original_max_position_embeddings)
      fail(ErrorCode::kInvalidFile, "{}: yarn RoPE scaling without original_max_position_embeddings", c.source());
    kv.set(k::kRopeScalingType, Value::string("yarn"));
    kv.f32(k::kRopeScalingFactor, *r.factor);
    kv.u32(k::kRopeScalingOrigCtxLen, *r.original_max_position_embeddings);
    if (r.attention_factor) kv.f32(k::kRopeScalingAttnFactor, *r.attention_factor);
    if (r.beta_fast) kv.f32("rope.scaling.yarn_beta_fast", *r.beta_fast);
    if (r.beta_slow) kv.f32("rope.scaling.yarn_beta_slow", *r.beta_slow);
  } else if (r.type == "llama3") {
    add_computed(kv.plan, "rope_freqs.weight", llama3_rope_factors(r, rope_dim));
  } else if ((r.type == "longrope" || r.type == "su") && allow_longrope) {
    kv.set(k::kRopeScalingType, Value::string("longrope"));
  } else {
    fail(ErrorCode::kUnsupported, "{}: RoPE scaling type '{}' is not supported (default, linear, yarn, llama3)",
         c.source(), r.type);
  }
}

// TextModel.set_gguf_parameters: the keys every architecture shares.
void common_keys(Keys& kv, const HfConfig& c, const ModelDims& d, const RopeConfig& rope, int64_t default_ctx = 0) {
  kv.u32(k::kBlockCount, d.n_layer);
  const auto ctx = c.opt_int({"max_position_embeddings", "n_ctx", "n_positions", "max_length", "max_sequence_length"});
  if (!ctx && default_ctx == 0) fail(ErrorCode::kInvalidFile, "{}: missing 'max_position_embeddings'", c.source());
  kv.u32(k::kContextLength, ctx.value_or(default_ctx));
  kv.u32(k::kEmbeddingLength, d.n_embd);
  kv.u32(k::kFeedForwardLength, d.n_ff);
  kv.u32(k::kAttentionHeadCount, d.n_head);
  kv.u32(k::kAttentionHeadCountKv, d.n_head_kv);
  kv.f32(k::kRopeFreqBase, rope.theta);
  kv.f32(k::kAttentionLayerNormRmsEpsilon, c.opt_float({"rms_norm_eps", "norm_eps"}).value_or(1e-6));
  if (d.n_expert > 0) {
    kv.u32(k::kExpertCount, d.n_expert);
    kv.u32(k::kExpertUsedCount, d.n_expert_used);
  }
  if (d.head_dim_explicit) {
    kv.u32(k::kAttentionKeyLength, d.head_dim);
    kv.u32(k::kAttentionValueLength, d.head_dim);
  }
}

// Gemma computes attention scores with query_pre_attn_scalar^-1/2; llama.cpp derives it from
// the model size, so it is written only when it is not the usual head_dim^-1/2.
void gemma_attention_scale(Keys& kv, const HfConfig& c, const ModelDims& d) {
  if (const auto q = c.opt_float({"query_pre_attn_scalar"}); q && *q > 0 && *q != static_cast<double>(d.head_dim))
    kv.f32(k::kAttentionScale, 1.0 / std::sqrt(*q));
}

void qwen_checks(const HfConfig& c) {
  if (c.get_bool_or("use_sliding_window", false))
    fail(ErrorCode::kUnsupported, "{}: use_sliding_window = true is not supported for Qwen models", c.source());
  if (const auto step = c.opt_int({"decoder_sparse_step"}); step && *step != 1)
    fail(ErrorCode::kUnsupported, "{}: decoder_sparse_step = {} (dense layers between MoE layers) is not supported",
         c.source(), *step);
  const auto& j = c.raw();
  if (j.contains("mlp_only_layers") && j["mlp_only_layers"].is_array() && !j["mlp_only_layers"].empty())
    fail(ErrorCode::kUnsupported, "{}: mlp_only_layers (dense layers in a MoE model) is not supported", c.source());
}

void phi3_keys(Keys& kv, const HfConfig& c, const ModelDims& d, const RopeConfig& rope) {
  const int64_t ctx = c.get_count({"max_position_embeddings", "n_positions"});
  const int64_t orig = rope.original_max_position_embeddings.value_or(ctx);
  const int64_t rope_dims =
      static_cast<int64_t>(rope.partial_rotary_factor.value_or(1.0) * static_cast<double>(d.n_embd)) / d.n_head;
  kv.u32(k::kContextLength, ctx);
  kv.u32(k::kRopeScalingOrigCtxLen, orig);
  kv.u32(k::kEmbeddingLength, d.n_embd);
  kv.u32(k::kFeedForwardLength, d.n_ff);
  kv.u32(k::kBlockCount, d.n_layer);
  kv.u32(k::kAttentionHeadCount, d.n_head);
  kv.u32(k::kAttentionHeadCountKv, d.n_head_kv);
  kv.f32(k::kAttentionLayerNormRmsEpsilon, c.get_float({"rms_norm_eps"}));
  kv.u32(k::kRopeDimensionCount, rope_dims);
  kv.f32(k::kRopeFreqBase, rope.theta);
  kv.u32(k::kAttentionSlidingWindow, c.opt_int({"sliding_window"}).value_or(0));
  // Long-context models (128k): short/long frequency factors and an attention factor.
  const json* params = nullptr;
  for (const char* key : {"rope_parameters", "rope_scaling"})
    if (c.raw().contains(key) && c.raw()[key].is_object()) {
      params = &c.raw()[key];
      break;
    }
  if (!params || !params->contains("long_factor")) {
    if (rope.type != "default" && !rope.type.empty())
      fail(ErrorCode::kUnsupported, "{}: Phi-3 RoPE scaling '{}' without long_factor is not supported", c.source(),
           rope.type);
    return;
  }
  const double scale = static_cast<double>(ctx) / static_cast<double>(orig);
  double attn_factor = 1.0;
  if (rope.type == "su" || rope.type == "longrope")
    attn_factor = scale > 1.0 ? std::sqrt(1.0 + std::log(scale) / std::log(static_cast<double>(orig))) : 1.0;
  else if (rope.type == "yarn")
    attn_factor = scale > 1.0 ? 0.1 * std::log(scale) + 1.0 : 1.0;
  else
    fail(ErrorCode::kUnsupported, "{}: Phi-3 RoPE scaling type '{}' is not supported", c.source(), rope.type);
  kv.f32(k::kRopeScalingAttnFactor, attn_factor);
  auto factors = [&](const char* key) {
    const json& a = (*params)[key];
    if (!a.is_array() || static_cast<int64_t>(a.size()) * 2 != rope_dims)
      fail(ErrorCode::kInvalidFile, "{}: rope {} must list {} numbers", c.source(), key, rope_dims / 2);
    std::vector<float> v;
    for (const json& x : a) v.push_back(x.get<float>());
    return v;
  };
  add_computed(kv.plan, "rope_factors_long.weight", factors("long_factor"));
  add_computed(kv.plan, "rope_factors_short.weight", factors("short_factor"));
}

}  // namespace

void plan_metadata(const ArchRule& rule, const HfCheckpoint& ckpt, const ModelDims& d, ConvertPlan& plan) {
  const HfConfig& c = ckpt.config();
  const RopeConfig rope = c.rope();
  const auto sliding = c.opt_int({"sliding_window"});
  // llama.cpp writes Mistral as "llama", which has no sliding window; Quarrel's "mistral"
  // keeps the window so the model computes what it was trained to.
  if (rule.hf_arch == "MistralForCausalLM" && sliding && *sliding > 0) plan.arch = "mistral";
  Keys kv{plan};

  switch (rule.family) {
    case Family::kLlama: {
      common_keys(kv, c, d, rope);
      kv.u32(k::kVocabSize, d.n_vocab);
      kv.u32(k::kRopeDimensionCount, d.head_dim);
      rope_scaling_keys(kv, c, rope, d.head_dim, false);
      if (plan.arch == "mistral") kv.u32(k::kAttentionSlidingWindow, *sliding);
      if (rule.hf_arch == "MixtralForCausalLM" && sliding && *sliding > 0)
        fail(ErrorCode::kUnsupported, "{}: Mixtral with a sliding window is not supported", c.source());
      if (rule.gguf_arch == "granite") {
        if (auto v = c.opt_float({"attention_multiplier"}); v && *v != 0) kv.f32(k::kAttentionScale, *v);
        if (auto v = c.opt_float({"embedding_multiplier"}); v && *v != 0) kv.f32(k::kEmbeddingScale, *v);
        if (auto v = c.opt_float({"residual_multiplier"}); v && *v != 0) kv.f32(k::kResidualScale, *v);
        if (auto v = c.opt_float({"logits_scaling"}); v && *v != 0) kv.f32(k::kLogitScale, *v);
      }
      break;
    }
    case Family::kQwen:
      qwen_checks(c);
      common_keys(kv, c, d, rope);
      rope_scaling_keys(kv, c, rope, d.head_dim, false);
      if (rule.moe) kv.u32(k::kExpertFeedForwardLength, d.n_ff_expert);
      break;
    case Family::kGemma2: {
      common_keys(kv, c, d, rope);
      kv.u32(k::kAttentionKeyLength, d.head_dim);
      kv.u32(k::kAttentionValueLength, d.head_dim);
      if (auto v = c.opt_float({"attn_logit_softcapping"})) kv.f32(k::kAttentionLogitSoftcapping, *v);
      if (auto v = c.opt_float({"final_logit_softcapping"})) kv.f32(k::kFinalLogitSoftcapping, *v);
      kv.u32(k::kAttentionSlidingWindow, c.get_count({"sliding_window"}));
      gemma_attention_scale(kv, c, d);
      break;
    }
    case Family::kGemma3: {
      common_keys(kv, c, d, rope, 131072);
      rope_scaling_keys(kv, c, rope, d.head_dim, false);
      if (c.has("attn_logit_softcapping"))
        fail(ErrorCode::kUnsupported, "{}: Gemma 3 with attn_logit_softcapping is not supported", c.source());
      if (auto v = c.opt_float({"final_logit_softcapping"})) kv.f32(k::kFinalLogitSoftcapping, *v);
      // llama.cpp's gemma3 has 5 sliding-window layers, then a global one; check the config agrees.
      const int64_t pattern = c.opt_int({"sliding_window_pattern"}).value_or(6);
      if (const auto types = c.layer_types()) {
        for (int64_t il = 0; il < static_cast<int64_t>(types->size()); ++il) {
          const bool sliding_layer = (*types)[static_cast<size_t>(il)] == "sliding_attention";
          if (sliding_layer != ((il + 1) % 6 != 0))
            fail(ErrorCode::kUnsupported,
                 "{}: Gemma 3 layer_types must repeat 5 sliding_attention layers then 1 full_attention (layer {} is {})",
                 c.source(), il, (*types)[static_cast<size_t>(il)]);
        }
      } else if (pattern != 6) {
        fail(ErrorCode::kUnsupported, "{}: Gemma 3 sliding_window_pattern {} (only 6 is supported)", c.source(), pattern);
      }
      if (const auto local = c.rope_sliding(); local && local->theta != 10000.0)
        fail(ErrorCode::kUnsupported, "{}: Gemma 3 local RoPE base {} (only 10000 is supported)", c.source(), local->theta);
      kv.u32(k::kAttentionSlidingWindow, c.get_count({"sliding_window"}));
      gemma_attention_scale(kv, c, d);
      break;
    }
    case Family::kPhi3:
      phi3_keys(kv, c, d, rope);
      break;
  }
}

}  // namespace quarrel::convert
