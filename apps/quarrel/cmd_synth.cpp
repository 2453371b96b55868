// quarrel synth --shape NAME --type T --vocab SOURCE OUT.gguf: a random-weight model at a real
// shape with a real vocabulary (for benchmarks where real weights cannot be downloaded).
//
// The weights come from model::synthetic_model_writer (seeded; scaled so activations keep unit
// variance; norms near 1) and stream through the GGUF writer tensor by tensor, so a model never
// sits in memory. For a quantized T the random model is first written in F16 to a temporary
// file beside OUT and then quantized with the usual mix (quant::quantize_model: output.weight
// in Q6_K, attn_v / ffn_down bumps, ...), on all cores, with a progress bar; both files are
// written atomically and the temporary one is removed whatever happens.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "apps/quarrel/cli_progress.h"
#include "apps/quarrel/command.h"
#include "core/error.h"
#include "gguf/gguf_file.h"
#include "gguf/gguf_writer.h"
#include "gguf/keys.h"
#include "model/synthetic.h"
#include "quant/mix.h"
#include "quant/quantize_model.h"
#include "tokenizer/hf_tokenizer.h"

namespace quarrel::cli {
namespace {

struct Shape {
  const char* name;
  const char* summary;
  model::SyntheticSpec spec;  // n_vocab is replaced by SOURCE's token count
};

model::SyntheticSpec make_spec(const char* arch, int64_t n_embd, int64_t n_layer, int64_t n_ff, int64_t n_head,
                               int64_t n_head_kv, int64_t n_ctx, float rope_base, float rms_eps, bool tied,
                               bool rope_freqs, int64_t sliding_window) {
  model::SyntheticSpec s;
  s.arch = arch;
  s.n_embd = n_embd;
  s.n_layer = n_layer;
  s.n_ff = n_ff;
  s.n_head = n_head;
  s.n_head_kv = n_head_kv;
  s.n_ctx = n_ctx;
  s.rope_freq_base = rope_base;
  s.rms_eps = rms_eps;
  s.tied_embeddings = tied;
  s.rope_freqs = rope_freqs;
  s.sliding_window = sliding_window;
  return s;
}

model::SyntheticSpec with_head_dim(model::SyntheticSpec s, int64_t head_dim) {
  s.head_dim = head_dim;
  return s;
}

// Gemma's head size (not n_embd / n_head) and soft-caps; scores scaled by head_dim^-1/2, as its
// query_pre_attn_scalar says for these sizes.
model::SyntheticSpec with_gemma(model::SyntheticSpec s, int64_t head_dim, float attn_softcap, float final_softcap) {
  s = with_head_dim(s, head_dim);
  s.attn_softcap = attn_softcap;
  s.final_softcap = final_softcap;
  return s;
}

const std::vector<Shape>& shapes() {
  static const std::vector<Shape> all = {
      {"tiny", "test model: llama, n_embd 256, 2 layers, n_ff 512, 4 heads / 2 kv",
       make_spec("llama", 256, 2, 512, 4, 2, 2048, 10000.0f, 1e-5f, false, false, 0)},
      {"llama3-1b", "Llama-3.2-1B: n_embd 2048, 16 layers, n_ff 8192, 32 / 8 heads, tied, llama3 rope",
       make_spec("llama", 2048, 16, 8192, 32, 8, 131072, 500000.0f, 1e-5f, true, true, 0)},
      {"llama3-8b", "Llama-3.1-8B: n_embd 4096, 32 layers, n_ff 14336, 32 / 8 heads, llama3 rope",
       make_spec("llama", 4096, 32, 14336, 32, 8, 131072, 500000.0f, 1e-5f, false, true, 0)},
      {"llama2-7b", "Llama-2-7B: n_embd 4096, 32 layers, n_ff 11008, 32 / 32 heads",
       make_spec("llama", 4096, 32, 11008, 32, 32, 4096, 10000.0f, 1e-5f, false, false, 0)},
      {"mistral-7b", "Mistral-7B-v0.1: n_embd 4096, 32 layers, n_ff 14336, 32 / 8 heads, sliding window 4096",
       make_spec("mistral", 4096, 32, 14336, 32, 8, 32768, 10000.0f, 1e-5f, false, false, 4096)},
      {"qwen2.5-0.5b", "Qwen2.5-0.5B: qwen2, n_embd 896, 24 layers, n_ff 4864, 14 / 2 heads, QKV bias, tied",
       make_spec("qwen2", 896, 24, 4864, 14, 2, 32768, 1000000.0f, 1e-6f, true, false, 0)},
      {"qwen2.5-7b", "Qwen2.5-7B: qwen2, n_embd 3584, 28 layers, n_ff 18944, 28 / 4 heads, QKV bias",
       make_spec("qwen2", 3584, 28, 18944, 28, 4, 32768, 1000000.0f, 1e-6f, false, false, 0)},
      {"qwen3-8b", "Qwen3-8B: qwen3, n_embd 4096, 36 layers, n_ff 12288, 32 / 8 heads of 128, Q/K norms",
       with_head_dim(make_spec("qwen3", 4096, 36, 12288, 32, 8, 40960, 1000000.0f, 1e-6f, false, false, 0), 128)},
      {"gemma2-2b", "Gemma-2-2B: gemma2, n_embd 2304, 26 layers, n_ff 9216, 8 / 4 heads of 256, GeGLU, "
                    "post-norms, window 4096 on every other layer, soft-caps 50 / 30, tied",
       with_gemma(make_spec("gemma2", 2304, 26, 9216, 8, 4, 8192, 10000.0f, 1e-6f, true, false, 4096), 256, 50.0f,
                  30.0f)},
      {"gemma3-1b", "Gemma-3-1B: gemma3, n_embd 1152, 26 layers, n_ff 6912, 4 / 1 heads of 256, GeGLU, "
                    "post-norms, Q/K norms, window 512 on 5 of 6 layers, tied",
       with_gemma(make_spec("gemma3", 1152, 26, 6912, 4, 1, 32768, 1000000.0f, 1e-6f, true, false, 512), 256, 0.0f,
                  0.0f)},
      {"phi3-mini", "Phi-3-mini-4k: phi3, n_embd 3072, 32 layers, n_ff 8192, 32 / 32 heads, fused QKV and gate/up, "
                    "window 2047",
       make_spec("phi3", 3072, 32, 8192, 32, 32, 4096, 10000.0f, 1e-5f, false, false, 2047)},
  };
  return all;
}

const Shape* find_shape(const std::string& name) {
  for (const auto& s : shapes())
    if (name == s.name) return &s;
  return nullptr;
}

// The tokenizer.* metadata of SOURCE: a GGUF's keys, or a Hugging Face tokenizer.json (a file,
// or a folder holding one) converted, with tokenizer_config.json from beside it when present.
tokenizer::GgufKeyValues vocabulary(const std::string& source) {
  namespace fs = std::filesystem;
  tokenizer::GgufKeyValues kv;
  std::error_code ec;
  fs::path json = source;
  if (fs::is_directory(json, ec)) json /= "tokenizer.json";
  if (json.extension() == ".json") {
    const fs::path config = json.parent_path() / "tokenizer_config.json";
    kv = tokenizer::convert_hf_tokenizer_files(json.string(), fs::exists(config, ec) ? config.string() : std::string());
  } else {
    const gguf::GgufFile f = gguf::GgufFile::open(source);
    for (const auto& [key, value] : f.metadata())
      if (key.rfind("tokenizer.", 0) == 0) kv.emplace_back(key, value);
  }
  for (const auto& [key, value] : kv)
    if (key == gguf::keys::kTokenizerTokens && value.is_array() && value.size() > 0) return kv;
  fail(ErrorCode::kInvalidFile, "{}: no token list ({}); pass a GGUF with a vocabulary or a tokenizer.json", source,
       gguf::keys::kTokenizerTokens);
}

std::string shape_names() {
  std::string out;
  for (const auto& s : shapes()) out += (out.empty() ? "" : ", ") + std::string(s.name);
  return out;
}

// Removes a file when it goes out of scope (the F16 intermediate).
struct TempFile {
  std::string path;
  ~TempFile() {
    std::error_code ec;
    std::filesystem::remove(path, ec);
  }
};

struct Args {
  std::string shape, type = "Q4_K_M", vocab, out;
  uint64_t seed = 1;
  int threads = 0;
  int64_t ctx = 0;
  bool quiet = false;
};

int run(const Args& a) {
  const Shape* shape = find_shape(a.shape);
  if (!shape) fail(ErrorCode::kInvalidArgument, "unknown shape '{}'; valid shapes: {}", a.shape, shape_names());
  // F32 is no quantization mix (llama.cpp's ALL_F32): every tensor in float32.
  static const quant::QuantMix kAllF32{"F32", 0, GgmlType::F32, "float32 everywhere"};
  const bool f32 = a.type == "F32" || a.type == "f32";
  const quant::QuantMix* mix = f32 ? &kAllF32 : quant::find_mix(a.type);
  if (!mix) fail(ErrorCode::kInvalidArgument, "unknown type '{}'; valid types: F32, {}", a.type, quant::mix_names());
  if (a.threads < 0) fail(ErrorCode::kInvalidArgument, "--threads must be at least 1, got {}", a.threads);
  if (a.ctx < 0) fail(ErrorCode::kInvalidArgument, "--ctx must be positive, got {}", a.ctx);
  std::error_code ec;
  if (std::filesystem::exists(a.out, ec) && std::filesystem::equivalent(a.out, a.vocab, ec))
    fail(ErrorCode::kInvalidArgument, "OUT '{}' is the vocabulary source", a.out);

  const tokenizer::GgufKeyValues vocab_keys = vocabulary(a.vocab);
  size_t n_tokens = 0;
  for (const auto& [key, value] : vocab_keys)
    if (key == gguf::keys::kTokenizerTokens) n_tokens = value.size();

  model::SyntheticSpec spec = shape->spec;
  spec.n_vocab = static_cast<int64_t>(n_tokens);
  spec.seed = a.seed;
  if (a.ctx > 0) spec.n_ctx = a.ctx;
  const bool direct = mix->base == GgmlType::F32 || mix->base == GgmlType::F16 || mix->base == GgmlType::BF16;
  spec.type = direct ? mix->base : GgmlType::F16;

  gguf::GgufWriter w = model::synthetic_model_writer(spec);
  w.set(std::string(gguf::keys::kGeneralName), gguf::Value::string(std::string("synthetic-") + shape->name));
  tokenizer::set_gguf_metadata(w, vocab_keys);

  const auto t0 = std::chrono::steady_clock::now();
  auto seconds = [&] { return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(); };
  if (direct) {
    w.set(std::string(gguf::keys::kGeneralFileType), gguf::Value::u32(mix->file_type));
    if (!a.quiet) std::fprintf(stderr, "synth: writing %s (%s) ...\n", a.out.c_str(), std::string(mix->name).c_str());
    w.write(a.out);
  } else {
    // Random F16 weights to a temporary file, then the mix.
    TempFile tmp{a.out + ".synth-f16.tmp"};
    if (!a.quiet) std::fprintf(stderr, "synth: generating random F16 weights in %s ...\n", tmp.path.c_str());
    w.write(tmp.path);
    if (!a.quiet) std::fprintf(stderr, "synth: F16 weights written in %.1f s; quantizing to %s\n", seconds(),
                               std::string(mix->name).c_str());
    quant::QuantizeOptions opt;
    opt.n_threads = a.threads;
    ProgressBar bar("synth", !a.quiet);
    opt.progress = [&](const quant::QuantizeProgress& p) {
      bar.update(p.elements_done, p.elements_total, p.tensor ? p.tensor->name : std::string());
    };
    quant::quantize_model(tmp.path, a.out, *mix, opt);
  }
  const auto size = std::filesystem::file_size(a.out, ec);
  std::printf("%s: %s %s, %lld tokens of vocabulary from %s, %.2f GiB, %.1f s\n", a.out.c_str(), shape->name,
              std::string(mix->name).c_str(), static_cast<long long>(spec.n_vocab), a.vocab.c_str(),
              static_cast<double>(size) / (1 << 30), seconds());
  return 0;
}

const RegisterCommand kSynth{Command{
    "synth", "Write a random-weight model at a real shape with a real vocabulary (for benchmarks)",
    [](CLI::App& sub) {
      auto a = std::make_shared<Args>();
      sub.add_option("OUT", a->out, "Output model (GGUF, written atomically)")->required();
      sub.add_option("--shape", a->shape, "Model shape (see the list below)")->required();
      sub.add_option("--type", a->type, "Quantization mix: F32, F16, BF16, Q4_0, Q4_K_M, Q8_0, ... (default Q4_K_M)");
      sub.add_option("--vocab", a->vocab, "Where the tokenizer comes from: a GGUF (its tokenizer.* keys) or a Hugging "
                                          "Face tokenizer.json (or its folder); its token count is the vocabulary size")
          ->required();
      sub.add_option("--seed", a->seed, "Seed of the random weights (default 1)");
      sub.add_option("--ctx", a->ctx, "Context length written to the metadata (default: the shape's)");
      sub.add_option("-t,--threads", a->threads, "Quantization threads (default: the physical cores)");
      sub.add_flag("-q,--quiet", a->quiet, "No progress output");
      std::string list;
      for (const auto& s : shapes()) list += fmt::format("  {:<13} {}\n", s.name, s.summary);
      sub.footer("Shapes:\n" + list +
                 "\nWeights are uniform random (seeded) with unit-variance projections and norms near 1, so "
                 "activations stay finite at any depth; the text a synthetic model writes is noise.");
      return [a] { return run(*a); };
    }}};

}  // namespace
}  // namespace quarrel::cli
