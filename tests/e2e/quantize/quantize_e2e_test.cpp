// `quarrel quantize` as a user runs it: the real binary on quanttest-f32.gguf to every mix
// with a golden file. The output must open (also in `quarrel info`), have the per-tensor types
// of the reference tool's file of the same mix, and dequantize with an RMSE of at most 1.02x
// the reference's for every tensor. Whether it is bit-identical to the reference (each
// tensor's dequantized sha256, and the whole file) is reported, and currently required.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>

#include "golden/quant/quant_golden.h"

namespace quarrel::test {
namespace {
namespace fs = std::filesystem;

struct Result {
  int status;
  std::string out;  // stdout
  std::string err;  // stderr
};

fs::path binary() {
  const char* env = std::getenv("QUARREL_BINARY");
  if (env && *env) return quarrel_binary();
  if (!fs::exists(QUARREL_BINARY_PATH)) throw std::runtime_error("quarrel binary not found: " QUARREL_BINARY_PATH);
  return QUARREL_BINARY_PATH;
}

std::string quote(const std::string& s) { return "'" + s + "'"; }

Result run(const std::string& args) {
  const auto dir = temp_dir("qquant-e2e");
  const auto err_path = dir / "stderr";
  Result r;
  r.status = run_command(binary().string() + " " + args + " 2>" + err_path.string(), &r.out);
  r.err = read_file(err_path);
  fs::remove_all(dir);
  return r;
}

size_t count_lines(const std::string& s) {
  size_t n = 0;
  for (char c : s) n += c == '\n';
  return n + (!s.empty() && s.back() != '\n');
}

class QuantizeE2E : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = temp_dir("qquant-e2e-out"); }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path dir_;
};

class QuantizeMixE2E : public QuantizeE2E, public ::testing::WithParamInterface<const char*> {};

TEST_P(QuantizeMixE2E, OutputMatchesTheReferenceOfTheSameMix) {
  const std::string mix = GetParam();
  const auto src_path = data_path("quant/quanttest-f32.gguf").string();
  const auto ref_path = data_path("quant/quanttest-" + mix + ".gguf").string();
  const auto out = (dir_ / ("out-" + mix + ".gguf")).string();
  const auto r = run("quantize " + quote(src_path) + " " + quote(out) + " " + mix + " --threads 2");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("(" + mix + ")"), std::string::npos) << r.out;
  EXPECT_NE(r.err.find("100%"), std::string::npos) << "no progress on stderr: " << r.err;

  const auto q = gguf::GgufFile::open(out);
  const auto ref = gguf::GgufFile::open(ref_path);
  const auto src = gguf::GgufFile::open(src_path);
  const auto golden = load_golden().at("quanttest-" + mix + ".gguf");
  EXPECT_EQ(q.get_uint("general.file_type"), ref.get_uint("general.file_type"));
  EXPECT_EQ(q.get_uint("general.quantization_version"), 2u);
  ASSERT_EQ(q.tensors().size(), ref.tensors().size());
  int identical = 0;
  for (size_t i = 0; i < q.tensors().size(); ++i) {
    const auto& t = q.tensors()[i];
    const auto& g = golden[i];
    SCOPED_TRACE(mix + " " + t.name);
    ASSERT_EQ(t.name, ref.tensors()[i].name);
    ASSERT_EQ(t.name, g.name);
    EXPECT_EQ(type_name(t.type), type_name(ref.tensors()[i].type));
    EXPECT_EQ(t.shape, ref.tensors()[i].shape);
    const auto ours = dequantize_tensor(q, t);
    const auto x = dequantize_tensor(src, src.tensor(t.name));
    const double e = rmse(x, ours);
    EXPECT_LE(e, 1.02 * g.rmse) << "ours " << e << " reference " << g.rmse;
    identical += sha256_floats(ours) == g.sha256;
  }
  const bool same_file = sha256_hex(read_file(out).data(), read_file(out).size()) ==
                         sha256_hex(read_file(ref_path).data(), read_file(ref_path).size());
  std::printf("%-7s %d/%zu tensors bit-identical to the reference; whole file %s\n", mix.c_str(), identical,
              q.tensors().size(), same_file ? "byte-identical" : "differs");
  EXPECT_EQ(identical, static_cast<int>(q.tensors().size()));
  EXPECT_TRUE(same_file);

  // The output loads in `quarrel info`.
  const auto info = run("info " + quote(out));
  EXPECT_EQ(info.status, 0) << info.err;
  EXPECT_NE(info.out.find("file type:"), std::string::npos) << info.out;
}

INSTANTIATE_TEST_SUITE_P(Mixes, QuantizeMixE2E, ::testing::ValuesIn(std::begin(kGoldenMixes), std::end(kGoldenMixes)),
                         [](const auto& p) { return std::string(p.param); });

TEST_F(QuantizeE2E, RefusesToOverwriteItsInput) {
  const auto in = dir_ / "model.gguf";
  fs::copy_file(data_path("quant/quanttest-f32.gguf"), in);
  const auto before = read_file(in);
  for (const std::string& out : {in.string(), (dir_ / "." / "model.gguf").string()}) {
    const auto r = run("quantize " + quote(in.string()) + " " + quote(out) + " Q4_K_M");
    EXPECT_NE(r.status, 0);
    EXPECT_EQ(count_lines(r.err), 1u) << r.err;
    EXPECT_NE(r.err.find("refusing to overwrite the input file"), std::string::npos) << r.err;
  }
  fs::create_symlink(in, dir_ / "link.gguf");
  const auto r = run("quantize " + quote(in.string()) + " " + quote((dir_ / "link.gguf").string()) + " Q8_0");
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.err.find("refusing"), std::string::npos) << r.err;
  EXPECT_EQ(read_file(in), before);
}

TEST_F(QuantizeE2E, UnknownTypeListsTheValidOnes) {
  const auto out = dir_ / "o.gguf";
  const auto r = run("quantize " + quote(data_path("quant/quanttest-f32.gguf").string()) + " " + quote(out.string()) +
                     " Q4_K_X");
  EXPECT_NE(r.status, 0);
  EXPECT_EQ(count_lines(r.err), 1u) << r.err;
  EXPECT_NE(r.err.find("unknown quantization type 'Q4_K_X'"), std::string::npos) << r.err;
  for (const char* m : kGoldenMixes) EXPECT_NE(r.err.find(m), std::string::npos) << m << " not listed: " << r.err;
  EXPECT_FALSE(fs::exists(out));
}

TEST_F(QuantizeE2E, MissingInputAndBadArguments) {
  const auto out = dir_ / "o.gguf";
  auto r = run("quantize " + quote((dir_ / "missing.gguf").string()) + " " + quote(out.string()) + " Q4_0");
  EXPECT_NE(r.status, 0);
  EXPECT_EQ(count_lines(r.err), 1u) << r.err;
  EXPECT_NE(r.err.find("missing.gguf"), std::string::npos) << r.err;
  // Not a GGUF file.
  const auto junk = dir_ / "junk.gguf";
  { std::FILE* f = std::fopen(junk.c_str(), "wb"); std::fputs("not a model", f); std::fclose(f); }
  r = run("quantize " + quote(junk.string()) + " " + quote(out.string()) + " Q4_0");
  EXPECT_NE(r.status, 0);
  EXPECT_EQ(count_lines(r.err), 1u) << r.err;
  EXPECT_NE(r.err.find("junk.gguf"), std::string::npos) << r.err;
  // A missing positional argument.
  r = run("quantize " + quote(junk.string()));
  EXPECT_NE(r.status, 0);
  // An output directory that does not exist: an error, and nothing written.
  r = run("quantize " + quote(data_path("quant/quanttest-f32.gguf").string()) + " " +
          quote((dir_ / "nodir" / "o.gguf").string()) + " Q4_0");
  EXPECT_NE(r.status, 0);
  EXPECT_EQ(count_lines(r.err), 1u) << r.err;
  EXPECT_FALSE(fs::exists(out));
  EXPECT_FALSE(fs::exists(dir_ / "nodir"));
}

TEST_F(QuantizeE2E, Help) {
  const auto r = run("quantize --help");
  EXPECT_EQ(r.status, 0);
  for (const char* want : {"IN", "OUT", "TYPE", "--threads", "Q4_K_M", "IQ4_XS", "BF16"})
    EXPECT_NE(r.out.find(want), std::string::npos) << want << " missing from:\n" << r.out;
}

}  // namespace
}  // namespace quarrel::test
