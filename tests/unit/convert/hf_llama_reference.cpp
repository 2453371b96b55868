#include "hf_llama_reference.h"

#include <fmt/format.h>

#include <cmath>
#include <numbers>

namespace quarrel::test {
namespace {

using Vec = std::vector<double>;

struct Ref {
  const TinyCheckpoint& c;
  // W [rows, cols] (PyTorch order) times x [cols].
  Vec matvec(const std::string& name, const Vec& x) const {
    const auto& s = c.spec(name);
    const int64_t rows = s.shape[0], cols = s.shape[1];
    Vec y(static_cast<size_t>(rows), 0.0);
    for (int64_t r = 0; r < rows; ++r) {
      double acc = 0;
      for (int64_t k = 0; k < cols; ++k) acc += c.weight(name, r * cols + k) * x[static_cast<size_t>(k)];
      y[static_cast<size_t>(r)] = acc;
    }
    return y;
  }
  void add_bias(const std::string& name, Vec& y) const {
    for (size_t i = 0; i < y.size(); ++i) y[i] += c.weight(name, static_cast<int64_t>(i));
  }
  // HF RMSNorm over x[off, off + n): x / sqrt(mean(x^2) + eps) * w.
  void rms_norm(Vec& x, const std::string& w, size_t off, size_t n, double eps) const {
    double ss = 0;
    for (size_t i = 0; i < n; ++i) ss += x[off + i] * x[off + i];
    const double inv = 1.0 / std::sqrt(ss / static_cast<double>(n) + eps);
    for (size_t i = 0; i < n; ++i) x[off + i] = x[off + i] * inv * c.weight(w, static_cast<int64_t>(i));
  }
};

}  // namespace

std::vector<std::vector<double>> hf_reference_logits(const TinyCheckpoint& c, const std::string& family,
                                                     const std::vector<int32_t>& tokens) {
  const Ref ref{c};
  const auto& cfg = c.config;
  const int64_t E = c.n_embd, H = c.n_head, KV = c.n_head_kv, D = c.head_dim, L = c.n_layer;
  const double eps = cfg.at("rms_norm_eps").get<double>();
  const auto& rp = cfg.contains("rope_parameters") ? cfg["rope_parameters"] : nlohmann::json::object();
  const double theta = rp.value("rope_theta", cfg.value("rope_theta", 10000.0));
  const int64_t window = cfg.contains("sliding_window") && cfg["sliding_window"].is_number() ? cfg["sliding_window"].get<int64_t>() : 0;

  // transformers' inv_freq, with the llama3 adjustment when configured.
  std::vector<double> inv_freq(static_cast<size_t>(D / 2));
  for (int64_t i = 0; i < D / 2; ++i) inv_freq[static_cast<size_t>(i)] = 1.0 / std::pow(theta, 2.0 * i / D);
  if (rp.value("rope_type", "default") == "llama3") {
    const double factor = rp["factor"], lo = rp["low_freq_factor"], hi = rp["high_freq_factor"];
    const double old = rp["original_max_position_embeddings"];
    for (double& f : inv_freq) {
      const double wavelen = 2 * std::numbers::pi / f;
      if (wavelen > old / lo) {
        f = f / factor;
      } else if (wavelen >= old / hi) {
        const double smooth = (old / wavelen - lo) / (hi - lo);
        f = (1 - smooth) * f / factor + smooth * f;
      }
    }
  }
  auto rope = [&](Vec& v, int64_t n_heads, int64_t pos) {
    for (int64_t h = 0; h < n_heads; ++h)
      for (int64_t i = 0; i < D / 2; ++i) {
        const double a = static_cast<double>(pos) * inv_freq[static_cast<size_t>(i)];
        const size_t i1 = static_cast<size_t>(h * D + i), i2 = i1 + static_cast<size_t>(D / 2);
        const double x1 = v[i1], x2 = v[i2];
        v[i1] = x1 * std::cos(a) - x2 * std::sin(a);
        v[i2] = x2 * std::cos(a) + x1 * std::sin(a);
      }
  };

  std::vector<std::vector<Vec>> kcache(static_cast<size_t>(L)), vcache(static_cast<size_t>(L));
  std::vector<std::vector<double>> out;
  const bool tied = !cfg.value("tie_word_embeddings", false) ? false : true;
  for (size_t pos = 0; pos < tokens.size(); ++pos) {
    Vec x(static_cast<size_t>(E));
    for (int64_t i = 0; i < E; ++i) x[static_cast<size_t>(i)] = c.weight("model.embed_tokens.weight", tokens[pos] * E + i);
    for (int64_t l = 0; l < L; ++l) {
      const std::string p = fmt::format("model.layers.{}.", l);
      Vec h = x;
      ref.rms_norm(h, p + "input_layernorm.weight", 0, static_cast<size_t>(E), eps);
      Vec q = ref.matvec(p + "self_attn.q_proj.weight", h);
      Vec k = ref.matvec(p + "self_attn.k_proj.weight", h);
      Vec v = ref.matvec(p + "self_attn.v_proj.weight", h);
      if (family == "qwen2") {
        ref.add_bias(p + "self_attn.q_proj.bias", q);
        ref.add_bias(p + "self_attn.k_proj.bias", k);
        ref.add_bias(p + "self_attn.v_proj.bias", v);
      }
      if (family == "qwen3") {
        for (int64_t hh = 0; hh < H; ++hh) ref.rms_norm(q, p + "self_attn.q_norm.weight", static_cast<size_t>(hh * D), static_cast<size_t>(D), eps);
        for (int64_t hh = 0; hh < KV; ++hh) ref.rms_norm(k, p + "self_attn.k_norm.weight", static_cast<size_t>(hh * D), static_cast<size_t>(D), eps);
      }
      rope(q, H, static_cast<int64_t>(pos));
      rope(k, KV, static_cast<int64_t>(pos));
      kcache[static_cast<size_t>(l)].push_back(k);
      vcache[static_cast<size_t>(l)].push_back(v);
      Vec attn(static_cast<size_t>(H * D), 0.0);
      for (int64_t hh = 0; hh < H; ++hh) {
        const int64_t g = hh / (H / KV);
        std::vector<double> s;
        std::vector<size_t> js;
        for (size_t j = 0; j <= pos; ++j) {
          if (window > 0 && pos - j >= static_cast<size_t>(window)) continue;
          double d = 0;
          for (int64_t i = 0; i < D; ++i) d += q[static_cast<size_t>(hh * D + i)] * kcache[static_cast<size_t>(l)][j][static_cast<size_t>(g * D + i)];
          s.push_back(d / std::sqrt(static_cast<double>(D)));
          js.push_back(j);
        }
        double mx = -1e300, sum = 0;
        for (double z : s) mx = std::max(mx, z);
        for (double& z : s) sum += (z = std::exp(z - mx));
        for (size_t t = 0; t < s.size(); ++t)
          for (int64_t i = 0; i < D; ++i)
            attn[static_cast<size_t>(hh * D + i)] += s[t] / sum * vcache[static_cast<size_t>(l)][js[t]][static_cast<size_t>(g * D + i)];
      }
      const Vec o = ref.matvec(p + "self_attn.o_proj.weight", attn);
      for (int64_t i = 0; i < E; ++i) x[static_cast<size_t>(i)] += o[static_cast<size_t>(i)];
      h = x;
      ref.rms_norm(h, p + "post_attention_layernorm.weight", 0, static_cast<size_t>(E), eps);
      const Vec gate = ref.matvec(p + "mlp.gate_proj.weight", h), up = ref.matvec(p + "mlp.up_proj.weight", h);
      Vec act(gate.size());
      for (size_t i = 0; i < act.size(); ++i) act[i] = gate[i] / (1.0 + std::exp(-gate[i])) * up[i];
      const Vec down = ref.matvec(p + "mlp.down_proj.weight", act);
      for (int64_t i = 0; i < E; ++i) x[static_cast<size_t>(i)] += down[static_cast<size_t>(i)];
    }
    ref.rms_norm(x, "model.norm.weight", 0, static_cast<size_t>(E), eps);
    out.push_back(ref.matvec(tied ? "model.embed_tokens.weight" : "lm_head.weight", x));
  }
  return out;
}

}  // namespace quarrel::test
