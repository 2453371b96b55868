#pragma once
// The CPU backend: the whole Llama-family forward pass over a Batch, on the kernels of
// src/backend/cpu (chosen at run time from CPUID), weights used in place from the model's mmap,
// KV in a paged pool ([head_dim, block_size, n_kv_head, n_blocks] per layer, K and V; see
// backend/cpu/attention.h), threads from one ThreadPool. What differs between architectures is
// data (model::BlockOptions and the hparams' scales, caps and window pattern): the attention
// half of each block is here, the FFN / mixture-of-experts half in backend/cpu/ffn.h.
#include <memory>
#include <vector>

#include "backend/backend.h"
#include "backend/cpu/attention.h"
#include "backend/cpu/ops.h"
#include "core/thread_pool.h"
#include "model/model.h"

namespace quarrel::backend {

struct CpuBackendOptions {
  int n_threads = 0;  // 0: the physical cores
};

class CpuBackend final : public Backend {
 public:
  explicit CpuBackend(const CpuBackendOptions& options = {});
  ~CpuBackend() override;

  std::string_view name() const override { return "cpu"; }
  Capabilities capabilities() const override;
  void load(std::shared_ptr<const model::Model> model, const KvCacheConfig& kv) override;
  const model::Model& model() const override;
  const KvCacheConfig& kv_config() const override { return kv_; }
  uint64_t kv_bytes() const override { return kv_storage_.size(); }
  void forward(const Batch& batch, Logits& out) override;
  void copy_blocks(std::span<const kv::BlockCopy> copies) override;

  ThreadPool& pool() { return pool_; }

 private:
  struct Scratch;
  void check_batch(const Batch& batch) const;
  void run_layer(int64_t il, int64_t n, const std::vector<cpu::AttentionSeq>& seqs);
  void project_qkv(const model::LayerWeights& L, int64_t n);
  void add_residual(const model::Weight& post_norm, int64_t n);
  void output_logits(float* x, int64_t n_out, Logits& out);
  uint8_t* k_cache(int64_t layer);
  uint8_t* v_cache(int64_t layer);

  ThreadPool pool_;
  std::shared_ptr<const model::Model> model_;
  KvCacheConfig kv_;
  cpu::KvLayout layout_;
  cpu::RopeParams rope_;      // every layer, or the global layers when rope_swa_differs_
  cpu::RopeParams rope_swa_;  // the sliding-window layers (gemma3: own base, no scaling)
  bool rope_swa_differs_ = false;
  std::vector<uint8_t> kv_storage_;  // per layer: K then V, layout_.layer_bytes(n_blocks) each
  std::unique_ptr<Scratch> s_;
};

}  // namespace quarrel::backend
