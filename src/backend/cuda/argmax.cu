// Greedy sampling on the device: per-row argmax (first index on ties, NaNs skipped), split over
// slices of the row so that a 128k-token row is read by many SMs at once: each block reduces
// its slice to (value, index), and the last block of a row to finish (a counter per row, left
// at zero for the next launch and graph replay) reduces the slices' results.
#include <cmath>

#include "backend/cuda/cuda_check.h"
#include "backend/cuda/kernels.h"
#include "backend/cuda/launch.cuh"

namespace quarrel::cuda {
namespace {

constexpr int kThreads = 256;
constexpr int64_t kSliceElems = 2048;  // per block

struct Best {
  float v;
  int64_t i;  // -1: none (empty or all NaN)
};

__device__ __forceinline__ Best better(Best a, Best b) {
  if (b.i < 0) return a;
  if (a.i < 0 || b.v > a.v || (b.v == a.v && b.i < a.i)) return b;
  return a;
}

__device__ Best block_best(Best b) {
  __shared__ float sv[kThreads / 32];
  __shared__ int64_t si[kThreads / 32];
  for (int off = 16; off > 0; off >>= 1) {
    const Best o{__shfl_xor_sync(0xffffffffu, b.v, off), __shfl_xor_sync(0xffffffffu, b.i, off)};
    b = better(b, o);
  }
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  if (lane == 0) {
    sv[warp] = b.v;
    si[warp] = b.i;
  }
  __syncthreads();
  Best r{0.0f, -1};
  if (threadIdx.x == 0) {
    for (int w = 0; w < kThreads / 32; ++w) r = better(r, Best{sv[w], si[w]});
  }
  return r;  // thread 0's is the block's
}

// grid (slices, rows). partial: [slices, rows] Best; counters: [rows], zero.
__global__ void argmax_kernel(const float* x, int64_t n, int slices, Best* partial, unsigned* counters, int32_t* ids) {
  pdl_trigger();
  pdl_wait();
  const int64_t row = blockIdx.y;
  const float* r = x + row * n;
  const int64_t lo = static_cast<int64_t>(blockIdx.x) * kSliceElems, hi = lo + kSliceElems < n ? lo + kSliceElems : n;
  // All of a thread's loads issued before any comparison (one round trip, not one per element).
  constexpr int kPer = kSliceElems / kThreads;
  float v[kPer];
#pragma unroll
  for (int e = 0; e < kPer; ++e) {
    const int64_t i = lo + threadIdx.x + e * kThreads;
    v[e] = i < hi ? r[i] : NAN;
  }
  Best b{0.0f, -1};
#pragma unroll
  for (int e = 0; e < kPer; ++e) {
    if (!isnan(v[e])) b = better(b, Best{v[e], lo + threadIdx.x + e * kThreads});
  }
  b = block_best(b);
  __shared__ bool last;
  if (threadIdx.x == 0) {
    partial[row * slices + blockIdx.x] = b;
    __threadfence();
    last = atomicAdd(&counters[row], 1u) == static_cast<unsigned>(slices - 1);
  }
  __syncthreads();
  if (!last) return;
  __threadfence();
  Best m{0.0f, -1};
  for (int s = threadIdx.x; s < slices; s += kThreads) {
    const volatile Best* p = partial + row * slices + s;
    m = better(m, Best{p->v, p->i});
  }
  m = block_best(m);
  if (threadIdx.x == 0) {
    ids[row] = static_cast<int32_t>(m.i);
    counters[row] = 0;
  }
}

int slices_of(int64_t n) { return static_cast<int>((n + kSliceElems - 1) / kSliceElems); }

}  // namespace

size_t argmax_scratch_bytes(int64_t n, int64_t rows) {
  return static_cast<size_t>(rows) * (static_cast<size_t>(slices_of(n)) * sizeof(Best) + sizeof(unsigned)) + 256;
}

void argmax_rows(const float* x, int64_t n, int64_t rows, int32_t* ids, void* scratch, cudaStream_t s) {
  if (rows == 0) return;
  const int slices = slices_of(n);
  auto* partial = static_cast<Best*>(scratch);
  auto* counters = reinterpret_cast<unsigned*>(partial + static_cast<size_t>(slices) * static_cast<size_t>(rows));
  launch(argmax_kernel, dim3(static_cast<unsigned>(slices), static_cast<unsigned>(rows)), dim3(kThreads), 0, s, x, n,
         slices, partial, counters, ids);
  QUARREL_CUDA_CHECK_LAUNCH();
}

}  // namespace quarrel::cuda
