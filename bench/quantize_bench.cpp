// Throughput of the scalar reference quantize_row / dequantize_row per type (Google
// Benchmark), and a generator for the model of the `quarrel quantize` timing:
//
//   quantize_bench [benchmark flags]              run the micro benchmarks
//   quantize_bench --write-1b-f16 OUT.gguf        write a random-weight F16 model of
//                                                 Llama-3.2-1B's shape (2.5 GB) and exit
//
// The model: n_embd 2048, 16 layers, n_ff 8192, 32 heads / 8 KV heads (head dim 64), vocab
// 128256, tied embeddings (no output.weight), as meta-llama/Llama-3.2-1B; 1.24B parameters.
// Weights are uniform random (deterministic), streamed tensor by tensor through GgufWriter.
#include <benchmark/benchmark.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "core/fp16.h"
#include "core/ggml_type.h"
#include "gguf/gguf_writer.h"
#include "quant/quant.h"

namespace {
using namespace quarrel;

constexpr int64_t kElements = 64 * 1024;  // 256 KiB of float32 per call: stays in L2

std::vector<float> bench_data() {
  std::mt19937_64 rng(42);
  std::normal_distribution<float> d(0.0f, 0.02f);
  std::vector<float> v(kElements);
  for (auto& x : v) x = d(rng);
  return v;
}

void BM_Quantize(benchmark::State& state, GgmlType type) {
  const auto x = bench_data();
  std::vector<uint8_t> q(row_bytes(type, kElements));
  for (auto _ : state) {
    quant::quantize_row(type, x.data(), q.data(), kElements);
    benchmark::DoNotOptimize(q.data());
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(state.iterations() * kElements);
  state.SetBytesProcessed(state.iterations() * kElements * static_cast<int64_t>(sizeof(float)));
}

void BM_Dequantize(benchmark::State& state, GgmlType type) {
  const auto x = bench_data();
  std::vector<uint8_t> q(row_bytes(type, kElements));
  quant::quantize_row(type, x.data(), q.data(), kElements);
  std::vector<float> y(kElements);
  for (auto _ : state) {
    quant::dequantize_row(type, q.data(), y.data(), kElements);
    benchmark::DoNotOptimize(y.data());
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(state.iterations() * kElements);
  state.SetBytesProcessed(state.iterations() * kElements * static_cast<int64_t>(sizeof(float)));
}

const GgmlType kTypes[] = {GgmlType::F16,  GgmlType::BF16, GgmlType::Q4_0, GgmlType::Q4_1,   GgmlType::Q5_0,
                           GgmlType::Q5_1, GgmlType::Q8_0, GgmlType::Q8_1, GgmlType::Q2_K,   GgmlType::Q3_K,
                           GgmlType::Q4_K, GgmlType::Q5_K, GgmlType::Q6_K, GgmlType::Q8_K,   GgmlType::IQ4_NL,
                           GgmlType::IQ4_XS, GgmlType::MXFP4};

void register_benchmarks() {
  for (auto t : kTypes) {
    const std::string name(type_name(t));
    benchmark::RegisterBenchmark(("quantize_row/" + name).c_str(), BM_Quantize, t);
    benchmark::RegisterBenchmark(("dequantize_row/" + name).c_str(), BM_Dequantize, t);
  }
}

// ---- the 1B F16 model --------------------------------------------------------------------

uint64_t splitmix64(uint64_t& s) {
  uint64_t z = (s += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

// Uniform in [-scale, scale), F16, four values per 64 random bits.
gguf::GgufWriter::Fill random_f16(uint64_t seed, float scale) {
  return [seed, scale](uint8_t* dst, uint64_t n_bytes) {
    uint64_t s = seed;
    auto* out = reinterpret_cast<uint16_t*>(dst);
    const uint64_t n = n_bytes / 2;
    for (uint64_t i = 0; i < n; i += 4) {
      const uint64_t r = splitmix64(s);
      for (uint64_t k = 0; k < 4 && i + k < n; ++k) {
        const float u = static_cast<float>((r >> (16 * k)) & 0xFFFF) * (1.0f / 32768.0f) - 1.0f;
        out[i + k] = f32_to_fp16(u * scale);
      }
    }
  };
}

gguf::GgufWriter::Fill ones_f32() {
  return [](uint8_t* dst, uint64_t n_bytes) {
    const float one = 1.0f;
    for (uint64_t i = 0; i < n_bytes; i += 4) std::memcpy(dst + i, &one, 4);
  };
}

int write_1b_f16(const std::string& path) {
  using gguf::Value;
  constexpr uint64_t n_embd = 2048, n_layer = 16, n_ff = 8192, n_head = 32, n_head_kv = 8, n_vocab = 128256;
  constexpr uint64_t head_dim = n_embd / n_head, n_embd_kv = head_dim * n_head_kv;
  gguf::GgufWriter w;
  w.set("general.architecture", Value::string("llama"));
  w.set("general.name", Value::string("random-llama-3.2-1b-shape"));
  w.set("general.file_type", Value::u32(1));  // MOSTLY_F16
  w.set("llama.context_length", Value::u32(131072));
  w.set("llama.embedding_length", Value::u32(n_embd));
  w.set("llama.block_count", Value::u32(n_layer));
  w.set("llama.feed_forward_length", Value::u32(n_ff));
  w.set("llama.rope.dimension_count", Value::u32(head_dim));
  w.set("llama.attention.head_count", Value::u32(n_head));
  w.set("llama.attention.head_count_kv", Value::u32(n_head_kv));
  w.set("llama.attention.layer_norm_rms_epsilon", Value::f32(1e-5f));
  w.set("llama.rope.freq_base", Value::f32(500000.0f));
  w.set("llama.vocab_size", Value::u32(n_vocab));
  uint64_t seed = 1;
  uint64_t n_params = 0;
  auto mat = [&](const std::string& name, uint64_t ne0, uint64_t ne1) {
    w.add_tensor_lazy(name, GgmlType::F16, {ne0, ne1}, random_f16(seed++, 1.7f / std::sqrt(static_cast<float>(ne0))));
    n_params += ne0 * ne1;
  };
  auto norm = [&](const std::string& name) {
    w.add_tensor_lazy(name, GgmlType::F32, {n_embd}, ones_f32());
    n_params += n_embd;
  };
  mat("token_embd.weight", n_embd, n_vocab);
  for (uint64_t i = 0; i < n_layer; ++i) {
    const std::string p = "blk." + std::to_string(i) + ".";
    norm(p + "attn_norm.weight");
    mat(p + "attn_q.weight", n_embd, n_embd);
    mat(p + "attn_k.weight", n_embd, n_embd_kv);
    mat(p + "attn_v.weight", n_embd, n_embd_kv);
    mat(p + "attn_output.weight", n_embd, n_embd);
    norm(p + "ffn_norm.weight");
    mat(p + "ffn_gate.weight", n_embd, n_ff);
    mat(p + "ffn_up.weight", n_embd, n_ff);
    mat(p + "ffn_down.weight", n_ff, n_embd);
  }
  norm("output_norm.weight");
  w.write(path);
  std::printf("%s: %llu parameters (F16)\n", path.c_str(), static_cast<unsigned long long>(n_params));
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 3 && std::string(argv[1]) == "--write-1b-f16") {
    try {
      return write_1b_f16(argv[2]);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "error: %s\n", e.what());
      return 1;
    }
  }
  register_benchmarks();
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
