#include "common/reference_forward.h"

#include <algorithm>
#include <cmath>
#include <numbers>
#include <stdexcept>

#include "gguf/gguf_file.h"
#include "quant/quant.h"

namespace quarrel::test {

ReferenceForward::ReferenceForward(const std::string& path) {
  const gguf::GgufFile f = gguf::GgufFile::open(path);
  arch_ = f.get_string("general.architecture");
  const bool gemma = arch_ == "gemma2" || arch_ == "gemma3";
  if (arch_ != "llama" && arch_ != "mistral" && arch_ != "qwen2" && arch_ != "qwen3" && arch_ != "qwen3moe" && !gemma &&
      arch_ != "phi3" && arch_ != "granite") {
    throw std::runtime_error("reference forward: unknown architecture " + arch_);
  }
  const std::string a = arch_ + ".";
  n_embd_ = static_cast<int64_t>(f.get_uint(a + "embedding_length"));
  n_layer_ = static_cast<int64_t>(f.get_uint(a + "block_count"));
  n_head_ = static_cast<int64_t>(f.get_uint(a + "attention.head_count"));
  n_head_kv_ = static_cast<int64_t>(f.get_uint_or(a + "attention.head_count_kv", static_cast<uint64_t>(n_head_)));
  head_dim_ = static_cast<int64_t>(f.get_uint_or(a + "attention.key_length", static_cast<uint64_t>(n_embd_ / n_head_)));
  n_ff_ = static_cast<int64_t>(f.get_uint(a + "feed_forward_length"));
  n_rot_ = static_cast<int64_t>(f.get_uint_or(a + "rope.dimension_count", static_cast<uint64_t>(head_dim_)));
  eps_ = f.get_float_or(a + "attention.layer_norm_rms_epsilon", 1e-5);
  rope_base_ = f.get_float_or(a + "rope.freq_base", 10000.0);
  const std::string scaling = f.get_string_or(a + "rope.scaling.type", "");
  const double factor = f.get_float_or(a + "rope.scaling.factor", 1.0);
  if ((scaling == "linear" || scaling == "yarn") && factor != 1.0) freq_scale_ = 1.0 / factor;
  yarn_ = scaling == "yarn" && factor != 1.0;
  rope_orig_ctx_ = static_cast<int64_t>(f.get_uint_or(a + "rope.scaling.original_context_length",
                                                      f.get_uint(a + "context_length")));
  attn_factor_ = f.get_float_or(a + "rope.scaling.attn_factor", 1.0);
  if (arch_ == "mistral" || arch_ == "phi3" || gemma) {
    sliding_window_ = static_cast<int64_t>(f.get_uint_or(a + "attention.sliding_window", 0));
  }
  neox_ = arch_ == "qwen2" || arch_ == "qwen3" || arch_ == "qwen3moe" || arch_ == "phi3" || gemma;
  attn_scale_ = f.get_float_or(a + "attention.scale", 0.0);
  attn_softcap_ = f.get_float_or(a + "attention.attn_logit_softcapping", 0.0);
  final_softcap_ = f.get_float_or(a + "final_logit_softcapping", 0.0);
  if (arch_ == "granite") {
    embd_scale_ = f.get_float_or(a + "embedding_scale", 0.0);
    residual_scale_ = f.get_float_or(a + "residual_scale", 0.0);
    logit_scale_ = f.get_float_or(a + "logit_scale", 0.0);
  }
  if (gemma) {
    // Gemma multiplies the embeddings by sqrt(hidden_size), rounded to the model's dtype (float32).
    embd_scale_ = static_cast<double>(static_cast<float>(std::sqrt(static_cast<double>(n_embd_))));
    gelu_ = true;
  }
  if (arch_ == "gemma2") swa_every_ = 2;  // sliding, global, sliding, ...
  if (arch_ == "gemma3") {
    swa_every_ = 6;  // five sliding layers, then a global one
    local_rope_base_ = 10000.0;
  }
  n_expert_ = static_cast<int64_t>(f.get_uint_or(a + "expert_count", 0));
  if (n_expert_ > 0) {
    n_expert_used_ = static_cast<int64_t>(f.get_uint(a + "expert_used_count"));
    n_ff_exp_ = static_cast<int64_t>(f.get_uint_or(a + "expert_feed_forward_length", static_cast<uint64_t>(n_ff_)));
    expert_norm_ = f.get_bool_or(a + "expert_weights_norm", true);
  }

  for (const auto& t : f.tensors()) {
    Matrix m;
    m.cols = static_cast<int64_t>(t.shape[0]);
    m.rows = static_cast<int64_t>(t.n_elements()) / m.cols;
    std::vector<float> tmp(static_cast<size_t>(t.n_elements()));
    const uint8_t* src = f.tensor_data(t).data();
    const uint64_t row_bytes = t.n_bytes() / static_cast<uint64_t>(m.rows);
    for (int64_t r = 0; r < m.rows; ++r) {
      quant::dequantize_row(t.type, src + static_cast<uint64_t>(r) * row_bytes, tmp.data() + r * m.cols, m.cols);
    }
    m.v.assign(tmp.begin(), tmp.end());
    weights_.emplace(t.name, std::move(m));
  }
  n_vocab_ = w("token_embd.weight").rows;
  freq_factors_.assign(static_cast<size_t>(n_rot_ / 2), 1.0);
  if (const Matrix* ff = find("rope_freqs.weight")) freq_factors_ = ff->v;
}

const ReferenceForward::Matrix* ReferenceForward::find(const std::string& name) const {
  const auto it = weights_.find(name);
  return it == weights_.end() ? nullptr : &it->second;
}

const ReferenceForward::Matrix& ReferenceForward::w(const std::string& name) const {
  const Matrix* m = find(name);
  if (m == nullptr) throw std::runtime_error("reference forward: no tensor " + name);
  return *m;
}

std::vector<double> ReferenceForward::matvec(const Matrix& m, const std::vector<double>& x) const {
  std::vector<double> y(static_cast<size_t>(m.rows));
  for (int64_t r = 0; r < m.rows; ++r) {
    double s = 0;
    for (int64_t c = 0; c < m.cols; ++c) s += m.v[static_cast<size_t>(r * m.cols + c)] * x[static_cast<size_t>(c)];
    y[static_cast<size_t>(r)] = s;
  }
  return y;
}

// RMSNorm of x[offset, offset + n) (n = 0: all of x), times weight.
std::vector<double> ReferenceForward::rms_norm(const std::vector<double>& x, const Matrix& weight, size_t offset,
                                               size_t n) const {
  if (n == 0) n = x.size();
  double ss = 0;
  for (size_t i = 0; i < n; ++i) ss += x[offset + i] * x[offset + i];
  const double inv = 1.0 / std::sqrt(ss / static_cast<double>(n) + eps_);
  std::vector<double> y(n);
  for (size_t i = 0; i < n; ++i) y[i] = x[offset + i] * inv * weight.v[i];
  return y;
}

std::vector<double> ReferenceForward::matvec_rows(const Matrix& m, int64_t row0, int64_t n_rows,
                                                  const std::vector<double>& x) const {
  std::vector<double> y(static_cast<size_t>(n_rows));
  for (int64_t r = 0; r < n_rows; ++r) {
    double s = 0;
    for (int64_t c = 0; c < m.cols; ++c) s += m.v[static_cast<size_t>((row0 + r) * m.cols + c)] * x[static_cast<size_t>(c)];
    y[static_cast<size_t>(r)] = s;
  }
  return y;
}

bool ReferenceForward::is_sliding_layer(int64_t layer) const {
  if (sliding_window_ <= 0) return false;
  return swa_every_ == 0 || (layer + 1) % swa_every_ != 0;
}

// Rotates the first n_rot dims of one head in place (ggml's rope, with YaRN when enabled).
void ReferenceForward::rope(double* x, int64_t pos, double base, double freq_scale, bool scaled) const {
  const bool yarn = yarn_ && scaled;
  double corr_lo = 0, corr_hi = 0;
  if (yarn) {
    auto corr_dim = [&](double n_rot) {
      return static_cast<double>(n_rot_) * std::log(static_cast<double>(rope_orig_ctx_) / (n_rot * 2 * std::numbers::pi)) /
             (2 * std::log(base));
    };
    corr_lo = std::max(0.0, std::floor(corr_dim(32.0)));
    corr_hi = std::min(static_cast<double>(n_rot_ - 1), std::ceil(corr_dim(1.0)));
  }
  const int64_t half = n_rot_ / 2;
  for (int64_t i = 0; i < half; ++i) {
    const double theta_extrap =
        static_cast<double>(pos) * std::pow(base, -2.0 * static_cast<double>(i) / static_cast<double>(n_rot_)) /
        freq_factors_[static_cast<size_t>(i)];
    double theta = freq_scale * theta_extrap;
    double mscale = scaled ? attn_factor_ : 1.0;
    if (yarn) {
      const double y = (static_cast<double>(i) - corr_lo) / std::max(0.001, corr_hi - corr_lo);
      const double ramp_mix = 1.0 - std::min(1.0, std::max(0.0, y));
      theta = theta * (1 - ramp_mix) + theta_extrap * ramp_mix;
      mscale *= 1.0 + 0.1 * std::log(1.0 / freq_scale);
    }
    const double c = std::cos(theta) * mscale, s = std::sin(theta) * mscale;
    const int64_t i0 = neox_ ? i : 2 * i;
    const int64_t i1 = neox_ ? i + half : 2 * i + 1;
    const double x0 = x[i0], x1 = x[i1];
    x[i0] = x0 * c - x1 * s;
    x[i1] = x0 * s + x1 * c;
  }
}

ReferenceForward::Sequence ReferenceForward::new_sequence() const {
  Sequence s;
  s.k.resize(static_cast<size_t>(n_layer_));
  s.v.resize(static_cast<size_t>(n_layer_));
  return s;
}

// The FFN of one block on the normed input: gated (SiLU or GELU-tanh; gate and up separate or
// one fused matrix, gate rows first), or the mixture of experts.
std::vector<double> ReferenceForward::feed_forward(const std::string& b, const std::vector<double>& xf) const {
  auto act = [this](double g) {
    if (!gelu_) return g / (1.0 + std::exp(-g));
    const double c = std::sqrt(2.0 / std::numbers::pi);
    return 0.5 * g * (1.0 + std::tanh(c * (g + 0.044715 * g * g * g)));
  };
  if (n_expert_ == 0) {
    std::vector<double> g, u;
    if (find(b + "ffn_gate.weight") != nullptr) {
      g = matvec(w(b + "ffn_gate.weight"), xf);
      u = matvec(w(b + "ffn_up.weight"), xf);
    } else {  // fused: [gate; up]
      const std::vector<double> gu = matvec(w(b + "ffn_up.weight"), xf);
      g.assign(gu.begin(), gu.begin() + n_ff_);
      u.assign(gu.begin() + n_ff_, gu.end());
    }
    for (size_t i = 0; i < u.size(); ++i) u[i] *= act(g[i]);
    return matvec(w(b + "ffn_down.weight"), u);
  }
  // Router: softmax over every expert, the n_expert_used most probable, optionally renormalised.
  const std::vector<double> logits = matvec(w(b + "ffn_gate_inp.weight"), xf);
  const double mx = *std::max_element(logits.begin(), logits.end());
  std::vector<double> p(logits.size());
  double sum = 0;
  for (size_t e = 0; e < p.size(); ++e) sum += (p[e] = std::exp(logits[e] - mx));
  for (double& v : p) v /= sum;
  std::vector<int64_t> chosen;
  std::vector<bool> taken(p.size(), false);
  for (int64_t j = 0; j < n_expert_used_; ++j) {
    int64_t best = -1;
    for (size_t e = 0; e < p.size(); ++e) {
      if (!taken[e] && (best < 0 || p[e] > p[static_cast<size_t>(best)])) best = static_cast<int64_t>(e);
    }
    taken[static_cast<size_t>(best)] = true;
    chosen.push_back(best);
  }
  double chosen_sum = 0;
  for (int64_t e : chosen) chosen_sum += p[static_cast<size_t>(e)];
  const Matrix& gate = w(b + "ffn_gate_exps.weight");
  const Matrix& up = w(b + "ffn_up_exps.weight");
  const Matrix& down = w(b + "ffn_down_exps.weight");
  std::vector<double> out(static_cast<size_t>(n_embd_), 0.0);
  for (int64_t e : chosen) {
    const double weight = expert_norm_ ? p[static_cast<size_t>(e)] / chosen_sum : p[static_cast<size_t>(e)];
    const std::vector<double> g = matvec_rows(gate, e * n_ff_exp_, n_ff_exp_, xf);
    std::vector<double> u = matvec_rows(up, e * n_ff_exp_, n_ff_exp_, xf);
    for (size_t i = 0; i < u.size(); ++i) u[i] *= act(g[i]);
    const std::vector<double> d = matvec_rows(down, e * n_embd_, n_embd_, u);
    for (size_t i = 0; i < out.size(); ++i) out[i] += weight * d[i];
  }
  return out;
}

std::vector<double> ReferenceForward::step(Sequence& seq, int32_t token) const {
  const int64_t pos = seq.n_past;
  const Matrix& embd = w("token_embd.weight");
  if (token < 0 || token >= n_vocab_) throw std::runtime_error("reference forward: token out of range");
  std::vector<double> x(embd.v.begin() + token * n_embd_, embd.v.begin() + (token + 1) * n_embd_);
  if (embd_scale_ > 0) {
    for (double& v : x) v *= embd_scale_;
  }
  const int64_t q_dim = n_head_ * head_dim_;
  const int64_t kv_dim = n_head_kv_ * head_dim_;
  const int64_t group = n_head_ / n_head_kv_;
  // A block's output: [post-norm], [times the residual scale], added to x.
  auto add_to_residual = [&](std::vector<double> y, const Matrix* post_norm) {
    if (post_norm != nullptr) y = rms_norm(y, *post_norm);
    for (size_t i = 0; i < x.size(); ++i) x[i] += residual_scale_ > 0 ? residual_scale_ * y[i] : y[i];
  };

  for (int64_t l = 0; l < n_layer_; ++l) {
    const std::string b = "blk." + std::to_string(l) + ".";
    const bool sliding = is_sliding_layer(l);
    const std::vector<double> xn = rms_norm(x, w(b + "attn_norm.weight"));
    std::vector<double> q, k, v;
    if (const Matrix* qkv = find(b + "attn_qkv.weight")) {
      const std::vector<double> all = matvec(*qkv, xn);
      q.assign(all.begin(), all.begin() + q_dim);
      k.assign(all.begin() + q_dim, all.begin() + q_dim + kv_dim);
      v.assign(all.begin() + q_dim + kv_dim, all.end());
    } else {
      q = matvec(w(b + "attn_q.weight"), xn);
      k = matvec(w(b + "attn_k.weight"), xn);
      v = matvec(w(b + "attn_v.weight"), xn);
    }
    if (const Matrix* bq = find(b + "attn_q.bias")) {
      for (size_t i = 0; i < q.size(); ++i) q[i] += bq->v[i];
      const Matrix& bk = w(b + "attn_k.bias");
      for (size_t i = 0; i < k.size(); ++i) k[i] += bk.v[i];
      const Matrix& bv = w(b + "attn_v.bias");
      for (size_t i = 0; i < v.size(); ++i) v[i] += bv.v[i];
    }
    if (const Matrix* qn = find(b + "attn_q_norm.weight")) {
      const Matrix& kn = w(b + "attn_k_norm.weight");
      const auto hd = static_cast<size_t>(head_dim_);
      for (int64_t h = 0; h < n_head_; ++h) {
        const auto y = rms_norm(q, *qn, static_cast<size_t>(h) * hd, hd);
        std::copy(y.begin(), y.end(), q.begin() + h * head_dim_);
      }
      for (int64_t h = 0; h < n_head_kv_; ++h) {
        const auto y = rms_norm(k, kn, static_cast<size_t>(h) * hd, hd);
        std::copy(y.begin(), y.end(), k.begin() + h * head_dim_);
      }
    }
    const bool local_rope = sliding && local_rope_base_ > 0;
    const double base = local_rope ? local_rope_base_ : rope_base_;
    const double freq_scale = local_rope ? 1.0 : freq_scale_;
    for (int64_t h = 0; h < n_head_; ++h) rope(q.data() + h * head_dim_, pos, base, freq_scale, !local_rope);
    for (int64_t h = 0; h < n_head_kv_; ++h) rope(k.data() + h * head_dim_, pos, base, freq_scale, !local_rope);
    auto& kc = seq.k[static_cast<size_t>(l)];
    auto& vc = seq.v[static_cast<size_t>(l)];
    kc.insert(kc.end(), k.begin(), k.end());
    vc.insert(vc.end(), v.begin(), v.end());

    // Attention over positions [first, pos].
    const int64_t first = sliding ? std::max<int64_t>(0, pos - sliding_window_ + 1) : 0;
    const double scale = attn_scale_ > 0 ? attn_scale_ : 1.0 / std::sqrt(static_cast<double>(head_dim_));
    std::vector<double> att(static_cast<size_t>(n_head_ * head_dim_), 0.0);
    for (int64_t h = 0; h < n_head_; ++h) {
      const int64_t kvh = h / group;
      std::vector<double> scores;
      double mx = -INFINITY;
      for (int64_t p = first; p <= pos; ++p) {
        double s = 0;
        for (int64_t d = 0; d < head_dim_; ++d) {
          s += q[static_cast<size_t>(h * head_dim_ + d)] * kc[static_cast<size_t>(p * kv_dim + kvh * head_dim_ + d)];
        }
        s *= scale;
        if (attn_softcap_ > 0) s = attn_softcap_ * std::tanh(s / attn_softcap_);
        scores.push_back(s);
        mx = std::max(mx, s);
      }
      double sum = 0;
      for (double& s : scores) sum += (s = std::exp(s - mx));
      for (int64_t p = first; p <= pos; ++p) {
        const double a = scores[static_cast<size_t>(p - first)] / sum;
        for (int64_t d = 0; d < head_dim_; ++d) {
          att[static_cast<size_t>(h * head_dim_ + d)] += a * vc[static_cast<size_t>(p * kv_dim + kvh * head_dim_ + d)];
        }
      }
    }
    add_to_residual(matvec(w(b + "attn_output.weight"), att), find(b + "post_attention_norm.weight"));
    add_to_residual(feed_forward(b, rms_norm(x, w(b + "ffn_norm.weight"))), find(b + "post_ffw_norm.weight"));
  }
  seq.n_past = pos + 1;
  const std::vector<double> xo = rms_norm(x, w("output_norm.weight"));
  const Matrix* out = find("output.weight");
  std::vector<double> logits = matvec(out != nullptr ? *out : embd, xo);
  for (double& z : logits) {
    if (logit_scale_ > 0) z /= logit_scale_;
    if (final_softcap_ > 0) z = final_softcap_ * std::tanh(z / final_softcap_);
  }
  return logits;
}

std::vector<int32_t> ReferenceForward::greedy(const std::vector<int32_t>& prompt, int n,
                                              std::vector<std::vector<double>>* step_logits) const {
  Sequence seq = new_sequence();
  std::vector<double> logits;
  for (int32_t t : prompt) logits = step(seq, t);
  std::vector<int32_t> out;
  for (int i = 0; i < n; ++i) {
    const auto best = static_cast<int32_t>(std::max_element(logits.begin(), logits.end()) - logits.begin());
    if (step_logits != nullptr) step_logits->push_back(logits);
    out.push_back(best);
    if (i + 1 < n) logits = step(seq, best);
  }
  return out;
}

}  // namespace quarrel::test
