#pragma once
// A measurement aid, not a feature: QUARREL_CUDA_SKIP=attention,swiglu,... leaves those stages
// of the forward pass out (the output is then wrong), so that `quarrel bench` times what each
// costs inside the real decode step, overlaps (PDL) and graphs included, which per-kernel
// profiles of serialized kernels cannot show. Unset (always, outside measurements): nothing is
// skipped. Stage names: norm (both RMSNorms of a layer), qkv, rope, attention, o, gateup, swiglu,
// down, output (final norm and logits), argmax.
#include <cstdlib>
#include <string>

namespace quarrel::cuda {

enum class Stage : unsigned { kNorm, kQkv, kRope, kAttention, kO, kGateUp, kSwiglu, kDown, kOutput, kArgmax };

inline bool skipped(Stage st) {
  static const unsigned mask = [] {
    const char* e = std::getenv("QUARREL_CUDA_SKIP");
    if (!e) return 0u;
    static const char* const names[] = {"norm", "qkv", "rope", "attention", "o", "gateup", "swiglu", "down", "output", "argmax"};
    const std::string list = std::string(",") + e + ",";
    unsigned m = 0;
    for (unsigned i = 0; i < sizeof(names) / sizeof(names[0]); ++i) {
      if (list.find(std::string(",") + names[i] + ",") != std::string::npos) m |= 1u << i;
    }
    return m;
  }();
  return (mask >> static_cast<unsigned>(st)) & 1u;
}

}  // namespace quarrel::cuda
