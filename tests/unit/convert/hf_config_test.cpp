// config.json reading: typed fields with named errors, text_config lifted, and RoPE settings
// the same whichever way transformers wrote them (4.x rope_theta + rope_scaling, 5.x
// rope_parameters, Gemma 3's per-layer-type rope_parameters).
#include <gtest/gtest.h>

#include "convert/hf_config.h"
#include "core/error.h"

namespace quarrel::convert {
namespace {

using json = nlohmann::json;

HfConfig cfg(const char* text) { return HfConfig(json::parse(text), "dir/config.json"); }

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(HfConfig, Transformers5RopeParameters) {
  const auto c = cfg(R"({"rope_parameters": {"rope_theta": 500000.0, "rope_type": "llama3", "factor": 8.0,
      "low_freq_factor": 1.0, "high_freq_factor": 4.0, "original_max_position_embeddings": 8192}})");
  const RopeConfig r = c.rope();
  EXPECT_EQ(r.theta, 500000.0);
  EXPECT_EQ(r.type, "llama3");
  EXPECT_EQ(r.factor, 8.0);
  EXPECT_EQ(r.low_freq_factor, 1.0);
  EXPECT_EQ(r.high_freq_factor, 4.0);
  EXPECT_EQ(r.original_max_position_embeddings, 8192);
  EXPECT_FALSE(c.rope_sliding());
}

TEST(HfConfig, Transformers4RopeThetaAndScaling) {
  const auto c = cfg(R"({"rope_theta": 1000000.0, "rope_scaling": {"type": "yarn", "factor": 4.0,
      "original_max_position_embeddings": 32768}})");
  const RopeConfig r = c.rope();
  EXPECT_EQ(r.theta, 1000000.0);
  EXPECT_EQ(r.type, "yarn");
  EXPECT_EQ(r.factor, 4.0);
  EXPECT_EQ(r.original_max_position_embeddings, 32768);

  const auto plain = cfg(R"({"rope_theta": 10000.0, "rope_scaling": null})");
  EXPECT_EQ(plain.rope().theta, 10000.0);
  EXPECT_EQ(plain.rope().type, "default");
  EXPECT_EQ(cfg("{}").rope().theta, 10000.0);  // the default when nothing is said
}

TEST(HfConfig, Gemma3PerLayerTypeRope) {
  const auto c = cfg(R"({"rope_parameters": {
      "full_attention": {"rope_type": "linear", "rope_theta": 1000000.0, "factor": 8.0},
      "sliding_attention": {"rope_type": "default", "rope_theta": 10000.0}},
      "layer_types": ["sliding_attention", "full_attention"]})");
  EXPECT_EQ(c.rope().theta, 1000000.0);
  EXPECT_EQ(c.rope().type, "linear");
  EXPECT_EQ(c.rope().factor, 8.0);
  ASSERT_TRUE(c.rope_sliding());
  EXPECT_EQ(c.rope_sliding()->theta, 10000.0);
  EXPECT_EQ(*c.layer_types(), (std::vector<std::string>{"sliding_attention", "full_attention"}));
  // transformers 4's Gemma 3: rope_local_base_freq.
  EXPECT_EQ(cfg(R"({"rope_theta": 1e6, "rope_local_base_freq": 10000.0})").rope_sliding()->theta, 10000.0);
}

TEST(HfConfig, TextConfigIsLifted) {
  const auto c = cfg(R"({"architectures": ["Gemma3ForConditionalGeneration"],
      "text_config": {"hidden_size": 2560, "num_hidden_layers": 34}, "vision_config": {"hidden_size": 1152}})");
  EXPECT_EQ(c.get_int({"hidden_size"}), 2560);
  EXPECT_EQ(c.get_count({"num_hidden_layers"}), 34);
  EXPECT_EQ(c.architecture(), "Gemma3ForConditionalGeneration");
}

TEST(HfConfig, TypedFieldsAndAlternatives) {
  const auto c = cfg(R"({"n_layer": 3, "hidden_size": 64, "rms_norm_eps": 1e-6, "tie_word_embeddings": true,
      "head_dim": null, "model_type": "llama"})");
  EXPECT_EQ(c.get_count({"num_hidden_layers", "n_layer"}), 3);
  EXPECT_EQ(c.get_float({"rms_norm_eps"}), 1e-6);
  EXPECT_TRUE(c.get_bool_or("tie_word_embeddings", false));
  EXPECT_FALSE(c.get_bool_or("missing", false));
  EXPECT_FALSE(c.has("head_dim"));  // null counts as absent
  EXPECT_FALSE(c.opt_int({"head_dim"}));
  EXPECT_EQ(c.model_type(), "llama");
}

TEST(HfConfig, NamedErrors) {
  const auto c = cfg(R"({"hidden_size": "big", "num_hidden_layers": 0, "tie_word_embeddings": 1})");
  EXPECT_NE(error_of([&] { c.get_int({"hidden_size"}); }).find("'hidden_size' should be an integer"), std::string::npos);
  EXPECT_NE(error_of([&] { c.get_count({"num_hidden_layers"}); }).find("out of range"), std::string::npos);
  EXPECT_NE(error_of([&] { c.get_int({"intermediate_size", "n_inner"}); }).find("missing 'intermediate_size' / 'n_inner'"),
            std::string::npos);
  EXPECT_NE(error_of([&] { c.get_bool_or("tie_word_embeddings", false); }).find("true or false"), std::string::npos);
  EXPECT_NE(error_of([&] { c.architecture(); }).find("architectures"), std::string::npos);
  EXPECT_NE(error_of([&] { c.get_int({"hidden_size"}); }).find("dir/config.json"), std::string::npos);
  EXPECT_THROW(HfConfig(json::array(), "x"), Error);
}

}  // namespace
}  // namespace quarrel::convert
