// The tokenizer.json -> GGUF converter on small hand-made files (the real ones are compared with
// their JavaScript tokenizers in tests/golden/tokenizer).
#include "tokenizer/hf_tokenizer.h"

#include <gtest/gtest.h>

#include "core/error.h"
#include "gguf/gguf_file.h"
#include "gguf/gguf_writer.h"
#include "tokenizer/pre_tokenizer.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/unicode.h"

namespace quarrel::tokenizer {
namespace {

using json = nlohmann::json;

const gguf::Value* get(const GgufKeyValues& kv, std::string_view key) {
  for (const auto& [k, v] : kv)
    if (k == key) return &v;
  return nullptr;
}

json byte_level_json(const std::string& regex, bool ignore_merges, bool nfc) {
  json vocab = json::object();
  const auto& b2u = byte_to_unicode();
  for (int b = 0; b < 256; ++b) vocab[b2u[static_cast<size_t>(b)]] = b;
  vocab["Ġh"] = 256;
  vocab["Ġhi"] = 257;
  json j = {
      {"model", {{"type", "BPE"}, {"vocab", vocab}, {"merges", json::array({"Ġ h", json::array({"Ġh", "i"})})},
                 {"ignore_merges", ignore_merges}}},
      {"pre_tokenizer",
       {{"type", "Sequence"},
        {"pretokenizers",
         json::array({{{"type", "Split"}, {"pattern", {{"Regex", regex}}}, {"behavior", "Isolated"}},
                      {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"use_regex", false}}})}}},
      {"decoder", {{"type", "ByteLevel"}}},
      {"added_tokens", json::array({{{"id", 258}, {"content", "<|begin_of_text|>"}, {"special", true}},
                                    {{"id", 259}, {"content", "<think>"}, {"special", false}}})},
  };
  j["normalizer"] = nfc ? json{{"type", "NFC"}} : json();
  return j;
}

TEST(HfTokenizer, ByteLevelBpe) {
  const std::string llama3 = find_pre_tokenizer("llama-bpe")->regexes[0];
  const json cfg = {{"bos_token", "<|begin_of_text|>"}, {"eos_token", {{"content", "<think>"}}}, {"add_bos_token", true},
                    {"chat_template", "{{ messages }}"}};
  const json tj = byte_level_json(llama3, true, false);
  const GgufKeyValues kv = convert_hf_tokenizer(tj, &cfg);
  EXPECT_EQ(get(kv, "tokenizer.ggml.model")->as_string(), "gpt2");
  EXPECT_EQ(get(kv, "tokenizer.ggml.pre")->as_string(), "llama-bpe");
  EXPECT_EQ(get(kv, "tokenizer.ggml.tokens")->size(), 260u);
  EXPECT_EQ(get(kv, "tokenizer.ggml.merges")->as_string_array(), (std::vector<std::string>{"Ġ h", "Ġh i"}));
  const auto types = get(kv, "tokenizer.ggml.token_type")->as_int_array();
  EXPECT_EQ(types[0], 1);
  EXPECT_EQ(types[258], 3);  // special -> control
  EXPECT_EQ(types[259], 4);  // not special -> user-defined
  EXPECT_EQ(get(kv, "tokenizer.ggml.bos_token_id")->as_uint(), 258u);
  EXPECT_EQ(get(kv, "tokenizer.ggml.eos_token_id")->as_uint(), 259u);
  EXPECT_TRUE(get(kv, "tokenizer.ggml.add_bos_token")->as_bool());
  EXPECT_EQ(get(kv, "tokenizer.chat_template")->as_string(), "{{ messages }}");

  // Through a GGUF file and back into a working tokenizer.
  gguf::GgufWriter w;
  w.set("general.architecture", gguf::Value::string("llama"));
  set_gguf_metadata(w, kv);
  const std::vector<uint8_t> bytes = w.to_bytes();
  const auto file = gguf::GgufFile::parse(bytes, "test.gguf");
  const Tokenizer tok = Tokenizer::from_gguf(file);
  EXPECT_EQ(tok.encode(" hi<|begin_of_text|>", true, true), (std::vector<int32_t>{258, 257, 258}));
  EXPECT_EQ(tok.decode(tok.encode("hi there", false, false)), "hi there");
}

TEST(HfTokenizer, PreTokenizerNameFromTheRules) {
  const std::string llama3 = find_pre_tokenizer("llama-bpe")->regexes[0];
  const std::string qwen2 = find_pre_tokenizer("qwen2")->regexes[0];
  auto pre = [](const json& tj) { return get(convert_hf_tokenizer(tj, nullptr), "tokenizer.ggml.pre")->as_string(); };
  EXPECT_EQ(pre(byte_level_json(llama3, true, false)), "llama-bpe");
  EXPECT_EQ(pre(byte_level_json(llama3, false, false)), "dbrx");  // same split, merges always applied
  EXPECT_EQ(pre(byte_level_json(qwen2, false, true)), "qwen2");    // Qwen: NFC first
  EXPECT_EQ(pre(byte_level_json(qwen2, false, false)), "stablelm2");
  // GPT-2: the ByteLevel pre-tokenizer's own regex.
  json gpt2 = byte_level_json(llama3, false, false);
  gpt2["pre_tokenizer"] = {{"type", "ByteLevel"}, {"add_prefix_space", false}};
  EXPECT_EQ(pre(gpt2), "gpt-2");
  // StarCoder: digits one by one, then GPT-2.
  json star = gpt2;
  star["pre_tokenizer"] = {{"type", "Sequence"},
                           {"pretokenizers", json::array({{{"type", "Digits"}, {"individual_digits", true}},
                                                          {{"type", "ByteLevel"}, {"use_regex", true}}})}};
  EXPECT_EQ(pre(star), "starcoder");
  // Rules nobody writes: an error that names them.
  try {
    convert_hf_tokenizer(byte_level_json("[a-z]+|\\d", false, false), nullptr);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kUnsupported);
    EXPECT_NE(std::string(e.what()).find("[a-z]+"), std::string::npos) << e.what();
  }
}

TEST(HfTokenizer, SentencePieceBpeWithByteFallback) {
  json vocab = {{"<unk>", 0}, {"<s>", 1}, {"</s>", 2}};
  for (int b = 0; b < 256; ++b) vocab[fmt::format("<0x{:02X}>", b)] = 3 + b;
  int next = 259;
  for (const char* t : {"▁", "a", "b", "ab", "▁ab", "▁a"}) vocab[t] = next++;
  const json tj = {
      {"model", {{"type", "BPE"}, {"vocab", vocab}, {"merges", json::array({"a b", "▁ ab", "▁ a"})},
                 {"byte_fallback", true}, {"unk_token", "<unk>"}}},
      {"normalizer", {{"type", "Sequence"},
                      {"normalizers", json::array({{{"type", "Prepend"}, {"prepend", "▁"}},
                                                   {{"type", "Replace"}, {"pattern", {{"String", " "}}}, {"content", "▁"}}})}}},
      {"post_processor", {{"type", "TemplateProcessing"},
                          {"single", json::array({{{"SpecialToken", {{"id", "<s>"}, {"type_id", 0}}}},
                                                  {{"Sequence", {{"id", "A"}, {"type_id", 0}}}}})},
                          {"special_tokens", {{"<s>", {{"id", "<s>"}, {"ids", json::array({1})}}}}}}},
      {"added_tokens", json::array({{{"id", 0}, {"content", "<unk>"}, {"special", true}},
                                    {{"id", 1}, {"content", "<s>"}, {"special", true}},
                                    {{"id", 2}, {"content", "</s>"}, {"special", true}}})},
  };
  const GgufKeyValues kv = convert_hf_tokenizer(tj, nullptr, HfConvertOptions{270});
  EXPECT_EQ(get(kv, "tokenizer.ggml.model")->as_string(), "llama");
  EXPECT_TRUE(get(kv, "tokenizer.ggml.add_space_prefix")->as_bool());
  EXPECT_TRUE(get(kv, "tokenizer.ggml.add_bos_token")->as_bool());
  EXPECT_EQ(get(kv, "tokenizer.ggml.bos_token_id")->as_uint(), 1u);
  EXPECT_EQ(get(kv, "tokenizer.ggml.unknown_token_id")->as_uint(), 0u);
  const auto types = get(kv, "tokenizer.ggml.token_type")->as_int_array();
  ASSERT_EQ(types.size(), 270u);  // padded to vocab_size
  EXPECT_EQ(types[0], 2);         // unknown
  EXPECT_EQ(types[1], 3);
  EXPECT_EQ(types[3], 6);  // <0x00>: byte
  EXPECT_EQ(types[259], 1);
  EXPECT_EQ(types[269], 5);  // padding: unused
  EXPECT_EQ(get(kv, "tokenizer.ggml.tokens")->as_string_array()[269], "[PAD269]");
  const auto scores = get(kv, "tokenizer.ggml.scores")->as_float_array();
  EXPECT_EQ(scores[262], -0.0f);  // "ab": merge 0
  EXPECT_EQ(scores[263], -1.0f);  // "▁ab": merge 1
  EXPECT_EQ(scores[264], -2.0f);  // "▁a": merge 2

  gguf::GgufWriter w;
  w.set("general.architecture", gguf::Value::string("llama"));
  set_gguf_metadata(w, kv);
  const std::vector<uint8_t> bytes = w.to_bytes();
  const auto file = gguf::GgufFile::parse(bytes, "spm.gguf");
  const Tokenizer tok = Tokenizer::from_gguf(file);
  // "▁ab": merges a+b first (rank 0), then ▁+ab; the "▁a" merge never gets its turn.
  EXPECT_EQ(tok.encode("ab", true, false), (std::vector<int32_t>{1, 263}));
  EXPECT_EQ(tok.encode("ac", false, false), (std::vector<int32_t>{264, 3 + 'c'}));  // c: byte fallback
  EXPECT_EQ(tok.decode(tok.encode("ab ac", false, false)), "ab ac");
}

TEST(HfTokenizer, WordPiece) {
  const json tj = {
      {"model", {{"type", "WordPiece"}, {"vocab", {{"[PAD]", 0}, {"[UNK]", 1}, {"[CLS]", 2}, {"[SEP]", 3}, {"hello", 4}, {"##lo", 5}}},
                 {"unk_token", "[UNK]"}}},
      {"normalizer", {{"type", "BertNormalizer"}, {"lowercase", false}}},
      {"added_tokens", json::array({{{"id", 0}, {"content", "[PAD]"}, {"special", true}},
                                    {{"id", 1}, {"content", "[UNK]"}, {"special", true}},
                                    {{"id", 2}, {"content", "[CLS]"}, {"special", true}},
                                    {{"id", 3}, {"content", "[SEP]"}, {"special", true}}})},
  };
  const json cfg = {{"cls_token", "[CLS]"}, {"sep_token", "[SEP]"}, {"pad_token", "[PAD]"}, {"unk_token", "[UNK]"}};
  const GgufKeyValues kv = convert_hf_tokenizer(tj, &cfg);
  EXPECT_EQ(get(kv, "tokenizer.ggml.model")->as_string(), "bert");
  EXPECT_EQ(get(kv, "tokenizer.ggml.tokens")->as_string_array(),
            (std::vector<std::string>{"[PAD]", "[UNK]", "[CLS]", "[SEP]", "▁hello", "lo"}));
  EXPECT_FALSE(get(kv, "tokenizer.ggml.normalizer.lowercase")->as_bool());
  EXPECT_EQ(get(kv, "tokenizer.ggml.bos_token_id")->as_uint(), 2u);
  EXPECT_EQ(get(kv, "tokenizer.ggml.seperator_token_id")->as_uint(), 3u);
}

TEST(HfTokenizer, RejectsWhatItCannotConvert) {
  EXPECT_THROW(convert_hf_tokenizer(json{{"model", {{"type", "Unigram"}, {"vocab", json::array()}}}}, nullptr), Error);
  EXPECT_THROW(convert_hf_tokenizer(json::object(), nullptr), Error);
  EXPECT_THROW(convert_hf_tokenizer_files("/nonexistent/tokenizer.json", ""), Error);
}

}  // namespace
}  // namespace quarrel::tokenizer
