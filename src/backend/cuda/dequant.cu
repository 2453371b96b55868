#include <cstdint>

#include "backend/cuda/cuda_check.h"
#include "backend/cuda/dequant.cuh"

namespace quarrel::cuda {

bool device_type_supported(uint32_t type) {
  switch (type) {
    case kDevF32: case kDevF16: case kDevBF16: case kDevQ8_0: case kDevQ4_0: case kDevQ4_K: case kDevQ5_K:
    case kDevQ6_K: case kDevIQ4_XS:
      return true;
    default:
      return false;
  }
}

namespace {

// One thread per 32-element chunk of one output row.
template <uint32_t T, typename Out>
__global__ void dequant_rows_kernel(const uint8_t* w, size_t row_bytes, int64_t k, const int32_t* rows, int64_t n_rows,
                                    Out* out) {
  const int64_t n_chunks = (k + 31) / 32;
  const int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= n_chunks * n_rows) return;
  const int64_t r = i / n_chunks, c = i % n_chunks;
  const int64_t src = rows ? rows[r] : r;
  float y[32];
  Chunk<T>::get(w + static_cast<size_t>(src) * row_bytes, c, k, y);
  Out* o = out + r * k + 32 * c;
  const int64_t m = k - 32 * c < 32 ? k - 32 * c : 32;
  // A whole chunk of an aligned row goes out as 16-byte stores (4 of f16, 8 of f32): per-element
  // stores, 64 or 128 bytes apart across a warp, made the dequantizer write-bound far below the
  // copy bandwidth (8B Q4_K_M pp512 without F16 copies, which dequantizes every matrix per batch).
  if (m == 32 && k % 8 == 0 && (reinterpret_cast<uintptr_t>(out) & 15) == 0) {
    uint4* o4 = reinterpret_cast<uint4*>(o);
    if constexpr (sizeof(Out) == 2) {
#pragma unroll
      for (int v = 0; v < 4; ++v) {
        uint4 u;
        uint32_t* w = &u.x;
#pragma unroll
        for (int e = 0; e < 4; ++e) {
          const __half2 h = __floats2half2_rn(y[8 * v + 2 * e], y[8 * v + 2 * e + 1]);
          w[e] = *reinterpret_cast<const uint32_t*>(&h);
        }
        o4[v] = u;
      }
    } else {
#pragma unroll
      for (int v = 0; v < 8; ++v) {
        o4[v] = make_uint4(__float_as_uint(y[4 * v]), __float_as_uint(y[4 * v + 1]), __float_as_uint(y[4 * v + 2]),
                           __float_as_uint(y[4 * v + 3]));
      }
    }
    return;
  }
#pragma unroll
  for (int l = 0; l < 32; ++l) {  // constant indices only: y stays in registers
    if (l < m) {
      if constexpr (sizeof(Out) == 2) {
        o[l] = __float2half(y[l]);
      } else {
        o[l] = y[l];
      }
    }
  }
}

template <typename Out>
void dequant_rows(const DevMatrix& w, const int32_t* rows, int64_t n_rows, Out* out, cudaStream_t s) {
  if (n_rows == 0) return;
  const int64_t n = (w.k + 31) / 32 * n_rows;
  const int threads = 256;
  const auto blocks = static_cast<unsigned>((n + threads - 1) / threads);
  const auto* data = static_cast<const uint8_t*>(w.data);
  QUARREL_CUDA_DISPATCH_TYPE(w.type, (dequant_rows_kernel<T, Out><<<blocks, threads, 0, s>>>(data, w.row_bytes, w.k, rows, n_rows, out)));
  QUARREL_CUDA_CHECK_LAUNCH();
}

__global__ void f32_to_f16_kernel(const float* x, __half* y, int64_t n) {
  const int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i < n) y[i] = __float2half(x[i]);
}

}  // namespace

void dequantize_rows_f16(const DevMatrix& w, const int32_t* rows, int64_t n_rows, void* out_f16, cudaStream_t s) {
  dequant_rows(w, rows, n_rows, static_cast<__half*>(out_f16), s);
}

void dequantize_rows_f32(const DevMatrix& w, const int32_t* rows, int64_t n_rows, float* out, cudaStream_t s) {
  dequant_rows(w, rows, n_rows, out, s);
}

void convert_f32_to_f16(const float* x, void* y_f16, int64_t n, cudaStream_t s) {
  if (n == 0) return;
  f32_to_f16_kernel<<<static_cast<unsigned>((n + 255) / 256), 256, 0, s>>>(x, static_cast<__half*>(y_f16), n);
  QUARREL_CUDA_CHECK_LAUNCH();
}

}  // namespace quarrel::cuda
