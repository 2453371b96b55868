#pragma once
// A float64 scalar reference forward pass for the Llama family (llama with or without experts,
// mistral, qwen2, qwen3, qwen3moe, gemma2, gemma3, phi3, granite), written independently of
// src/model and src/backend and as plainly as possible: it reads the GGUF keys itself,
// dequantizes every weight once with quant::dequantize_row into doubles, keeps each sequence's
// K/V contiguous (no paging), and runs one token at a time. It is the oracle the fast CPU path
// is tested against.
#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

namespace quarrel::test {

class ReferenceForward {
 public:
  explicit ReferenceForward(const std::string& gguf_path);

  int64_t n_vocab() const { return n_vocab_; }

  // One sequence's cache: per layer, K and V of every position so far, back to back.
  struct Sequence {
    std::vector<std::vector<double>> k, v;  // [n_layer][n_past * n_head_kv * head_dim]
    int64_t n_past = 0;
  };
  Sequence new_sequence() const;

  // Runs `token` at position seq.n_past, appends its K/V, and returns its logits [n_vocab].
  std::vector<double> step(Sequence& seq, int32_t token) const;

  // Feeds the prompt, then picks the argmax n times. Returns the n generated ids; when
  // step_logits is given it receives the n logit vectors the picks were made from.
  std::vector<int32_t> greedy(const std::vector<int32_t>& prompt, int n,
                              std::vector<std::vector<double>>* step_logits = nullptr) const;

 private:
  struct Matrix {
    int64_t cols = 0, rows = 0;  // GGUF [ne0 = cols, ne1 = rows]
    std::vector<double> v;       // rows * cols, row-major
  };
  const Matrix& w(const std::string& name) const;
  const Matrix* find(const std::string& name) const;
  std::vector<double> matvec(const Matrix& m, const std::vector<double>& x) const;
  // Rows [row0, row0 + n_rows) of m times x (one expert of a stacked expert tensor).
  std::vector<double> matvec_rows(const Matrix& m, int64_t row0, int64_t n_rows, const std::vector<double>& x) const;
  std::vector<double> feed_forward(const std::string& blk, const std::vector<double>& x) const;
  bool is_sliding_layer(int64_t layer) const;
  std::vector<double> rms_norm(const std::vector<double>& x, const Matrix& weight, size_t offset = 0,
                               size_t n = 0) const;
  // base, freq_scale: the layer's RoPE (gemma3's local layers have their own); YaRN only when
  // `scaled` (the file's scaling applies to this layer).
  void rope(double* x, int64_t pos, double base, double freq_scale, bool scaled) const;

  std::unordered_map<std::string, Matrix> weights_;
  std::string arch_;
  int64_t n_vocab_ = 0, n_embd_ = 0, n_layer_ = 0, n_head_ = 0, n_head_kv_ = 0, head_dim_ = 0, n_ff_ = 0;
  int64_t n_rot_ = 0, sliding_window_ = 0, rope_orig_ctx_ = 0;
  double eps_ = 1e-5, rope_base_ = 10000.0, freq_scale_ = 1.0, attn_factor_ = 1.0;
  bool neox_ = false, yarn_ = false;
  // Architecture extras (0 = not used).
  double attn_scale_ = 0, attn_softcap_ = 0, final_softcap_ = 0, embd_scale_ = 0, residual_scale_ = 0,
         logit_scale_ = 0;
  int64_t swa_every_ = 0;         // 0: the window applies to every layer; p: layer l is global iff (l + 1) % p == 0
  double local_rope_base_ = 0;    // gemma3's sliding-window layers: this base, no scaling
  bool gelu_ = false;             // GeGLU (gemma) instead of SwiGLU
  int64_t n_expert_ = 0, n_expert_used_ = 0, n_ff_exp_ = 0;
  bool expert_norm_ = true;
  std::vector<double> freq_factors_;  // [n_rot / 2], 1 when the model has none
};

}  // namespace quarrel::test
