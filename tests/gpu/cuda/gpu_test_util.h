#pragma once
// Helpers of the GPU tests: skip without a GPU, device <-> host copies, NaN poisoning, paged
// attention arguments.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "backend/cuda/cuda_check.h"
#include "backend/cuda/device_buffer.h"
#include "backend/cuda/device_info.h"
#include "backend/cuda/kernels.h"

#define QUARREL_SKIP_WITHOUT_GPU()                                                       \
  do {                                                                                   \
    if (::quarrel::cuda::device_count() == 0) GTEST_SKIP() << "no CUDA device present"; \
  } while (0)

namespace quarrel::test {

template <typename T>
cuda::DeviceBuffer to_device(const std::vector<T>& v) {
  cuda::DeviceBuffer b(std::max<size_t>(v.size() * sizeof(T), 1));
  if (!v.empty()) QUARREL_CUDA_CHECK(cudaMemcpy(b.get(), v.data(), v.size() * sizeof(T), cudaMemcpyHostToDevice));
  return b;
}

template <typename T>
std::vector<T> to_host(const cuda::DeviceBuffer& b, size_t n) {
  QUARREL_CUDA_CHECK(cudaDeviceSynchronize());
  std::vector<T> v(n);
  if (n) QUARREL_CUDA_CHECK(cudaMemcpy(v.data(), b.get(), n * sizeof(T), cudaMemcpyDeviceToHost));
  return v;
}

// A device buffer of n floats, every byte 0xFF (NaN): an element the kernel does not write stays NaN.
inline cuda::DeviceBuffer poisoned(size_t bytes) {
  cuda::DeviceBuffer b(std::max<size_t>(bytes, 1));
  QUARREL_CUDA_CHECK(cudaMemset(b.get(), 0xFF, bytes));
  return b;
}

// The heads and cache geometry of a paged attention call.
struct PagedHeads {
  int n_head, n_kv_head, head_dim, block_size, sliding_window;
};

// AttentionArgs of q (f32) over paged K/V caches of kv_type, with the tokens' positions,
// block-table offsets and tables on the device; out, out_q8 and the fused-RoPE fields are left to
// the caller.
inline cuda::AttentionArgs paged_attention_args(const cuda::DeviceBuffer& q, const cuda::DeviceBuffer& k_cache,
                                                const cuda::DeviceBuffer& v_cache, uint32_t kv_type,
                                                const cuda::DeviceBuffer& positions, const cuda::DeviceBuffer& bt_offset,
                                                const cuda::DeviceBuffer& tables, int n_tokens, const PagedHeads& h) {
  cuda::AttentionArgs a;
  a.q = q.get<float>();
  a.k_cache = k_cache.get();
  a.v_cache = v_cache.get();
  a.kv_type = kv_type;
  a.positions = positions.get<int32_t>();
  a.bt_offset = bt_offset.get<int32_t>();
  a.block_tables = tables.get<int32_t>();
  a.n_tokens = n_tokens;
  a.n_head = h.n_head;
  a.n_kv_head = h.n_kv_head;
  a.head_dim = h.head_dim;
  a.block_size = h.block_size;
  a.sliding_window = h.sliding_window;
  return a;
}

// ||a - b|| / ||b|| (NaN anywhere gives infinity).
inline double rel_error(const std::vector<float>& a, const std::vector<double>& b) {
  double num = 0, den = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::isnan(a[i])) return INFINITY;
    num += (a[i] - b[i]) * (a[i] - b[i]);
    den += b[i] * b[i];
  }
  return den > 0 ? std::sqrt(num / den) : std::sqrt(num);
}

// Largest |a_i - b_i| / mag_i (NaN anywhere gives infinity): for dot products, mag_i = sum_j
// |w_ij x_j| bounds what f32 accumulation can lose, where a norm-relative error is unbounded
// when an output cancels to near zero.
inline double dot_error(const std::vector<float>& a, const std::vector<double>& b, const std::vector<double>& mag) {
  double worst = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::isnan(a[i])) return INFINITY;
    worst = std::max(worst, std::fabs(a[i] - b[i]) / (mag[i] + 1e-30));
  }
  return worst;
}

}  // namespace quarrel::test
