// Activation quantization for the integer matvec (kernels.h's Q8Act): one warp per chunk.
#include "backend/cuda/cuda_check.h"
#include "backend/cuda/q8_act.cuh"

namespace quarrel::cuda {
namespace {

constexpr size_t kAlign = 256;
size_t aligned(size_t n) { return (n + kAlign - 1) / kAlign * kAlign; }
int64_t padded_k(int64_t k) { return (k + 31) / 32 * 32; }

// grid (chunks / 8, n_cols), 256 threads: warp w of block b quantizes chunk 8b + w of its column.
__global__ void quantize_q8_kernel(const float* __restrict__ x, int64_t ldx, int64_t n_chunks, Q8Act out) {
  const int64_t chunk = static_cast<int64_t>(blockIdx.x) * 8 + (threadIdx.x >> 5);
  if (chunk >= n_chunks) return;
  const int64_t col = blockIdx.y;
  quantize_chunk_warp(x[col * ldx + 32 * chunk + (threadIdx.x & 31)], out, col, chunk);
}

}  // namespace

size_t q8_act_bytes(int64_t k, int n_cols) {
  const auto kp = static_cast<size_t>(padded_k(k));
  return aligned(kp * static_cast<size_t>(n_cols)) + aligned(kp / 32 * static_cast<size_t>(n_cols) * sizeof(float2));
}

Q8Act q8_act_at(void* buffer, int64_t k, int n_cols) {
  Q8Act a;
  a.ldq = padded_k(k);
  a.q = static_cast<int8_t*>(buffer);
  a.ds = reinterpret_cast<float2*>(static_cast<uint8_t*>(buffer) + aligned(static_cast<size_t>(a.ldq) * n_cols));
  return a;
}

void quantize_q8(const float* x, int64_t ldx, int64_t k, int n_cols, const Q8Act& out, cudaStream_t s) {
  if (k % 32 != 0) ::quarrel::fail(::quarrel::ErrorCode::kInternal, "quantize_q8: k = {} is not a multiple of 32", k);
  if (k == 0 || n_cols == 0) return;
  const int64_t n_chunks = k / 32;
  quantize_q8_kernel<<<dim3(static_cast<unsigned>((n_chunks + 7) / 8), static_cast<unsigned>(n_cols)), 256, 0, s>>>(
      x, ldx, n_chunks, out);
  QUARREL_CUDA_CHECK_LAUNCH();
}

}  // namespace quarrel::cuda
