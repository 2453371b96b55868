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

}  // namespace quarrel::cuda
