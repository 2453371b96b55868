// Opening a ~5 GB GGUF: metadata parsed, tensor infos checked, the data section mmap'd.
// The file is shaped like a Llama-3-8B Q4_K_M (32 layers, n_embd 4096, n_ff 14336, a 128256-
// token vocabulary with 280000 merges) and written by GgufWriter with all-zero lazy tensors,
// which the writer turns into holes: a sparse file, written in seconds, deleted at exit.
// Usage: gguf_open_bench [--keep PATH] [benchmark flags]
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>

#include "gguf/gguf_file.h"
#include "gguf/gguf_writer.h"
#include "gguf/keys.h"

namespace {

using namespace quarrel;
using namespace quarrel::gguf;

std::string g_path;

void make_model(const std::string& path) {
  constexpr uint64_t n_embd = 4096, n_ff = 14336, n_kv = 1024, n_vocab = 128256, n_layer = 32, n_merges = 280000;
  GgufWriter w;
  w.set("general.architecture", Value::string("llama"));
  w.set("general.name", Value::string("bench-8b-shaped"));
  w.set("general.file_type", Value::u32(15));
  w.set("llama.context_length", Value::u32(131072));
  w.set("llama.embedding_length", Value::u32(n_embd));
  w.set("llama.block_count", Value::u32(n_layer));
  w.set("llama.feed_forward_length", Value::u32(n_ff));
  w.set("llama.attention.head_count", Value::u32(32));
  w.set("llama.attention.head_count_kv", Value::u32(8));
  w.set("llama.rope.freq_base", Value::f32(500000.0f));
  w.set("llama.attention.layer_norm_rms_epsilon", Value::f32(1e-5f));
  w.set("tokenizer.ggml.model", Value::string("gpt2"));
  w.set("tokenizer.ggml.pre", Value::string("llama-bpe"));
  std::vector<std::string> tokens(n_vocab);
  std::vector<int32_t> types(n_vocab, 1);
  for (uint64_t i = 0; i < n_vocab; ++i) tokens[i] = "Ġtok" + std::to_string(i);
  w.set("tokenizer.ggml.tokens", Value::string_array(tokens));
  w.set("tokenizer.ggml.token_type", Value::i32_array(types));
  std::vector<std::string> merges(n_merges);
  for (uint64_t i = 0; i < n_merges; ++i) merges[i] = "Ġt ok" + std::to_string(i);
  w.set("tokenizer.ggml.merges", Value::string_array(merges));
  w.set("tokenizer.ggml.bos_token_id", Value::u32(128000));
  w.set("tokenizer.ggml.eos_token_id", Value::u32(128009));
  w.set("tokenizer.chat_template", Value::string(std::string(4000, 'x')));

  const auto zero = [](uint8_t*, uint64_t) {};  // the buffer arrives zeroed: leave it so
  w.add_tensor_lazy("token_embd.weight", GgmlType::Q4_K, {n_embd, n_vocab}, zero);
  w.add_tensor_lazy("output_norm.weight", GgmlType::F32, {n_embd}, zero);
  w.add_tensor_lazy("output.weight", GgmlType::Q6_K, {n_embd, n_vocab}, zero);
  for (uint64_t l = 0; l < n_layer; ++l) {
    const std::string p = "blk." + std::to_string(l) + ".";
    w.add_tensor_lazy(p + "attn_norm.weight", GgmlType::F32, {n_embd}, zero);
    w.add_tensor_lazy(p + "attn_q.weight", GgmlType::Q4_K, {n_embd, n_embd}, zero);
    w.add_tensor_lazy(p + "attn_k.weight", GgmlType::Q4_K, {n_embd, n_kv}, zero);
    w.add_tensor_lazy(p + "attn_v.weight", GgmlType::Q6_K, {n_embd, n_kv}, zero);
    w.add_tensor_lazy(p + "attn_output.weight", GgmlType::Q4_K, {n_embd, n_embd}, zero);
    w.add_tensor_lazy(p + "ffn_norm.weight", GgmlType::F32, {n_embd}, zero);
    w.add_tensor_lazy(p + "ffn_gate.weight", GgmlType::Q4_K, {n_embd, n_ff}, zero);
    w.add_tensor_lazy(p + "ffn_up.weight", GgmlType::Q4_K, {n_embd, n_ff}, zero);
    w.add_tensor_lazy(p + "ffn_down.weight", GgmlType::Q6_K, {n_ff, n_embd}, zero);
  }
  w.write(path);
}

void BM_GgufOpen(benchmark::State& state) {
  uint64_t tensors = 0, keys = 0, size = 0;
  for (auto _ : state) {
    auto f = GgufFile::open(g_path);
    tensors = f.tensors().size();
    keys = f.metadata().size();
    size = f.file_size();
    benchmark::DoNotOptimize(f.tensor_data(f.tensors().back()).data());
  }
  state.counters["file_GB"] = static_cast<double>(size) / 1e9;
  state.counters["tensors"] = static_cast<double>(tensors);
  state.counters["keys"] = static_cast<double>(keys);
}
BENCHMARK(BM_GgufOpen)->Unit(benchmark::kMillisecond)->MinTime(2.0);

}  // namespace

int main(int argc, char** argv) {
  bool keep = false;
  std::vector<char*> args{argv[0]};
  for (int i = 1; i < argc; ++i) {
    if (std::string(argv[i]) == "--keep" && i + 1 < argc) {
      g_path = argv[++i];
      keep = true;
    } else {
      args.push_back(argv[i]);
    }
  }
  if (g_path.empty())
    g_path = (std::filesystem::temp_directory_path() / ("quarrel-open-bench-" + std::to_string(::getpid()) + ".gguf")).string();
  int n = static_cast<int>(args.size());
  benchmark::Initialize(&n, args.data());
  const auto t0 = std::chrono::steady_clock::now();
  try {
    make_model(g_path);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    std::filesystem::remove(g_path);
    return 1;
  }
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::fprintf(stderr, "wrote %s: %.2f GB (sparse) in %.1f s\n", g_path.c_str(),
               static_cast<double>(std::filesystem::file_size(g_path)) / 1e9, secs);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  if (!keep) std::filesystem::remove(g_path);
  return 0;
}
