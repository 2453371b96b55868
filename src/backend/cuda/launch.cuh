#pragma once
// Kernel launches with programmatic dependent launch (PDL, Hopper): the next kernel of the
// stream may start while this one finishes, and waits in pdl_wait() until it has completed
// and its writes are visible. Every kernel launched through launch() must call pdl_wait()
// before it reads what an earlier kernel wrote AND before it exits (else a later kernel could
// run ahead of the one before it); what does not depend on earlier kernels (weights) can be
// fetched before. pdl_trigger() lets the next kernel's blocks be scheduled as soon as every
// block of this one has started. QUARREL_CUDA_PDL=0 turns the attribute off (plain launches).
#include <cstdlib>
#include <cstring>
#include <utility>

#include "backend/cuda/cuda_check.h"

namespace quarrel::cuda {

__device__ __forceinline__ void pdl_wait() { asm volatile("griddepcontrol.wait;" ::: "memory"); }
__device__ __forceinline__ void pdl_trigger() { asm volatile("griddepcontrol.launch_dependents;" ::: "memory"); }
__device__ __forceinline__ void prefetch_l2(const void* p) { asm volatile("prefetch.global.L2 [%0];" ::"l"(p)); }

inline bool pdl_enabled() {
  static const bool on = [] {
    const char* e = std::getenv("QUARREL_CUDA_PDL");
    return !(e && std::strcmp(e, "0") == 0);
  }();
  return on;
}

template <typename... Params, typename... Args>
void launch(void (*kernel)(Params...), dim3 grid, dim3 block, size_t smem, cudaStream_t s, Args&&... args) {
  cudaLaunchConfig_t cfg{};
  cfg.gridDim = grid;
  cfg.blockDim = block;
  cfg.dynamicSmemBytes = smem;
  cfg.stream = s;
  cudaLaunchAttribute attr[1];
  attr[0].id = cudaLaunchAttributeProgrammaticStreamSerialization;
  attr[0].val.programmaticStreamSerializationAllowed = 1;
  cfg.attrs = attr;
  cfg.numAttrs = pdl_enabled() ? 1 : 0;
  QUARREL_CUDA_CHECK(cudaLaunchKernelEx(&cfg, kernel, std::forward<Args>(args)...));
}

}  // namespace quarrel::cuda
