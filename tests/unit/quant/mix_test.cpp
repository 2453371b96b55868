// Per-tensor type choices of the quantization mixes on synthetic models: the layer-position
// bumps of the *_M mixes, tied embeddings, fallbacks for rows that do not fit a block, what
// is never quantized, and llama.cpp's tensor order.
#include <gtest/gtest.h>

#include <map>

#include "quant/mix.h"

namespace quarrel::quant {
namespace {

using Shape = std::vector<uint64_t>;

std::vector<TensorDesc> llama_like(int n_layer, bool tied = false, uint64_t n_embd = 256) {
  std::vector<TensorDesc> t;
  t.push_back({"token_embd.weight", {n_embd, 1000}, GgmlType::F16});
  for (int i = 0; i < n_layer; ++i) {
    const std::string p = "blk." + std::to_string(i) + ".";
    for (const char* n : {"attn_q", "attn_k", "attn_v", "attn_output", "ffn_gate", "ffn_up"})
      t.push_back({p + n + ".weight", {n_embd, n_embd}, GgmlType::F16});
    t.push_back({p + "ffn_down.weight", {n_embd, n_embd}, GgmlType::F16});
    t.push_back({p + "attn_norm.weight", {n_embd}, GgmlType::F32});
    t.push_back({p + "ffn_norm.weight", {n_embd}, GgmlType::F32});
  }
  t.push_back({"output_norm.weight", {n_embd}, GgmlType::F32});
  if (!tied) t.push_back({"output.weight", {n_embd, 1000}, GgmlType::F16});
  return t;
}

ModelShape shape(int n_layer, int n_head = 32, int n_head_kv = 8, int n_expert = 0) {
  ModelShape m;
  m.arch = "llama";
  m.n_layer = n_layer;
  m.n_head = n_head;
  m.n_head_kv = n_head_kv;
  m.n_expert = n_expert;
  return m;
}

// name -> chosen type, with the tensors put in quantization order first (as the tool does).
std::map<std::string, GgmlType> choose(const char* mix, const ModelShape& m, const std::vector<TensorDesc>& t) {
  const auto* mx = find_mix(mix);
  EXPECT_NE(mx, nullptr) << mix;
  std::vector<TensorDesc> ordered;
  for (size_t i : quantization_order(t)) ordered.push_back(t[i]);
  const auto c = choose_types(*mx, m, ordered);
  std::map<std::string, GgmlType> out;
  for (size_t i = 0; i < ordered.size(); ++i) out[ordered[i].name] = c[i].type;
  return out;
}

std::string blk(int i, const char* n) { return "blk." + std::to_string(i) + "." + n + ".weight"; }

bool more_bits(int i, int n) { return i < n / 8 || i >= 7 * n / 8 || (i - n / 8) % 3 == 2; }

TEST(Mix, NamesAndLookup) {
  EXPECT_EQ(find_mix("q4_k_m"), find_mix("Q4_K_M"));
  EXPECT_EQ(find_mix("Q4_K_M")->file_type, 15u);
  EXPECT_EQ(find_mix("Q4_K_M")->base, GgmlType::Q4_K);
  EXPECT_EQ(find_mix("Q8_0")->file_type, 7u);
  EXPECT_EQ(find_mix("BF16")->file_type, 32u);
  EXPECT_EQ(find_mix("IQ4_XS")->file_type, 30u);
  EXPECT_EQ(find_mix("Q4_K_X"), nullptr);
  EXPECT_EQ(find_mix(""), nullptr);
  for (const auto& m : quant_mixes()) EXPECT_NE(mix_names().find(m.name), std::string::npos);
}

TEST(Mix, QuantizationOrderIsLayerThenName) {
  const std::vector<TensorDesc> t = {{"blk.10.a.weight", {32, 2}, GgmlType::F32}, {"blk.2.b.weight", {32, 2}, GgmlType::F32},
                                     {"token_embd.weight", {32, 2}, GgmlType::F32}, {"blk.2.a.weight", {32, 2}, GgmlType::F32},
                                     {"output.weight", {32, 2}, GgmlType::F32},     {"blkx.weight", {32, 2}, GgmlType::F32}};
  std::vector<std::string> names;
  for (size_t i : quantization_order(t)) names.push_back(t[i].name);
  EXPECT_EQ(names, (std::vector<std::string>{"blkx.weight", "output.weight", "token_embd.weight", "blk.2.a.weight",
                                             "blk.2.b.weight", "blk.10.a.weight"}));
}

TEST(Mix, Q4_K_MBumpsAttnVAndFfnDownByLayer) {
  constexpr int n = 32;
  const auto c = choose("Q4_K_M", shape(n), llama_like(n));
  EXPECT_EQ(c.at("output.weight"), GgmlType::Q6_K);
  EXPECT_EQ(c.at("token_embd.weight"), GgmlType::Q4_K);
  EXPECT_EQ(c.at("output_norm.weight"), GgmlType::F32);
  int bumped = 0;
  for (int i = 0; i < n; ++i) {
    const auto want = more_bits(i, n) ? GgmlType::Q6_K : GgmlType::Q4_K;
    EXPECT_EQ(c.at(blk(i, "attn_v")), want) << i;
    EXPECT_EQ(c.at(blk(i, "ffn_down")), want) << i;
    bumped += want == GgmlType::Q6_K;
    for (const char* other : {"attn_q", "attn_k", "attn_output", "ffn_gate", "ffn_up"})
      EXPECT_EQ(c.at(blk(i, other)), GgmlType::Q4_K) << blk(i, other);
    EXPECT_EQ(c.at(blk(i, "attn_norm")), GgmlType::F32);
  }
  EXPECT_EQ(bumped, 16);  // layers 0-3, 28-31 and every third in between
  // Q5_K_M: the same layers in Q6_K, the rest Q5_K.
  const auto c5 = choose("Q5_K_M", shape(n), llama_like(n));
  for (int i = 0; i < n; ++i)
    EXPECT_EQ(c5.at(blk(i, "ffn_down")), more_bits(i, n) ? GgmlType::Q6_K : GgmlType::Q5_K) << i;
}

TEST(Mix, SmallAndLargeKQuantMixes) {
  constexpr int n = 32;
  const auto m = shape(n);  // n_gqa = 4
  const auto q2 = choose("Q2_K", m, llama_like(n));
  const auto q3m = choose("Q3_K_M", m, llama_like(n));
  const auto q3l = choose("Q3_K_L", m, llama_like(n));
  const auto q4s = choose("Q4_K_S", m, llama_like(n));
  const auto nl = choose("IQ4_NL", m, llama_like(n));
  for (int i = 0; i < n; ++i) {
    EXPECT_EQ(q2.at(blk(i, "attn_v")), GgmlType::Q4_K);  // n_gqa >= 4
    EXPECT_EQ(q2.at(blk(i, "ffn_down")), GgmlType::Q3_K);
    EXPECT_EQ(q2.at(blk(i, "attn_output")), GgmlType::Q3_K);
    EXPECT_EQ(q2.at(blk(i, "attn_q")), GgmlType::Q2_K);
    EXPECT_EQ(q3m.at(blk(i, "attn_v")), i < 2 ? GgmlType::Q5_K : GgmlType::Q4_K);
    EXPECT_EQ(q3m.at(blk(i, "ffn_down")), i < n / 16 ? GgmlType::Q5_K : GgmlType::Q4_K);
    EXPECT_EQ(q3m.at(blk(i, "attn_output")), GgmlType::Q4_K);
    EXPECT_EQ(q3l.at(blk(i, "attn_v")), GgmlType::Q5_K);
    EXPECT_EQ(q3l.at(blk(i, "attn_output")), GgmlType::Q5_K);
    EXPECT_EQ(q4s.at(blk(i, "attn_v")), i < 4 ? GgmlType::Q5_K : GgmlType::Q4_K);
    EXPECT_EQ(q4s.at(blk(i, "ffn_down")), i < n / 8 ? GgmlType::Q5_K : GgmlType::Q4_K);
    EXPECT_EQ(nl.at(blk(i, "attn_v")), GgmlType::Q5_K);  // n_gqa >= 4
    EXPECT_EQ(nl.at(blk(i, "ffn_down")), i < n / 8 ? GgmlType::Q5_K : GgmlType::IQ4_NL);
  }
  // Without grouped-query attention Q2_K's attn_v gets Q3_K.
  EXPECT_EQ(choose("Q2_K", shape(n, 32, 32), llama_like(n)).at(blk(0, "attn_v")), GgmlType::Q3_K);
  // 70B-like: attn_v in Q5_K.
  auto m70 = shape(80, 64, 8);
  m70.is_70b = true;
  EXPECT_EQ(choose("Q3_K_S", m70, llama_like(80)).at(blk(40, "attn_v")), GgmlType::Q5_K);
}

TEST(Mix, TiedEmbeddingsTakeTheOutputType) {
  const auto c = choose("Q4_K_M", shape(2), llama_like(2, /*tied=*/true));
  EXPECT_EQ(c.at("token_embd.weight"), GgmlType::Q6_K);
  EXPECT_EQ(choose("Q8_0", shape(2), llama_like(2, true)).at("token_embd.weight"), GgmlType::Q8_0);
  EXPECT_EQ(choose("Q4_0", shape(2), llama_like(2, false)).at("token_embd.weight"), GgmlType::Q4_0);
  EXPECT_EQ(choose("Q4_0", shape(2), llama_like(2, false)).at("output.weight"), GgmlType::Q6_K);
  EXPECT_EQ(choose("Q8_0", shape(2), llama_like(2, false)).at("output.weight"), GgmlType::Q8_0);
}

TEST(Mix, HalfMixesConvertEveryMatrixAndKeepVectors) {
  for (const char* mix : {"F16", "BF16"}) {
    const auto want = std::string(mix) == "F16" ? GgmlType::F16 : GgmlType::BF16;
    for (const auto& [name, type] : choose(mix, shape(2), llama_like(2))) {
      if (name.find("norm") != std::string::npos) EXPECT_EQ(type, GgmlType::F32) << name;
      else EXPECT_EQ(type, want) << mix << " " << name;
    }
  }
}

TEST(Mix, FallbackWhenRowsDoNotFitTheBlock) {
  const auto* mix = find_mix("Q4_K_M");
  std::vector<TensorDesc> t = {{"blk.0.attn_q.weight", {288, 4}, GgmlType::F32},
                               {"blk.0.attn_k.weight", {100, 4}, GgmlType::F32},
                               {"output.weight", {288, 4}, GgmlType::F32}};
  const auto c = choose_types(*mix, shape(1), t);
  EXPECT_EQ(c[0].type, GgmlType::Q5_0);
  EXPECT_TRUE(c[0].fallback);
  EXPECT_EQ(c[1].type, GgmlType::F16);  // not even a multiple of 32
  EXPECT_TRUE(c[1].fallback);
  EXPECT_EQ(c[2].type, GgmlType::Q8_0);  // the output's own rule
  const std::pair<const char*, GgmlType> table[] = {{"Q2_K", GgmlType::Q4_0},   {"Q3_K_S", GgmlType::Q4_0},
                                                    {"Q5_K_S", GgmlType::Q5_1}, {"Q6_K", GgmlType::Q8_0},
                                                    {"IQ4_XS", GgmlType::IQ4_NL}, {"Q4_0", GgmlType::Q4_0}};
  for (const auto& [name, want] : table)
    EXPECT_EQ(choose_types(*find_mix(name), shape(1), std::vector<TensorDesc>{t[0]})[0].type, want) << name;
}

TEST(Mix, WhatIsNeverQuantized) {
  EXPECT_FALSE(tensor_allows_quantization({"blk.0.attn_norm.weight", {256}, GgmlType::F32}));
  EXPECT_FALSE(tensor_allows_quantization({"blk.0.attn_q.weight", {256, 1}, GgmlType::F32}));  // 1-D in effect
  EXPECT_FALSE(tensor_allows_quantization({"blk.0.attn_q.bias", {256, 4}, GgmlType::F32}));
  EXPECT_FALSE(tensor_allows_quantization({"blk.0.ffn_gate_inp.weight", {256, 8}, GgmlType::F32}));
  EXPECT_FALSE(tensor_allows_quantization({"blk.0.attn_q_norm.weight", {64, 4}, GgmlType::F32}));
  EXPECT_FALSE(tensor_allows_quantization({"position_embd.weight", {256, 4}, GgmlType::F32}));
  EXPECT_TRUE(tensor_allows_quantization({"blk.0.ffn_down_exps.weight", {256, 4, 8}, GgmlType::F32}));
  // Tensors that are not quantized keep their type, whatever it is.
  const auto c = choose_types(*find_mix("Q4_0"), shape(1),
                              std::vector<TensorDesc>{{"blk.0.attn_norm.weight", {256}, GgmlType::F16},
                                                      {"rope_freqs.weight", {32}, GgmlType::F32}});
  EXPECT_EQ(c[0].type, GgmlType::F16);
  EXPECT_EQ(c[1].type, GgmlType::F32);
}

TEST(Mix, EightExpertModels) {
  auto m = shape(4, 32, 8, 8);
  std::vector<TensorDesc> t;
  for (int i = 0; i < 4; ++i) {
    t.push_back({blk(i, "attn_v"), {256, 256}, GgmlType::F16});
    t.push_back({blk(i, "attn_k"), {256, 256}, GgmlType::F16});
    t.push_back({blk(i, "attn_output"), {256, 256}, GgmlType::F16});
    t.push_back({blk(i, "ffn_down_exps"), {256, 256, 8}, GgmlType::F16});
  }
  const auto c = choose("Q4_K_M", m, t);
  EXPECT_EQ(c.at(blk(1, "attn_v")), GgmlType::Q8_0);
  EXPECT_EQ(c.at(blk(1, "attn_k")), GgmlType::Q8_0);
  EXPECT_EQ(c.at(blk(1, "attn_output")), GgmlType::Q5_K);
  // The layer comes from the name: with 4 layers, layers 2 and 3 get more bits.
  EXPECT_EQ(c.at(blk(1, "ffn_down_exps")), GgmlType::Q4_K);
  EXPECT_EQ(c.at(blk(2, "ffn_down_exps")), GgmlType::Q6_K);
  EXPECT_EQ(c.at(blk(3, "ffn_down_exps")), GgmlType::Q6_K);
}

}  // namespace
}  // namespace quarrel::quant
