#pragma once
// Test fixtures that run a test once per kernel level (scalar, avx2, avx512). A level the CPU
// lacks is skipped with a message; the active level is restored afterwards.
#include <gtest/gtest.h>

#include <random>
#include <string>

#include "backend/cpu/cpu_info.h"
#include "backend/cpu/kernels.h"
#include "common/random.h"

namespace quarrel::cpu::test {

class LevelTest : public ::testing::TestWithParam<CpuLevel> {
 protected:
  void SetUp() override {
    std::string why;
    if (!level_supported(GetParam(), &why)) {
      GTEST_SKIP() << "CPU lacks " << why << ": " << level_name(GetParam()) << " kernels not run here";
    }
    saved_ = active_level();
    set_active_level(GetParam());
    seed_ = quarrel::test::test_seed();
    rng_.seed(seed_ ^ (static_cast<uint64_t>(GetParam()) * 0x9E3779B97F4A7C15ull));
  }
  void TearDown() override {
    if (!IsSkipped()) set_active_level(saved_);
  }
  const CpuKernels& K() const { return kernels_for(GetParam()); }
  std::string seed_note() const { return "QUARREL_TEST_SEED=" + std::to_string(seed_); }

  CpuLevel saved_ = CpuLevel::kScalar;
  uint64_t seed_ = 0;
  std::mt19937_64 rng_;
};

inline std::string level_param_name(const ::testing::TestParamInfo<CpuLevel>& info) {
  return std::string(level_name(info.param));
}

#define QUARREL_INSTANTIATE_LEVELS(Suite)                                                                      \
  INSTANTIATE_TEST_SUITE_P(Levels, Suite,                                                                      \
                           ::testing::Values(::quarrel::cpu::CpuLevel::kScalar, ::quarrel::cpu::CpuLevel::kAvx2, \
                                             ::quarrel::cpu::CpuLevel::kAvx512),                              \
                           ::quarrel::cpu::test::level_param_name)

}  // namespace quarrel::cpu::test
