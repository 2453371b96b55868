#include "model/synthetic.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <numbers>
#include <thread>
#include <unordered_map>
#include <vector>

#include "core/error.h"
#include "gguf/gguf_writer.h"
#include "gguf/keys.h"
#include "model/arch.h"
#include "model/tensor_names.h"
#include "quant/mix.h"
#include "quant/quant.h"

namespace quarrel::model {
namespace k = gguf::keys;
namespace {

uint64_t splitmix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

uint64_t name_seed(const std::string& name, uint64_t seed) {
  uint64_t h = splitmix64(seed);
  for (unsigned char c : name) h = splitmix64(h ^ c);
  return h;
}

// Uniform in [-1, 1) for element i of the stream `seed`.
float uniform(uint64_t seed, uint64_t i) {
  return static_cast<float>(static_cast<double>(splitmix64(seed ^ splitmix64(i)) >> 11) * 0x1.0p-52 - 1.0);
}

// How the values of one tensor are made: center + scale * uniform, or a fixed function.
struct ValueRule {
  float center = 0.0f;
  float scale = 1.0f;
  std::function<float(int64_t)> fixed;  // when set, element i is fixed(i)
};

// Llama 3.1 frequency factors (factor 8, low 1, high 4, original context 8192).
float llama3_freq_factor(int64_t i, int64_t n_rot, float base) {
  const double freq = std::pow(static_cast<double>(base), -2.0 * static_cast<double>(i) / static_cast<double>(n_rot));
  const double wavelen = 2.0 * std::numbers::pi / freq;
  const double factor = 8.0, low = 1.0, high = 4.0, orig = 8192.0;
  const double low_wavelen = orig / low, high_wavelen = orig / high;
  if (wavelen < high_wavelen) return 1.0f;
  if (wavelen > low_wavelen) return static_cast<float>(factor);
  const double smooth = (orig / wavelen - low) / (high - low);
  return static_cast<float>(1.0 / ((1.0 - smooth) / factor + smooth));
}

void fill_tensor(uint8_t* dst, GgmlType type, int64_t ne0, int64_t n_rows, uint64_t seed, const ValueRule& rule) {
  const uint64_t rb = row_bytes(type, static_cast<uint64_t>(ne0));
  auto work = [&](int64_t r0, int64_t r1) {
    std::vector<float> row(static_cast<size_t>(ne0));
    for (int64_t r = r0; r < r1; ++r) {
      for (int64_t i = 0; i < ne0; ++i) {
        const int64_t idx = r * ne0 + i;
        row[static_cast<size_t>(i)] =
            rule.fixed ? rule.fixed(idx) : rule.center + rule.scale * uniform(seed, static_cast<uint64_t>(idx));
      }
      quant::quantize_row(type, row.data(), dst + static_cast<uint64_t>(r) * rb, ne0);
    }
  };
  const int64_t n_threads = std::min<int64_t>(std::max(1u, std::thread::hardware_concurrency()), n_rows);
  if (n_threads <= 1 || static_cast<uint64_t>(n_rows) * static_cast<uint64_t>(ne0) < (1u << 16)) {
    work(0, n_rows);
    return;
  }
  std::vector<std::thread> threads;
  const int64_t chunk = (n_rows + n_threads - 1) / n_threads;
  for (int64_t t = 0; t < n_threads; ++t) {
    const int64_t r0 = t * chunk, r1 = std::min(n_rows, r0 + chunk);
    if (r0 < r1) threads.emplace_back(work, r0, r1);
  }
  for (auto& th : threads) th.join();
}

// The type llama.cpp's quantize tool gives each tensor under the spec's mix.
std::unordered_map<std::string, GgmlType> types_of_mix(const SyntheticSpec& spec, const std::vector<WeightSpec>& weights) {
  const quant::QuantMix* mix = quant::find_mix(spec.mix);
  if (mix == nullptr) {
    fail(ErrorCode::kInvalidArgument, "synthetic model: unknown quantization mix '{}' (known: {})", spec.mix,
         quant::mix_names());
  }
  std::vector<quant::TensorDesc> all;
  for (const WeightSpec& ws : weights) {
    all.push_back({tensor_name(ws.kind, ws.layer), std::vector<uint64_t>(ws.shape.begin(), ws.shape.end()), GgmlType::F32});
  }
  std::vector<quant::TensorDesc> ordered;
  for (size_t i : quant::quantization_order(all)) ordered.push_back(all[i]);
  const quant::ModelShape shape{.arch = spec.arch,
                                .n_layer = static_cast<int>(spec.n_layer),
                                .n_head = static_cast<int>(spec.n_head),
                                .n_head_kv = static_cast<int>(spec.n_head_kv),
                                .n_expert = static_cast<int>(spec.n_expert)};
  const auto choices = quant::choose_types(*mix, shape, ordered);
  std::unordered_map<std::string, GgmlType> types;
  for (size_t i = 0; i < ordered.size(); ++i) types[ordered[i].name] = choices[i].type;
  return types;
}

}  // namespace

gguf::GgufWriter synthetic_model_writer(const SyntheticSpec& spec) {
  const ArchSpec* arch = find_arch(spec.arch);
  if (arch == nullptr) {
    fail(ErrorCode::kInvalidArgument, "synthetic model: architecture '{}' is not supported (supported: {})", spec.arch,
         known_arch_names());
  }
  if (spec.rope_freqs && spec.arch != "llama") {
    fail(ErrorCode::kInvalidArgument, "synthetic model: rope_freqs is only for 'llama'");
  }
  gguf::GgufWriter w;
  auto key = [&](std::string_view suffix) { return spec.arch + "." + std::string(suffix); };
  auto u32 = [](int64_t v) { return gguf::Value::u32(static_cast<uint32_t>(v)); };
  w.set(std::string(k::kGeneralArchitecture), gguf::Value::string(spec.arch));
  w.set(std::string(k::kGeneralName), gguf::Value::string("synthetic-" + spec.arch));
  w.set(key(k::kContextLength), u32(spec.n_ctx));
  w.set(key(k::kEmbeddingLength), u32(spec.n_embd));
  w.set(key(k::kBlockCount), u32(spec.n_layer));
  w.set(key(k::kFeedForwardLength), u32(spec.n_ff));
  w.set(key(k::kAttentionHeadCount), u32(spec.n_head));
  w.set(key(k::kAttentionHeadCountKv), u32(spec.n_head_kv));
  w.set(key(k::kAttentionLayerNormRmsEpsilon), gguf::Value::f32(spec.rms_eps));
  w.set(key(k::kRopeFreqBase), gguf::Value::f32(spec.rope_freq_base));
  w.set(key(k::kVocabSize), u32(spec.n_vocab));
  const int64_t head_dim = spec.head_dim > 0 ? spec.head_dim : spec.n_embd / spec.n_head;
  if (spec.head_dim > 0) {
    w.set(key(k::kAttentionKeyLength), u32(head_dim));
    w.set(key(k::kAttentionValueLength), u32(head_dim));
  }
  w.set(key(k::kRopeDimensionCount), u32(head_dim));
  if (!spec.rope_scaling.empty()) {
    w.set(key(k::kRopeScalingType), gguf::Value::string(spec.rope_scaling));
    w.set(key(k::kRopeScalingFactor), gguf::Value::f32(spec.rope_scale_factor));
  }
  if (spec.rope_orig_ctx > 0) w.set(key(k::kRopeScalingOrigCtxLen), u32(spec.rope_orig_ctx));
  if (spec.sliding_window > 0) w.set(key(k::kAttentionSlidingWindow), u32(spec.sliding_window));
  if (spec.n_expert > 0) {
    w.set(key(k::kExpertCount), u32(spec.n_expert));
    w.set(key(k::kExpertUsedCount), u32(spec.n_expert_used));
    if (spec.n_ff_exp > 0) w.set(key(k::kExpertFeedForwardLength), u32(spec.n_ff_exp));
  }
  auto f32_key = [&](std::string_view suffix, float v) {
    if (v > 0.0f) w.set(key(suffix), gguf::Value::f32(v));
  };
  f32_key(k::kAttentionScale, spec.attn_scale);
  f32_key(k::kAttentionLogitSoftcapping, spec.attn_softcap);
  f32_key(k::kFinalLogitSoftcapping, spec.final_softcap);
  f32_key(k::kEmbeddingScale, spec.embd_scale);
  f32_key(k::kResidualScale, spec.residual_scale);
  f32_key(k::kLogitScale, spec.logit_scale);

  // The expected weights of this architecture, as the loader will check them.
  HParams hp;
  hp.n_vocab = spec.n_vocab;
  hp.n_embd = spec.n_embd;
  hp.n_layer = spec.n_layer;
  hp.n_head = spec.n_head;
  hp.n_head_kv = spec.n_head_kv;
  hp.head_dim_k = hp.head_dim_v = head_dim;
  hp.n_ff = spec.n_ff;
  hp.n_rot = head_dim;
  hp.has_rope_freqs = spec.rope_freqs;
  hp.n_expert = spec.n_expert;
  hp.n_expert_used = spec.n_expert_used;
  hp.n_ff_exp = spec.n_ff_exp > 0 ? spec.n_ff_exp : spec.n_ff;
  const float base = spec.rope_freq_base;
  const int64_t n_rot = hp.n_rot;
  std::vector<WeightSpec> weights = arch->weights(hp, arch->block);
  if (spec.tied_embeddings) {
    std::erase_if(weights, [](const WeightSpec& ws) { return ws.kind == TensorKind::kOutput; });
  }
  const std::unordered_map<std::string, GgmlType> mix_types = spec.mix.empty() ? decltype(mix_types){} : types_of_mix(spec, weights);
  for (const WeightSpec& ws : weights) {
    const std::string name = tensor_name(ws.kind, ws.layer);
    const int64_t ne0 = ws.shape[0];
    int64_t n_rows = 1;
    for (size_t d = 1; d < ws.shape.size(); ++d) n_rows *= ws.shape[d];
    GgmlType type = GgmlType::F32;
    ValueRule rule;
    switch (ws.kind) {
      case TensorKind::kTokenEmbd: type = spec.token_embd_type.value_or(spec.type); break;
      case TensorKind::kOutput: type = spec.output_type.value_or(spec.type); break;
      case TensorKind::kOutputNorm:
      case TensorKind::kAttnNorm:
      case TensorKind::kFfnNorm:
      case TensorKind::kAttnQNorm:
      case TensorKind::kAttnKNorm:
      case TensorKind::kAttnPostNorm:
      case TensorKind::kFfnPostNorm: rule = {1.0f, 0.1f, {}}; break;
      case TensorKind::kAttnQBias:
      case TensorKind::kAttnKBias:
      case TensorKind::kAttnVBias: rule = {0.0f, 0.2f, {}}; break;
      case TensorKind::kRopeFreqs: rule.fixed = [n_rot, base](int64_t i) { return llama3_freq_factor(i, n_rot, base); }; break;
      default:
        type = spec.type;
        rule.scale = static_cast<float>(std::sqrt(3.0 / static_cast<double>(ne0)));
        break;
    }
    if (const auto it = mix_types.find(name); it != mix_types.end()) type = it->second;
    std::vector<uint64_t> shape(ws.shape.begin(), ws.shape.end());
    const uint64_t seed = name_seed(name, spec.seed);
    w.add_tensor_lazy(name, type, shape, [=](uint8_t* dst, uint64_t) { fill_tensor(dst, type, ne0, n_rows, seed, rule); });
  }
  return w;
}

void write_synthetic_model(const SyntheticSpec& spec, const std::string& path) { synthetic_model_writer(spec).write(path); }

}  // namespace quarrel::model
