#pragma once
// Every CUDA runtime / cuBLAS call goes through these: a failure throws quarrel::Error naming
// the call, the file and the line.
#include <cuda_runtime.h>

#include "core/error.h"

#define QUARREL_CUDA_CHECK(expr)                                                              \
  do {                                                                                        \
    const cudaError_t quarrel_err_ = (expr);                                                  \
    if (quarrel_err_ != cudaSuccess)                                                          \
      ::quarrel::fail(::quarrel::ErrorCode::kInternal, "CUDA error {} ({}) in `{}` at {}:{}", \
                      cudaGetErrorName(quarrel_err_), cudaGetErrorString(quarrel_err_), #expr, \
                      __FILE__, __LINE__);                                                    \
  } while (0)

// After a kernel launch: reports launch-configuration errors at the launch site.
#define QUARREL_CUDA_CHECK_LAUNCH() QUARREL_CUDA_CHECK(cudaGetLastError())
