// llama.cpp's tokenizer test vectors (../shared/data/vocab/ggml-vocab-*.gguf.inp/.out, made with
// the Hugging Face tokenizers): every test string encodes to exactly the listed ids, without BOS.
// The .inp file holds the strings separated by lines "__ggml_vocab_test__" (the separator is
// "\n__ggml_vocab_test__\n", so a string has no trailing newline of its own); the .out file has
// one line of space-separated ids per string.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <sstream>

#include "common/test_data.h"
#include "gguf/gguf_file.h"
#include "tokenizer/tokenizer.h"

namespace quarrel::tokenizer {
namespace {

namespace fs = std::filesystem;

struct Case {
  std::string text;
  std::vector<int32_t> ids;
};

std::vector<Case> read_cases(const fs::path& gguf) {
  const std::string inp = test::read_file(gguf.string() + ".inp");
  const std::string out = test::read_file(gguf.string() + ".out");
  const std::string sep = "\n__ggml_vocab_test__\n";
  std::vector<std::string> texts;
  for (size_t pos = 0; pos < inp.size();) {
    const size_t next = inp.find(sep, pos);
    if (next == std::string::npos) {
      texts.push_back(inp.substr(pos));
      break;
    }
    texts.push_back(inp.substr(pos, next - pos));
    pos = next + sep.size();
  }
  std::vector<Case> cases;
  std::istringstream lines(out);
  std::string line;
  size_t i = 0;
  while (std::getline(lines, line)) {
    if (i >= texts.size()) ADD_FAILURE() << gguf << ": more .out lines than .inp strings";
    Case c{i < texts.size() ? texts[i] : "", {}};
    std::istringstream ids(line);
    int32_t id;
    while (ids >> id) c.ids.push_back(id);
    cases.push_back(std::move(c));
    ++i;
  }
  EXPECT_EQ(cases.size(), texts.size()) << gguf << ": .inp and .out disagree on the number of strings";
  return cases;
}

std::string show(const std::vector<int32_t>& ids) {
  std::string s;
  for (int32_t id : ids) {
    if (!s.empty()) s += ' ';
    s += std::to_string(id);
  }
  return s;
}

void check_vocab(const std::string& name, bool round_trip) {
  const fs::path path = test::data_path("vocab/ggml-vocab-" + name + ".gguf");
  const auto file = gguf::GgufFile::open(path.string());
  const Tokenizer tok = Tokenizer::from_gguf(file);
  const auto cases = read_cases(path);
  ASSERT_GT(cases.size(), 10u);
  for (const Case& c : cases) {
    const auto ids = tok.encode(c.text, /*add_special=*/false, /*parse_special=*/false);
    EXPECT_EQ(show(ids), show(c.ids)) << name << ": text '" << c.text << "'";
    if (round_trip) {
      EXPECT_EQ(tok.decode(ids), c.text) << name << ": decode(encode(x)) != x";
    }
  }
}

TEST(VocabGolden, LlamaSpm) { check_vocab("llama-spm", true); }
TEST(VocabGolden, Phi3) { check_vocab("phi-3", true); }
TEST(VocabGolden, Gpt2) { check_vocab("gpt-2", true); }
TEST(VocabGolden, Mpt) { check_vocab("mpt", true); }
TEST(VocabGolden, DeepseekCoder) { check_vocab("deepseek-coder", true); }
TEST(VocabGolden, BertBge) { check_vocab("bert-bge", false); }  // WordPiece lowercases: no round trip

// Every vocabulary file has its golden test above, or loads and round-trips plain text.
TEST(VocabGolden, EveryVocabFileLoads) {
  const std::vector<std::string> with_goldens = {"llama-spm", "phi-3", "gpt-2", "mpt", "deepseek-coder", "bert-bge"};
  size_t n = 0;
  for (const auto& e : fs::directory_iterator(test::data_path("vocab"))) {
    const std::string fname = e.path().filename().string();
    if (e.path().extension() != ".gguf") continue;
    ++n;
    const std::string name = fname.substr(std::string("ggml-vocab-").size(), fname.size() - 16);
    const bool has_golden = fs::exists(e.path().string() + ".inp");
    if (has_golden) {
      EXPECT_NE(std::find(with_goldens.begin(), with_goldens.end(), name), with_goldens.end())
          << fname << " has test strings but no golden test here";
    }
    const auto file = gguf::GgufFile::open(e.path().string());
    const Tokenizer tok = Tokenizer::from_gguf(file);
    EXPECT_GT(tok.n_tokens(), 1000) << fname;
    const std::string text = "Hello world, this is a test: 1234 + 5678 = 6912.\nNew line.";
    const auto ids = tok.encode(text, true, false);
    EXPECT_FALSE(ids.empty()) << fname;
    if (tok.kind() != VocabKind::kWpm) {
      EXPECT_EQ(tok.decode(ids, /*skip_special=*/true), text) << fname;
    }
  }
  EXPECT_GE(n, 8u);
}

}  // namespace
}  // namespace quarrel::tokenizer
