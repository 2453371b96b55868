#include "backend/cpu/kernels.h"

#include "core/error.h"
#include "quant/blocks.h"

namespace quarrel::cpu {

const CpuKernels& kernels_for(CpuLevel level) {
  std::string why;
  if (!level_supported(level, &why)) {
    fail(ErrorCode::kUnsupported, "CPU kernel level '{}' needs {}, which this CPU does not have", level_name(level), why);
  }
  switch (level) {
    case CpuLevel::kAvx512: return avx512_kernels();
    case CpuLevel::kAvx2: return avx2_kernels();
    case CpuLevel::kScalar: break;
  }
  return scalar_kernels();
}

const CpuKernels& kernels() {
  // active_level() is cheap after the first call; the tables are function-local statics.
  switch (active_level()) {
    case CpuLevel::kAvx512: return avx512_kernels();
    case CpuLevel::kAvx2: return avx2_kernels();
    case CpuLevel::kScalar: break;
  }
  return scalar_kernels();
}

size_t act_row_bytes(ActFormat f, int64_t k) {
  switch (f) {
    case ActFormat::kF32: return static_cast<size_t>(k) * sizeof(float);
    case ActFormat::kQ8_0: return static_cast<size_t>(k / quant::QK8_0) * sizeof(quant::BlockQ8_0);
    case ActFormat::kQ8_K: return static_cast<size_t>(k / quant::QK_K) * sizeof(quant::BlockQ8_K);
    case ActFormat::kNone: break;
  }
  return 0;
}

const KvKernels* kv_kernels(const CpuKernels& t, GgmlType type) {
  switch (type) {
    case GgmlType::F32: return &t.kv_f32;
    case GgmlType::F16: return &t.kv_f16;
    case GgmlType::Q8_0: return &t.kv_q8_0;
    default: return nullptr;
  }
}

}  // namespace quarrel::cpu
