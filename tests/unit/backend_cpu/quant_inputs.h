#pragma once
// Random quantized rows for the kernel tests: weights quantized by the scalar reference, and the
// float64 dot product of dequantized values that the kernels are checked against.
#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include "backend/cpu/kernels.h"
#include "core/ggml_type.h"
#include "quant/quant.h"

namespace quarrel::cpu::test {

// Every weight type the CPU kernels compute with.
inline const std::vector<GgmlType>& weight_types() {
  static const std::vector<GgmlType> types = {
      GgmlType::F32,  GgmlType::F16,  GgmlType::BF16, GgmlType::Q4_0, GgmlType::Q4_1,   GgmlType::Q5_0,
      GgmlType::Q5_1, GgmlType::Q8_0, GgmlType::Q2_K, GgmlType::Q3_K, GgmlType::Q4_K,   GgmlType::Q5_K,
      GgmlType::Q6_K, GgmlType::IQ4_NL, GgmlType::IQ4_XS, GgmlType::MXFP4};
  return types;
}

inline bool is_float_type(GgmlType t) { return t == GgmlType::F32 || t == GgmlType::F16 || t == GgmlType::BF16; }

// Floats with a varying magnitude per 32 elements and a few outliers, like real weights.
inline std::vector<float> random_weights(std::mt19937_64& rng, size_t n) {
  std::normal_distribution<float> nd(0.0f, 1.0f);
  std::uniform_real_distribution<float> scale(0.05f, 2.0f);
  std::vector<float> v(n);
  float s = 1.0f;
  for (size_t i = 0; i < n; ++i) {
    if (i % 32 == 0) s = scale(rng);
    v[i] = nd(rng) * s;
    if (rng() % 97 == 0) v[i] *= 8.0f;
  }
  return v;
}

// n_rows rows of k elements quantized to type by the reference quantizer.
inline std::vector<uint8_t> quantize_rows(GgmlType type, const std::vector<float>& x, int64_t k, int64_t n_rows) {
  const size_t rb = row_bytes(type, static_cast<uint64_t>(k));
  std::vector<uint8_t> out(rb * static_cast<size_t>(n_rows));
  for (int64_t r = 0; r < n_rows; ++r) quant::quantize_row(type, x.data() + r * k, out.data() + rb * r, k);
  return out;
}

inline std::vector<float> dequantize_rows(GgmlType type, const uint8_t* data, int64_t k, int64_t n_rows) {
  const size_t rb = row_bytes(type, static_cast<uint64_t>(k));
  std::vector<float> out(static_cast<size_t>(k * n_rows));
  for (int64_t r = 0; r < n_rows; ++r) quant::dequantize_row(type, data + rb * r, out.data() + r * k, k);
  return out;
}

// The float values an activation row stands for (dequantized from its format).
inline std::vector<float> activation_values(ActFormat f, const void* act, const float* x, int64_t k) {
  std::vector<float> v(static_cast<size_t>(k));
  switch (f) {
    case ActFormat::kF32: std::copy(x, x + k, v.begin()); break;
    case ActFormat::kQ8_0: quant::dequantize_row(GgmlType::Q8_0, act, v.data(), k); break;
    case ActFormat::kQ8_K: quant::dequantize_row(GgmlType::Q8_K, act, v.data(), k); break;
    case ActFormat::kNone: break;
  }
  return v;
}

// An activation row as a level's vec_dot takes it: quantized by the level's quantizer, then
// prepared when the type has a prepare step (64-byte aligned).
struct ActRow {
  std::vector<uint8_t> quantized;
  std::vector<uint8_t> prepared_storage;
  const void* ptr = nullptr;  // what vec_dot gets
};

inline ActRow make_act_row(const CpuKernels& K, const TypeKernels& tk, const float* x, int64_t k) {
  ActRow a;
  a.quantized.resize(act_row_bytes(tk.act, k));
  if (tk.act == ActFormat::kQ8_0) K.quantize_q8_0(x, a.quantized.data(), k);
  if (tk.act == ActFormat::kQ8_K) K.quantize_q8_K(x, a.quantized.data(), k);
  a.ptr = tk.act == ActFormat::kF32 ? static_cast<const void*>(x) : a.quantized.data();
  if (tk.prepare) {
    a.prepared_storage.resize(tk.prepared_size(k) + 64);
    auto p = reinterpret_cast<uintptr_t>(a.prepared_storage.data());
    void* aligned = reinterpret_cast<void*>((p + 63) & ~uintptr_t{63});
    tk.prepare(a.quantized.data(), aligned, k);
    a.ptr = aligned;
  }
  return a;
}

struct DotRef {
  double value = 0;
  double magnitude = 0;  // sum |a_i b_i|: the scale errors are measured against
};

inline DotRef dot_ref(const float* a, const float* b, int64_t n) {
  DotRef r;
  for (int64_t i = 0; i < n; ++i) {
    r.value += static_cast<double>(a[i]) * b[i];
    r.magnitude += std::fabs(static_cast<double>(a[i]) * b[i]);
  }
  return r;
}

// Row lengths to test for a type: any length for float types, whole blocks otherwise.
inline std::vector<int64_t> test_lengths(GgmlType t) {
  if (is_float_type(t)) return {1, 3, 8, 17, 64, 100, 255, 256, 1000};
  // Past 128 blocks / 32 super-blocks: the AVX-512 kernels prepare activations in chunks.
  if (traits(t).block_size == 32) return {32, 64, 96, 256, 544, 4448};
  return {256, 512, 768, 2304, 8448};
}

}  // namespace quarrel::cpu::test
