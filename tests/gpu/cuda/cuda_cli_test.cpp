// `quarrel run --backend cuda` (the real binary) on stories260K: greedy text equal to the CPU's.
#include <gtest/gtest.h>

#include "e2e/run/cli.h"
#include "gpu_test_util.h"

namespace quarrel {
namespace {

std::string greedy_args(int n = 48) {
  return "run " + test::data_path("models/stories260K.gguf").string() + " 'Once upon a time' --temp 0 -t 1 -n " +
         std::to_string(n);
}

TEST(CudaCli, RunGreedyOnCudaEqualsTheCpuText) {
  QUARREL_SKIP_WITHOUT_GPU();
  const auto cpu = test::run_cli(greedy_args() + " --backend cpu");
  const auto gpu = test::run_cli(greedy_args() + " --backend cuda");
  ASSERT_EQ(cpu.status, 0) << cpu.err;
  ASSERT_EQ(gpu.status, 0) << gpu.err;
  EXPECT_GT(cpu.out.size(), 40u);
  EXPECT_EQ(gpu.out, cpu.out);
  EXPECT_NE(gpu.err.find("generation: 48 tokens"), std::string::npos) << gpu.err;
}

TEST(CudaCli, DeviceAliasAndACudaKvTypeOtherThanF16) {
  QUARREL_SKIP_WITHOUT_GPU();
  const auto ok = test::run_cli(greedy_args(8) + " --device cuda");
  EXPECT_EQ(ok.status, 0) << ok.err;
  const auto bad = test::run_cli(greedy_args(8) + " --backend cuda --kv-type q8_0");
  EXPECT_NE(bad.status, 0);
  EXPECT_LT(bad.status, 128) << bad.err;
  EXPECT_NE(bad.err.find("f16 only"), std::string::npos) << bad.err;
}

}  // namespace
}  // namespace quarrel
