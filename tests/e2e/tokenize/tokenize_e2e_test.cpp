// `quarrel tokenize` as a user runs it: the real binary on the llama.cpp SentencePiece
// vocabulary (../shared/data/vocab/ggml-vocab-llama-spm.gguf). Expected ids come from that
// vocabulary's golden file (e.g. "Hello world" -> 15043 3186, "this is 🦙" -> ... 243 162 169 156).
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "common/test_data.h"

namespace quarrel {
namespace {
namespace fs = std::filesystem;

struct Result {
  int status;
  std::string out, err;
};

std::string quote(const std::string& s) {
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

std::string vocab() { return test::data_path("vocab/ggml-vocab-llama-spm.gguf").string(); }

Result run(const std::string& args) {
  const auto dir = test::temp_dir("qtok");
  const auto err_path = dir / "stderr";
  Result r;
  r.status = test::run_command(test::quarrel_binary().string() + " tokenize " + args + " 2>" + err_path.string(), &r.out);
  r.err = test::read_file(err_path);
  fs::remove_all(dir);
  return r;
}

TEST(TokenizeE2E, IdsAndPieces) {
  const auto r = run(quote(vocab()) + " 'Hello world'");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out, "1\t'<s>'\n15043\t' Hello'\n3186\t' world'\n");
}

TEST(TokenizeE2E, IdsOnlyAndNoBos) {
  auto r = run(quote(vocab()) + " 'Hello world' --ids");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out, "[1, 15043, 3186]\n");
  r = run(quote(vocab()) + " --no-bos --ids 'Hello world'");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out, "[15043, 3186]\n");
}

TEST(TokenizeE2E, SpecialTokensOnlyWithSpecial) {
  auto r = run(quote(vocab()) + " --no-bos --ids --special '<s>Hello'");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out, "[1, 15043]\n");
  r = run(quote(vocab()) + " --no-bos --ids '<s>Hello'");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out.find("[1,"), std::string::npos) << r.out;  // "<s>" stays text
}

TEST(TokenizeE2E, FileInputAndEscapedPieces) {
  const auto dir = test::temp_dir("qtokin");
  const auto path = dir / "in.txt";
  {
    std::ofstream(path, std::ios::binary) << " this is \xF0\x9F\xA6\x99.cpp\n'q'\\";
  }
  const auto r = run(quote(vocab()) + " --no-bos --file " + quote(path.string()));
  fs::remove_all(dir);
  ASSERT_EQ(r.status, 0) << r.err;
  // The llama's four bytes are byte tokens, each only part of a character: printed as \xNN.
  for (const char* want : {"29871\t' '\n", "445\t' this'\n", "243\t'\\xF0'\n", "162\t'\\x9F'\n", "169\t'\\xA6'\n",
                           "156\t'\\x99'\n", "\t'\\n'\n", "\t'\\''\n", "\t'\\'\\\\'\n"})
    EXPECT_NE(r.out.find(want), std::string::npos) << "missing '" << want << "' in:\n" << r.out;
}

TEST(TokenizeE2E, UserErrorsAreOneLine) {
  for (const std::string& args : {quote(vocab()), quote(vocab()) + " text --file /dev/null",
                                  std::string("/nonexistent.gguf hello"), quote(vocab()) + " --file /nonexistent.txt"}) {
    const auto r = run(args);
    EXPECT_NE(r.status, 0) << args;
    EXPECT_EQ(r.err.rfind("error: ", 0), 0u) << args << ": " << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << args << ": " << r.err;
  }
}

}  // namespace
}  // namespace quarrel
