#pragma once
// A Hugging Face checkpoint directory: config.json, the weights (model.safetensors, or shards
// model-0000N-of-0000M.safetensors listed by model.safetensors.index.json), and the tokenizer
// and generation files. Shards are mmap'd; tensors are found by name across them.
#include <nlohmann/json.hpp>

#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "convert/hf_config.h"
#include "convert/safetensors.h"

namespace quarrel::convert {

class HfCheckpoint {
 public:
  // Throws Error(kNotFound) naming the missing file (config.json, the weights, a shard the
  // index lists), Error(kInvalidFile) for a bad JSON file or shard, Error(kUnsupported) for a
  // checkpoint with only PyTorch pickles.
  static HfCheckpoint open(const std::string& dir);

  const std::string& dir() const { return dir_; }
  const HfConfig& config() const { return *config_; }
  // Every tensor of every shard, in shard order then data order.
  const std::vector<const SafetensorsTensor*>& tensors() const { return order_; }
  const SafetensorsTensor* find(std::string_view name) const;
  // Throws Error(kNotFound, "DIR: no tensor 'name' in the checkpoint").
  const SafetensorsTensor& get(std::string_view name) const;
  size_t n_shards() const { return shards_.size(); }

  // Paths of the optional files ("" when absent).
  std::string tokenizer_json() const { return optional_file("tokenizer.json"); }
  std::string tokenizer_config_json() const { return optional_file("tokenizer_config.json"); }
  std::string generation_config_json() const { return optional_file("generation_config.json"); }
  std::string chat_template_jinja() const { return optional_file("chat_template.jinja"); }

  // Reads a JSON file of the checkpoint; Error(kInvalidFile) naming it when it does not parse.
  static nlohmann::json read_json(const std::string& path);

 private:
  HfCheckpoint() = default;
  std::string optional_file(const char* name) const;

  std::string dir_;
  std::unique_ptr<HfConfig> config_;
  std::vector<SafetensorsFile> shards_;
  std::vector<const SafetensorsTensor*> order_;
  std::unordered_map<std::string, const SafetensorsTensor*> by_name_;
};

}  // namespace quarrel::convert
