// The device row layout (device_rows.h), on the host: needs no GPU. Each GGUF byte of a row of
// Q4_0 / Q8_0 / Q4_K / Q5_K / Q6_K / IQ4_XS blocks must land where the split layout puts it, rows
// padded with zeros to 16 bytes; other types are copied unchanged. The GPU kernel tests read these rows back.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <random>
#include <vector>

#include "backend/cuda/device_rows.h"
#include "backend/cuda/kernels.h"
#include "core/ggml_type.h"

namespace quarrel::cuda {
namespace {

std::vector<uint8_t> random_bytes(std::mt19937_64& rng, size_t n) {
  std::vector<uint8_t> v(n);
  for (auto& b : v) b = static_cast<uint8_t>(rng());
  return v;
}

struct Layout {
  uint32_t type;
  int64_t block_elems, block_bytes;
  int64_t d_at;         // offset of d (f16) in the GGUF block; -1: in the header part (Q4_K, Q5_K, IQ4_XS)
  int64_t quants_at;    // offset of the quants (Q6_K: ql then qh)
  int64_t quant_bytes;
  int64_t scales_at;    // offset of the part after the quants (Q6_K: scales; Q4_K: the whole header)
  int64_t scale_bytes;
  bool interleaved;     // quants as 32-byte units, interleaved by warp groups
  int64_t region_bytes;  // per block in the quants part (Q6_K: ql, then its units' tops)
};

// Half h of interleaved unit u (n units in the row), written out: groups of 32 units, a group
// of m holds the m first halves, then the m second halves.
size_t half_offset(int64_t u, int64_t n, int h) {
  const int64_t group = u / 32, m = std::min<int64_t>(32, n - 32 * group);
  return static_cast<size_t>(group * 1024 + (h ? 16 * m : 0) + 16 * (u % 32));
}

TEST(CudaDeviceRows, InterleavedHalvesOfAWarpAreContiguous) {
  EXPECT_EQ(unit_half(0, 40, 0), 0u);
  EXPECT_EQ(unit_half(0, 40, 1), 512u);
  EXPECT_EQ(unit_half(31, 40, 1), 512u + 16 * 31);
  EXPECT_EQ(unit_half(32, 40, 0), 1024u);     // a last group of 8 units
  EXPECT_EQ(unit_half(32, 40, 1), 1024u + 128);
  EXPECT_EQ(unit_half(39, 40, 1), 1024u + 128 + 16 * 7);
  for (const int64_t n : {1, 5, 32, 33, 64, 100}) {
    std::vector<int> seen(static_cast<size_t>(32 * n), 0);  // every 16-byte slot exactly once
    for (int64_t u = 0; u < n; ++u) {
      for (int h = 0; h < 2; ++h) {
        ASSERT_EQ(unit_half(u, n, h), half_offset(u, n, h));
        ++seen[unit_half(u, n, h) / 16];
      }
    }
    for (int64_t i = 0; i < 2 * n; ++i) EXPECT_EQ(seen[static_cast<size_t>(i)], 1) << n;
  }
}

TEST(CudaDeviceRows, SplitRowsPutEveryByteWhereTheLayoutSays) {
  std::mt19937_64 rng(7);
  const Layout layouts[] = {{kDevQ4_0, 32, 18, 0, 2, 16, 18, 0, false, 16},
                            {kDevQ8_0, 32, 34, 0, 2, 32, 34, 0, true, 32},
                            {kDevQ4_K, 256, 144, -1, 16, 128, 0, 16, true, 128},
                            {kDevQ6_K, 256, 210, 208, 0, 128, 192, 16, true, 192},
                            {kDevIQ4_XS, 256, 136, -1, 8, 128, 0, 8, true, 128},
                            {kDevQ5_K, 256, 176, -1, 48, 128, 0, 16, true, 160}};
  for (const Layout& l : layouts) {
    for (const int64_t nb : {1, 2, 3, 7, 8, 13, 40}) {
      const int64_t k = nb * l.block_elems, n = 5;
      const size_t src_rb = static_cast<size_t>(nb * l.block_bytes);
      const size_t rb = device_row_bytes(l.type, k);
      ASSERT_TRUE(split_rows(l.type));
      ASSERT_EQ(rb % 16, 0u);
      ASSERT_GE(rb, src_rb);
      ASSERT_LT(rb, src_rb + 16);
      const auto src = random_bytes(rng, src_rb * n);
      std::vector<uint8_t> dst(rb * n, 0xAB);
      to_device_rows(l.type, k, n, src.data(), dst.data());
      for (int64_t r = 0; r < n; ++r) {
        const uint8_t* s = src.data() + src_rb * r;
        const uint8_t* d = dst.data() + rb * r;
        const int64_t units = l.quant_bytes / 32;  // per block, when interleaved
        for (int64_t b = 0; b < nb; ++b) {
          const uint8_t* blk = s + b * l.block_bytes;
          for (int64_t i = 0; i < l.quant_bytes; ++i) {
            const size_t at = l.interleaved ? half_offset(units * b + i / 32, units * nb, (i / 16) % 2) + i % 16
                                            : static_cast<size_t>(b * l.quant_bytes + i);
            ASSERT_EQ(d[at], blk[l.quants_at + i]) << l.type << " b" << b << " i" << i;
          }
          for (int64_t i = 0; i < l.scale_bytes; ++i) {
            ASSERT_EQ(d[nb * l.region_bytes + b * l.scale_bytes + i], blk[l.scales_at + i]) << l.type << " b" << b;
          }
          if (l.type == kDevQ5_K) {  // unit u = 4b + j: element 4i + e's fifth bit of sub-block 2j + t at 8e + i of word t
            for (int j = 0; j < 4; ++j) {
              const uint8_t* highs = d + nb * 128 + 8 * (4 * b + j);
              for (int t = 0; t < 2; ++t) {
                for (int el = 0; el < 32; ++el) {
                  const int want = (blk[16 + el] >> (2 * j + t)) & 1;
                  const int bit = 8 * (el % 4) + el / 4;
                  ASSERT_EQ((highs[4 * t + bit / 8] >> (bit % 8)) & 1, want) << "b" << b << " j" << j << " t" << t << " el" << el;
                }
              }
            }
          }
          if (l.type == kDevQ6_K) {  // unit u = 4b + 2h + q: element j's tops of chunks q and q + 2 as a nibble
            for (int h = 0; h < 2; ++h) {
              for (int q = 0; q < 2; ++q) {
                const uint8_t* tops = d + nb * 128 + 16 * (4 * b + 2 * h + q);
                for (int j = 0; j < 32; ++j) {
                  const int qh = blk[128 + 32 * h + j];
                  const int want = ((qh >> (2 * q)) & 3) | (((qh >> (2 * q + 4)) & 3) << 2);
                  ASSERT_EQ((tops[j % 16] >> (j < 16 ? 0 : 4)) & 0xF, want) << "b" << b << " h" << h << " q" << q << " j" << j;
                }
              }
            }
          }
          if (l.d_at < 0) continue;
          const int64_t d_off = nb * (l.region_bytes + l.scale_bytes) + 2 * b;
          ASSERT_EQ(d[d_off], blk[l.d_at]);
          ASSERT_EQ(d[d_off + 1], blk[l.d_at + 1]);
        }
        for (size_t i = src_rb; i < rb; ++i) ASSERT_EQ(d[i], 0) << "padding of type " << l.type;
      }
    }
  }
}

TEST(CudaDeviceRows, ManyRowsAreSplitAlikeOnEveryThread) {
  std::mt19937_64 rng(8);
  const int64_t k = 512, n = 1000;  // enough rows to spread over threads
  const size_t src_rb = row_bytes(GgmlType::Q6_K, k), rb = device_row_bytes(kDevQ6_K, k);
  const auto src = random_bytes(rng, src_rb * n);
  std::vector<uint8_t> all(rb * n), one(rb);
  to_device_rows(kDevQ6_K, k, n, src.data(), all.data());
  for (int64_t r = 0; r < n; r += 97) {
    to_device_rows(kDevQ6_K, k, 1, src.data() + src_rb * r, one.data());
    ASSERT_EQ(std::vector<uint8_t>(all.begin() + static_cast<std::ptrdiff_t>(rb * r), all.begin() + static_cast<std::ptrdiff_t>(rb * (r + 1))), one) << r;
  }
}

TEST(CudaDeviceRows, OtherTypesKeepTheirGgufBytes) {
  std::mt19937_64 rng(9);
  for (const auto t : {GgmlType::F16, GgmlType::F32, GgmlType::BF16}) {
    const int64_t k = 512, n = 3;
    const size_t rb = row_bytes(t, k);
    EXPECT_FALSE(split_rows(static_cast<uint32_t>(t)));
    ASSERT_EQ(device_row_bytes(static_cast<uint32_t>(t), k), rb);
    const auto src = random_bytes(rng, rb * n);
    std::vector<uint8_t> dst(rb * n);
    to_device_rows(static_cast<uint32_t>(t), k, n, src.data(), dst.data());
    EXPECT_EQ(dst, src);
  }
}

}  // namespace
}  // namespace quarrel::cuda
