// `quarrel bench` through the real binary on stories260K: the JSON parses and holds positive
// rates and a bandwidth-bound share; the table names both tests; errors are one line; a model with
// all-NaN logits is timed and reported.
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <limits>
#include <nlohmann/json.hpp>
#include <vector>

#include "e2e/run/cli.h"
#include "gguf/gguf_file.h"
#include "gguf/gguf_writer.h"
#include "model/synthetic.h"

namespace quarrel {
namespace {
using test::run_cli;

std::string model() { return test::data_path("models/stories260K.gguf").string(); }

TEST(BenchE2E, JsonHasPositiveRatesAndABoundShare) {
  const auto r = run_cli("bench " + model() + " -p 32 -n 16 -r 2 -t 1 --json");
  ASSERT_EQ(r.status, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["architecture"], "llama");
  EXPECT_EQ(j["threads"], 1);
  EXPECT_GT(j["copy_bandwidth_gb_s"].get<double>(), 0.1);
  EXPECT_GT(j["bytes_per_token_weights"].get<double>(), 0);
  ASSERT_EQ(j["tests"].size(), 2u);
  EXPECT_EQ(j["tests"][0]["name"], "pp32");
  EXPECT_EQ(j["tests"][1]["name"], "tg16");
  for (const auto& t : j["tests"]) {
    EXPECT_GT(t["tokens_per_s"].get<double>(), 0) << t;
    EXPECT_GE(t["tokens_per_s_stddev"].get<double>(), 0) << t;
    ASSERT_EQ(t["runs_tokens_per_s"].size(), 2u) << t;
    for (const auto& v : t["runs_tokens_per_s"]) EXPECT_GT(v.get<double>(), 0);
    EXPECT_GT(t["bytes_per_token"].get<double>(), 0) << t;
    EXPECT_GT(t["bound_tokens_per_s"].get<double>(), 0) << t;
    const double share = t["fraction_of_bound"].get<double>();
    EXPECT_GT(share, 0) << t;
    EXPECT_NEAR(share, t["tokens_per_s"].get<double>() / t["bound_tokens_per_s"].get<double>(), 1e-9);
  }
  // A decode step reads every weight but the embedding table: more bytes than a prompt token,
  // whose weights are shared by the pass.
  EXPECT_GT(j["tests"][1]["bytes_per_token"].get<double>(), j["tests"][0]["bytes_per_token"].get<double>());
}

TEST(BenchE2E, TableAndSkippedTests) {
  const auto r = run_cli("bench " + model() + " -p 0 -n 8 -r 1 -t 1");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("| tg8 "), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("| pp"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("copy bandwidth:"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("of bound"), std::string::npos) << r.out;
}

// What a tg step sends back: the 40 best (a top-k sampler) or the whole row, named in the test.
TEST(BenchE2E, SamplingOutputs) {
  for (const std::string mode : {"top-k", "logits"}) {
    const auto r = run_cli("bench " + model() + " -p 0 -n 8 -r 1 -t 1 --sampling " + mode);
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_NE(r.out.find("| tg8-" + mode + " "), std::string::npos) << r.out;
  }
}

// --parallel S: S sequences decode together (a server's continuous batching); tokens/s counts
// all their tokens and a token's bytes share the step's weights S ways.
TEST(BenchE2E, ParallelSequencesShareTheWeights) {
  const auto one = run_cli("bench " + model() + " -p 0 -n 8 -r 1 -t 1 --json");
  const auto four = run_cli("bench " + model() + " -p 0 -n 8 -r 1 -t 1 --parallel 4 --json");
  ASSERT_EQ(one.status, 0) << one.err;
  ASSERT_EQ(four.status, 0) << four.err;
  const auto j1 = nlohmann::json::parse(one.out), j4 = nlohmann::json::parse(four.out);
  EXPECT_EQ(j1["parallel"], 1);
  EXPECT_EQ(j4["parallel"], 4);
  ASSERT_EQ(j4["tests"].size(), 1u);
  const auto& t1 = j1["tests"][0];
  const auto& t4 = j4["tests"][0];
  EXPECT_EQ(t1["name"], "tg8");
  EXPECT_EQ(t4["name"], "tg8 x4");
  EXPECT_GT(t4["tokens_per_s"].get<double>(), 0);
  const double kv = t1["bytes_per_token"].get<double>() - j1["bytes_per_token_weights"].get<double>();
  EXPECT_NEAR(t4["bytes_per_token"].get<double>(), j4["bytes_per_token_weights"].get<double>() / 4 + kv, 1e-6 * kv);
  const auto table = run_cli("bench " + model() + " -p 0 -n 4 -r 1 -t 1 --parallel 3 --sampling top-k");
  ASSERT_EQ(table.status, 0) << table.err;
  EXPECT_NE(table.out.find("| tg4-top-k x3 "), std::string::npos) << table.out;
}

// A model whose logits are all NaN (its output norm's weights are): greedy decoding has no best
// token. The bench still times every step, feeds back token 0, counts those rows in the JSON and
// says so on stderr, instead of failing on a token id of -1 in the next step.
TEST(BenchE2E, AllNanLogitsAreTimedAndReported) {
  const auto dir = test::temp_dir("quarrel-bench-nan");
  const std::string clean = (dir / "clean.gguf").string(), broken = (dir / "nan.gguf").string();
  model::write_synthetic_model({}, clean);
  const auto f = gguf::GgufFile::open(clean);
  gguf::GgufWriter w;
  w.copy_metadata_from(f);
  for (const auto& t : f.tensors()) {
    const auto bytes = f.tensor_data(t);
    std::vector<uint8_t> data(bytes.begin(), bytes.end());
    if (t.name == "output_norm.weight") {
      ASSERT_EQ(t.type, GgmlType::F32);
      const float nan = std::numeric_limits<float>::quiet_NaN();
      for (size_t i = 0; i + 4 <= data.size(); i += 4) std::memcpy(data.data() + i, &nan, 4);
    }
    w.add_tensor(t.name, t.type, t.shape, std::move(data));
  }
  w.write(broken);
  const auto bad = run_cli("bench " + broken + " -p 0 -n 6 -r 2 -t 1 --json");
  ASSERT_EQ(bad.status, 0) << bad.err;
  const auto j = nlohmann::json::parse(bad.out);
  EXPECT_EQ(j["nan_logits_rows"], 6 * 2 + 4) << bad.out;  // two runs of 6 and the 4-step warm-up
  EXPECT_GT(j["tests"][0]["tokens_per_s"].get<double>(), 0);
  EXPECT_NE(bad.err.find("warning: 16 decode steps gave logits that were all NaN"), std::string::npos) << bad.err;
  const auto good = run_cli("bench " + clean + " -p 0 -n 6 -r 1 -t 1 --json");
  ASSERT_EQ(good.status, 0) << good.err;
  EXPECT_EQ(nlohmann::json::parse(good.out)["nan_logits_rows"], 0);
  EXPECT_EQ(good.err.find("warning"), std::string::npos) << good.err;
  std::filesystem::remove_all(dir);
}

TEST(BenchE2E, ErrorsAreOneLine) {
  for (const std::string& args : {std::string("bench /nonexistent.gguf"), "bench " + model() + " -r 0",
                                 "bench " + model() + " -p 0 -n 0", "bench " + model() + " --kv-type q2_k",
                                 "bench " + model() + " --sampling nucleus", "bench " + model() + " --parallel 0"}) {
    const auto r = run_cli(args);
    EXPECT_NE(r.status, 0) << args;
    EXPECT_EQ(test::count_lines(r.err), 1u) << args << ": " << r.err;
    EXPECT_EQ(r.err.rfind("error: ", 0), 0u) << args << ": " << r.err;
  }
}

TEST(BenchE2E, Fp8KvCacheOnTheCpuIsOneLineError) {
  const auto r = run_cli("bench " + model() + " -p 0 -n 4 -r 1 -t 1 --kv-type fp8");
  EXPECT_NE(r.status, 0);
  EXPECT_EQ(test::count_lines(r.err), 1u) << r.err;
  EXPECT_NE(r.err.find("the cpu backend keeps the KV cache in f16, f32 or q8_0"), std::string::npos) << r.err;
}

TEST(BenchE2E, Help) {
  const auto r = run_cli("bench --help");
  EXPECT_EQ(r.status, 0);
  for (const char* want : {"-p", "-n", "-r", "--threads", "--parallel", "--json"}) EXPECT_NE(r.out.find(want), std::string::npos) << want;
}

}  // namespace
}  // namespace quarrel
