#include "backend/cuda/device_rows.h"

#include <algorithm>
#include <cstring>
#include <thread>
#include <vector>

#include "backend/cuda/kernels.h"
#include "core/ggml_type.h"

namespace quarrel::cuda {
namespace {

size_t gguf_row_bytes(uint32_t type, int64_t k) {
  return static_cast<size_t>(row_bytes(static_cast<GgmlType>(type), static_cast<uint64_t>(k)));
}

// One row: the GGUF blocks of `block_bytes`, each d (f16) first (Q4_0, Q8_0) or last (Q6_K).
template <typename Split>
void split_row(const uint8_t* src, int64_t nb, uint32_t block_bytes, bool d_first, uint8_t* dst) {
  for (int64_t b = 0; b < nb; ++b) {
    const uint8_t* blk = src + static_cast<size_t>(b) * block_bytes;
    const uint8_t* d = d_first ? blk : blk + block_bytes - 2;
    const uint8_t* rest = d_first ? blk + 2 : blk;  // quants, then the sub-scales (Q6_K)
    std::memcpy(dst + Split::quants(b), rest, Split::kQuantBytes);
    std::memcpy(dst + Split::scales(b, nb), rest + Split::kQuantBytes, Split::kScaleBytes);
    std::memcpy(dst + Split::d(b, nb), d, 2);
  }
}

}  // namespace

bool split_rows(uint32_t type) { return type == kDevQ4_0 || type == kDevQ8_0 || type == kDevQ6_K; }

size_t device_row_bytes(uint32_t type, int64_t k) {
  const size_t b = gguf_row_bytes(type, k);
  return split_rows(type) ? (b + 15) / 16 * 16 : b;
}

void to_device_rows(uint32_t type, int64_t k, int64_t n, const uint8_t* src, uint8_t* dst) {
  const size_t src_rb = gguf_row_bytes(type, k), dst_rb = device_row_bytes(type, k);
  if (!split_rows(type)) {
    std::memcpy(dst, src, src_rb * static_cast<size_t>(n));
    return;
  }
  auto rows = [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const uint8_t* s = src + src_rb * static_cast<size_t>(r);
      uint8_t* d = dst + dst_rb * static_cast<size_t>(r);
      std::memset(d + src_rb, 0, dst_rb - src_rb);
      switch (type) {
        case kDevQ4_0: split_row<SplitQ4_0>(s, k / 32, 18, true, d); break;
        case kDevQ8_0: split_row<SplitQ8_0>(s, k / 32, 34, true, d); break;
        default: split_row<SplitQ6_K>(s, k / 256, 210, false, d); break;
      }
    }
  };
  // Model matrices are hundreds of MB: all cores (up to 16).
  const int64_t n_threads = std::clamp<int64_t>(std::thread::hardware_concurrency(), 1, 16);
  if (n < 64 || n_threads == 1) {
    rows(0, n);
    return;
  }
  std::vector<std::thread> threads;
  for (int64_t t = 0; t < n_threads; ++t) threads.emplace_back(rows, n * t / n_threads, n * (t + 1) / n_threads);
  for (auto& t : threads) t.join();
}

}  // namespace quarrel::cuda
