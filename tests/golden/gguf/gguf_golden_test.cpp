// Every GGUF file in the shared test data (models/, quant/, vocab/) opens, has the basic facts
// right, and is written back byte for byte by our writer.
#include <gtest/gtest.h>

#include <algorithm>
#include <bit>
#include <cstring>
#include <filesystem>

#include "common/test_data.h"
#include "gguf/file_type.h"
#include "gguf/gguf_file.h"
#include "gguf/gguf_writer.h"
#include "gguf/keys.h"

namespace quarrel::gguf {
namespace {
namespace fs = std::filesystem;

std::vector<fs::path> gguf_files(const std::string& sub) {
  std::vector<fs::path> out;
  for (const auto& e : fs::directory_iterator(test::data_dir() / sub))
    if (e.path().extension() == ".gguf") out.push_back(e.path());
  std::sort(out.begin(), out.end());
  if (out.empty()) throw std::runtime_error("no .gguf files in " + (test::data_dir() / sub).string());
  return out;
}

// Facts every file must have; returns the file for more checks.
GgufFile check_basics(const fs::path& p) {
  SCOPED_TRACE(p.string());
  auto f = GgufFile::open(p.string());
  EXPECT_TRUE(f.version() == 2 || f.version() == 3);
  EXPECT_TRUE(f.alignment() > 0 && std::has_single_bit(f.alignment()));
  EXPECT_FALSE(f.architecture().empty());
  EXPECT_FALSE(f.metadata().empty());
  for (const auto& t : f.tensors()) {
    const auto d = f.tensor_data(t);
    EXPECT_EQ(d.size(), t.n_bytes()) << t.name;
    EXPECT_GE(d.data(), f.bytes().data() + f.data_offset()) << t.name;
    EXPECT_LE(d.data() + d.size(), f.bytes().data() + f.file_size()) << t.name;
    EXPECT_EQ((f.data_offset() + t.offset) % f.alignment(), 0u) << t.name;
  }
  return f;
}

// Our writer reproduces the file exactly from what the reader parsed.
void check_rewrite_identical(const GgufFile& f) {
  GgufWriter w;
  w.copy_metadata_from(f);
  for (const auto& t : f.tensors()) {
    const auto d = f.tensor_data(t);
    w.add_tensor(t.name, t.type, t.shape, {d.begin(), d.end()});
  }
  const auto bytes = w.to_bytes();
  ASSERT_EQ(bytes.size(), f.file_size()) << f.path();
  EXPECT_EQ(std::memcmp(bytes.data(), f.bytes().data(), bytes.size()), 0) << f.path();
}

TEST(GgufGolden, Stories260K) {
  auto f = check_basics(test::data_path("models/stories260K.gguf"));
  EXPECT_EQ(f.architecture(), "llama");
  EXPECT_EQ(f.tensors().size(), 48u);
  EXPECT_EQ(f.get_uint(f.arch_key(keys::kEmbeddingLength)), 64u);
  EXPECT_EQ(f.get_uint(f.arch_key(keys::kBlockCount)), 5u);
  EXPECT_EQ(f.get_uint(f.arch_key(keys::kAttentionHeadCount)), 8u);
  EXPECT_EQ(f.get_uint(f.arch_key(keys::kAttentionHeadCountKv)), 4u);
  EXPECT_EQ(f.get_uint(f.arch_key(keys::kContextLength)), 2048u);
  EXPECT_NEAR(f.get_float(f.arch_key(keys::kAttentionLayerNormRmsEpsilon)), 1e-5, 1e-9);
  EXPECT_EQ(f.get_string(keys::kTokenizerModel), "llama");
  const auto tokens = f.get_string_array(keys::kTokenizerTokens);
  ASSERT_EQ(tokens.size(), 512u);
  EXPECT_EQ(tokens[1], "<s>");
  EXPECT_EQ(f.get_float_array(keys::kTokenizerScores).size(), 512u);
  EXPECT_EQ(f.get_int_array(keys::kTokenizerTokenType)[0], 2);
  EXPECT_EQ(f.get_uint(keys::kTokenizerBosId), 1u);
  const auto& emb = f.tensor("token_embd.weight");
  EXPECT_EQ(emb.type, GgmlType::F32);
  EXPECT_EQ(emb.shape, (std::vector<uint64_t>{64, 512}));
  uint64_t params = 0;
  for (const auto& t : f.tensors()) params += t.n_elements();
  EXPECT_EQ(params, 292800u);  // "260K" parameters (the name rounds)
  check_rewrite_identical(f);
}

TEST(GgufGolden, QuantFiles) {
  size_t n = 0;
  for (const auto& p : gguf_files("quant")) {
    SCOPED_TRACE(p.string());
    auto f = check_basics(p);
    EXPECT_EQ(f.architecture(), "llama");
    EXPECT_EQ(f.tensors().size(), 12u);
    EXPECT_EQ(f.get_uint(f.arch_key(keys::kEmbeddingLength)), 256u);
    EXPECT_EQ(f.get_uint(f.arch_key(keys::kFeedForwardLength)), 768u);
    // The file name's mix is the one general.file_type names ("quanttest-Q4_K_M" -> 15).
    std::string mix = p.stem().string().substr(std::string("quanttest-").size());
    const auto ft = file_type_from_name(mix);
    ASSERT_TRUE(ft.has_value()) << mix;
    EXPECT_EQ(f.get_uint_or(keys::kGeneralFileType, 0), *ft) << mix;
    check_rewrite_identical(f);
    ++n;
  }
  EXPECT_GE(n, 19u);
}

TEST(GgufGolden, Q4KMKeepsSomeTensorsInQ6K) {
  auto f = GgufFile::open(test::data_path("quant/quanttest-Q4_K_M.gguf").string());
  EXPECT_EQ(file_type_name(static_cast<uint32_t>(f.get_uint(keys::kGeneralFileType))).value(), "MOSTLY_Q4_K_M");
  EXPECT_EQ(f.tensor("output.weight").type, GgmlType::Q6_K);
  EXPECT_EQ(f.tensor("blk.0.attn_q.weight").type, GgmlType::Q4_K);
  EXPECT_EQ(f.tensor("blk.0.attn_q.weight").n_bytes(), 256u * 256 / 256 * 144);
}

TEST(GgufGolden, VocabFiles) {
  size_t n = 0;
  for (const auto& p : gguf_files("vocab")) {
    SCOPED_TRACE(p.string());
    auto f = check_basics(p);
    EXPECT_TRUE(f.tensors().empty());  // vocab-only
    EXPECT_FALSE(f.get_string(keys::kTokenizerModel).empty());
    const auto tokens = f.get(keys::kTokenizerTokens);
    EXPECT_EQ(tokens.array_type(), ValueType::kString);
    EXPECT_GT(tokens.size(), 100u);
    check_rewrite_identical(f);
    ++n;
  }
  EXPECT_GE(n, 8u);
}

}  // namespace
}  // namespace quarrel::gguf
