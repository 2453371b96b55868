#pragma once
// Seeded random inputs for kernel and reference tests. Tests draw fresh data each run from a
// seed that is printed on failure (QUARREL_TEST_SEED fixes it to reproduce a failure).
#include <cstdint>
#include <random>
#include <vector>

namespace quarrel::test {

// The seed for this test run: QUARREL_TEST_SEED if set, otherwise random (and printed).
uint64_t test_seed();

std::vector<float> random_floats(std::mt19937_64& rng, size_t n, float lo = -1.0f, float hi = 1.0f);

}  // namespace quarrel::test
