#pragma once
// A loaded model: the GGUF file (mmap'd), its hparams, its architecture and its weights as
// views into the mapping. Nothing is copied or dequantized at load; the page cache holds the
// only copy of the weights.
//
//   auto model = quarrel::model::Model::load("m.gguf", {.n_ctx = 4096});
//   model->hparams().n_layer; model->layer(0).wq.type; ...
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "core/ggml_type.h"
#include "gguf/gguf_file.h"
#include "model/arch.h"
#include "model/hparams.h"

namespace quarrel::model {

// One weight tensor in place in the mmap. A matrix [ne0, ne1] is ne1 rows of ne0 elements,
// each row row_bytes() long; a matmul with it maps ne0 inputs to ne1 outputs.
struct Weight {
  const gguf::TensorInfo* info = nullptr;  // null when the (optional) tensor is absent
  GgmlType type = GgmlType::F32;
  int64_t ne[4] = {1, 1, 1, 1};            // GGUF order, ne0 innermost
  const uint8_t* data = nullptr;           // in the mmap
  uint64_t n_bytes = 0;

  explicit operator bool() const { return data != nullptr; }
  const std::string& name() const { return info->name; }
  int64_t cols() const { return ne[0]; }  // inputs of a matmul
  int64_t rows() const { return ne[1]; }  // outputs of a matmul
  uint64_t row_bytes() const { return quarrel::row_bytes(type, static_cast<uint64_t>(ne[0])); }
  const uint8_t* row(int64_t i) const { return data + static_cast<uint64_t>(i) * row_bytes(); }
};

struct LayerWeights {
  Weight attn_norm;         // [n_embd]
  Weight wq, wk, wv;        // [n_embd, n_head * hd_k], [n_embd, n_head_kv * hd_k], [n_embd, n_head_kv * hd_v]
  Weight wqkv;              // [n_embd, n_head * hd_k + n_head_kv * (hd_k + hd_v)]  (fused_qkv, instead of wq/wk/wv)
  Weight wo;                // [n_head * hd_v, n_embd]
  Weight bq, bk, bv;        // [n_head * hd_k], [n_head_kv * hd_k], [n_head_kv * hd_v]  (qkv_bias)
  Weight q_norm, k_norm;    // [hd_k]  (qk_norm)
  Weight attn_post_norm;    // [n_embd]  (post_norms)
  Weight ffn_norm;          // [n_embd]
  Weight ffn_gate, ffn_up;  // [n_embd, n_ff]; fused_gate_up: no ffn_gate, ffn_up [n_embd, 2 * n_ff]
  Weight ffn_down;          // [n_ff, n_embd]
  Weight ffn_post_norm;     // [n_embd]  (post_norms)
  // Mixture of experts (n_expert > 0, instead of ffn_gate/up/down): expert x's matrix is the
  // x-th [.., ..] slice of the stacked tensor.
  Weight ffn_gate_inp;      // [n_embd, n_expert]  router
  Weight ffn_gate_exps;     // [n_embd, n_ff_exp, n_expert]
  Weight ffn_up_exps;       // [n_embd, n_ff_exp, n_expert]
  Weight ffn_down_exps;     // [n_ff_exp, n_embd, n_expert]
};

struct LoadOptions {
  int64_t n_ctx = 0;  // context length override; 0: the model's context_length
};

class Model {
 public:
  // Opens, checks and maps the model. Errors (each naming the file): unknown architecture
  // (kUnsupported), missing tensor (kNotFound), misshapen tensor (kInvalidFile), a tensor type
  // the engine cannot compute with (kUnsupported, from quant::require_supported).
  static std::shared_ptr<const Model> load(const std::string& path, const LoadOptions& options = {});
  // The same from an opened file (tests, tools that already hold it).
  static std::shared_ptr<const Model> from_file(gguf::GgufFile file, const LoadOptions& options = {});

  Model(const Model&) = delete;
  Model& operator=(const Model&) = delete;

  const gguf::GgufFile& file() const { return file_; }
  const std::string& path() const { return file_.path(); }
  const HParams& hparams() const { return hp_; }
  const ArchSpec& arch() const { return *arch_; }
  const BlockOptions& block() const { return arch_->block; }

  const Weight& token_embd() const { return token_embd_; }  // [n_embd, n_vocab]
  const Weight& output_norm() const { return output_norm_; }  // [n_embd]
  // [n_embd, n_vocab]: output.weight, or token_embd when the embeddings are tied.
  const Weight& output() const { return tied_embeddings_ ? token_embd_ : output_; }
  bool tied_embeddings() const { return tied_embeddings_; }
  const Weight& rope_freqs() const { return rope_freqs_; }  // [n_rot / 2] F32, or empty
  const LayerWeights& layer(int64_t i) const { return layers_[static_cast<size_t>(i)]; }
  std::span<const LayerWeights> layers() const { return layers_; }

  // Bytes of weight data read for one token's forward pass: every weight except the
  // embedding table (one row of it), with the output matrix counted once and, for a mixture of
  // experts, n_expert_used of the n_expert experts.
  uint64_t bytes_per_token() const;
  // Total bytes of tensor data in the file.
  uint64_t weight_bytes() const;

 private:
  explicit Model(gguf::GgufFile file) : file_(std::move(file)) {}
  Weight* slot(TensorKind kind, int layer);

  gguf::GgufFile file_;
  HParams hp_;
  const ArchSpec* arch_ = nullptr;
  Weight token_embd_, output_norm_, output_, rope_freqs_;
  bool tied_embeddings_ = false;
  std::vector<LayerWeights> layers_;
};

}  // namespace quarrel::model
