#pragma once
// The gated FFN's activation of the gate value (kernels.h's GluAct), with the CPU backend's
// arithmetic: SwiGLU g / (1 + e^-g); GeGLU 0.5 g (1 + tanh(z)) written as g / (1 + e^-2z), which
// does not cancel for large negative g.
#include "backend/cuda/kernels.h"

namespace quarrel::cuda {

__device__ __forceinline__ float glu_gate(float g, GluAct act) {
  if (act == GluAct::kGeluTanh) {
    constexpr float kTwoSqrt2OverPi = 1.5957691216057308f;  // 2 sqrt(2 / pi)
    return g / (1.0f + expf(-kTwoSqrt2OverPi * g * (1.0f + 0.044715f * g * g)));
  }
  return g / (1.0f + expf(-g));
}

}  // namespace quarrel::cuda
