#include "backend/cpu_backend.h"

#include <algorithm>
#include <numeric>

#include "backend/cpu/ffn.h"
#include "backend/cpu/matmul.h"
#include "backend/cpu/weight_view.h"
#include "core/error.h"
#include "quant/quant.h"

namespace quarrel::backend {
namespace {

cpu::WeightMatrix matrix(const model::Weight& w) { return cpu::weight_matrix(w); }
const float* f32(const model::Weight& w) { return cpu::weight_f32(w); }

}  // namespace

// Activations of one batch, token-major: column t of a [rows, n] buffer at buf + t * rows.
// Sized for the largest batch seen; reused.
struct CpuBackend::Scratch {
  std::vector<size_t> order;            // [n] batch index of the t-th token in sequence-grouped order
  std::vector<int32_t> positions;       // [n] in that order
  std::vector<int64_t> slots;           // [n] in that order
  std::vector<float> x, xn, tmp;        // [n_embd, n]
  std::vector<float> q, att;            // [n_head * head_dim, n]
  std::vector<float> k, v;              // [n_head_kv * head_dim, n]
  std::vector<float> qkv;               // [n_embd_q + 2 n_embd_k_gqa, n] (fused_qkv)
  cpu::FfnScratch ffn;
  cpu::RopeCache rope, rope_swa;
};

CpuBackend::CpuBackend(const CpuBackendOptions& options) : pool_(options.n_threads), s_(std::make_unique<Scratch>()) {}
CpuBackend::~CpuBackend() = default;

Capabilities CpuBackend::capabilities() const {
  return {.kv_types = {GgmlType::F16, GgmlType::F32, GgmlType::Q8_0}, .max_batch_tokens = 0, .device_memory = false};
}

const model::Model& CpuBackend::model() const {
  if (!model_) fail(ErrorCode::kInternal, "cpu backend: no model loaded");
  return *model_;
}

void CpuBackend::load(std::shared_ptr<const model::Model> model, const KvCacheConfig& kv) {
  QUARREL_ASSERT(model != nullptr);
  const model::HParams& hp = model->hparams();
  if (hp.head_dim_k != hp.head_dim_v) {
    fail(ErrorCode::kUnsupported, "{}: key head size {} differs from value head size {}", model->path(), hp.head_dim_k,
         hp.head_dim_v);
  }
  if (kv.n_blocks <= 0 || kv.block_size <= 0) {
    fail(ErrorCode::kInvalidArgument, "KV cache: {} blocks of {} tokens (both must be positive)", kv.n_blocks, kv.block_size);
  }
  cpu::KvLayout layout{.type = kv.type,
                       .head_dim = static_cast<int>(hp.head_dim_k),
                       .n_kv_head = static_cast<int>(hp.n_head_kv),
                       .block_size = kv.block_size};
  cpu::validate(layout);
  for (const model::LayerWeights& l : model->layers()) {
    for (const model::Weight* w : {&l.wq, &l.wk, &l.wv, &l.wqkv, &l.wo, &l.ffn_gate, &l.ffn_up, &l.ffn_down,
                                   &l.ffn_gate_inp, &l.ffn_gate_exps, &l.ffn_up_exps, &l.ffn_down_exps}) {
      if (*w && !cpu::matmul_supported(w->type)) {
        fail(ErrorCode::kUnsupported, "{}: tensor '{}' has type {}, which the CPU backend cannot multiply with",
             model->path(), w->name(), type_name(w->type));
      }
    }
  }
  const uint64_t total = 2 * static_cast<uint64_t>(hp.n_layer) * layout.layer_bytes(kv.n_blocks);
  try {
    kv_storage_.assign(total, 0);
  } catch (const std::bad_alloc&) {
    fail(ErrorCode::kOutOfMemory, "KV cache of {} MiB ({} blocks of {} tokens, {}) does not fit in memory",
         total >> 20, kv.n_blocks, kv.block_size, type_name(kv.type));
  }
  rope_ = cpu::RopeParams{.n_dims = static_cast<int>(hp.n_rot),
                          .neox = model->block().rope_style == model::RopeStyle::kNeox,
                          .freq_base = hp.rope_freq_base,
                          .freq_scale = hp.rope_freq_scale(),
                          .freq_factors = model->rope_freqs() ? f32(model->rope_freqs()) : nullptr,
                          .n_ctx_orig = static_cast<int>(hp.rope_orig_ctx),
                          .ext_factor = hp.yarn_ext_factor(),
                          .attn_factor = hp.yarn_attn_factor,
                          .beta_fast = hp.yarn_beta_fast,
                          .beta_slow = hp.yarn_beta_slow};
  rope_swa_differs_ = hp.rope_freq_base_swa > 0.0f;
  rope_swa_ = rope_;
  if (rope_swa_differs_) {  // gemma3's local layers: their own base, no scaling
    rope_swa_.freq_base = hp.rope_freq_base_swa;
    rope_swa_.freq_scale = 1.0f;
    rope_swa_.ext_factor = 0.0f;
    rope_swa_.attn_factor = 1.0f;
  }
  layout_ = layout;
  kv_ = kv;
  model_ = std::move(model);
}

uint8_t* CpuBackend::k_cache(int64_t layer) {
  return kv_storage_.data() + static_cast<size_t>(2 * layer) * layout_.layer_bytes(kv_.n_blocks);
}
uint8_t* CpuBackend::v_cache(int64_t layer) {
  return kv_storage_.data() + static_cast<size_t>(2 * layer + 1) * layout_.layer_bytes(kv_.n_blocks);
}

void CpuBackend::copy_blocks(std::span<const kv::BlockCopy> copies) {
  const size_t bb = layout_.block_bytes();
  for (const kv::BlockCopy& c : copies) {
    if (c.src < 0 || c.src >= kv_.n_blocks || c.dst < 0 || c.dst >= kv_.n_blocks) {
      fail(ErrorCode::kInvalidArgument, "copy_blocks: block {} -> {} outside the pool of {} blocks", c.src, c.dst,
           kv_.n_blocks);
    }
    if (c.src == c.dst) continue;
    for (int64_t l = 0; l < model().hparams().n_layer; ++l) {
      for (uint8_t* cache : {k_cache(l), v_cache(l)}) {
        std::copy_n(cache + static_cast<size_t>(c.src) * bb, bb, cache + static_cast<size_t>(c.dst) * bb);
      }
    }
  }
}

void CpuBackend::check_batch(const Batch& batch) const {
  batch.validate(kv_.n_blocks, kv_.block_size);
  const int64_t n_vocab = model().hparams().n_vocab;
  for (size_t i = 0; i < batch.size(); ++i) {
    if (batch.tokens[i] < 0 || batch.tokens[i] >= n_vocab) {
      fail(ErrorCode::kInvalidArgument, "batch: token {} has id {}, outside the vocabulary of {}", i, batch.tokens[i],
           n_vocab);
    }
  }
}

void CpuBackend::forward(const Batch& batch, Logits& out) {
  check_batch(batch);
  const model::Model& m = *model_;
  const model::HParams& hp = m.hparams();
  const int64_t n = static_cast<int64_t>(batch.size());
  const int64_t n_embd = hp.n_embd;
  const auto nz = static_cast<size_t>(n);
  out.n_vocab = hp.n_vocab;
  out.batch_index.clear();
  out.values.clear();
  if (n == 0) return;

  Scratch& s = *s_;
  // Tokens grouped by sequence (stable), so each sequence's queries are contiguous for attention.
  s.order.resize(nz);
  std::iota(s.order.begin(), s.order.end(), size_t{0});
  std::vector<size_t> seq_index(nz);
  for (size_t i = 0; i < nz; ++i) {
    seq_index[i] = static_cast<size_t>(batch.find_sequence(batch.seq_ids[i]) - batch.seqs.data());
  }
  std::stable_sort(s.order.begin(), s.order.end(), [&](size_t a, size_t b) { return seq_index[a] < seq_index[b]; });
  s.positions.resize(nz);
  s.slots.resize(nz);
  for (size_t t = 0; t < nz; ++t) {
    s.positions[t] = batch.positions[s.order[t]];
    s.slots[t] = batch.slots[s.order[t]];
  }
  auto resize = [nz](std::vector<float>& v, int64_t rows) { v.resize(static_cast<size_t>(rows) * nz); };
  resize(s.x, n_embd);
  resize(s.xn, n_embd);
  resize(s.tmp, n_embd);
  resize(s.q, hp.n_embd_q());
  resize(s.att, hp.n_embd_attn_out());
  resize(s.k, hp.n_embd_k_gqa());
  resize(s.v, hp.n_embd_v_gqa());
  if (m.block().fused_qkv) resize(s.qkv, hp.n_embd_q() + hp.n_embd_k_gqa() + hp.n_embd_v_gqa());
  s.rope.build(rope_, static_cast<int>(hp.head_dim_k), s.positions);
  if (rope_swa_differs_) s.rope_swa.build(rope_swa_, static_cast<int>(hp.head_dim_k), s.positions);

  // Embeddings.
  const model::Weight& embd = m.token_embd();
  for (size_t t = 0; t < nz; ++t) {
    quant::dequantize_row(embd.type, embd.row(batch.tokens[s.order[t]]), s.x.data() + t * static_cast<size_t>(n_embd),
                          n_embd);
  }
  if (hp.embd_scale > 0.0f) cpu::scale(s.x.data(), hp.embd_scale, s.x.data(), n_embd * n);

  // Each sequence's run of queries, for attention.
  std::vector<cpu::AttentionSeq> seqs;
  const int64_t ldq = hp.n_embd_q();
  for (size_t t0 = 0; t0 < nz;) {
    size_t t1 = t0;
    while (t1 < nz && seq_index[s.order[t1]] == seq_index[s.order[t0]]) ++t1;
    const BatchSequence& bs = batch.seqs[seq_index[s.order[t0]]];
    seqs.push_back({.block_table = bs.block_table,
                    .n_kv = bs.n_ctx,
                    .q = s.q.data() + static_cast<int64_t>(t0) * ldq,
                    .q_pos = std::span<const int32_t>(s.positions).subspan(t0, t1 - t0),
                    .out = s.att.data() + static_cast<int64_t>(t0) * hp.n_embd_attn_out()});
    t0 = t1;
  }

  for (int64_t il = 0; il < hp.n_layer; ++il) run_layer(il, n, seqs);

  // Logits of the tokens that want them, in batch order.
  std::vector<size_t> pos_of(nz);
  for (size_t t = 0; t < nz; ++t) pos_of[s.order[t]] = t;
  for (size_t i = 0; i < nz; ++i) {
    if (batch.want_logits[i]) out.batch_index.push_back(static_cast<int32_t>(i));
  }
  const size_t n_out = out.batch_index.size();
  if (n_out == 0) return;
  std::vector<float>& xo = s.xn;  // free now; n_out <= n columns
  for (size_t r = 0; r < n_out; ++r) {
    const size_t t = pos_of[static_cast<size_t>(out.batch_index[r])];
    std::copy_n(s.x.data() + t * static_cast<size_t>(n_embd), n_embd, xo.data() + r * static_cast<size_t>(n_embd));
  }
  output_logits(xo.data(), static_cast<int64_t>(n_out), out);
}

// Final norm, output matrix, then the architecture's logit scale and soft-cap. x: [n_embd, n_out], normed in place.
void CpuBackend::output_logits(float* x, int64_t n_out, Logits& out) {
  const model::Model& m = *model_;
  const model::HParams& hp = m.hparams();
  cpu::rms_norm(x, f32(m.output_norm()), x, hp.n_embd, n_out, hp.rms_eps);
  const int64_t n_values = n_out * hp.n_vocab;
  out.values.resize(static_cast<size_t>(n_values));
  cpu::matmul(matrix(m.output()), x, out.values.data(), n_out, pool_);
  if (hp.logit_scale > 0.0f) cpu::scale(out.values.data(), 1.0f / hp.logit_scale, out.values.data(), n_values);
  if (hp.final_softcap > 0.0f) cpu::softcap(out.values.data(), n_values, hp.final_softcap);
}

// Q, K, V of n tokens from s.xn: separate projections (+ biases) or one fused QKV split apart.
void CpuBackend::project_qkv(const model::LayerWeights& L, int64_t n) {
  const model::HParams& hp = model_->hparams();
  Scratch& s = *s_;
  const int64_t nq = hp.n_embd_q(), nk = hp.n_embd_k_gqa(), nv = hp.n_embd_v_gqa();
  if (L.wqkv) {
    cpu::matmul(matrix(L.wqkv), s.xn.data(), s.qkv.data(), n, pool_);
    const int64_t ld = nq + nk + nv;
    for (int64_t t = 0; t < n; ++t) {
      const float* c = s.qkv.data() + t * ld;
      std::copy_n(c, nq, s.q.data() + t * nq);
      std::copy_n(c + nq, nk, s.k.data() + t * nk);
      std::copy_n(c + nq + nk, nv, s.v.data() + t * nv);
    }
  } else {
    const cpu::MatmulOut qkv[3] = {{matrix(L.wq), s.q.data(), 0}, {matrix(L.wk), s.k.data(), 0}, {matrix(L.wv), s.v.data(), 0}};
    cpu::matmul_multi(qkv, s.xn.data(), hp.n_embd, n, pool_);
  }
  if (L.bq) {
    for (int64_t t = 0; t < n; ++t) {
      cpu::add(s.q.data() + t * nq, f32(L.bq), s.q.data() + t * nq, nq);
      cpu::add(s.k.data() + t * nk, f32(L.bk), s.k.data() + t * nk, nk);
      cpu::add(s.v.data() + t * nv, f32(L.bv), s.v.data() + t * nv, nv);
    }
  }
}

// x += residual_scale * post_norm(tmp), each step only where the architecture has it.
void CpuBackend::add_residual(const model::Weight& post_norm, int64_t n) {
  const model::HParams& hp = model_->hparams();
  Scratch& s = *s_;
  const int64_t n_embd = hp.n_embd;
  if (post_norm) cpu::rms_norm(s.tmp.data(), f32(post_norm), s.tmp.data(), n_embd, n, hp.rms_eps);
  if (hp.residual_scale > 0.0f) cpu::scale(s.tmp.data(), hp.residual_scale, s.tmp.data(), n_embd * n);
  cpu::add(s.x.data(), s.tmp.data(), s.x.data(), n_embd * n);
}

void CpuBackend::run_layer(int64_t il, int64_t n, const std::vector<cpu::AttentionSeq>& seqs) {
  const model::HParams& hp = model_->hparams();
  const model::LayerWeights& L = model_->layer(il);
  Scratch& s = *s_;
  const int64_t n_embd = hp.n_embd, hd = hp.head_dim_k;
  const int n_head = static_cast<int>(hp.n_head), n_head_kv = static_cast<int>(hp.n_head_kv);
  const bool swa = hp.is_swa_layer(il);

  // Attention.
  cpu::rms_norm(s.x.data(), f32(L.attn_norm), s.xn.data(), n_embd, n, hp.rms_eps);
  project_qkv(L, n);
  if (L.q_norm) {
    cpu::rms_norm(s.q.data(), f32(L.q_norm), s.q.data(), hd, n * n_head, hp.rms_eps);
    cpu::rms_norm(s.k.data(), f32(L.k_norm), s.k.data(), hd, n * n_head_kv, hp.rms_eps);
  }
  const cpu::RopeCache& rope = swa && rope_swa_differs_ ? s.rope_swa : s.rope;
  cpu::rope(s.q.data(), n_head, 0, rope);
  cpu::rope(s.k.data(), n_head_kv, 0, rope);
  cpu::kv_store(layout_, k_cache(il), v_cache(il), s.k.data(), s.v.data(), 0, s.slots);
  const cpu::AttentionParams ap{.n_head = n_head,
                                .n_kv_head = n_head_kv,
                                .head_dim = static_cast<int>(hd),
                                .scale = hp.attn_scale,
                                .softcap = hp.attn_softcap,
                                .sliding_window = swa ? static_cast<int32_t>(hp.sliding_window) : 0,
                                .causal = true};
  cpu::attention(ap, layout_, k_cache(il), v_cache(il), seqs, 0, 0, pool_);
  cpu::matmul(matrix(L.wo), s.att.data(), s.tmp.data(), n, pool_);
  add_residual(L.attn_post_norm, n);

  // Feed-forward (gated, or a mixture of experts).
  cpu::rms_norm(s.x.data(), f32(L.ffn_norm), s.xn.data(), n_embd, n, hp.rms_eps);
  cpu::ffn_forward(L, hp, model_->block(), s.xn.data(), s.tmp.data(), n, s.ffn, pool_);
  add_residual(L.ffn_post_norm, n);
}

}  // namespace quarrel::backend
