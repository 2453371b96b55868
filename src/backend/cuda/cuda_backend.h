#pragma once
// The CUDA backend: the whole Llama-family forward pass of a Batch on one GPU (sm_90a).
//
// Weights are uploaded once at load: the types the device kernels read (F32, F16, BF16, Q4_0,
// Q8_0, Q4_K, Q5_K, Q6_K, IQ4_XS) as their GGUF blocks (laid out as device_rows.h says), every
// other type dequantized to F16 on the host. The KV pool holds F16 or F8_E4M3 elements
// (KvCacheConfig::type; fp8: scale 1.0, round to nearest even, saturating to +-448, as vLLM's fp8 cache; attention widens it to f16/f32 as it
// reads), paged as the CPU's ([head_dim, block_size, n_kv_head, n_blocks] per layer, K and V;
// a block is half the bytes in fp8). One forward is one stream of kernels with no host round trip per layer:
// decode batches (<= 8 tokens) use matrix-vector kernels on the quantized blocks and are
// replayed from a CUDA graph captured per (tokens, logits rows) bucket; larger batches
// dequantize each weight to F16 and use cuBLAS (F32 weights: F32 cuBLAS).
//
//   auto be = std::make_unique<CudaBackend>();
//   be->load(model, {.n_blocks = 0, .block_size = 16});  // 0 blocks: sized from free memory
//   be->forward_greedy(batch, ids);                        // only token ids come back
#include <memory>
#include <vector>

#include "backend/backend.h"

namespace quarrel::backend {

struct CudaBackendOptions {
  int device = 0;
  // With KvCacheConfig::n_blocks == 0: the share of the device memory left free after the
  // weights and scratch buffers that the KV pool takes.
  double kv_memory_fraction = 0.85;
  bool cuda_graphs = true;     // replay decode steps from captured graphs
  // Keep an F16 copy of quantized weights for prompt batches when it fits (else dequantize
  // each weight per batch).
  bool f16_weight_cache = true;
};

class CudaBackend final : public Backend {
 public:
  explicit CudaBackend(const CudaBackendOptions& options = {});
  ~CudaBackend() override;

  std::string_view name() const override { return "cuda"; }
  Capabilities capabilities() const override;
  // Error(kUnsupported) without a usable GPU; Error(kOutOfMemory) when the weights or the pool
  // do not fit, naming the sizes.
  void load(std::shared_ptr<const model::Model> model, const KvCacheConfig& kv) override;
  const model::Model& model() const override;
  const KvCacheConfig& kv_config() const override { return kv_; }
  uint64_t kv_bytes() const override;
  void forward(const Batch& batch, Logits& out) override;
  void forward_greedy(const Batch& batch, std::vector<TokenId>& ids) override;
  // The k best of each row are selected on the device (select_top_k.cu); only the candidates
  // and the named logits come back.
  void forward_candidates(const Batch& batch, std::span<const CandidateRequest> requests, Candidates& out) override;
  void copy_blocks(std::span<const kv::BlockCopy> copies) override;

  // Bytes of weights on the device (as uploaded, without the F16 prompt cache).
  uint64_t device_weight_bytes() const;
  // Number of captured decode graphs (tests).
  size_t graph_count() const;

 private:
  struct Impl;
  // What a forward leaves on the host: every logits row, the argmax of each, or nothing (the
  // caller selects candidates on the device after it).
  enum class Output { kLogits = 0, kGreedy = 1, kOnDevice = 2 };
  void run(const Batch& batch, Output mode);
  KvCacheConfig kv_;
  std::unique_ptr<Impl> d_;
};

}  // namespace quarrel::backend
