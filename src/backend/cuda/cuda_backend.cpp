#include "backend/cuda/cuda_backend.h"

#include <cublas_v2.h>

#include <algorithm>
#include <cstdlib>
#include <map>

#include "backend/cpu/ops.h"
#include "backend/cuda/attention_decode.h"
#include "backend/cuda/attention_prefill.h"
#include "backend/cuda/batch_meta.h"
#include "backend/cuda/cublas_check.h"
#include "backend/cuda/cuda_check.h"
#include "backend/cuda/cuda_weights.h"
#include "backend/cuda/device_buffer.h"
#include "backend/cuda/device_info.h"
#include "backend/cuda/env_knob.h"
#include "backend/cuda/kernels.h"
#include "backend/cuda/mmq_policy.h"
#include "backend/cuda/stage_skip.h"
#include "backend/rank_key.h"
#include "core/error.h"
#include "model/model.h"

namespace quarrel::backend {
namespace {

// Whether decode steps copy their metadata and ids by kernels through unified addressing (the
// default; QUARREL_CUDA_ZERO_COPY=0: copy-engine jobs).
bool zero_copy() {
  static const bool on = cuda::env_on("QUARREL_CUDA_ZERO_COPY");
  return on;
}
}  // namespace

struct CudaBackend::Impl {
  CudaBackendOptions opt;
  std::shared_ptr<const model::Model> model;
  cpu::RopeParams rope;
  cpu::RopeCache rope_cache;
  bool rope_swa_differs = false;  // gemma3: the sliding-window layers rotate with rope_swa
  cpu::RopeParams rope_swa;
  cpu::RopeCache rope_cache_swa;
  model::FfnActivation ffn_act = model::FfnActivation::kSilu;
  int n_dims = 0;
  cudaStream_t stream = nullptr;
  cublasHandle_t cublas = nullptr;
  cuda::DeviceWeights w;
  cuda::DeviceBuffer kv;
  size_t kv_layer_bytes = 0, kv_block_bytes = 0;
  int kv_block_size = 0;
  uint32_t kv_dev_type = cuda::kDevF16;  // the cache's elements: kDevF16 or kDevF8E4M3

  // Per-batch buffers, sized for cap tokens and bt_cap block-table entries.
  size_t cap = 0, bt_cap = 0;
  cuda::DeviceBuffer act, wh, q8buf;
  cuda::DeviceBuffer argmax_scratch;
  // Batches past the matvec's that take the tensor-core products (mmq_policy.h): their activations
  // quantized once per input (mmq_q8) for matmul_q8, or made f16 (xh) for matmul_f16act; both
  // split small matrices' k with partial sums in mmq_scratch.
  cuda::DeviceBuffer mmq_q8, mmq_scratch;
  static constexpr size_t kMmqScratchFloats = size_t{4} << 20;
  float *x = nullptr, *xn = nullptr, *q = nullptr, *att = nullptr, *k = nullptr, *v = nullptr;
  float *gate = nullptr, *up = nullptr, *logits = nullptr;
  float* tmp = nullptr;  // [n_embd, cap]: a block's output before its post-norm / residual scale
  void* xh = nullptr;
  int32_t* ids = nullptr;
  // Batch metadata: one pinned block copied to one device block each forward. Decode-sized
  // batches (at most kMatvecMaxCols tokens) use a layout of their own at the block's start, so
  // that a decode step copies a few KiB, not the metadata of the largest prompt batch (cap
  // tokens: cos/sin alone are n_dims floats per token).
  MetaLayout meta_small, meta_big;
  MetaLayout meta;  // this batch's: one of the two
  int n_tiles = 0;  // prompt batches: attention_prefill query tiles in the metadata
  bool one_token_per_seq = false;  // this batch: every sequence one token (a graph key bit)
  int max_keys = 0;  // this batch: the most keys a token attends to (whether it is short: a graph key bit)
  cuda::PinnedBuffer meta_h, out_h;
  cuda::DeviceBuffer meta_d;
  std::map<uint32_t, cudaGraphExec_t> graphs;

  ~Impl() {
    clear_graphs();
    if (cublas) cublasDestroy(cublas);
    if (stream) cudaStreamDestroy(stream);
  }
  void clear_graphs() {
    for (auto& [key, g] : graphs) cudaGraphExecDestroy(g);
    graphs.clear();
  }
  template <typename T>
  T* meta_d_at(size_t off) const { return reinterpret_cast<T*>(meta_d.get<uint8_t>() + off); }
  template <typename T>
  T* meta_h_at(size_t off) const { return reinterpret_cast<T*>(meta_h.get<uint8_t>() + off); }
  uint8_t* k_cache(int64_t l) const { return kv.get<uint8_t>() + static_cast<size_t>(2 * l) * kv_layer_bytes; }
  uint8_t* v_cache(int64_t l) const { return kv.get<uint8_t>() + static_cast<size_t>(2 * l + 1) * kv_layer_bytes; }

  void ensure_capacity(size_t n, size_t bt_total);
  // out (+)= m in for n columns; decode-sized batches read the int8 copy of `in` (q8, may be
  // null) when the weight type has the integer matvec.
  void matmul(const cuda::DevMatrix& m, const float* in, float* out, int64_t n, bool accumulate = false);
  struct Product {
    const cuda::DevMatrix* m;
    float* out;
    bool accumulate;
  };
  // Several products of the same input: integer matvecs of one type share a launch.
  // fuse: what the f32-activation matvec launches fold in (glu_fusable()).
  void matmuls(std::initializer_list<Product> ps, const float* in, const cuda::Q8Act* q8, int64_t n,
               const cuda::MatvecFuse& fuse = {});
  // Whether gate/up of layer L on n columns take one f32-activation matvec launch (types with no
  // int8 kernel, gate and up of one type and shape, a decode batch of at most kMatvecGluMaxCols),
  // which then makes SwiGLU's output itself. QUARREL_CUDA_FUSE=0 turns that off.
  bool glu_fusable(const cuda::DevLayer& L, bool q8, int64_t n) const;
  // The int8 copy of an activation of k rows (one shared buffer: each is used before the next).
  cuda::Q8Act q8_for(int64_t k) { return cuda::q8_act_at(q8buf.get(), k, cuda::kMatvecMaxCols); }
  void run_layer(int64_t il, int64_t n);
  // x += m in, into the residual stream: straight (accumulate), or through tmp when the block's
  // output has a post-norm or the model a residual scale (add_residual, which then also makes
  // `next`'s RMSNorm when next.y is set: returns whether it did).
  bool residual_matmul(const cuda::DevMatrix& m, const float* in, const cuda::Q8Act* q8, const float* post_norm,
                       int64_t n, const cuda::NextNorm& next);
  bool xn_ready = false;  // the layer's attention RMSNorm (xn and its int8 copy) was made by the layer before
  void enqueue(int64_t n, int64_t n_out, Output out);

  // Sampling candidates (forward_candidates): the k best of each logits row and the logits of
  // named (row, id) pairs. Device and pinned copies of one layout, in 4-byte words:
  // [ids k*rows][vals k*rows][named values count] then the inputs [rows of count][ids of count].
  cuda::DeviceBuffer sel_d, sel_scratch;
  cuda::PinnedBuffer sel_h;
  int sel_k = 0;
  int64_t sel_count = 0;
  void prepare_selection(int64_t rows, std::span<const CandidateRequest> requests);
  void enqueue_selection(int64_t rows);

  // dst = src in the stream, between a pinned block and the device: with direct by a kernel
  // (cuda::copy_words, zero_copy()), else by a copy-engine job of that kind.
  void copy(void* dst, const void* src, size_t bytes, cudaMemcpyKind kind, bool direct) {
    if (direct) {
      cuda::copy_words(src, dst, bytes, stream);
    } else {
      QUARREL_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, kind, stream));
    }
  }
};

void CudaBackend::Impl::prepare_selection(int64_t rows, std::span<const CandidateRequest> requests) {
  sel_k = 0;
  sel_count = 0;
  for (const CandidateRequest& r : requests) {
    sel_k = std::max(sel_k, r.k);
    sel_count += static_cast<int64_t>(r.ids.size());
  }
  const size_t words = static_cast<size_t>(2 * sel_k * rows + 3 * sel_count);
  if (sel_h.size() < words * 4) {
    const size_t bytes = pow2_at_least(words * 4, 4096);
    sel_h.reset(bytes);
    sel_d.reset(bytes);
  }
  auto* in = sel_h.get<int32_t>() + 2 * sel_k * rows + sel_count;
  int64_t j = 0;
  for (size_t r = 0; r < requests.size(); ++r) {
    for (TokenId id : requests[r].ids) {
      in[j] = static_cast<int32_t>(r);
      in[sel_count + j] = id;
      ++j;
    }
  }
}

void CudaBackend::Impl::enqueue_selection(int64_t rows) {
  const int64_t n_vocab = model->hparams().n_vocab;
  const int64_t out_words = 2 * sel_k * rows + sel_count;
  auto* d = sel_d.get<int32_t>();
  // The inputs over and the candidates back by kernels through the pinned block, not copy-engine
  // jobs (zero_copy(), as a decode step's metadata).
  const bool direct = zero_copy() && rows <= cuda::kMatvecMaxCols;
  if (sel_count > 0) {
    copy(d + out_words, sel_h.get<int32_t>() + out_words, static_cast<size_t>(2 * sel_count) * 4, cudaMemcpyHostToDevice,
         direct);
  }
  const size_t scratch = cuda::select_top_k_scratch_bytes(n_vocab, rows, sel_k);
  if (sel_scratch.size() < scratch) sel_scratch.reset(pow2_at_least(scratch, 4096));
  cuda::select_top_k(logits, n_vocab, rows, sel_k, d, reinterpret_cast<float*>(d + sel_k * rows), sel_scratch.get(),
                     stream);
  cuda::gather_logits(logits, n_vocab, d + out_words, d + out_words + sel_count, sel_count,
                      reinterpret_cast<float*>(d + 2 * sel_k * rows), stream);
  copy(sel_h.get(), d, static_cast<size_t>(out_words) * 4, cudaMemcpyDeviceToHost, direct);
}

void CudaBackend::Impl::ensure_capacity(size_t n, size_t bt_total) {
  if (n <= cap && bt_total <= bt_cap) return;
  clear_graphs();
  const model::HParams& hp = model->hparams();
  cap = pow2_at_least(std::max(n, cap), 8);
  bt_cap = pow2_at_least(std::max(bt_total, bt_cap), 1024);
  const auto c = static_cast<int64_t>(cap);
  const int64_t n_big = std::max({hp.n_embd, hp.n_embd_q(), hp.n_embd_attn_out(), hp.n_ff});
  size_t off = 0;
  auto take = [&](int64_t floats) {
    const size_t o = off;
    off += meta_aligned(static_cast<size_t>(floats) * 4);
    return o;
  };
  const size_t o_x = take(hp.n_embd * c), o_xn = take(hp.n_embd * c);
  const size_t o_q = take(hp.n_embd_q() * c), o_att = take(hp.n_embd_attn_out() * c);
  const size_t o_k = take(hp.n_embd_k_gqa() * c), o_v = take(hp.n_embd_v_gqa() * c);
  const size_t o_gate = take(hp.n_ff * c), o_up = take(hp.n_ff * c);
  const size_t o_logits = take(hp.n_vocab * c), o_xh = take((n_big * c + 1) / 2), o_ids = take(c);
  const size_t o_tmp = take(hp.n_embd * c);
  act.release();
  act.reset(off);
  auto at = [&](size_t o) { return reinterpret_cast<float*>(act.get<uint8_t>() + o); };
  x = at(o_x), xn = at(o_xn), q = at(o_q), att = at(o_att), k = at(o_k), v = at(o_v);
  gate = at(o_gate), up = at(o_up), logits = at(o_logits), xh = at(o_xh), tmp = at(o_tmp);
  ids = reinterpret_cast<int32_t*>(at(o_ids));

  q8buf.reset(cuda::q8_act_bytes(n_big, cuda::kMatvecMaxCols));
  if (cap > cuda::kMatvecMaxCols && cuda::mmq_cols() > 0) {
    mmq_q8.reset(cuda::q8_act_bytes(n_big, static_cast<int>(std::min<size_t>(cap, cuda::kMmqMaxCols))));
  }
  if (cuda::mmq_cols() > 0 && !mmq_scratch.get()) mmq_scratch.reset(kMmqScratchFloats * 4);
  argmax_scratch.reset(cuda::argmax_scratch_bytes(hp.n_vocab, c));
  QUARREL_CUDA_CHECK(cudaMemset(argmax_scratch.get(), 0, argmax_scratch.size()));
  meta_small = meta_layout(cuda::kMatvecMaxCols, bt_cap, n_dims, rope_swa_differs);
  meta_big = meta_layout(cap, bt_cap, n_dims, rope_swa_differs);
  meta_h.reset(meta_big.bytes);
  meta_d.reset(meta_big.bytes);
  out_h.reset(static_cast<size_t>(hp.n_vocab) * cap * 4);
}

bool CudaBackend::Impl::glu_fusable(const cuda::DevLayer& L, bool q8, int64_t n) const {
  static const bool on = cuda::env_on("QUARREL_CUDA_FUSE");
  // (down reads the int8 copy swiglu_q8 makes when its type has the int8 kernel)
  const bool int8 = q8 && (cuda::matvec_q8_supported(L.gate.type) || cuda::matvec_q8_supported(L.up.type) ||
                           cuda::matvec_q8_supported(L.down.type));
  return on && !int8 && n <= cuda::kMatvecGluMaxCols && L.gate.type == L.up.type && L.gate.n == L.up.n &&
         L.gate.k == L.up.k;
}

void CudaBackend::Impl::matmuls(std::initializer_list<Product> ps, const float* in, const cuda::Q8Act* q8, int64_t n,
                                const cuda::MatvecFuse& fuse) {
  std::vector<cuda::MatvecJob> jobs;
  std::vector<bool> done(ps.size(), false);
  // jobs = product i and the next not-done ones of its type and k (at most 3), marked done.
  auto group = [&](size_t i) {
    const Product& p = ps.begin()[i];
    jobs.clear();
    for (size_t j = i; j < ps.size() && jobs.size() < 3; ++j) {
      const Product& o = ps.begin()[j];
      if (done[j] || o.m->type != p.m->type || o.m->k != p.m->k) continue;
      jobs.push_back({.w = *o.m, .y = o.out, .ldy = o.m->n, .accumulate = o.accumulate});
      done[j] = true;
    }
    return static_cast<int>(jobs.size());
  };
  if (q8 && n <= cuda::kMatvecMaxCols) {  // the integer products first
    for (size_t i = 0; i < ps.size(); ++i) {
      if (done[i] || !cuda::matvec_q8_supported(ps.begin()[i].m->type)) continue;
      group(i);
      // ... joined by those of a type the same launch can take (Q6_K attn_v beside Q4_K q, k).
      for (size_t j = i + 1; j < ps.size() && jobs.size() < 3; ++j) {
        const Product& o = ps.begin()[j];
        if (done[j] || o.m->k != jobs[0].w.k || !cuda::matvec_q8_mixable(jobs[0].w.type, o.m->type)) continue;
        jobs.push_back({.w = *o.m, .y = o.out, .ldy = o.m->n, .accumulate = o.accumulate});
        done[j] = true;
      }
      const auto n_jobs = static_cast<int>(jobs.size());
      bool mmq = cuda::mmq_cols() > 0;
      for (const cuda::MatvecJob& j : jobs) mmq = mmq && cuda::matmul_q8_supported(j.w.type) && n >= cuda::mmq_min_cols(j.w.type);
      if (mmq) {  // decode batches from mmq_min_cols() tokens: the tensor-core product on the same int8 x
        for (const cuda::MatvecJob& j : jobs) {
          cuda::matmul_q8(j.w, *q8, static_cast<int>(n), j.y, j.ldy, j.accumulate, mmq_scratch.get<float>(),
                          kMmqScratchFloats, stream);
        }
        continue;
      }
      cuda::matvec_q8(jobs.data(), n_jobs, *q8, static_cast<int>(n), stream);
    }
  }
  // Batches past the matvec's: the tensor-core products (mmq_policy.h), x made once for all the
  // products of this input that take it: f16 for matmul_f16act, int8 for matmul_q8.
  const int64_t k_in = ps.begin()->m->k;
  if (!q8 && n > cuda::kMatvecMaxCols && n <= cuda::kMmqMaxCols && cuda::mmq_cols() > 0 && k_in % 32 == 0) {
    const cuda::Q8Act xq = cuda::q8_act_at(mmq_q8.get(), k_in, static_cast<int>(n));
    bool have_f16 = false, have_q8 = false;
    for (size_t i = 0; i < ps.size(); ++i) {
      const Product& p = ps.begin()[i];
      if (done[i] || !cuda::matmul_q8_supported(p.m->type) || p.m->k != k_in) continue;
      if (n > cuda::mmq_cols(p.m->type) && w.f16_of(*p.m).data) continue;
      if (cuda::mmq_f16_activations(p.m->type, n)) {
        if (!have_f16) cuda::convert_f32_to_f16(in, xh, k_in * n, stream);
        have_f16 = true;
        cuda::matmul_f16act(*p.m, xh, k_in, static_cast<int>(n), p.out, p.m->n, p.accumulate, mmq_scratch.get<float>(),
                            kMmqScratchFloats, stream);
      } else {
        if (!have_q8) cuda::quantize_q8(in, k_in, k_in, static_cast<int>(n), xq, stream);
        have_q8 = true;
        cuda::matmul_q8(*p.m, xq, static_cast<int>(n), p.out, p.m->n, p.accumulate, mmq_scratch.get<float>(),
                        kMmqScratchFloats, stream);
      }
      done[i] = true;
    }
  }
  // The rest: decode-sized batches group them into f32-activation matvec launches as well;
  // larger ones take matmul().
  for (size_t i = 0; i < ps.size(); ++i) {
    const Product& p = ps.begin()[i];
    if (done[i]) continue;
    if (n > cuda::kMatvecMaxCols) {
      matmul(*p.m, in, p.out, n, p.accumulate);
    } else {
      const int n_jobs = group(i);
      cuda::matvec_jobs(jobs.data(), n_jobs, in, p.m->k, static_cast<int>(n), stream, fuse);
    }
  }
}

void CudaBackend::Impl::matmul(const cuda::DevMatrix& m, const float* in, float* out, int64_t n, bool accumulate) {
  if (n <= cuda::kMatvecMaxCols) {
    cuda::matvec(m, in, m.k, out, m.n, static_cast<int>(n), stream, accumulate);
    return;
  }
  const float one = 1.0f, zero = 0.0f;
  const float* beta = accumulate ? &one : &zero;
  if (m.type == cuda::kDevF32) {
    QUARREL_CUBLAS_CHECK(cublasGemmEx(cublas, CUBLAS_OP_T, CUBLAS_OP_N, static_cast<int>(m.n), static_cast<int>(n),
                                      static_cast<int>(m.k), &one, m.data, CUDA_R_32F, static_cast<int>(m.k), in,
                                      CUDA_R_32F, static_cast<int>(m.k), beta, out, CUDA_R_32F, static_cast<int>(m.n),
                                      CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT));
    return;
  }
  cuda::DevMatrix h = w.f16_of(m);
  if (!h.data) {
    const size_t need = static_cast<size_t>(m.k * m.n) * 2;
    if (wh.size() < need) wh.reset(static_cast<size_t>(w.max_matrix_elems()) * 2);
    cuda::dequantize_rows_f16(m, nullptr, m.n, wh.get(), stream);
    h.data = wh.get();
  }
  cuda::convert_f32_to_f16(in, xh, m.k * n, stream);
  QUARREL_CUBLAS_CHECK(cublasGemmEx(cublas, CUBLAS_OP_T, CUBLAS_OP_N, static_cast<int>(m.n), static_cast<int>(n),
                                    static_cast<int>(m.k), &one, h.data, CUDA_R_16F, static_cast<int>(m.k), xh,
                                    CUDA_R_16F, static_cast<int>(m.k), beta, out, CUDA_R_32F, static_cast<int>(m.n),
                                    CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT));
}

bool CudaBackend::Impl::residual_matmul(const cuda::DevMatrix& m, const float* in, const cuda::Q8Act* q8,
                                        const float* post_norm, int64_t n, const cuda::NextNorm& next) {
  const model::HParams& hp = model->hparams();
  if (!post_norm && hp.residual_scale <= 0.0f) {
    matmuls({{&m, x, true}}, in, q8, n);  // x += m in
    return false;
  }
  matmuls({{&m, tmp, false}}, in, q8, n);
  cuda::add_residual(x, tmp, post_norm, hp.n_embd, n, hp.rms_eps, hp.residual_scale, stream, next);
  return next.y != nullptr;
}

void CudaBackend::Impl::run_layer(int64_t il, int64_t n) {
  const model::HParams& hp = model->hparams();
  const cuda::DevLayer& L = w.layers[static_cast<size_t>(il)];
  const int64_t n_embd = hp.n_embd, hd = hp.head_dim_k;
  const auto n_head = static_cast<int>(hp.n_head), n_kv = static_cast<int>(hp.n_head_kv);
  const bool swa = hp.is_swa_layer(il);

  // Decode-sized batches also quantize each matmul input to int8 in the kernel that makes it.
  const bool q8 = n <= cuda::kMatvecMaxCols && n_embd % 32 == 0 && hd % 32 == 0 && hp.n_ff % 32 == 0;
  cuda::Q8Act xq = q8_for(n_embd);
  using cuda::Stage, cuda::skipped;
  if (!skipped(Stage::kNorm) && !xn_ready) cuda::rms_norm(x, L.attn_norm, xn, n_embd, n, hp.rms_eps, stream, q8 ? &xq : nullptr);
  xn_ready = false;
  if (!skipped(Stage::kQkv)) matmuls({{&L.wq, q, false}, {&L.wk, k, false}, {&L.wv, v, false}}, xn, q8 ? &xq : nullptr, n);
  cuda::RopeKvArgs r;
  r.q = q;
  r.k = k;
  r.v = v;
  r.cos_sin = meta_d_at<float>(swa ? meta.cs_swa : meta.cs);
  r.slots = meta_d_at<int64_t>(meta.slots);
  r.k_cache = k_cache(il);
  r.v_cache = v_cache(il);
  r.n_tokens = static_cast<int>(n);
  r.n_head = n_head;
  r.n_kv_head = n_kv;
  r.head_dim = static_cast<int>(hd);
  r.n_dims = n_dims;
  r.neox = rope.neox;
  r.block_size = kv_block_size;
  r.kv_type = kv_dev_type;
  cuda::AttentionArgs a;
  a.q = q;
  a.out = att;
  a.k_cache = k_cache(il);
  a.v_cache = v_cache(il);
  a.kv_type = kv_dev_type;
  a.positions = meta_d_at<int32_t>(meta.pos);
  a.bt_offset = meta_d_at<int32_t>(meta.bt_off);
  a.block_tables = meta_d_at<int32_t>(meta.bt);
  a.n_tokens = static_cast<int>(n);
  a.n_head = n_head;
  a.n_kv_head = n_kv;
  a.head_dim = static_cast<int>(hd);
  a.block_size = r.block_size;
  a.sliding_window = swa ? static_cast<int>(hp.sliding_window) : 0;
  a.scale = hp.attn_scale;
  a.softcap = hp.attn_softcap;
  a.max_keys = max_keys;
  const cuda::Q8Act attq = q8_for(hp.n_embd_attn_out());
  if (q8) a.out_q8 = attq;
  // Decode batches whose every sequence has one token: RoPE and the KV store happen inside
  // attention_decode (AttentionArgs::k_new), one launch less per layer.
  const bool fuse_rope = n <= cuda::kMatvecMaxCols && one_token_per_seq && !rope.neox && !skipped(Stage::kAttention) &&
                         cuda::attention_decode_takes(a);
  // Q/K/V biases (qwen2) and per-head Q/K norms (qwen3, gemma3): inside rope_kv_store when it
  // runs, else launches of their own.
  const bool rope_kv = !fuse_rope && !skipped(Stage::kRope);
  if (L.bq && rope_kv) {
    r.q_bias = L.bq;
    r.k_bias = L.bk;
    r.v_bias = L.bv;
  } else if (L.bq) {
    cuda::add_bias(q, L.bq, hp.n_embd_q(), n, stream);
    cuda::add_bias(k, L.bk, hp.n_embd_k_gqa(), n, stream);
    cuda::add_bias(v, L.bv, hp.n_embd_v_gqa(), n, stream);
  }
  if (L.q_norm && rope_kv) {
    r.q_norm = L.q_norm;
    r.k_norm = L.k_norm;
    r.norm_eps = hp.rms_eps;
  } else if (L.q_norm) {
    cuda::rms_norm_qk(q, L.q_norm, n * n_head, k, L.k_norm, n * n_kv, hd, hp.rms_eps, stream);
  }
  if (rope_kv) cuda::rope_kv_store(r, stream);
  if (fuse_rope) {
    a.k_new = k;
    a.v_new = v;
    a.cos_sin = r.cos_sin;
    a.n_dims = n_dims;
  }
  if (skipped(Stage::kAttention)) {
  } else if (n > cuda::kMatvecMaxCols) {
    cuda::attention_prefill(a, meta_d_at<int32_t>(meta.tiles), n_tiles, stream);
  } else {
    cuda::attention_decode(a, stream);
  }
  // x += wo att; through tmp (post-norm, residual scale) the same launch makes the FFN's RMSNorm.
  const cuda::NextNorm ffn_norm{.w = L.ffn_norm, .y = skipped(Stage::kNorm) ? nullptr : xn, .q8 = q8 ? &xq : nullptr};
  const bool ffn_normed = !skipped(Stage::kO) && residual_matmul(L.wo, att, q8 ? &attq : nullptr, L.attn_post_norm, n, ffn_norm);

  if (!skipped(Stage::kNorm) && !ffn_normed) cuda::rms_norm(x, L.ffn_norm, xn, n_embd, n, hp.rms_eps, stream, q8 ? &xq : nullptr);
  // gate/up of the f32-activation matvec make SwiGLU's (GeGLU's) output in their launch (into gate).
  const bool glu = glu_fusable(L, q8, n);
  const cuda::GluAct act = ffn_act == model::FfnActivation::kGeluTanh ? cuda::GluAct::kGeluTanh : cuda::GluAct::kSilu;
  if (!skipped(Stage::kGateUp)) {
    matmuls({{&L.gate, gate, false}, {&L.up, up, false}}, xn, q8 ? &xq : nullptr, n,
            cuda::MatvecFuse{.glu = glu, .act = act});
  }
  const cuda::Q8Act hq = q8_for(hp.n_ff);
  if (skipped(Stage::kSwiglu) || glu) {
  } else if (q8) {
    cuda::glu_q8(gate, up, gate, hp.n_ff, n, act, hq, stream);
  } else {
    cuda::glu(gate, up, gate, hp.n_ff * n, act, stream);
  }
  // x += down h; likewise the next layer's attention RMSNorm (the last layer's output norm stays
  // with the logits, which may gather rows first).
  cuda::NextNorm attn_norm;
  if (il + 1 < hp.n_layer && !skipped(Stage::kNorm)) {
    attn_norm = {.w = w.layers[static_cast<size_t>(il + 1)].attn_norm, .y = xn, .q8 = q8 ? &xq : nullptr};
  }
  xn_ready = !skipped(Stage::kDown) && residual_matmul(L.down, gate, q8 ? &hq : nullptr, L.ffn_post_norm, n, attn_norm);
}

void CudaBackend::Impl::enqueue(int64_t n, int64_t n_out, Output out) {
  const model::HParams& hp = model->hparams();
  // Decode steps move their few KiB of metadata and their ids by kernels that read and write the
  // pinned host blocks (zero_copy()), not by copy-engine jobs before and after the kernels.
  const bool direct = zero_copy() && n <= cuda::kMatvecMaxCols;
  copy(meta_d.get(), meta_h.get(), meta.bytes, cudaMemcpyHostToDevice, direct);
  cuda::dequantize_rows_f32(w.token_embd, meta_d_at<int32_t>(meta.tokens), n, x, stream);
  if (hp.embd_scale > 0.0f) cuda::scale_softcap(x, hp.n_embd * n, hp.embd_scale, 0.0f, stream);
  xn_ready = false;
  for (int64_t il = 0; il < hp.n_layer; ++il) run_layer(il, n);
  if (n_out == 0) return;
  // The rows that want logits; all of them (decode) need no gather: n_out == n means rows 0..n-1.
  const float* out_rows = x;
  if (n_out != n) {
    cuda::gather_rows(x, meta_d_at<int32_t>(meta.rows), xn, hp.n_embd, n_out, stream);
    out_rows = xn;
  }
  const bool q8 = n_out <= cuda::kMatvecMaxCols && hp.n_embd % 32 == 0;
  cuda::Q8Act xq = q8_for(hp.n_embd);
  if (!cuda::skipped(cuda::Stage::kOutput)) {
    cuda::rms_norm(out_rows, w.output_norm, xn, hp.n_embd, n_out, hp.rms_eps, stream, q8 ? &xq : nullptr);
    matmuls({{&w.output, logits, false}}, xn, q8 ? &xq : nullptr, n_out);
    if (hp.logit_scale > 0.0f || hp.final_softcap > 0.0f) {  // granite's scale, gemma's cap
      cuda::scale_softcap(logits, hp.n_vocab * n_out, hp.logit_scale > 0.0f ? 1.0f / hp.logit_scale : 1.0f,
                          hp.final_softcap, stream);
    }
  }
  if (out == Output::kGreedy) {
    int32_t* picks = direct ? out_h.get<int32_t>() : ids;  // direct: argmax stores into the pinned block
    if (!cuda::skipped(cuda::Stage::kArgmax)) cuda::argmax_rows(logits, hp.n_vocab, n_out, picks, argmax_scratch.get(), stream);
    if (!direct) {
      QUARREL_CUDA_CHECK(cudaMemcpyAsync(out_h.get(), ids, static_cast<size_t>(n_out) * 4, cudaMemcpyDeviceToHost, stream));
    }
  } else if (out == Output::kLogits) {
    QUARREL_CUDA_CHECK(cudaMemcpyAsync(out_h.get(), logits, static_cast<size_t>(n_out * hp.n_vocab) * 4,
                                       cudaMemcpyDeviceToHost, stream));
  }
}

CudaBackend::CudaBackend(const CudaBackendOptions& options) : d_(std::make_unique<Impl>()) { d_->opt = options; }
CudaBackend::~CudaBackend() = default;

Capabilities CudaBackend::capabilities() const {
  return {.kv_types = {GgmlType::F16, GgmlType::F8_E4M3}, .max_batch_tokens = 0, .device_memory = true};
}

const model::Model& CudaBackend::model() const {
  if (!d_->model) fail(ErrorCode::kInternal, "cuda backend: no model loaded");
  return *d_->model;
}

uint64_t CudaBackend::kv_bytes() const { return d_->kv.size(); }
uint64_t CudaBackend::device_weight_bytes() const { return d_->w.bytes; }
size_t CudaBackend::graph_count() const { return d_->graphs.size(); }

void CudaBackend::load(std::shared_ptr<const model::Model> model, const KvCacheConfig& kv) {
  QUARREL_ASSERT(model != nullptr);
  Impl& d = *d_;
  const model::HParams& hp = model->hparams();
  if (cuda::device_count() <= d.opt.device) {
    fail(ErrorCode::kUnsupported, "cuda backend: no CUDA device {} ({} found)", d.opt.device, cuda::device_count());
  }
  if (hp.n_expert > 0) {
    fail(ErrorCode::kUnsupported,
         "{}: '{}' is a mixture-of-experts model ({} experts); the cuda backend runs dense models only (use --backend cpu)",
         model->path(), hp.arch, hp.n_expert);
  }
  require_kv_type(*this, kv.type);
  if (kv.n_blocks < 0 || kv.block_size <= 0) {
    fail(ErrorCode::kInvalidArgument, "KV cache: {} blocks of {} tokens", kv.n_blocks, kv.block_size);
  }
  if (hp.head_dim_k != hp.head_dim_v || hp.head_dim_k > cuda::kAttentionMaxHeadDim || hp.n_head % hp.n_head_kv != 0) {
    fail(ErrorCode::kUnsupported, "{}: heads of {}/{} dimensions, {} heads over {} KV heads (cuda backend)",
         model->path(), hp.head_dim_k, hp.head_dim_v, hp.n_head, hp.n_head_kv);
  }
  QUARREL_CUDA_CHECK(cudaSetDevice(d.opt.device));
  if (!d.stream) QUARREL_CUDA_CHECK(cudaStreamCreateWithFlags(&d.stream, cudaStreamNonBlocking));
  if (!d.cublas) {
    QUARREL_CUBLAS_CHECK(cublasCreate(&d.cublas));
    QUARREL_CUBLAS_CHECK(cublasSetStream(d.cublas, d.stream));
  }
  d.clear_graphs();
  d.cap = d.bt_cap = 0;
  d.kv.release();
  d.w = cuda::DeviceWeights{};
  cuda::upload_weights(*model, d.w);
  cuda::matmul_q8_prepare();  // before any decode graph is captured

  // KV pool: as asked, or a share of what is free.
  // [head_dim, block_size, n_kv_head] elements of 2 (F16) or 1 (F8_E4M3) bytes.
  d.kv_block_bytes = static_cast<size_t>(row_bytes(kv.type, static_cast<uint64_t>(hp.n_head_kv * hp.head_dim_k))) *
                     static_cast<size_t>(kv.block_size);
  d.kv_block_size = kv.block_size;
  d.kv_dev_type = kv.type == GgmlType::F8_E4M3 ? cuda::kDevF8E4M3 : cuda::kDevF16;
  size_t free_b = 0, total_b = 0;
  KvCacheConfig cfg = kv;
  const size_t reserve = size_t{1} << 30;
  // QUARREL_CUDA_F16_CACHE=0: no F16 copies (memory for the KV cache; comparisons).
  static const bool f16_cache_env = cuda::env_on("QUARREL_CUDA_F16_CACHE");
  const bool f16_cache = d.opt.f16_weight_cache && f16_cache_env;
  if (cfg.n_blocks == 0 && f16_cache) {
    QUARREL_CUDA_CHECK(cudaMemGetInfo(&free_b, &total_b));
    d.w.build_f16_cache(free_b / 2, d.stream);
  }
  QUARREL_CUDA_CHECK(cudaMemGetInfo(&free_b, &total_b));
  const size_t per_block_all = d.kv_block_bytes * 2 * static_cast<size_t>(hp.n_layer);
  if (cfg.n_blocks == 0) {
    const double usable = free_b > reserve ? static_cast<double>(free_b - reserve) * d.opt.kv_memory_fraction : 0.0;
    cfg.n_blocks = static_cast<int32_t>(std::min<double>(usable / static_cast<double>(per_block_all), INT32_MAX));
    if (cfg.n_blocks < 1) {
      fail(ErrorCode::kOutOfMemory, "{}: no room for a KV cache on the GPU ({} MiB free after {} MiB of weights)",
           model->path(), free_b >> 20, d.w.bytes >> 20);
    }
  }
  const size_t kv_total = per_block_all * static_cast<size_t>(cfg.n_blocks);
  if (kv_total + (size_t{256} << 20) > free_b) {
    fail(ErrorCode::kOutOfMemory, "KV cache of {} MiB ({} blocks of {} tokens) does not fit: {} MiB free on the GPU",
         kv_total >> 20, cfg.n_blocks, cfg.block_size, free_b >> 20);
  }
  d.kv.reset(kv_total);
  QUARREL_CUDA_CHECK(cudaMemset(d.kv.get(), 0, kv_total));
  d.kv_layer_bytes = d.kv_block_bytes * static_cast<size_t>(cfg.n_blocks);
  if (kv.n_blocks != 0 && f16_cache) {
    QUARREL_CUDA_CHECK(cudaMemGetInfo(&free_b, &total_b));
    if (free_b > 2 * reserve) d.w.build_f16_cache(free_b - 2 * reserve, d.stream);
  }
  d.rope = cpu::RopeParams{.n_dims = static_cast<int>(hp.n_rot),
                           .neox = model->block().rope_style == model::RopeStyle::kNeox,
                           .freq_base = hp.rope_freq_base,
                           .freq_scale = hp.rope_freq_scale(),
                           .freq_factors = model->rope_freqs() ? reinterpret_cast<const float*>(model->rope_freqs().data) : nullptr,
                           .n_ctx_orig = static_cast<int>(hp.rope_orig_ctx),
                           .ext_factor = hp.yarn_ext_factor(),
                           .attn_factor = hp.yarn_attn_factor,
                           .beta_fast = hp.yarn_beta_fast,
                           .beta_slow = hp.yarn_beta_slow};
  d.rope_swa_differs = hp.rope_freq_base_swa > 0.0f;
  d.rope_swa = d.rope;
  if (d.rope_swa_differs) {  // gemma3's local layers: their own base, no scaling (as the CPU backend)
    d.rope_swa.freq_base = hp.rope_freq_base_swa;
    d.rope_swa.freq_scale = 1.0f;
    d.rope_swa.ext_factor = 0.0f;
    d.rope_swa.attn_factor = 1.0f;
  }
  d.ffn_act = model->block().ffn_act;
  d.n_dims = hp.n_rot > 0 ? static_cast<int>(hp.n_rot) : static_cast<int>(hp.head_dim_k);
  kv_ = cfg;
  d.model = std::move(model);
}

void CudaBackend::forward(const Batch& batch, Logits& out) {
  run(batch, Output::kLogits);
  const model::HParams& hp = d_->model->hparams();
  out.n_vocab = hp.n_vocab;
  out.batch_index.clear();
  for (size_t i = 0; i < batch.size(); ++i) {
    if (batch.want_logits[i]) out.batch_index.push_back(static_cast<int32_t>(i));
  }
  const size_t n = out.batch_index.size() * static_cast<size_t>(hp.n_vocab);
  out.values.assign(d_->out_h.get<float>(), d_->out_h.get<float>() + (batch.empty() ? 0 : n));
}

void CudaBackend::forward_greedy(const Batch& batch, std::vector<TokenId>& ids) {
  run(batch, Output::kGreedy);
  const size_t n_out = batch.empty() ? 0 : batch.n_logits();
  ids.assign(d_->out_h.get<int32_t>(), d_->out_h.get<int32_t>() + n_out);
}

void CudaBackend::forward_candidates(const Batch& batch, std::span<const CandidateRequest> requests, Candidates& out) {
  Impl& d = *d_;
  const int64_t n_vocab = model().hparams().n_vocab;
  const size_t rows = batch.n_logits();
  check_candidate_requests(requests, rows, n_vocab);
  d.prepare_selection(static_cast<int64_t>(rows), requests);
  run(batch, Output::kOnDevice);
  out.batch_index.clear();
  for (size_t i = 0; i < batch.size(); ++i) {
    if (batch.want_logits[i]) out.batch_index.push_back(static_cast<int32_t>(i));
  }
  out.rows.resize(rows);
  const auto* ids = d.sel_h.get<int32_t>();
  const auto* vals = d.sel_h.get<float>() + static_cast<size_t>(d.sel_k) * rows;
  const auto* named = d.sel_h.get<float>() + static_cast<size_t>(2 * d.sel_k) * rows;
  const auto ranks_before = [](const TokenLogit& a, const TokenLogit& b) {
    const uint32_t ka = logit_rank_key(a.logit), kb = logit_rank_key(b.logit);
    return ka > kb || (ka == kb && a.id < b.id);
  };
  for (size_t r = 0; r < rows; ++r) {
    RowCandidates& rc = out.rows[r];
    rc.best.resize(static_cast<size_t>(d.sel_k));
    for (size_t i = 0; i < rc.best.size(); ++i) {
      rc.best[i] = {ids[r * static_cast<size_t>(d.sel_k) + i], vals[r * static_cast<size_t>(d.sel_k) + i]};
    }
    std::sort(rc.best.begin(), rc.best.end(), ranks_before);
    rc.best.resize(static_cast<size_t>(requests[r].k));  // the k best of the sel_k best
    rc.named.assign(named, named + requests[r].ids.size());
    named += requests[r].ids.size();
  }
}

void CudaBackend::run(const Batch& batch, Output mode) {
  Impl& d = *d_;
  const model::HParams& hp = model().hparams();
  batch.validate(kv_.n_blocks, kv_.block_size);
  for (size_t i = 0; i < batch.size(); ++i) {
    if (batch.tokens[i] < 0 || batch.tokens[i] >= hp.n_vocab) {
      fail(ErrorCode::kInvalidArgument, "batch: token {} has id {}, outside the vocabulary of {}", i, batch.tokens[i],
           hp.n_vocab);
    }
  }
  const auto n = static_cast<int64_t>(batch.size());
  if (n == 0) return;
  size_t bt_total = 0;
  for (const BatchSequence& s : batch.seqs) bt_total += s.block_table.size();
  d.ensure_capacity(static_cast<size_t>(n), bt_total);
  d.meta = n <= cuda::kMatvecMaxCols ? d.meta_small : d.meta_big;

  // Metadata into the pinned block.
  std::vector<int32_t> seq_off(batch.seqs.size());
  auto* bt = d.meta_h_at<int32_t>(d.meta.bt);
  size_t o = 0;
  for (size_t s = 0; s < batch.seqs.size(); ++s) {
    seq_off[s] = static_cast<int32_t>(o);
    std::copy(batch.seqs[s].block_table.begin(), batch.seqs[s].block_table.end(), bt + o);
    o += batch.seqs[s].block_table.size();
  }
  auto* slots = d.meta_h_at<int64_t>(d.meta.slots);
  auto* tokens = d.meta_h_at<int32_t>(d.meta.tokens);
  auto* pos = d.meta_h_at<int32_t>(d.meta.pos);
  auto* bt_off = d.meta_h_at<int32_t>(d.meta.bt_off);
  auto* rows = d.meta_h_at<int32_t>(d.meta.rows);
  int64_t n_out = 0;
  for (size_t i = 0; i < batch.size(); ++i) {
    slots[i] = batch.slots[i];
    tokens[i] = batch.tokens[i];
    pos[i] = batch.positions[i];
    bt_off[i] = seq_off[static_cast<size_t>(batch.find_sequence(batch.seq_ids[i]) - batch.seqs.data())];
    if (batch.want_logits[i]) rows[n_out++] = static_cast<int32_t>(i);
  }
  d.n_tiles = n > cuda::kMatvecMaxCols
                  ? cuda::build_prefill_tiles(bt_off, static_cast<int>(n), d.meta_h_at<int32_t>(d.meta.tiles), static_cast<int>(n))
                  : 0;
  d.rope_cache.build(d.rope, static_cast<int>(hp.head_dim_k), batch.positions);
  std::copy_n(d.rope_cache.token(0), static_cast<size_t>(n) * static_cast<size_t>(d.n_dims),
              d.meta_h_at<float>(d.meta.cs));
  if (d.rope_swa_differs) {
    d.rope_cache_swa.build(d.rope_swa, static_cast<int>(hp.head_dim_k), batch.positions);
    std::copy_n(d.rope_cache_swa.token(0), static_cast<size_t>(n) * static_cast<size_t>(d.n_dims),
                d.meta_h_at<float>(d.meta.cs_swa));
  }

  d.one_token_per_seq = batch.seqs.size() == batch.size();
  // The most keys a token attends to in any layer: a graph captured for short contexts is not
  // replayed for longer ones (it would be right, but slower).
  d.max_keys = 0;
  const bool every_layer_windowed = hp.sliding_window > 0 && hp.swa_pattern == 0;
  for (size_t i = 0; i < batch.size(); ++i) {
    const int64_t keys = every_layer_windowed ? std::min<int64_t>(batch.positions[i] + 1, hp.sliding_window)
                                              : batch.positions[i] + 1;
    d.max_keys = std::max(d.max_keys, static_cast<int>(keys));
  }
  const bool short_keys = cuda::short_context(d.max_keys, static_cast<int>(hp.head_dim_k));
  if (d.opt.cuda_graphs && n <= cuda::kMatvecMaxCols) {
    const uint32_t key = static_cast<uint32_t>(n) | static_cast<uint32_t>(n_out) << 8 | static_cast<uint32_t>(mode) << 16 |
                         static_cast<uint32_t>(d.one_token_per_seq) << 24 | static_cast<uint32_t>(short_keys) << 25;
    auto it = d.graphs.find(key);
    if (it == d.graphs.end()) {
      QUARREL_CUDA_CHECK(cudaStreamBeginCapture(d.stream, cudaStreamCaptureModeThreadLocal));
      try {
        d.enqueue(n, n_out, mode);
      } catch (...) {
        cudaGraph_t g = nullptr;
        cudaStreamEndCapture(d.stream, &g);
        if (g) cudaGraphDestroy(g);
        cudaGetLastError();
        throw;
      }
      cudaGraph_t g = nullptr;
      QUARREL_CUDA_CHECK(cudaStreamEndCapture(d.stream, &g));
      cudaGraphExec_t exec = nullptr;
      const cudaError_t e = cudaGraphInstantiate(&exec, g, 0);
      cudaGraphDestroy(g);
      QUARREL_CUDA_CHECK(e);
      it = d.graphs.emplace(key, exec).first;
    }
    // QUARREL_CUDA_REPLAY=N (a measurement aid): the step's graph N times; a step is idempotent, so
    // `quarrel bench` at N = 2 minus N = 1 is the GPU's time for a step with no host work between.
    static const int64_t replays = std::max<int64_t>(1, cuda::env_int("QUARREL_CUDA_REPLAY", 1));
    for (int64_t r = 0; r < replays; ++r) QUARREL_CUDA_CHECK(cudaGraphLaunch(it->second, d.stream));
  } else {
    d.enqueue(n, n_out, mode);
  }
  if (mode == Output::kOnDevice && n_out > 0) d.enqueue_selection(n_out);
  QUARREL_CUDA_CHECK(cudaStreamSynchronize(d.stream));
}

void CudaBackend::copy_blocks(std::span<const kv::BlockCopy> copies) {
  Impl& d = *d_;
  for (const kv::BlockCopy& c : copies) {
    if (c.src < 0 || c.src >= kv_.n_blocks || c.dst < 0 || c.dst >= kv_.n_blocks) {
      fail(ErrorCode::kInvalidArgument, "copy_blocks: block {} -> {} outside the pool of {} blocks", c.src, c.dst,
           kv_.n_blocks);
    }
    if (c.src == c.dst) continue;
    for (int64_t l = 0; l < model().hparams().n_layer; ++l) {
      for (uint8_t* cache : {d.k_cache(l), d.v_cache(l)}) {
        QUARREL_CUDA_CHECK(cudaMemcpyAsync(cache + static_cast<size_t>(c.dst) * d.kv_block_bytes,
                                           cache + static_cast<size_t>(c.src) * d.kv_block_bytes, d.kv_block_bytes,
                                           cudaMemcpyDeviceToDevice, d.stream));
      }
    }
  }
  QUARREL_CUDA_CHECK(cudaStreamSynchronize(d.stream));
}

}  // namespace quarrel::backend
