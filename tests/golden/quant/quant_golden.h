#pragma once
// Helpers shared by the quant golden and e2e tests: golden_dequant.json, sha256 of float32
// data, RMSE, and dequantizing whole GGUF tensors.
#include <openssl/evp.h>

#include <cmath>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/test_data.h"
#include "core/ggml_type.h"
#include "gguf/gguf_file.h"
#include "quant/quant.h"

namespace quarrel::test {

// The mixes with a quanttest-MIX.gguf file and golden values.
inline constexpr const char* kGoldenMixes[] = {"BF16",   "F16",    "IQ4_NL", "IQ4_XS", "Q2_K",   "Q3_K_L",
                                               "Q3_K_M", "Q3_K_S", "Q4_0",   "Q4_1",   "Q4_K_M", "Q4_K_S",
                                               "Q5_0",   "Q5_1",   "Q5_K_M", "Q5_K_S", "Q6_K",   "Q8_0"};

struct GoldenTensor {
  std::string name;
  std::string type;
  std::vector<uint64_t> ne;
  std::string sha256;
  double rmse = 0;
  std::vector<double> first8;
};

// golden_dequant.json: file name -> its tensors, in file order.
inline std::map<std::string, std::vector<GoldenTensor>> load_golden() {
  const auto j = nlohmann::json::parse(read_file(data_path("quant/golden_dequant.json")));
  std::map<std::string, std::vector<GoldenTensor>> out;
  for (const auto& [file, tensors] : j.items()) {
    auto& v = out[file];
    for (const auto& t : tensors) {
      GoldenTensor g;
      g.name = t.at("name").get<std::string>();
      g.type = t.at("type").get<std::string>();
      g.ne = t.at("ne").get<std::vector<uint64_t>>();
      g.sha256 = t.at("sha256_f32").get<std::string>();
      g.rmse = t.at("rmse_vs_f32").get<double>();
      g.first8 = t.at("first8").get<std::vector<double>>();
      v.push_back(std::move(g));
    }
  }
  return out;
}

inline std::string sha256_hex(const void* data, size_t n) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(data, n, md, &len, EVP_sha256(), nullptr);
  static const char* hex = "0123456789abcdef";
  std::string s;
  for (unsigned i = 0; i < len; ++i) {
    s += hex[md[i] >> 4];
    s += hex[md[i] & 15];
  }
  return s;
}

inline std::string sha256_floats(const std::vector<float>& v) { return sha256_hex(v.data(), v.size() * sizeof(float)); }

inline double rmse(const std::vector<float>& a, const std::vector<float>& b) {
  double s = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    const double d = static_cast<double>(a[i]) - static_cast<double>(b[i]);
    s += d * d;
  }
  return a.empty() ? 0.0 : std::sqrt(s / static_cast<double>(a.size()));
}

// The tensor as float32 (dequantized with the reference dequantizer).
inline std::vector<float> dequantize_tensor(const gguf::GgufFile& f, const gguf::TensorInfo& t) {
  std::vector<float> out(t.n_elements());
  quant::dequantize_row(t.type, f.tensor_data(t).data(), out.data(), static_cast<int64_t>(out.size()));
  return out;
}

// Quantizes float32 data to `type` and back.
inline std::vector<float> round_trip(GgmlType type, const std::vector<float>& src) {
  std::vector<uint8_t> q(row_bytes(type, src.size()));
  quant::quantize_row(type, src.data(), q.data(), static_cast<int64_t>(src.size()));
  std::vector<float> out(src.size());
  quant::dequantize_row(type, q.data(), out.data(), static_cast<int64_t>(out.size()));
  return out;
}

}  // namespace quarrel::test
