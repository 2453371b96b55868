#include "backend/cuda/cuda_check.h"
#include "backend/cuda/device_info.h"

namespace quarrel::cuda {

int device_count() {
  int n = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess) {
    cudaGetLastError();  // clear the sticky "no driver" error
    return 0;
  }
  return n;
}

DeviceInfo device_info(int index) {
  cudaDeviceProp p{};
  QUARREL_CUDA_CHECK(cudaGetDeviceProperties(&p, index));
  DeviceInfo d;
  d.index = index;
  d.name = p.name;
  d.sm_major = p.major;
  d.sm_minor = p.minor;
  d.multiprocessors = p.multiProcessorCount;
  d.l2_bytes = static_cast<size_t>(p.l2CacheSize);
  d.shared_memory_per_block_optin = p.sharedMemPerBlockOptin;
  QUARREL_CUDA_CHECK(cudaSetDevice(index));
  QUARREL_CUDA_CHECK(cudaMemGetInfo(&d.free_memory, &d.total_memory));
  return d;
}

double measure_copy_bandwidth_gb_s(size_t bytes, int reps) {
  void *a = nullptr, *b = nullptr;
  QUARREL_CUDA_CHECK(cudaMalloc(&a, bytes));
  const cudaError_t e = cudaMalloc(&b, bytes);
  if (e != cudaSuccess) {
    cudaFree(a);
    QUARREL_CUDA_CHECK(e);
  }
  cudaEvent_t t0, t1;
  QUARREL_CUDA_CHECK(cudaEventCreate(&t0));
  QUARREL_CUDA_CHECK(cudaEventCreate(&t1));
  QUARREL_CUDA_CHECK(cudaMemset(a, 1, bytes));
  QUARREL_CUDA_CHECK(cudaMemcpy(b, a, bytes, cudaMemcpyDeviceToDevice));  // warm-up
  float best_ms = 1e30f;
  for (int r = 0; r < reps; ++r) {
    QUARREL_CUDA_CHECK(cudaEventRecord(t0));
    QUARREL_CUDA_CHECK(cudaMemcpyAsync(r % 2 ? a : b, r % 2 ? b : a, bytes, cudaMemcpyDeviceToDevice));
    QUARREL_CUDA_CHECK(cudaEventRecord(t1));
    QUARREL_CUDA_CHECK(cudaEventSynchronize(t1));
    float ms = 0;
    QUARREL_CUDA_CHECK(cudaEventElapsedTime(&ms, t0, t1));
    best_ms = ms < best_ms ? ms : best_ms;
  }
  cudaEventDestroy(t0);
  cudaEventDestroy(t1);
  cudaFree(a);
  cudaFree(b);
  return 2.0 * static_cast<double>(bytes) / (best_ms * 1e-3) / 1e9;
}

}  // namespace quarrel::cuda
