#pragma once
// A float64 scalar reference forward pass for the Llama family (llama, mistral, qwen2,
// qwen3), written independently of src/model and src/backend and as plainly as possible: it
// reads the GGUF keys itself, dequantizes every weight once with quant::dequantize_row into
// doubles, keeps each sequence's K/V contiguous (no paging), and runs one token at a time.
// It is the oracle the fast CPU path is tested against.
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
  std::vector<double> rms_norm(const std::vector<double>& x, const Matrix& weight, size_t offset = 0,
                               size_t n = 0) const;
  void rope(double* x, int64_t pos) const;

  std::unordered_map<std::string, Matrix> weights_;
  std::string arch_;
  int64_t n_vocab_ = 0, n_embd_ = 0, n_layer_ = 0, n_head_ = 0, n_head_kv_ = 0, head_dim_ = 0, n_ff_ = 0;
  int64_t n_rot_ = 0, sliding_window_ = 0, rope_orig_ctx_ = 0;
  double eps_ = 1e-5, rope_base_ = 10000.0, freq_scale_ = 1.0, attn_factor_ = 1.0;
  bool neox_ = false, yarn_ = false;
  std::vector<double> freq_factors_;  // [n_rot / 2], 1 when the model has none
};

}  // namespace quarrel::test
