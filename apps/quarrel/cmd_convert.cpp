// quarrel convert HF_DIR OUT.gguf [--type TYPE] [--threads N]: converts a Hugging Face
// checkpoint (config.json, safetensors, tokenizer.json) to a GGUF model.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <string>

#include "apps/quarrel/command.h"
#include "convert/convert_arch.h"
#include "convert/converter.h"
#include "core/error.h"

namespace quarrel::cli {
namespace {

// One line redrawn in place on a terminal (at most ~10 times a second); one line per 10%
// otherwise (logs, pipes).
class ConvertProgressBar {
 public:
  ConvertProgressBar() : tty_(::isatty(STDERR_FILENO) == 1) {}

  void update(const convert::ConvertProgress& p) {
    const double frac =
        p.elements_total ? static_cast<double>(p.elements_done) / static_cast<double>(p.elements_total) : 1.0;
    const int pct = static_cast<int>(frac * 100);
    const bool finished = p.elements_done == p.elements_total;
    if (finished && finished_) return;
    finished_ = finished;
    const auto now = std::chrono::steady_clock::now();
    if (tty_) {
      if (!finished && now - last_ < std::chrono::milliseconds(100)) return;
      last_ = now;
      constexpr int kWidth = 30;
      std::string bar(static_cast<size_t>(frac * kWidth), '#');
      bar.resize(kWidth, '.');
      std::fprintf(stderr, "\r[%s] %3d%% %zu/%zu %-36.36s %-6s", bar.c_str(), pct, p.tensor_index + 1, p.n_tensors,
                   p.tensor->c_str(), std::string(type_name(p.type)).c_str());
      if (finished) std::fputc('\n', stderr);
      std::fflush(stderr);
    } else if (pct / 10 > last_decile_ || finished) {
      last_decile_ = pct / 10;
      std::fprintf(stderr, "convert: %3d%% (%zu/%zu tensors)\n", pct, p.tensor_index + 1, p.n_tensors);
    }
  }

 private:
  bool tty_;
  std::chrono::steady_clock::time_point last_{};
  int last_decile_ = 0;  // the first line is at 10%
  bool finished_ = false;
};

int run(const std::string& dir, const std::string& out, const std::string& type, const std::string& name, int threads,
        bool quiet) {
  if (threads < 0) fail(ErrorCode::kInvalidArgument, "--threads must be at least 1, got {}", threads);
  convert::ConvertOptions opt;
  opt.type = type;
  opt.name = name;
  opt.n_threads = threads;
  ConvertProgressBar bar;
  if (!quiet) opt.progress = [&](const convert::ConvertProgress& p) { bar.update(p); };
  const auto t0 = std::chrono::steady_clock::now();
  const auto r = convert::convert_hf(dir, out, opt);
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf("%s (%s) -> %s: %s, %s, %zu tensors, %.1fM parameters, %.2f MiB%s, %.2f s\n", dir.c_str(),
              r.hf_arch.c_str(), out.c_str(), r.arch.c_str(), r.file_type.c_str(), r.tensors.size(),
              static_cast<double>(r.n_parameters) / 1e6, static_cast<double>(r.bytes_out) / (1 << 20),
              r.n_fallback ? fmt::format(" ({} tensors with a fallback type)", r.n_fallback).c_str() : "", secs);
  return 0;
}

const RegisterCommand kConvert{Command{
    "convert", "Convert a Hugging Face checkpoint (safetensors) to GGUF", [](CLI::App& sub) {
      struct Args {
        std::string dir, out, type = "auto", name;
        int threads = 0;
        bool quiet = false;
      };
      auto a = std::make_shared<Args>();
      sub.add_option("HF_DIR", a->dir,
                     "Checkpoint directory: config.json, model.safetensors (or shards + index), tokenizer.json")
          ->required();
      sub.add_option("OUT", a->out, "Output GGUF file (written atomically)")->required();
      sub.add_option("--type", a->type, "Output type: auto (bf16 for BF16 weights, else f16), f32, or a mix below");
      sub.add_option("--name", a->name,
                     "general.name (default: config.json's _name_or_path, else the directory's name)");
      sub.add_option("-t,--threads", a->threads, "Worker threads (default: the physical cores)");
      sub.add_flag("-q,--quiet", a->quiet, "No progress bar");
      sub.footer("Types: " + convert::convert_type_names() +
                 "\nArchitectures: " + convert::supported_hf_architectures() +
                 "\nQuantized types follow `quarrel quantize` (e.g. output.weight in Q6_K for q4_k_m); norms and "
                 "other 1-D tensors stay F32.");
      return [a] { return run(a->dir, a->out, a->type, a->name, a->threads, a->quiet); };
    }}};

}  // namespace
}  // namespace quarrel::cli
