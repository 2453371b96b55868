#pragma once
// A model weight (model/model.h) as the kernels take it.
#include "backend/cpu/matmul.h"
#include "model/model.h"

namespace quarrel::cpu {

// The 2-D matrix [cols, rows] of a weight (for a stacked 3-D weight: its first slice).
inline WeightMatrix weight_matrix(const model::Weight& w) {
  return {.type = w.type, .data = w.data, .k = w.cols(), .n = w.rows(), .row_stride = 0};
}

// The float32 values of a vector weight (norms, biases: F32 by the loader's check).
inline const float* weight_f32(const model::Weight& w) { return reinterpret_cast<const float*>(w.data); }

}  // namespace quarrel::cpu
