// quantize_model on small synthetic models written with GgufWriter: the output opens with the
// planned types and metadata, does not depend on the thread count, reports progress, never
// overwrites its input and never leaves a partial output.
#include <gtest/gtest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <random>

#include "common/random.h"
#include "common/test_data.h"
#include "core/error.h"
#include "core/fp16.h"
#include "gguf/gguf_file.h"
#include "gguf/gguf_writer.h"
#include "quant/quant.h"
#include "quant/quantize_model.h"

namespace quarrel::quant {
namespace {
namespace fs = std::filesystem;
using gguf::Value;

std::vector<uint8_t> random_tensor(std::mt19937_64& rng, GgmlType type, uint64_t n) {
  std::normal_distribution<float> d(0.0f, 0.02f);
  std::vector<float> f(n);
  for (auto& x : f) x = d(rng);
  std::vector<uint8_t> out(row_bytes(type, n));
  quantize_row(type, f.data(), out.data(), static_cast<int64_t>(n));
  return out;
}

// A 2-layer llama-shaped model: n_embd 256, F32 or F16 matrices, F32 norms.
std::string write_model(const fs::path& dir, GgmlType mat_type, GgmlType extra_type = GgmlType::F32) {
  std::mt19937_64 rng(test::test_seed());
  gguf::GgufWriter w;
  w.set("general.architecture", Value::string("llama"));
  w.set("general.name", Value::string("tiny"));
  w.set("general.file_type", Value::u32(mat_type == GgmlType::F16 ? 1 : 0));
  w.set("llama.block_count", Value::u32(2));
  w.set("llama.attention.head_count", Value::u32(4));
  w.set("llama.attention.head_count_kv", Value::u32(2));
  w.set("llama.embedding_length", Value::u32(256));
  auto add = [&](const std::string& name, std::vector<uint64_t> shape, GgmlType t) {
    uint64_t n = 1;
    for (auto s : shape) n *= s;
    w.add_tensor(name, t, shape, random_tensor(rng, t, n));
  };
  add("token_embd.weight", {256, 64}, mat_type);
  for (int i = 0; i < 2; ++i) {
    const std::string p = "blk." + std::to_string(i) + ".";
    add(p + "attn_norm.weight", {256}, GgmlType::F32);
    add(p + "attn_q.weight", {256, 32}, mat_type);
    add(p + "attn_k.weight", {256, 16}, mat_type);
    add(p + "attn_v.weight", {256, 16}, mat_type);
    add(p + "attn_output.weight", {256, 32}, mat_type);
    add(p + "ffn_norm.weight", {256}, GgmlType::F32);
    add(p + "ffn_gate.weight", {256, 48}, mat_type);
    add(p + "ffn_up.weight", {256, 48}, i == 1 ? extra_type : mat_type);
    add(p + "ffn_down.weight", {512, 24}, mat_type);
  }
  add("output_norm.weight", {256}, GgmlType::F32);
  add("output.weight", {256, 64}, mat_type);
  const auto path = (dir / "model.gguf").string();
  w.write(path);
  return path;
}

std::string file_bytes(const std::string& p) { return test::read_file(p); }

class QuantizeModel : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = test::temp_dir("quarrel-quantize-test"); }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path dir_;
};

TEST_F(QuantizeModel, WritesPlannedTypesAndMetadata) {
  const auto in = write_model(dir_, GgmlType::F16);
  const auto out = (dir_ / "q.gguf").string();
  const auto r = quantize_model(in, out, *find_mix("Q4_K_M"), {.n_threads = 2});
  const auto src = gguf::GgufFile::open(in);
  const auto q = gguf::GgufFile::open(out);
  EXPECT_EQ(q.get_uint("general.file_type"), 15u);
  EXPECT_EQ(q.get_uint("general.quantization_version"), 2u);
  EXPECT_EQ(q.find("general.file_type")->type(), gguf::ValueType::kU32);
  EXPECT_EQ(q.get_string("general.name"), "tiny");
  EXPECT_EQ(q.get_uint("llama.block_count"), 2u);
  // The two keys are the last ones, quantization_version first (as llama.cpp writes them).
  const auto& md = q.metadata();
  ASSERT_GE(md.size(), 2u);
  EXPECT_EQ(md[md.size() - 2].first, "general.quantization_version");
  EXPECT_EQ(md.back().first, "general.file_type");

  ASSERT_EQ(q.tensors().size(), r.plan.size());
  EXPECT_EQ(q.tensors().size(), src.tensors().size());
  for (size_t i = 0; i < r.plan.size(); ++i) {
    const auto& t = q.tensors()[i];
    EXPECT_EQ(t.name, r.plan[i].name);
    EXPECT_EQ(t.type, r.plan[i].to) << t.name;
    EXPECT_EQ(t.shape, src.tensor(t.name).shape);
  }
  EXPECT_EQ(q.tensors().front().name, "output.weight");  // llama.cpp's order
  EXPECT_EQ(q.tensor("output.weight").type, GgmlType::Q6_K);
  EXPECT_EQ(q.tensor("token_embd.weight").type, GgmlType::Q4_K);
  EXPECT_EQ(q.tensor("blk.0.attn_norm.weight").type, GgmlType::F32);
  // With 2 layers, the last gets the extra bits (use_more_bits: i >= 7 * n / 8).
  EXPECT_EQ(q.tensor("blk.0.attn_v.weight").type, GgmlType::Q4_K);
  EXPECT_EQ(q.tensor("blk.1.attn_v.weight").type, GgmlType::Q6_K);
  EXPECT_EQ(q.tensor("blk.0.ffn_down.weight").type, GgmlType::Q4_K);
  EXPECT_EQ(q.tensor("blk.1.ffn_down.weight").type, GgmlType::Q6_K);
  EXPECT_EQ(q.tensor("blk.0.attn_q.weight").type, GgmlType::Q4_K);
  EXPECT_EQ(r.n_converted, 16u);

  // Each tensor dequantizes close to its source; unconverted ones are byte-identical.
  for (const auto& t : q.tensors()) {
    const auto& s = src.tensor(t.name);
    std::vector<float> a(s.n_elements()), b(t.n_elements());
    dequantize_row(s.type, src.tensor_data(s).data(), a.data(), static_cast<int64_t>(a.size()));
    dequantize_row(t.type, q.tensor_data(t).data(), b.data(), static_cast<int64_t>(b.size()));
    double e = 0, n = 0;
    for (size_t i = 0; i < a.size(); ++i) {
      e += (a[i] - b[i]) * (a[i] - b[i]);
      n += a[i] * a[i];
    }
    EXPECT_LE(std::sqrt(e / n), 0.1) << t.name;
    if (t.type == s.type) {
      const auto x = src.tensor_data(s), y = q.tensor_data(t);
      EXPECT_TRUE(x.size() == y.size() && std::memcmp(x.data(), y.data(), x.size()) == 0) << t.name;
    }
  }
}

TEST_F(QuantizeModel, SameBytesWhateverTheThreadCount) {
  const auto in = write_model(dir_, GgmlType::F32);
  std::string first;
  for (int threads : {1, 2, 3}) {
    const auto out = (dir_ / ("t" + std::to_string(threads) + ".gguf")).string();
    quantize_model(in, out, *find_mix("Q3_K_M"), {.n_threads = threads});
    if (first.empty()) first = file_bytes(out);
    else EXPECT_EQ(file_bytes(out), first) << threads << " threads";
  }
}

TEST_F(QuantizeModel, ProgressIsMonotonicAndComplete) {
  const auto in = write_model(dir_, GgmlType::F32);
  std::vector<QuantizeProgress> seen;
  QuantizeOptions opt;
  opt.progress = [&](const QuantizeProgress& p) { seen.push_back(p); };
  quantize_model(in, (dir_ / "p.gguf").string(), *find_mix("Q8_0"), opt);
  ASSERT_FALSE(seen.empty());
  for (size_t i = 1; i < seen.size(); ++i) {
    EXPECT_GE(seen[i].elements_done, seen[i - 1].elements_done);
    EXPECT_GE(seen[i].tensor_index, seen[i - 1].tensor_index);
  }
  EXPECT_EQ(seen.back().elements_done, seen.back().elements_total);
  EXPECT_EQ(seen.back().tensor_index + 1, seen.back().n_tensors);
  EXPECT_NE(seen.back().tensor, nullptr);
}

void expect_error(ErrorCode code, const std::string& part, const std::function<void()>& fn) {
  try {
    fn();
    ADD_FAILURE() << "no error (wanted one containing '" << part << "')";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), code) << e.what();
    EXPECT_NE(std::string(e.what()).find(part), std::string::npos) << e.what();
  }
}

TEST_F(QuantizeModel, RefusesToOverwriteItsInput) {
  const auto in = write_model(dir_, GgmlType::F32);
  const auto before = file_bytes(in);
  const auto* mix = find_mix("Q4_0");
  expect_error(ErrorCode::kInvalidArgument, "refusing to overwrite", [&] { quantize_model(in, in, *mix); });
  // The same file under another name: a relative path, a symbolic link, a hard link.
  const auto cwd = fs::current_path();
  fs::current_path(dir_);
  expect_error(ErrorCode::kInvalidArgument, "refusing", [&] { quantize_model(in, "./model.gguf", *mix); });
  fs::current_path(cwd);
  fs::create_symlink(in, dir_ / "link.gguf");
  expect_error(ErrorCode::kInvalidArgument, "refusing", [&] { quantize_model(in, (dir_ / "link.gguf").string(), *mix); });
  fs::create_hard_link(in, dir_ / "hard.gguf");
  expect_error(ErrorCode::kInvalidArgument, "refusing", [&] { quantize_model(in, (dir_ / "hard.gguf").string(), *mix); });
  EXPECT_EQ(file_bytes(in), before);
}

TEST_F(QuantizeModel, ErrorsLeaveNoOutput) {
  const auto in = write_model(dir_, GgmlType::F32, GgmlType::Q8_0);  // blk.1.ffn_up is Q8_0
  const auto out = (dir_ / "out.gguf").string();
  expect_error(ErrorCode::kUnsupported, "blk.1.ffn_up.weight' is already quantized (Q8_0)",
               [&] { quantize_model(in, out, *find_mix("Q4_K_M")); });
  EXPECT_FALSE(fs::exists(out));
  // Allowed on request; a tensor already in its target type is copied either way.
  QuantizeOptions opt;
  opt.allow_requantize = true;
  quantize_model(in, out, *find_mix("Q4_K_M"), opt);
  EXPECT_EQ(gguf::GgufFile::open(out).tensor("blk.1.ffn_up.weight").type, GgmlType::Q4_K);
  EXPECT_NO_THROW(quantize_model(in, (dir_ / "q8.gguf").string(), *find_mix("Q8_0")));

  expect_error(ErrorCode::kNotFound, "no such file",
               [&] { quantize_model((dir_ / "missing.gguf").string(), out, *find_mix("Q4_0")); });
  fs::create_directory(dir_ / "f32");
  const auto plain = write_model(dir_ / "f32", GgmlType::F32);
  expect_error(ErrorCode::kIo, "no/such/dir/x.gguf",
               [&] { quantize_model(plain, (dir_ / "no/such/dir/x.gguf").string(), *find_mix("Q4_0")); });
  EXPECT_FALSE(fs::exists(dir_ / "no"));
  // No temporary files are left behind.
  for (const auto& e : fs::directory_iterator(dir_))
    EXPECT_EQ(e.path().filename().string().find(".tmp"), std::string::npos) << e.path();
}

TEST_F(QuantizeModel, HalfMixesFromF32) {
  const auto in = write_model(dir_, GgmlType::F32);
  for (const char* m : {"F16", "BF16"}) {
    const auto out = (dir_ / (std::string(m) + ".gguf")).string();
    quantize_model(in, out, *find_mix(m));
    const auto q = gguf::GgufFile::open(out);
    for (const auto& t : q.tensors())
      EXPECT_EQ(type_name(t.type), t.shape.size() == 1 ? "F32" : m) << t.name;
  }
}

}  // namespace
}  // namespace quarrel::quant
