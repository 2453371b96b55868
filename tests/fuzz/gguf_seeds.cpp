// Writes the seed corpus for fuzz_gguf: small GGUF files made by the project's own writer
// (every value type, nested arrays, several tensor types, custom alignment, version 2, a
// vocab-only file). Usage: seed_gguf OUT_DIR   (scripts/run-fuzzers runs it).
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include "gguf/gguf_writer.h"

using namespace quarrel;
using namespace quarrel::gguf;

namespace {

std::vector<uint8_t> pattern(size_t n) {
  std::vector<uint8_t> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = static_cast<uint8_t>(i * 37 + 11);
  return v;
}

void save(const std::filesystem::path& dir, const std::string& name, std::vector<uint8_t> bytes, bool v2 = false) {
  if (v2) bytes[4] = 2;
  std::ofstream(dir / name, std::ios::binary).write(reinterpret_cast<const char*>(bytes.data()),
                                                    static_cast<std::streamsize>(bytes.size()));
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s OUT_DIR\n", argv[0]);
    return 2;
  }
  const std::filesystem::path dir = argv[1];
  std::filesystem::create_directories(dir);

  GgufWriter all;  // every value type
  all.set("general.architecture", Value::string("llama"));
  all.set("a.u8", Value::u8(7));
  all.set("a.i8", Value::i8(-7));
  all.set("a.u16", Value::u16(700));
  all.set("a.i16", Value::i16(-700));
  all.set("a.u32", Value::u32(70000));
  all.set("a.i32", Value::i32(-70000));
  all.set("a.f32", Value::f32(0.5f));
  all.set("a.bool", Value::boolean(true));
  all.set("a.str", Value::string("héllo"));
  all.set("a.u64", Value::u64(1ull << 40));
  all.set("a.i64", Value::i64(-(1ll << 40)));
  all.set("a.f64", Value::f64(2.5));
  all.set("a.strs", Value::string_array({"<s>", "</s>", "▁the"}));
  all.set("a.nested", Value::array(ValueType::kArray, {Value::i32_array({1, 2}), Value::string_array({"x"})}));
  save(dir, "values.gguf", all.to_bytes());
  save(dir, "values_v2.gguf", all.to_bytes(), true);

  GgufWriter model;  // a tiny model: metadata plus tensors of several types
  model.set("general.architecture", Value::string("llama"));
  model.set("llama.context_length", Value::u32(128));
  model.set("llama.embedding_length", Value::u32(32));
  model.set("tokenizer.ggml.model", Value::string("llama"));
  model.set("tokenizer.ggml.tokens", Value::string_array({"<unk>", "<s>", "</s>", "a", "b"}));
  model.set("tokenizer.ggml.scores", Value::f32_array({0, 0, 0, -1, -2}));
  model.set("tokenizer.ggml.token_type", Value::i32_array({2, 3, 3, 1, 1}));
  model.set("general.file_type", Value::u32(7));
  model.add_tensor("token_embd.weight", GgmlType::Q8_0, {32, 5}, pattern(5 * 34));
  model.add_tensor("output_norm.weight", GgmlType::F32, {32}, pattern(128));
  model.add_tensor("blk.0.attn_q.weight", GgmlType::F16, {4, 4}, pattern(32));
  model.add_tensor("blk.0.ffn_up.weight", GgmlType::Q4_0, {32, 2}, pattern(36));
  save(dir, "model.gguf", model.to_bytes());

  GgufWriter kq;  // a K-quant block and a 4-d tensor
  kq.set("general.architecture", Value::string("qwen3"));
  kq.add_tensor("blk.0.ffn_down.weight", GgmlType::Q4_K, {256}, pattern(144));
  kq.add_tensor("t4", GgmlType::BF16, {1, 2, 1, 2}, pattern(8));
  save(dir, "kquant.gguf", kq.to_bytes());

  GgufWriter aligned;  // general.alignment
  aligned.set("general.architecture", Value::string("llama"));
  aligned.set_alignment(8);
  aligned.add_tensor("a", GgmlType::F32, {3}, pattern(12));
  aligned.add_tensor("b", GgmlType::I8, {5}, pattern(5));
  save(dir, "aligned.gguf", aligned.to_bytes());

  GgufWriter vocab;  // vocab-only, like ../shared/data/vocab
  vocab.set("general.architecture", Value::string("gpt2"));
  vocab.set("tokenizer.ggml.model", Value::string("gpt2"));
  vocab.set("tokenizer.ggml.tokens", Value::string_array({"!", "\"", "Ġthe", "ĠĠ"}));
  vocab.set("tokenizer.ggml.merges", Value::string_array({"Ġ t", "h e"}));
  vocab.set("tokenizer.ggml.add_bos_token", Value::boolean(false));
  vocab.set("tokenizer.chat_template", Value::string("{% for m in messages %}{{ m.content }}{% endfor %}"));
  save(dir, "vocab.gguf", vocab.to_bytes());

  GgufWriter empty;  // header only
  save(dir, "empty.gguf", empty.to_bytes());
  return 0;
}
