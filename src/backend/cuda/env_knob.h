#pragma once
// The CUDA backend's QUARREL_CUDA_* environment knobs (comparisons and tuning; README lists them).
#include <cstdint>
#include <cstdlib>

namespace quarrel::cuda {

// The variable as an integer, or `fallback` when it is not set.
inline int64_t env_int(const char* name, int64_t fallback) {
  const char* e = std::getenv(name);
  return e ? static_cast<int64_t>(std::atoll(e)) : fallback;
}
// A switch that is on unless the variable starts with '0'.
inline bool env_on(const char* name) {
  const char* e = std::getenv(name);
  return !(e && e[0] == '0');
}

}  // namespace quarrel::cuda
