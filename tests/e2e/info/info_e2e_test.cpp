// `quarrel info` as a user runs it: the real binary on real files, text and --json.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <fstream>
#include <nlohmann/json.hpp>

#include "common/test_data.h"

namespace quarrel {
namespace {
namespace fs = std::filesystem;

struct Result {
  int status;
  std::string out;  // stdout
  std::string err;  // stderr
};

fs::path binary() {
  const char* env = std::getenv("QUARREL_BINARY");
  if (env && *env) return test::quarrel_binary();
  if (!fs::exists(QUARREL_BINARY_PATH)) throw std::runtime_error("quarrel binary not found: " QUARREL_BINARY_PATH);
  return QUARREL_BINARY_PATH;
}

Result run_info(const std::string& args) {
  const auto dir = test::temp_dir("qinfo");
  const auto err_path = dir / "stderr";
  Result r;
  r.status = test::run_command(binary().string() + " info " + args + " 2>" + err_path.string(), &r.out);
  r.err = test::read_file(err_path);
  fs::remove_all(dir);
  return r;
}

std::string model() { return test::data_path("models/stories260K.gguf").string(); }
std::string q4km() { return test::data_path("quant/quanttest-Q4_K_M.gguf").string(); }

TEST(InfoE2E, TextOnStories260K) {
  const auto r = run_info(model());
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_TRUE(r.err.empty()) << r.err;
  for (const char* want : {"architecture:   llama", "parameters:     292.80K (292800)", "file type:      (not set)",
                           "context length: 2048", "vocabulary:     512 tokens, tokenizer llama",
                           "chat template:  no", "F32          48 tensors", "metadata (19 keys):",
                           "tokenizer.ggml.tokens", "[string x 512: \"<unk>\", \"<s>\", \"</s>\"", ", ...]",
                           "tensors (48):", "token_embd.weight", "[64, 512]"})
    EXPECT_NE(r.out.find(want), std::string::npos) << "missing '" << want << "' in:\n" << r.out;
  // a long array is summarised, not printed whole
  EXPECT_EQ(r.out.find("<0x20>"), std::string::npos);
}

TEST(InfoE2E, JsonOnStories260K) {
  const auto r = run_info(model() + " --json");
  ASSERT_EQ(r.status, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["architecture"], "llama");
  EXPECT_EQ(j["parameters"], 292800);
  EXPECT_TRUE(j["file_type"].is_null());
  EXPECT_EQ(j["context_length"], 2048);
  EXPECT_EQ(j["vocab_size"], 512);
  EXPECT_EQ(j["tokenizer"], "llama");
  EXPECT_EQ(j["chat_template"], false);
  EXPECT_EQ(j["gguf_version"], 3);
  EXPECT_EQ(j["alignment"], 32);
  ASSERT_EQ(j["tensor_types"].size(), 1u);
  EXPECT_EQ(j["tensor_types"][0]["type"], "F32");
  EXPECT_EQ(j["tensor_types"][0]["count"], 48);
  EXPECT_EQ(j["tensor_types"][0]["bytes"], 292800 * 4);
  EXPECT_EQ(j["metadata"].size(), 19u);
  const auto& tokens = j["metadata"]["tokenizer.ggml.tokens"];
  EXPECT_EQ(tokens["type"], "array");
  EXPECT_EQ(tokens["element_type"], "string");
  EXPECT_EQ(tokens["length"], 512);
  EXPECT_EQ(tokens["truncated"], true);
  EXPECT_EQ(tokens["items"][1], "<s>");
  EXPECT_LE(tokens["items"].size(), 16u);
  EXPECT_EQ(j["metadata"]["llama.block_count"]["type"], "u32");
  EXPECT_EQ(j["metadata"]["llama.block_count"]["value"], 5);
  EXPECT_EQ(j["metadata"]["general.name"]["value"], "llama");
  ASSERT_EQ(j["tensors"].size(), 48u);
  EXPECT_EQ(j["tensors"][0]["name"], "token_embd.weight");
  EXPECT_EQ(j["tensors"][0]["shape"], nlohmann::json::array({64, 512}));
  EXPECT_EQ(j["tensors"][0]["type"], "F32");
  EXPECT_EQ(j["tensors"][0]["bytes"], 64 * 512 * 4);
}

TEST(InfoE2E, QuantFile) {
  const auto t = run_info(q4km());
  ASSERT_EQ(t.status, 0) << t.err;
  for (const char* want : {"file type:      MOSTLY_Q4_K_M (15)", "Q4_K", "Q6_K", "context length: 8192",
                           "general.file_type", "blk.0.ffn_down.weight", "[768, 256]"})
    EXPECT_NE(t.out.find(want), std::string::npos) << "missing '" << want << "' in:\n" << t.out;

  const auto r = run_info(q4km() + " --json");
  ASSERT_EQ(r.status, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["file_type"]["id"], 15);
  EXPECT_EQ(j["file_type"]["name"], "MOSTLY_Q4_K_M");
  std::map<std::string, int> count;
  uint64_t bytes = 0;
  for (const auto& m : j["tensor_types"]) {
    count[m["type"]] = m["count"];
    bytes += m["bytes"].get<uint64_t>();
  }
  EXPECT_EQ(count["Q4_K"], 6);
  EXPECT_EQ(count["Q6_K"], 3);
  EXPECT_EQ(count["F32"], 3);
  uint64_t table_bytes = 0;
  for (const auto& t2 : j["tensors"]) table_bytes += t2["bytes"].get<uint64_t>();
  EXPECT_EQ(bytes, table_bytes);
  EXPECT_EQ(j["tensors"][0]["name"], "output.weight");
  EXPECT_EQ(j["tensors"][0]["type"], "Q6_K");
  EXPECT_EQ(j["tensors"][0]["bytes"], 256 / 256 * 210 * 512);
  EXPECT_EQ(j["vocab_size"], 512);
}

TEST(InfoE2E, BadFileIsOneClearLine) {
  const auto dir = test::temp_dir("qinfo");
  const auto bad = dir / "broken.gguf";
  {
    // a GGUF header claiming 2^60 metadata entries in a 40-byte file
    std::ofstream o(bad, std::ios::binary);
    const char head[] = {'G', 'G', 'U', 'F', 3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10};
    o.write(head, sizeof head);
    o.write("0123456789abcdef", 16);
  }
  const auto r = run_info(bad.string());
  EXPECT_NE(r.status, 0);
  EXPECT_TRUE(r.out.empty()) << r.out;
  EXPECT_EQ(r.err, "error: " + bad.string() +
                       ": truncated file or corrupt count: metadata count 1152921504606846976 needs at least 2^64 or "
                       "more bytes but only 16 remain\n");

  const auto missing = run_info((dir / "nope.gguf").string());
  EXPECT_NE(missing.status, 0);
  EXPECT_NE(missing.err.find("nope.gguf"), std::string::npos) << missing.err;
  EXPECT_EQ(std::count(missing.err.begin(), missing.err.end(), '\n'), 1);

  const auto text = dir / "notes.txt";
  std::ofstream(text) << "hello\n";
  const auto t = run_info(text.string());
  EXPECT_NE(t.status, 0);
  EXPECT_EQ(t.err, "error: " + text.string() + ": not a GGUF file (starts with \"hell\", expected \"GGUF\")\n");
  fs::remove_all(dir);
}

TEST(InfoE2E, Help) {
  const auto r = run_info("--help");
  EXPECT_EQ(r.status, 0);
  EXPECT_NE(r.out.find("--json"), std::string::npos) << r.out;
  EXPECT_NE(run_info("").status, 0);  // MODEL is required
}

}  // namespace
}  // namespace quarrel
