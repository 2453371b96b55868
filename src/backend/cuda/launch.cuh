#pragma once
// Kernel launches with programmatic dependent launch (PDL, Hopper): the next kernel of the
// stream may start while this one finishes, and waits in pdl_wait() until it has completed
// and its writes are visible. Every kernel launched through launch() must call pdl_wait()
// before it reads what an earlier kernel wrote AND before it exits (else a later kernel could
// run ahead of the one before it); what does not depend on earlier kernels (weights) can be
// fetched before. pdl_trigger() lets the next kernel's blocks be scheduled as soon as every
// block of this one has called it. The small kernels (norms, SwiGLU, attention, RoPE, argmax)
// call it first thing, before their wait, so the matvec after them is resident sooner (H200,
// `-p 0` tg128 against triggering after the wait: 8B Q4_K_M 550.6 -> 551.2, Q4_0 625.9 -> 627.2,
// 1B Q4_K_M 1898.6 -> 1903.2 tok/s); the matvecs after theirs (matvec_epilogue.cuh says why).
// Triggering before the wait is safe because every kernel waits before it exits, so a kernel that
// waits on its predecessor also waits on everything before it, and what blocks do before their
// wait reads only weights or the KV cache of earlier steps. QUARREL_CUDA_PDL=0 turns the
// attribute off (plain launches).
#include <cstdlib>
#include <cstring>
#include <utility>

#include "backend/cuda/cuda_check.h"
#include "backend/cuda/env_knob.h"

namespace quarrel::cuda {

__device__ __forceinline__ void pdl_wait() { asm volatile("griddepcontrol.wait;" ::: "memory"); }
__device__ __forceinline__ void pdl_trigger() { asm volatile("griddepcontrol.launch_dependents;" ::: "memory"); }
__device__ __forceinline__ void prefetch_l2(const void* p) { asm volatile("prefetch.global.L2 [%0];" ::"l"(p)); }

inline bool pdl_enabled() {
  static const bool on = env_on("QUARREL_CUDA_PDL");
  return on;
}

// cluster: thread-block cluster dimensions (1, 1, 1: none).
template <typename... Params, typename... Args>
void launch_cluster(void (*kernel)(Params...), dim3 grid, dim3 block, dim3 cluster, size_t smem, cudaStream_t s,
                    Args&&... args) {
  cudaLaunchConfig_t cfg{};
  cfg.gridDim = grid;
  cfg.blockDim = block;
  cfg.dynamicSmemBytes = smem;
  cfg.stream = s;
  cudaLaunchAttribute attr[2];
  unsigned n = 0;
  if (cluster.x * cluster.y * cluster.z > 1) {
    attr[n].id = cudaLaunchAttributeClusterDimension;
    attr[n].val.clusterDim.x = cluster.x;
    attr[n].val.clusterDim.y = cluster.y;
    attr[n].val.clusterDim.z = cluster.z;
    ++n;
  }
  if (pdl_enabled()) {
    attr[n].id = cudaLaunchAttributeProgrammaticStreamSerialization;
    attr[n].val.programmaticStreamSerializationAllowed = 1;
    ++n;
  }
  cfg.attrs = attr;
  cfg.numAttrs = n;
  QUARREL_CUDA_CHECK(cudaLaunchKernelEx(&cfg, kernel, std::forward<Args>(args)...));
}

template <typename... Params, typename... Args>
void launch(void (*kernel)(Params...), dim3 grid, dim3 block, size_t smem, cudaStream_t s, Args&&... args) {
  launch_cluster(kernel, grid, block, dim3(1, 1, 1), smem, s, std::forward<Args>(args)...);
}

}  // namespace quarrel::cuda
