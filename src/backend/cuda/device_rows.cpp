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

// The parts of a GGUF block (Q4_0, Q8_0, Q4_K, IQ4_XS): the f16 d at d_at, the quants at
// quants_at, the rest at scales_at. Q4_K's "scales" part is its whole 16-byte header (d, dmin,
// scales[12]), IQ4_XS's its 8-byte one (d, scales_h, scales_l[4]).
struct BlockParts {
  uint32_t block_bytes, d_at, quants_at, scales_at;
  bool interleaved;  // quants as interleaved 32-byte units (device_rows.h)
  bool own_d;        // d in a part of its own (not Q4_K, whose header holds it)
};

template <typename Split>
void split_row(const uint8_t* src, int64_t nb, const BlockParts& p, uint8_t* dst) {
  constexpr int64_t kUnits = Split::kQuantBytes / 32;  // interleaved units per block
  for (int64_t b = 0; b < nb; ++b) {
    const uint8_t* blk = src + static_cast<size_t>(b) * p.block_bytes;
    if (p.interleaved) {
      for (int64_t j = 0; j < kUnits; ++j) {
        for (int h = 0; h < 2; ++h) {
          std::memcpy(dst + unit_half(kUnits * b + j, kUnits * nb, h), blk + p.quants_at + 32 * j + 16 * h, 16);
        }
      }
    } else {
      std::memcpy(dst + Split::quants(b), blk + p.quants_at, Split::kQuantBytes);
    }
    std::memcpy(dst + Split::scales(b, nb), blk + p.scales_at, Split::kScaleBytes);
    if (p.own_d) std::memcpy(dst + Split::d(b, nb), blk + p.d_at, 2);
  }
}

// Q6_K: ql as interleaved units, each unit's tops (device_rows.h) from qh, scales, d.
void split_q6_k_row(const uint8_t* src, int64_t nb, uint8_t* dst) {
  for (int64_t b = 0; b < nb; ++b) {
    const uint8_t* blk = src + static_cast<size_t>(b) * 210;
    const uint8_t* qh = blk + 128;
    for (int h = 0; h < 2; ++h) {
      for (int q = 0; q < 2; ++q) {
        const int64_t u = 4 * b + 2 * h + q;
        for (int half = 0; half < 2; ++half) std::memcpy(dst + unit_half(u, 4 * nb, half), blk + 64 * h + 32 * q + 16 * half, 16);
        uint8_t* tops = dst + q6k_tops(u, nb);
        for (int l = 0; l < 32; ++l) {  // chunk q's 2 bits at 2q of qh[32 h + l], chunk q + 2's at 2q + 4
          const uint32_t v = qh[32 * h + l];
          const uint32_t nib = ((v >> (2 * q)) & 3) | (((v >> (2 * q + 4)) & 3) << 2);
          const int byte = l % 16;
          tops[byte] = static_cast<uint8_t>(tops[byte] | (l < 16 ? nib : nib << 4));
        }
      }
    }
    std::memcpy(dst + SplitQ6_K::scales(b, nb), blk + 192, 16);
    std::memcpy(dst + SplitQ6_K::d(b, nb), blk + 208, 2);
  }
}

// Q5_K: qs as interleaved units (Q4_K's), each unit's fifth bits (device_rows.h) from qh, header.
void split_q5_k_row(const uint8_t* src, int64_t nb, uint8_t* dst) {
  for (int64_t b = 0; b < nb; ++b) {
    const uint8_t* blk = src + static_cast<size_t>(b) * 176;
    const uint8_t* qh = blk + 16;
    for (int j = 0; j < 4; ++j) {
      const int64_t u = 4 * b + j;
      for (int half = 0; half < 2; ++half) std::memcpy(dst + unit_half(u, 4 * nb, half), blk + 48 + 32 * j + 16 * half, 16);
      uint32_t words[2] = {0, 0};  // sub-blocks 2j and 2j + 1: element l = 4i + e's bit at 8e + i
      for (int l = 0; l < 32; ++l) {
        for (int t = 0; t < 2; ++t) words[t] |= static_cast<uint32_t>((qh[l] >> (2 * j + t)) & 1) << (8 * (l % 4) + l / 4);
      }
      std::memcpy(dst + q5k_highs(u, nb), words, 8);
    }
    std::memcpy(dst + SplitQ5_K::scales(b, nb), blk, 16);
  }
}

}  // namespace

bool split_rows(uint32_t type) {
  return type == kDevQ4_0 || type == kDevQ8_0 || type == kDevQ4_K || type == kDevQ5_K || type == kDevQ6_K ||
         type == kDevIQ4_XS;
}

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
      std::memset(d, 0, dst_rb);
      switch (type) {
        case kDevQ4_0: split_row<SplitQ4_0>(s, k / 32, {18, 0, 2, 0, false, true}, d); break;
        case kDevQ8_0: split_row<SplitQ8_0>(s, k / 32, {34, 0, 2, 34, true, true}, d); break;
        case kDevQ4_K: split_row<SplitQ4_K>(s, k / 256, {144, 0, 16, 0, true, false}, d); break;
        case kDevIQ4_XS: split_row<SplitIQ4_XS>(s, k / 256, {136, 0, 8, 0, true, false}, d); break;
        case kDevQ5_K: split_q5_k_row(s, k / 256, d); break;
        default: split_q6_k_row(s, k / 256, d); break;
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
