#include "model/model.h"

#include <algorithm>

#include "core/error.h"
#include "core/log.h"
#include "gguf/keys.h"
#include "quant/quant.h"

namespace quarrel::model {
namespace {

bool is_vector(TensorKind kind) {
  switch (kind) {
    case TensorKind::kOutputNorm:
    case TensorKind::kRopeFreqs:
    case TensorKind::kAttnNorm:
    case TensorKind::kAttnQBias:
    case TensorKind::kAttnKBias:
    case TensorKind::kAttnVBias:
    case TensorKind::kAttnQNorm:
    case TensorKind::kAttnKNorm:
    case TensorKind::kFfnNorm:
    case TensorKind::kAttnPostNorm:
    case TensorKind::kFfnPostNorm:
      return true;
    default:
      return false;
  }
}

std::string format_dims(const std::vector<int64_t>& shape) {
  std::vector<uint64_t> u(shape.begin(), shape.end());
  return gguf::format_shape(u);
}

// Shapes compared as 4 dims padded with 1, so [64] and [64, 1] are the same tensor.
bool same_shape(const std::vector<uint64_t>& actual, const std::vector<int64_t>& expected) {
  for (size_t i = 0; i < gguf::kMaxDims; ++i) {
    const uint64_t a = i < actual.size() ? actual[i] : 1;
    const int64_t e = i < expected.size() ? expected[i] : 1;
    if (e < 0 || a != static_cast<uint64_t>(e)) return false;
  }
  return true;
}

Weight make_weight(const gguf::GgufFile& file, const gguf::TensorInfo& info) {
  Weight w;
  w.info = &info;
  w.type = info.type;
  for (size_t i = 0; i < info.shape.size() && i < 4; ++i) w.ne[i] = static_cast<int64_t>(info.shape[i]);
  const auto bytes = file.tensor_data(info);
  w.data = bytes.data();
  w.n_bytes = bytes.size();
  return w;
}

}  // namespace

Weight* Model::slot(TensorKind kind, int layer) {
  if (!is_per_layer(kind)) {
    switch (kind) {
      case TensorKind::kTokenEmbd: return &token_embd_;
      case TensorKind::kOutputNorm: return &output_norm_;
      case TensorKind::kOutput: return &output_;
      case TensorKind::kRopeFreqs: return &rope_freqs_;
      default: QUARREL_ASSERT(false);
    }
  }
  LayerWeights& l = layers_[static_cast<size_t>(layer)];
  switch (kind) {
    case TensorKind::kAttnNorm: return &l.attn_norm;
    case TensorKind::kAttnQ: return &l.wq;
    case TensorKind::kAttnK: return &l.wk;
    case TensorKind::kAttnV: return &l.wv;
    case TensorKind::kAttnQkv: return &l.wqkv;
    case TensorKind::kAttnOut: return &l.wo;
    case TensorKind::kAttnQBias: return &l.bq;
    case TensorKind::kAttnKBias: return &l.bk;
    case TensorKind::kAttnVBias: return &l.bv;
    case TensorKind::kAttnQNorm: return &l.q_norm;
    case TensorKind::kAttnKNorm: return &l.k_norm;
    case TensorKind::kAttnPostNorm: return &l.attn_post_norm;
    case TensorKind::kFfnNorm: return &l.ffn_norm;
    case TensorKind::kFfnGate: return &l.ffn_gate;
    case TensorKind::kFfnUp: return &l.ffn_up;
    case TensorKind::kFfnDown: return &l.ffn_down;
    case TensorKind::kFfnPostNorm: return &l.ffn_post_norm;
    case TensorKind::kFfnGateInp: return &l.ffn_gate_inp;
    case TensorKind::kFfnGateExps: return &l.ffn_gate_exps;
    case TensorKind::kFfnUpExps: return &l.ffn_up_exps;
    case TensorKind::kFfnDownExps: return &l.ffn_down_exps;
    default: QUARREL_ASSERT(false);
  }
  return nullptr;
}

std::shared_ptr<const Model> Model::load(const std::string& path, const LoadOptions& options) {
  return from_file(gguf::GgufFile::open(path), options);
}

std::shared_ptr<const Model> Model::from_file(gguf::GgufFile file, const LoadOptions& options) {
  std::shared_ptr<Model> m(new Model(std::move(file)));
  const gguf::GgufFile& f = m->file_;

  const std::string arch_name = f.architecture();
  m->arch_ = find_arch(arch_name);
  if (m->arch_ == nullptr) {
    fail(ErrorCode::kUnsupported, "{}: architecture '{}' is not supported (supported: {})", f.path(), arch_name,
         known_arch_names());
  }
  if (options.n_ctx < 0) fail(ErrorCode::kInvalidArgument, "context length override {} is negative", options.n_ctx);
  HParams& hp = m->hp_;
  hp = read_common_hparams(f, options.n_ctx);
  if (m->arch_->read_extra_hparams) m->arch_->read_extra_hparams(f, hp);

  // The vocabulary size is the number of rows of the embedding table.
  const std::string embd_name = tensor_name(TensorKind::kTokenEmbd);
  const gguf::TensorInfo* embd = f.find_tensor(embd_name);
  if (embd == nullptr) {
    fail(ErrorCode::kNotFound, "{}: tensor '{}' is missing (architecture '{}')", f.path(), embd_name, arch_name);
  }
  hp.n_vocab = embd->shape.size() >= 2 ? static_cast<int64_t>(embd->shape[1]) : 0;
  const std::string vocab_key = f.arch_key(gguf::keys::kVocabSize);
  if (f.has(vocab_key) && f.get_uint(vocab_key) != static_cast<uint64_t>(hp.n_vocab)) {
    fail(ErrorCode::kInvalidFile, "{}: key '{}' = {} but tensor '{}' has shape {}", f.path(), vocab_key,
         f.get_uint(vocab_key), embd_name, gguf::format_shape(embd->shape));
  }

  m->layers_.resize(static_cast<size_t>(hp.n_layer));
  for (const WeightSpec& spec : m->arch_->weights(hp, m->arch_->block)) {
    const std::string name = tensor_name(spec.kind, spec.layer);
    const gguf::TensorInfo* info = f.find_tensor(name);
    if (info == nullptr) {
      if (!spec.required) continue;
      fail(ErrorCode::kNotFound, "{}: tensor '{}' is missing (architecture '{}')", f.path(), name, arch_name);
    }
    if (!same_shape(info->shape, spec.shape)) {
      fail(ErrorCode::kInvalidFile, "{}: tensor '{}' has shape {}, expected {}", f.path(), name,
           gguf::format_shape(info->shape), format_dims(spec.shape));
    }
    try {
      quant::require_supported(name, info->type);
    } catch (const Error& e) {
      throw Error(e.code(), fmt::format("{}: {}", f.path(), e.what()));
    }
    if (is_vector(spec.kind) && info->type != GgmlType::F32) {
      fail(ErrorCode::kUnsupported, "{}: tensor '{}' has type {}; norm, bias and RoPE-factor tensors must be F32",
           f.path(), name, type_name(info->type));
    }
    *m->slot(spec.kind, spec.layer) = make_weight(f, *info);
  }
  m->tied_embeddings_ = !m->output_;

  log::debug("model loaded", {{"path", f.path()},
                              {"arch", arch_name},
                              {"n_layer", hp.n_layer},
                              {"n_embd", hp.n_embd},
                              {"n_vocab", hp.n_vocab},
                              {"tied_embeddings", m->tied_embeddings_}});
  return m;
}

uint64_t Model::weight_bytes() const {
  uint64_t total = 0;
  for (const auto& t : file_.tensors()) total += t.n_bytes();
  return total;
}

uint64_t Model::bytes_per_token() const {
  uint64_t total = output_norm_.n_bytes + output().n_bytes + rope_freqs_.n_bytes + token_embd_.row_bytes();
  for (const LayerWeights& l : layers_) {
    for (const Weight* w : {&l.attn_norm, &l.wq, &l.wk, &l.wv, &l.wqkv, &l.wo, &l.bq, &l.bk, &l.bv, &l.q_norm,
                            &l.k_norm, &l.attn_post_norm, &l.ffn_norm, &l.ffn_gate, &l.ffn_up, &l.ffn_down,
                            &l.ffn_post_norm, &l.ffn_gate_inp}) {
      total += w->n_bytes;
    }
    for (const Weight* w : {&l.ffn_gate_exps, &l.ffn_up_exps, &l.ffn_down_exps}) {
      if (hp_.n_expert > 0) total += w->n_bytes / static_cast<uint64_t>(hp_.n_expert) * static_cast<uint64_t>(hp_.n_expert_used);
    }
  }
  return total;
}

}  // namespace quarrel::model
