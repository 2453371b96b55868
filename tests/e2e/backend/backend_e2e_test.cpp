// `quarrel run|serve --backend`: a backend this machine cannot give (cuda without the CUDA
// backend built in, or without a GPU) is one error line and a non-zero exit, never a crash.
// (That --backend cuda generates the CPU's text on a GPU is tests/gpu/cuda/cuda_cli_test.cpp.)
#include <gtest/gtest.h>

#include <stdlib.h>

#include <filesystem>

#include "e2e/run/cli.h"

namespace quarrel {
namespace {

using test::run_cli;

std::string model() { return test::data_path("models/stories260K.gguf").string(); }

bool gpu_present() { return std::filesystem::exists("/dev/nvidia0") || std::filesystem::exists("/dev/nvidiactl"); }

void expect_one_error_line(const test::CliResult& r, const std::string& needle) {
  EXPECT_NE(r.status, 0) << r.out << r.err;
  EXPECT_LT(r.status, 128) << "killed by a signal: " << r.err;  // a crash is not an error exit
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(test::count_lines(r.err), 1u) << r.err;
  EXPECT_NE(r.err.find(needle), std::string::npos) << r.err;
}

TEST(BackendE2E, RunWithCudaAndNoGpuIsOneErrorLine) {
  if (gpu_present()) GTEST_SKIP() << "a GPU is present (tests/gpu/cuda covers --backend cuda there)";
  expect_one_error_line(run_cli("run " + model() + " 'Once upon a time' --temp 0 -n 4 --backend cuda"), "cuda");
}

TEST(BackendE2E, DeviceIsAnAliasOfBackend) {
  if (gpu_present()) GTEST_SKIP() << "a GPU is present";
  expect_one_error_line(run_cli("run " + model() + " 'Once upon a time' --temp 0 -n 4 --device cuda"), "cuda");
}

TEST(BackendE2E, ServeWithCudaAndNoGpuIsOneErrorLineBeforeListening) {
  if (gpu_present()) GTEST_SKIP() << "a GPU is present";
  const auto r = run_cli("serve " + model() + " --port 0 --backend cuda --log-format json");
  EXPECT_NE(r.status, 0);
  EXPECT_LT(r.status, 128) << r.err;
  EXPECT_EQ(r.out.find("quarrel serve: model"), std::string::npos) << r.out;  // never listened
  EXPECT_NE(r.err.find("cuda"), std::string::npos) << r.err;
}

TEST(BackendE2E, ServeTakesTheBackendFromTheEnvironment) {
  if (gpu_present()) GTEST_SKIP() << "a GPU is present";
  ::setenv("QUARREL_BACKEND", "cuda", 1);
  const auto r = run_cli("serve " + model() + " --port 0");
  ::unsetenv("QUARREL_BACKEND");
  EXPECT_NE(r.status, 0);
  EXPECT_LT(r.status, 128) << r.err;
  EXPECT_EQ(r.out.find("quarrel serve: model"), std::string::npos) << r.out;
  EXPECT_NE(r.err.find("cuda"), std::string::npos) << r.err;
}

TEST(BackendE2E, UnknownBackendIsOneErrorLine) {
  expect_one_error_line(run_cli("run " + model() + " 'Once upon a time' --temp 0 -n 4 --backend tpu"),
                        "--backend must be cpu or cuda, got 'tpu'");
  const auto r = run_cli("serve " + model() + " --port 0 --backend tpu");
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.err.find("--backend must be cpu or cuda, got 'tpu'"), std::string::npos) << r.err;
}

TEST(BackendE2E, ExplicitCpuBackendGivesTheDefaultText) {
  const std::string args = "run " + model() + " 'Once upon a time' --temp 0 -n 24 -t 1";
  const auto def = run_cli(args);
  const auto cpu = run_cli(args + " --backend cpu");
  ASSERT_EQ(def.status, 0) << def.err;
  ASSERT_EQ(cpu.status, 0) << cpu.err;
  EXPECT_FALSE(cpu.out.empty());
  EXPECT_EQ(cpu.out, def.out);
}

}  // namespace
}  // namespace quarrel
