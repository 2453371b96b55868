// `quarrel convert` as a user runs it: a tiny checkpoint converted with the default and with
// quantized types (the result loads), progress on stderr, a one-line summary on stdout, and
// one clear line on stderr with a non-zero exit for each mistake, leaving no output behind.
#include <gtest/gtest.h>

#include <fstream>

#include "common/test_data.h"
#include "gguf/gguf_file.h"
#include "model/model.h"
#include "reference/tiny_checkpoint.h"

namespace quarrel {
namespace {

namespace fs = std::filesystem;

struct Result {
  int status = -1;
  std::string out, err;
};

Result quarrel_cli(const std::string& args) {
  const fs::path dir = test::temp_dir("quarrel-cli");
  Result r;
  r.status = test::run_command(test::quarrel_binary().string() + " " + args + " 2>" + (dir / "err").string() +
                                   " </dev/null",
                               &r.out);
  r.err = test::read_file(dir / "err");
  fs::remove_all(dir);
  return r;
}

size_t lines(const std::string& s) { return static_cast<size_t>(std::count(s.begin(), s.end(), '\n')); }

class ConvertCli : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = test::temp_dir("quarrel-convert-e2e");
    hf_ = dir_ / "tiny-llama";
    test::write_tiny(test::make_tiny("llama"), hf_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string out(const std::string& name) const { return (dir_ / name).string(); }

  // A failing command: exit 1, exactly one line on stderr that contains `what`, no output file.
  void expect_error(const std::string& args, const std::string& what, const std::string& out_path) const {
    const Result r = quarrel_cli(args);
    EXPECT_EQ(r.status, 1) << args << "\n" << r.err;
    EXPECT_EQ(lines(r.err), 1u) << r.err;
    EXPECT_EQ(r.err.rfind("error: ", 0), 0u) << r.err;
    EXPECT_NE(r.err.find(what), std::string::npos) << "wanted '" << what << "' in: " << r.err;
    EXPECT_FALSE(fs::exists(out_path)) << out_path;
  }

  fs::path dir_, hf_;
};

TEST_F(ConvertCli, DefaultTypeWritesALoadableModel) {
  const Result r = quarrel_cli("convert " + hf_.string() + " " + out("m.gguf"));
  ASSERT_EQ(r.status, 0) << r.err;
  // Summary on stdout; progress (not a terminal: one line per 10%) on stderr.
  EXPECT_NE(r.out.find("(LlamaForCausalLM)"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("llama, F16"), std::string::npos) << r.out;
  EXPECT_NE(r.err.find("convert: 100%"), std::string::npos) << r.err;
  EXPECT_LE(lines(r.err), 12u) << r.err;
  const auto f = gguf::GgufFile::open(out("m.gguf"));
  EXPECT_EQ(f.get_uint("general.file_type"), 1u);  // F32 checkpoint -> F16, as llama.cpp's default
  EXPECT_EQ(f.tensor("blk.0.attn_q.weight").type, GgmlType::F16);
  EXPECT_EQ(f.get_string("general.name"), "tiny-llama");  // the directory's name
  const auto m = model::Model::load(out("m.gguf"));
  EXPECT_EQ(m->hparams().n_layer, 2);
  EXPECT_EQ(m->hparams().n_vocab, 300);
}

TEST_F(ConvertCli, QuantizedTypes) {
  for (const auto& [type, ftype, wq] : {std::tuple{"q8_0", 7u, GgmlType::Q8_0}, std::tuple{"Q4_0", 2u, GgmlType::Q4_0},
                                        std::tuple{"bf16", 32u, GgmlType::BF16}, std::tuple{"f32", 0u, GgmlType::F32}}) {
    const std::string path = out(std::string("m-") + type + ".gguf");
    const Result r = quarrel_cli("convert " + hf_.string() + " " + path + " --type " + type + " -q --threads 2");
    ASSERT_EQ(r.status, 0) << type << ": " << r.err;
    EXPECT_TRUE(r.err.empty()) << "-q prints no progress: " << r.err;
    const auto f = gguf::GgufFile::open(path);
    EXPECT_EQ(f.get_uint("general.file_type"), ftype) << type;
    EXPECT_EQ(f.tensor("blk.1.ffn_down.weight").type, wq) << type;
    EXPECT_EQ(f.tensor("blk.1.ffn_norm.weight").type, GgmlType::F32) << type;
    EXPECT_NO_THROW(model::Model::load(path)) << type;
  }
}

TEST_F(ConvertCli, OverwritesAnExistingOutputAtomically) {
  { std::ofstream(out("m.gguf")) << "old"; }
  ASSERT_EQ(quarrel_cli("convert " + hf_.string() + " " + out("m.gguf") + " -q --name 'My Model'").status, 0);
  EXPECT_EQ(gguf::GgufFile::open(out("m.gguf")).get_string("general.name"), "My Model");
  for (const auto& e : fs::directory_iterator(dir_))
    EXPECT_EQ(e.path().filename().string().find(".tmp"), std::string::npos) << "temp file left: " << e.path();
}

TEST_F(ConvertCli, Errors) {
  const std::string o = out("x.gguf");
  expect_error("convert " + out("nowhere") + " " + o, "no such directory", o);
  fs::create_directories(dir_ / "empty");
  expect_error("convert " + out("empty") + " " + o, "missing config.json", o);
  expect_error("convert " + hf_.string() + " " + o + " --type q9_9", "unknown --type 'q9_9'", o);
  expect_error("convert " + hf_.string() + " " + out("no/such/dir/x.gguf"), "does not exist", out("no/such/dir/x.gguf"));

  // An architecture convert does not know.
  auto cfg = nlohmann::json::parse(test::read_file(hf_ / "config.json"));
  cfg["architectures"] = {"BloomForCausalLM"};
  { std::ofstream(hf_ / "config.json") << cfg.dump(); }
  expect_error("convert " + hf_.string() + " " + o, "unsupported architecture 'BloomForCausalLM'", o);
  cfg["architectures"] = {"LlamaForCausalLM"};
  { std::ofstream(hf_ / "config.json") << cfg.dump(); }

  // A corrupt safetensors header.
  std::string st = test::read_file(hf_ / "model.safetensors");
  const std::string good = st;
  st[0] = static_cast<char>(0xff);
  st[5] = static_cast<char>(0x7f);  // header length ~2^47
  { std::ofstream(hf_ / "model.safetensors", std::ios::binary) << st; }
  expect_error("convert " + hf_.string() + " " + o, "bad safetensors header", o);
  { std::ofstream(hf_ / "model.safetensors", std::ios::binary) << good.substr(0, good.size() / 2); }
  expect_error("convert " + hf_.string() + " " + o, "the file is truncated", o);
  { std::ofstream(hf_ / "model.safetensors", std::ios::binary) << good; }

  fs::remove(hf_ / "tokenizer.json");
  expect_error("convert " + hf_.string() + " " + o, "missing tokenizer.json", o);
}

TEST_F(ConvertCli, HelpListsTypesAndArchitectures) {
  const Result r = quarrel_cli("convert --help");
  EXPECT_EQ(r.status, 0);
  for (const char* s : {"HF_DIR", "--type", "q4_k_m", "q8_0", "Gemma3ForCausalLM", "Qwen3MoeForCausalLM", "Phi3ForCausalLM"})
    EXPECT_NE(r.out.find(s), std::string::npos) << s << " not in:\n" << r.out;
}

}  // namespace
}  // namespace quarrel
