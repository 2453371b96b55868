// `quarrel run --backend cuda` (the real binary) on stories260K: greedy text equal to the CPU's;
// `--kv-type fp8` (f8_e4m3) on cuda for run and bench.
#include <gtest/gtest.h>

#include <cmath>
#include <nlohmann/json.hpp>

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

TEST(CudaCli, DeviceAliasAndACudaKvTypeItCannotHold) {
  QUARREL_SKIP_WITHOUT_GPU();
  const auto ok = test::run_cli(greedy_args(8) + " --device cuda");
  EXPECT_EQ(ok.status, 0) << ok.err;
  const auto bad = test::run_cli(greedy_args(8) + " --backend cuda --kv-type q8_0");
  EXPECT_NE(bad.status, 0);
  EXPECT_LT(bad.status, 128) << bad.err;
  EXPECT_EQ(test::count_lines(bad.err), 1u) << bad.err;
  EXPECT_NE(bad.err.find("the cuda backend keeps the KV cache in f16 or f8_e4m3"), std::string::npos) << bad.err;
}

// Every spelling of the fp8 cache runs and prints a story (48 tokens); the text may differ from
// the f16 cache's, the spellings give the same text.
TEST(CudaCli, RunWithAnFp8KvCache) {
  QUARREL_SKIP_WITHOUT_GPU();
  std::string first;
  for (const char* spelling : {"fp8", "fp8_e4m3", "f8_e4m3", "FP8"}) {
    const auto r = test::run_cli(greedy_args() + " --backend cuda --kv-type " + spelling);
    ASSERT_EQ(r.status, 0) << spelling << ": " << r.err;
    EXPECT_GT(r.out.size(), 40u) << spelling;
    EXPECT_NE(r.err.find("generation: 48 tokens"), std::string::npos) << spelling << ": " << r.err;
    if (first.empty()) first = r.out;
    EXPECT_EQ(r.out, first) << spelling;
  }
}

// bench --kv-type fp8 on cuda: KV F8_E4M3 in the JSON, and its bytes per token count one byte
// per cached element: beyond the weights' bytes, f16 reads exactly twice the K/V bytes of fp8.
TEST(CudaCli, BenchWithAnFp8KvCacheCountsOneBytePerElement) {
  QUARREL_SKIP_WITHOUT_GPU();
  const std::string args = "bench " + test::data_path("models/stories260K.gguf").string() +
                           " -p 0 -n 16 -r 1 --json --backend cuda --kv-type ";
  const auto r8 = test::run_cli(args + "fp8");
  const auto r16 = test::run_cli(args + "f16");
  ASSERT_EQ(r8.status, 0) << r8.err;
  ASSERT_EQ(r16.status, 0) << r16.err;
  const auto j8 = nlohmann::json::parse(r8.out), j16 = nlohmann::json::parse(r16.out);
  EXPECT_EQ(j8.at("kv_type"), "F8_E4M3");
  EXPECT_EQ(j16.at("kv_type"), "F16");
  const double w = j8.at("bytes_per_token_weights").get<double>();
  EXPECT_EQ(j16.at("bytes_per_token_weights").get<double>(), w);
  const double kv8 = j8.at("tests").at(0).at("bytes_per_token").get<double>() - w;
  const double kv16 = j16.at("tests").at(0).at("bytes_per_token").get<double>() - w;
  EXPECT_GT(kv8, 0.0);
  EXPECT_NEAR(kv16, 2 * kv8, 1e-6 * kv16);
}

}  // namespace
}  // namespace quarrel
