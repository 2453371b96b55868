#include "backend/cpu/cpu_info.h"

#include <gtest/gtest.h>

#include "core/error.h"

namespace quarrel::cpu {
namespace {

TEST(CpuInfo, LevelsNestAndBestIsSupported) {
  EXPECT_TRUE(level_supported(CpuLevel::kScalar));
  if (level_supported(CpuLevel::kAvx512)) {
    EXPECT_TRUE(level_supported(CpuLevel::kAvx2));
  }
  EXPECT_TRUE(level_supported(best_level()));
  const auto& f = cpu_features();
  EXPECT_EQ(level_supported(CpuLevel::kAvx2), f.avx2 && f.fma && f.f16c && f.os_ymm);
}

TEST(CpuInfo, ParseLevelNames) {
  EXPECT_EQ(parse_level("scalar"), CpuLevel::kScalar);
  EXPECT_EQ(parse_level("avx2"), CpuLevel::kAvx2);
  EXPECT_EQ(parse_level("avx512"), CpuLevel::kAvx512);
  EXPECT_FALSE(parse_level("sse").has_value());
  for (auto l : {CpuLevel::kScalar, CpuLevel::kAvx2, CpuLevel::kAvx512}) EXPECT_EQ(parse_level(level_name(l)), l);
}

TEST(CpuInfo, EnvSelectsALowerLevelAndRejectsBadOrMissingOnes) {
  EXPECT_EQ(level_from_env(nullptr), best_level());
  EXPECT_EQ(level_from_env(""), best_level());
  EXPECT_EQ(level_from_env("scalar"), CpuLevel::kScalar);
  try {
    level_from_env("avx1024");
    FAIL() << "unknown level accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
    EXPECT_NE(std::string(e.what()).find("avx1024"), std::string::npos);
  }
  for (auto l : {CpuLevel::kAvx2, CpuLevel::kAvx512}) {
    std::string why;
    if (level_supported(l, &why)) {
      EXPECT_EQ(level_from_env(std::string(level_name(l)).c_str()), l);
      continue;
    }
    try {
      level_from_env(std::string(level_name(l)).c_str());
      FAIL() << level_name(l) << " accepted on a CPU without it";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::kUnsupported);
      EXPECT_NE(std::string(e.what()).find(why), std::string::npos) << e.what();
    }
    EXPECT_THROW(set_active_level(l), Error);
  }
}

TEST(CpuInfo, Avx512IsRejectedClearlyOnAnAvx2OnlyCpu) {
  CpuFeatures f;
  f.avx = f.avx2 = f.fma = f.f16c = f.os_ymm = true;
  EXPECT_EQ(best_level_of(f), CpuLevel::kAvx2);
  std::string why;
  EXPECT_FALSE(level_supported_by(f, CpuLevel::kAvx512, &why));
  EXPECT_EQ(why, "avx512f avx512bw avx512vl avx512dq avx512vnni os-zmm-state");
  EXPECT_EQ(level_from_env("avx2", f), CpuLevel::kAvx2);
  EXPECT_EQ(level_from_env(nullptr, f), CpuLevel::kAvx2);
  try {
    level_from_env("avx512", f);
    FAIL() << "avx512 accepted on an AVX2-only CPU";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kUnsupported);
    EXPECT_EQ(std::string(e.what()),
              "QUARREL_CPU=avx512 needs avx512f avx512bw avx512vl avx512dq avx512vnni os-zmm-state, which this CPU "
              "does not have (best level: avx2)");
  }
  // AVX-512 in the CPU but not enabled by the OS (XCR0) is not usable either.
  f.avx512f = f.avx512bw = f.avx512vl = f.avx512dq = f.avx512vnni = true;
  EXPECT_FALSE(level_supported_by(f, CpuLevel::kAvx512, &why));
  EXPECT_EQ(why, "os-zmm-state");
  f.os_zmm = true;
  EXPECT_EQ(best_level_of(f), CpuLevel::kAvx512);
  EXPECT_EQ(best_level_of(CpuFeatures{}), CpuLevel::kScalar);
}

TEST(CpuInfo, SummaryNamesTheActiveLevel) {
  const std::string s = cpu_info_summary();
  EXPECT_NE(s.find(std::string("kernels: ") + std::string(level_name(active_level()))), std::string::npos) << s;
}

}  // namespace
}  // namespace quarrel::cpu
