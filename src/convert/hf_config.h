#pragma once
// A Hugging Face config.json, read with the checks convert needs: typed fields with named
// errors, the nested text_config of multimodal checkpoints lifted to the top, and the RoPE
// settings normalised across transformers versions (4.x: rope_theta + rope_scaling; 5.x:
// rope_parameters {rope_theta, rope_type, ...}, per layer type for Gemma 3).
#include <nlohmann/json.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace quarrel::convert {

// RoPE of one kind of layer.
struct RopeConfig {
  double theta = 10000.0;
  std::string type = "default";  // default, linear, llama3, yarn, longrope, dynamic, ...
  std::optional<double> factor;
  std::optional<int64_t> original_max_position_embeddings;
  std::optional<double> low_freq_factor, high_freq_factor;  // llama3
  std::optional<double> attention_factor, beta_fast, beta_slow;  // yarn
  std::optional<double> partial_rotary_factor;
};

class HfConfig {
 public:
  // `source` names the file in errors ("DIR/config.json").
  HfConfig(nlohmann::json j, std::string source);

  const nlohmann::json& raw() const { return j_; }
  const std::string& source() const { return source_; }

  // architectures[0] ("LlamaForCausalLM"); Error(kInvalidFile) when absent.
  std::string architecture() const;
  std::string model_type() const;  // "" when absent

  bool has(std::string_view key) const;  // present and not null
  // The first of `keys` that is present and not null; Error(kInvalidFile) naming them otherwise.
  int64_t get_int(std::initializer_list<std::string_view> keys) const;
  double get_float(std::initializer_list<std::string_view> keys) const;
  std::optional<int64_t> opt_int(std::initializer_list<std::string_view> keys) const;
  std::optional<double> opt_float(std::initializer_list<std::string_view> keys) const;
  bool get_bool_or(std::string_view key, bool def) const;
  // A positive count (1 .. 2^31), with a named error otherwise.
  int64_t get_count(std::initializer_list<std::string_view> keys) const;

  // RoPE for full-attention layers and (when the config gives one) for sliding layers.
  RopeConfig rope() const;
  std::optional<RopeConfig> rope_sliding() const;

  // layer_types ("full_attention" / "sliding_attention"), when the config lists them.
  std::optional<std::vector<std::string>> layer_types() const;

 private:
  const nlohmann::json* find(std::string_view key) const;
  RopeConfig rope_from(const nlohmann::json& p, double default_theta) const;

  nlohmann::json j_;
  std::string source_;
};

}  // namespace quarrel::convert
