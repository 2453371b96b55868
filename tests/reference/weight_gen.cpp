#include "reference/weight_gen.h"

namespace quarrel::test::refweights {

constexpr uint64_t kGolden = 0x9E3779B97F4A7C15ull;

uint64_t fnv1a64(std::string_view s) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (unsigned char c : s) {
    h ^= c;
    h *= 0x100000001b3ull;
  }
  return h;
}

uint64_t splitmix64(uint64_t x) {
  uint64_t z = x + kGolden;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

namespace {
double to_uniform(uint64_t u) { return static_cast<double>(u >> 11) * 0x1p-53 * 2.0 - 1.0; }
// offset + scale * x rounded twice, as numpy computes it: the product goes through memory so
// that no compiler contracts the two operations into one fused multiply-add.
float combine(double offset, double scale, double x) {
  volatile double product = scale * x;
  return static_cast<float>(offset + product);
}
}  // namespace

double uniform(std::string_view name, uint64_t index, uint64_t salt) {
  return to_uniform(splitmix64(fnv1a64(name) + salt * kGolden + index));
}

float value(std::string_view name, uint64_t index, double scale, double offset, uint64_t salt) {
  return combine(offset, scale, uniform(name, index, salt));
}

void fill(std::string_view name, double scale, double offset, uint64_t salt, uint64_t first, uint64_t n, float* dst) {
  const uint64_t seed = fnv1a64(name) + salt * kGolden;
  for (uint64_t i = 0; i < n; ++i) dst[i] = combine(offset, scale, to_uniform(splitmix64(seed + first + i)));
}

}  // namespace quarrel::test::refweights
