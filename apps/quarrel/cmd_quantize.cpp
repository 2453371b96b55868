// quarrel quantize IN OUT TYPE [--threads N]: writes a quantized copy of a GGUF model.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <string>

#include "apps/quarrel/command.h"
#include "core/error.h"
#include "quant/mix.h"
#include "quant/quantize_model.h"

namespace quarrel::cli {
namespace {

// A one-line progress bar on stderr: redrawn in place on a terminal (at most ~10 times a
// second), one line per 10% otherwise (logs, pipes).
class ProgressBar {
 public:
  ProgressBar() : tty_(::isatty(STDERR_FILENO) == 1) {}

  void update(const quant::QuantizeProgress& p) {
    const double frac = p.elements_total ? static_cast<double>(p.elements_done) / static_cast<double>(p.elements_total) : 1;
    const int pct = static_cast<int>(frac * 100);
    const auto now = std::chrono::steady_clock::now();
    const bool finished = p.elements_done == p.elements_total && p.tensor_index + 1 == p.n_tensors;
    if (finished && finished_) return;
    finished_ = finished;
    if (tty_) {
      if (!finished && now - last_ < std::chrono::milliseconds(100)) return;
      last_ = now;
      constexpr int kWidth = 30;
      const int filled = static_cast<int>(frac * kWidth);
      std::string bar(static_cast<size_t>(filled), '#');
      bar.resize(kWidth, '.');
      std::fprintf(stderr, "\r[%s] %3d%% %zu/%zu %-36.36s %5s -> %-6s", bar.c_str(), pct, p.tensor_index + 1,
                   p.n_tensors, p.tensor->name.c_str(), std::string(type_name(p.tensor->from)).c_str(),
                   std::string(type_name(p.tensor->to)).c_str());
      if (finished) std::fputc('\n', stderr);
      std::fflush(stderr);
    } else if (pct / 10 > last_decile_ || finished) {
      last_decile_ = pct / 10;
      std::fprintf(stderr, "quantize: %3d%% (%zu/%zu tensors)\n", pct, p.tensor_index + 1, p.n_tensors);
    }
  }

 private:
  bool tty_;
  std::chrono::steady_clock::time_point last_{};
  int last_decile_ = -1;
  bool finished_ = false;
};

int run(const std::string& in, const std::string& out, const std::string& type, int threads, bool allow_requantize,
        bool quiet) {
  const auto* mix = quant::find_mix(type);
  if (!mix) fail(ErrorCode::kInvalidArgument, "unknown quantization type '{}'; valid types: {}", type, quant::mix_names());
  if (threads < 0) fail(ErrorCode::kInvalidArgument, "--threads must be at least 1, got {}", threads);
  quant::QuantizeOptions opt;
  opt.n_threads = threads;
  opt.allow_requantize = allow_requantize;
  ProgressBar bar;
  if (!quiet) opt.progress = [&](const quant::QuantizeProgress& p) { bar.update(p); };
  const auto t0 = std::chrono::steady_clock::now();
  const auto r = quant::quantize_model(in, out, *mix, opt);
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf("%s -> %s (%s): %zu tensors (%zu converted%s), %.2f MiB -> %.2f MiB, %.2f s\n", in.c_str(), out.c_str(),
              std::string(mix->name).c_str(), r.plan.size(), r.n_converted,
              r.n_fallback ? fmt::format(", {} with a fallback type", r.n_fallback).c_str() : "",
              static_cast<double>(r.bytes_in) / (1 << 20), static_cast<double>(r.bytes_out) / (1 << 20), secs);
  return 0;
}

const RegisterCommand kQuantize{Command{
    "quantize", "Write a quantized copy of a GGUF model (Q4_K_M, Q8_0, ...)", [](CLI::App& sub) {
      struct Args {
        std::string in, out, type;
        int threads = 0;
        bool allow_requantize = false;
        bool quiet = false;
      };
      auto a = std::make_shared<Args>();
      sub.add_option("IN", a->in, "Input model (GGUF; F32, F16 or BF16 tensors)")->required();
      sub.add_option("OUT", a->out, "Output file (written atomically; never the input)")->required();
      sub.add_option("TYPE", a->type, "Quantization mix, e.g. Q4_K_M (see the list below)")->required();
      sub.add_option("-t,--threads", a->threads, "Worker threads (default: the physical cores)");
      sub.add_flag("--allow-requantize", a->allow_requantize,
                   "Allow tensors that are already quantized to be requantized (loses quality)");
      sub.add_flag("-q,--quiet", a->quiet, "No progress bar");
      std::string types;
      for (const auto& m : quant::quant_mixes()) types += fmt::format("  {:<8} {}\n", m.name, m.summary);
      sub.footer("Types:\n" + types +
                 "\nThe *_M mixes keep output.weight and part of attn_v / ffn_down in more bits, as llama.cpp's "
                 "quantize does.");
      return [a] { return run(a->in, a->out, a->type, a->threads, a->allow_requantize, a->quiet); };
    }}};

}  // namespace
}  // namespace quarrel::cli
