#pragma once
// A model's weights on the device: one arena, matrices as DevMatrix (device-readable types as
// their GGUF blocks, rows of the quantized ones split as device_rows.h says, other types
// dequantized to F16 on the host at upload), norm weights and biases as F32. A fused QKV or
// gate/up projection (phi3) is uploaded once and its parts are row ranges of it. Optionally an
// F16 copy of every quantized matrix for prompt batches (cuBLAS).
#include <cstdint>
#include <vector>

#include "backend/cuda/device_buffer.h"
#include "backend/cuda/kernels.h"
#include "model/model.h"

namespace quarrel::cuda {

struct DevLayer {
  DevMatrix wq, wk, wv, wo, gate, up, down;  // see model::LayerWeights for shapes
  const float* attn_norm = nullptr;          // [n_embd]
  const float* ffn_norm = nullptr;           // [n_embd]
  const float* bq = nullptr;                 // [n_embd_q] or null
  const float* bk = nullptr;
  const float* bv = nullptr;
  const float* q_norm = nullptr;             // [head_dim] or null
  const float* k_norm = nullptr;
  const float* attn_post_norm = nullptr;     // [n_embd] or null (gemma)
  const float* ffn_post_norm = nullptr;      // [n_embd] or null (gemma)
};

struct DeviceWeights {
  DeviceBuffer arena;
  DevMatrix token_embd;  // [n_embd, n_vocab]
  DevMatrix output;      // [n_embd, n_vocab] (the same as token_embd when tied)
  const float* output_norm = nullptr;
  std::vector<DevLayer> layers;
  uint64_t bytes = 0;

  // F16 copies for prompt batches: f16_of(m) is m itself for F16 and F32 matrices, its copy
  // when the cache was built, else a matrix with data == nullptr.
  DeviceBuffer f16_arena;
  std::vector<std::pair<const void*, DevMatrix>> f16_copies;
  DevMatrix f16_of(const DevMatrix& m) const;
  // Builds the F16 copies when they fit in `budget` bytes; returns whether it did.
  bool build_f16_cache(size_t budget, cudaStream_t s);
  // Largest element count of a matrix (for a per-batch dequantization scratch).
  int64_t max_matrix_elems() const;
};

// Uploads the model's weights. Error(kOutOfMemory) naming the sizes when they do not fit.
void upload_weights(const model::Model& m, DeviceWeights& out);

}  // namespace quarrel::cuda
