#pragma once
// Random weight matrices for the GPU kernel tests: quantized on the host by the project's own
// quantizer, with their dequantized values as the reference, and their device view.
#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include "backend/cuda/device_buffer.h"
#include "backend/cuda/device_rows.h"
#include "backend/cuda/kernels.h"
#include "common/random.h"
#include "core/ggml_type.h"
#include "quant/quant.h"

namespace quarrel::test {

// A random [k, n] matrix quantized to t, and its dequantized values.
struct HostMatrix {
  GgmlType type;
  int64_t k, n;
  std::vector<uint8_t> bytes;  // the rows as the device holds them (device_rows.h)
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
  std::vector<uint8_t> rows(cuda::device_row_bytes(static_cast<uint32_t>(t), k) * static_cast<size_t>(n));
  cuda::to_device_rows(static_cast<uint32_t>(t), k, n, m.bytes.data(), rows.data());
  m.bytes = std::move(rows);
  return m;
}

// Float64 products of a test matrix with x [k, cols] and, per output, sum |w x| (the bound
// f32 accumulation is measured against: dot_error).
struct Products {
  std::vector<double> want, mag;  // [n, cols]
};
inline Products reference_products(const HostMatrix& m, const std::vector<float>& x, int cols) {
  Products p{std::vector<double>(static_cast<size_t>(m.n * cols)), std::vector<double>(static_cast<size_t>(m.n * cols))};
  for (int c = 0; c < cols; ++c) {
    for (int64_t r = 0; r < m.n; ++r) {
      double s = 0, a = 0;
      for (int64_t j = 0; j < m.k; ++j) {
        const double t = static_cast<double>(m.values[r * m.k + j]) * x[c * m.k + j];
        s += t;
        a += std::fabs(t);
      }
      p.want[static_cast<size_t>(c * m.n + r)] = s;
      p.mag[static_cast<size_t>(c * m.n + r)] = a;
    }
  }
  return p;
}

inline cuda::DevMatrix dev(const HostMatrix& m, const cuda::DeviceBuffer& b) {
  return cuda::DevMatrix{.type = static_cast<uint32_t>(m.type), .data = b.get(), .k = m.k, .n = m.n,
                         .row_bytes = cuda::device_row_bytes(static_cast<uint32_t>(m.type), m.k)};
}

}  // namespace quarrel::test
