// The device row layout (device_rows.h), on the host: needs no GPU. Each GGUF byte of a row of
// Q4_0 / Q8_0 / Q6_K blocks must land where the split layout puts it, rows padded with zeros to
// 16 bytes; other types are copied unchanged. The GPU kernel tests read these rows back.
#include <gtest/gtest.h>

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
  int64_t d_at;         // offset of d (f16) in the GGUF block
  int64_t quant_bytes;  // quants (and Q6_K's ql/qh), in GGUF order from the block's start or after d
  int64_t scale_bytes;  // Q6_K's int8 scales, after the quants
};

TEST(CudaDeviceRows, SplitRowsPutEveryByteWhereTheLayoutSays) {
  std::mt19937_64 rng(7);
  const Layout layouts[] = {{kDevQ4_0, 32, 18, 0, 16, 0}, {kDevQ8_0, 32, 34, 0, 32, 0}, {kDevQ6_K, 256, 210, 208, 192, 16}};
  for (const Layout& l : layouts) {
    for (const int64_t nb : {1, 2, 3, 7, 8, 13}) {
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
        const int64_t first = l.d_at == 0 ? 2 : 0;  // quants start after a leading d
        for (int64_t b = 0; b < nb; ++b) {
          const uint8_t* blk = s + b * l.block_bytes;
          for (int64_t i = 0; i < l.quant_bytes; ++i) ASSERT_EQ(d[b * l.quant_bytes + i], blk[first + i]) << l.type << " b" << b;
          for (int64_t i = 0; i < l.scale_bytes; ++i) {
            ASSERT_EQ(d[nb * l.quant_bytes + b * l.scale_bytes + i], blk[first + l.quant_bytes + i]) << l.type << " b" << b;
          }
          const int64_t d_off = nb * (l.quant_bytes + l.scale_bytes) + 2 * b;
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
  for (const auto t : {GgmlType::F16, GgmlType::F32, GgmlType::BF16, GgmlType::Q4_K, GgmlType::Q5_K}) {
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
