#pragma once
// QUARREL_CUBLAS_CHECK(expr): a cuBLAS call whose failure is an Error(kInternal) naming the
// status, the call, the file and the line (cuda_check.h's for the runtime).
#include <cublas_v2.h>

#include "core/error.h"

#define QUARREL_CUBLAS_CHECK(expr)                                                                          \
  do {                                                                                                      \
    const cublasStatus_t quarrel_st_ = (expr);                                                              \
    if (quarrel_st_ != CUBLAS_STATUS_SUCCESS)                                                               \
      ::quarrel::fail(::quarrel::ErrorCode::kInternal, "cuBLAS error {} in `{}` at {}:{}",                  \
                      static_cast<int>(quarrel_st_), #expr, __FILE__, __LINE__);                            \
  } while (0)
