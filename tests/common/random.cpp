#include "common/random.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <string>

namespace quarrel::test {

uint64_t test_seed() {
  static const uint64_t seed = [] {
    const char* v = std::getenv("QUARREL_TEST_SEED");
    const uint64_t s = v && *v ? std::stoull(v) : std::random_device{}();
    return s;
  }();
  ::testing::Test::RecordProperty("seed", std::to_string(seed));
  return seed;
}

std::vector<float> random_floats(std::mt19937_64& rng, size_t n, float lo, float hi) {
  std::uniform_real_distribution<float> d(lo, hi);
  std::vector<float> v(n);
  for (auto& x : v) x = d(rng);
  return v;
}

}  // namespace quarrel::test
