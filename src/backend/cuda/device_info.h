#pragma once
// What the CUDA device offers. Used by the GPU tests to skip cleanly without a GPU, and by
// memory planning.
#include <cstddef>
#include <string>

namespace quarrel::cuda {

struct DeviceInfo {
  int index = -1;
  std::string name;
  int sm_major = 0, sm_minor = 0;
  int multiprocessors = 0;
  size_t total_memory = 0, free_memory = 0;
  size_t l2_bytes = 0;
  size_t shared_memory_per_block_optin = 0;
};

// Number of usable CUDA devices; 0 when there is no driver or no GPU (never throws).
int device_count();
// Properties of device `index`; throws Error when it does not exist.
DeviceInfo device_info(int index = 0);
// Device memory copy bandwidth in GB/s (bytes read + written per second) of a device-to-device
// copy of `bytes`, timed with events, best of `reps` after a warm-up.
double measure_copy_bandwidth_gb_s(size_t bytes = size_t{1} << 30, int reps = 10);

}  // namespace quarrel::cuda
