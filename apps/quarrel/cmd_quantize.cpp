// quarrel quantize IN OUT TYPE [--threads N]: writes a quantized copy of a GGUF model.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>

#include "apps/quarrel/cli_progress.h"
#include "apps/quarrel/command.h"
#include "core/error.h"
#include "quant/mix.h"
#include "quant/quantize_model.h"

namespace quarrel::cli {
namespace {

int run(const std::string& in, const std::string& out, const std::string& type, int threads, bool allow_requantize,
        bool quiet) {
  const auto* mix = quant::find_mix(type);
  if (!mix) fail(ErrorCode::kInvalidArgument, "unknown quantization type '{}'; valid types: {}", type, quant::mix_names());
  if (threads < 0) fail(ErrorCode::kInvalidArgument, "--threads must be at least 1, got {}", threads);
  quant::QuantizeOptions opt;
  opt.n_threads = threads;
  opt.allow_requantize = allow_requantize;
  // Counted in weights (thousands, millions, ... for big models); the detail names the tensor
  // being converted.
  ProgressBar bar("quantize", !quiet);
  opt.progress = [&](const quant::QuantizeProgress& p) {
    uint64_t unit = 1;
    const char* suffix = "";
    for (const char* s : {"k", "M", "G"}) {
      if (p.elements_total / unit <= 100000) break;
      unit *= 1000;
      suffix = s;
    }
    const uint64_t total = std::max<uint64_t>(1, (p.elements_total + unit - 1) / unit);
    const uint64_t done =
        p.elements_done == p.elements_total ? total : std::min(total - 1, p.elements_done / unit);
    bar.update(done, total, fmt::format("{} {} -> {}", suffix, p.tensor->name, type_name(p.tensor->to)));
  };
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
