#pragma once
// Random weight matrices for the GPU kernel tests: quantized on the host by the project's own
// quantizer, with their dequantized values as the reference, and their device view.
#include <cstdint>
#include <random>
#include <vector>

#include "backend/cuda/device_buffer.h"
#include "backend/cuda/kernels.h"
#include "common/random.h"
#include "core/ggml_type.h"
#include "quant/quant.h"

namespace quarrel::test {

// A random [k, n] matrix quantized to t, and its dequantized values.
struct HostMatrix {
  GgmlType type;
  int64_t k, n;
  std::vector<uint8_t> bytes;
  std::vector<float> values;  // dequantized, [k, n]
};

inline HostMatrix random_matrix(std::mt19937_64& rng, GgmlType t, int64_t k, int64_t n) {
  HostMatrix m{t, k, n, {}, {}};
  const size_t rb = row_bytes(t, static_cast<uint64_t>(k));
  m.bytes.resize(rb * static_cast<size_t>(n));
  m.values.resize(static_cast<size_t>(k * n));
  for (int64_t r = 0; r < n; ++r) {
    const auto src = random_floats(rng, static_cast<size_t>(k));
    quant::quantize_row(t, src.data(), m.bytes.data() + rb * static_cast<size_t>(r), k);
    quant::dequantize_row(t, m.bytes.data() + rb * static_cast<size_t>(r), m.values.data() + r * k, k);
  }
  return m;
}

inline cuda::DevMatrix dev(const HostMatrix& m, const cuda::DeviceBuffer& b) {
  return cuda::DevMatrix{.type = static_cast<uint32_t>(m.type), .data = b.get(), .k = m.k, .n = m.n,
                         .row_bytes = static_cast<size_t>(row_bytes(m.type, static_cast<uint64_t>(m.k)))};
}

}  // namespace quarrel::test
