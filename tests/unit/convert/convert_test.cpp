// convert_hf on tiny checkpoints of all ten architectures, written by the test: the GGUF keys
// and tensor names llama.cpp writes, tensor values where they are copied, offset (Gemma),
// stacked (MoE) or permuted (Llama Q/K, checked through what RoPE computes with them), the
// tokenizer, the file types, sharded and BF16 inputs, and a named error for each way a
// checkpoint can be broken. For the Llama family the converted model runs on the CPU backend
// and matches a float64 forward pass with Hugging Face semantics.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <map>
#include <numbers>
#include <set>

#include "backend/cpu_backend.h"
#include "common/test_data.h"
#include "convert/converter.h"
#include "core/error.h"
#include "core/fp16.h"
#include "gguf/gguf_file.h"
#include "hf_llama_reference.h"
#include "model/model.h"
#include "quant/quant.h"
#include "reference/tiny_checkpoint.h"

namespace quarrel::convert {
namespace {

namespace fs = std::filesystem;
using test::TinyCheckpoint;
using test::TinyOptions;

struct Converted {
  fs::path dir;
  std::string gguf;
  TinyCheckpoint ckpt;
};

Converted convert_tiny(const std::string& family, const TinyOptions& opt = {}, const std::string& type = "f32") {
  Converted c;
  c.dir = test::temp_dir("quarrel-convert-" + family);
  c.ckpt = test::make_tiny(family, opt);
  test::write_tiny(c.ckpt, c.dir / "hf", opt);
  c.gguf = (c.dir / "out.gguf").string();
  ConvertOptions o;
  o.type = type;
  o.n_threads = 2;
  convert_hf((c.dir / "hf").string(), c.gguf, o);
  return c;
}

std::vector<float> tensor_f32(const gguf::GgufFile& f, const std::string& name) {
  const auto& t = f.tensor(name);
  EXPECT_EQ(t.type, GgmlType::F32) << name;
  const auto d = f.tensor_data(t);
  std::vector<float> v(d.size() / 4);
  std::memcpy(v.data(), d.data(), d.size());
  return v;
}

std::string error_of(const std::function<void()>& f, ErrorCode* code = nullptr) {
  try {
    f();
  } catch (const Error& e) {
    if (code) *code = e.code();
    return e.what();
  }
  return "";
}

// The GGUF architecture and tensors llama.cpp's converter writes for each tiny checkpoint.
const std::map<std::string, std::string> kGgufArch = {
    {"llama", "llama"},   {"mistral", "mistral"}, {"mixtral", "llama"},   {"granite", "granite"}, {"qwen2", "qwen2"},
    {"qwen3", "qwen3"},   {"qwen3moe", "qwen3moe"}, {"gemma2", "gemma2"}, {"gemma3", "gemma3"},   {"phi3", "phi3"}};

std::set<std::string> expected_tensors(const std::string& family) {
  std::set<std::string> s = {"token_embd.weight", "output_norm.weight"};
  if (family == "llama" || family == "mistral" || family == "mixtral" || family == "qwen3moe" || family == "phi3")
    s.insert("output.weight");
  for (int l = 0; l < 2; ++l) {
    const std::string p = "blk." + std::to_string(l) + ".";
    std::vector<std::string> per = {"attn_norm.weight", "attn_output.weight", "ffn_norm.weight"};
    if (family == "phi3") {
      per.insert(per.end(), {"attn_qkv.weight", "ffn_up.weight", "ffn_down.weight"});
    } else {
      per.insert(per.end(), {"attn_q.weight", "attn_k.weight", "attn_v.weight"});
      if (family == "mixtral" || family == "qwen3moe")
        per.insert(per.end(), {"ffn_gate_inp.weight", "ffn_gate_exps.weight", "ffn_up_exps.weight", "ffn_down_exps.weight"});
      else
        per.insert(per.end(), {"ffn_gate.weight", "ffn_up.weight", "ffn_down.weight"});
    }
    if (family == "qwen2") per.insert(per.end(), {"attn_q.bias", "attn_k.bias", "attn_v.bias"});
    if (family == "qwen3" || family == "qwen3moe" || family == "gemma3")
      per.insert(per.end(), {"attn_q_norm.weight", "attn_k_norm.weight"});
    if (family == "gemma2" || family == "gemma3") per.insert(per.end(), {"post_attention_norm.weight", "post_ffw_norm.weight"});
    for (const auto& t : per) s.insert(p + t);
  }
  return s;
}

class EveryArch : public ::testing::TestWithParam<std::string> {};

TEST_P(EveryArch, KeysAndTensorNamesAreLlamaCpps) {
  const std::string family = GetParam();
  const auto c = convert_tiny(family);
  const auto f = gguf::GgufFile::open(c.gguf);
  const std::string arch = kGgufArch.at(family);
  EXPECT_EQ(f.get_string("general.architecture"), arch);
  EXPECT_EQ(f.get_uint("general.file_type"), 0u);  // ALL_F32
  EXPECT_EQ(f.get_uint(arch + ".block_count"), 2u);
  EXPECT_EQ(f.get_uint(arch + ".embedding_length"), 64u);
  EXPECT_EQ(f.get_uint(arch + ".feed_forward_length"), 96u);
  EXPECT_EQ(f.get_uint(arch + ".attention.head_count"), 4u);
  EXPECT_EQ(f.get_uint(arch + ".attention.head_count_kv"), 2u);
  EXPECT_EQ(f.get_uint(arch + ".context_length"), 256u);
  EXPECT_NEAR(f.get_float(arch + ".attention.layer_norm_rms_epsilon"), 1e-5, 1e-12);
  std::set<std::string> names;
  for (const auto& t : f.tensors()) {
    names.insert(t.name);
    EXPECT_EQ(t.type, GgmlType::F32) << t.name;
  }
  EXPECT_EQ(names, expected_tensors(family));
  // Tokenizer: the byte-level BPE, padded to the 300 embedding rows.
  EXPECT_EQ(f.get_string("tokenizer.ggml.model"), "gpt2");
  EXPECT_EQ(f.get_string_array("tokenizer.ggml.tokens").size(), 300u);
  EXPECT_EQ(f.get_uint("tokenizer.ggml.bos_token_id"), 258u);
  EXPECT_EQ(f.get_uint("tokenizer.ggml.eos_token_id"), 259u);
  EXPECT_TRUE(f.get_bool("tokenizer.ggml.add_bos_token"));
  EXPECT_EQ(f.get_string("tokenizer.chat_template"), "{% for m in messages %}{{ m['content'] }}{% endfor %}");
  fs::remove_all(c.dir);
}

INSTANTIATE_TEST_SUITE_P(Convert, EveryArch, ::testing::ValuesIn(test::tiny_families()),
                         [](const auto& param_info) { return param_info.param; });

TEST(Convert, ArchitectureSpecificKeys) {
  {
    const auto c = convert_tiny("llama");
    const auto f = gguf::GgufFile::open(c.gguf);
    EXPECT_EQ(f.get_uint("llama.vocab_size"), 300u);
    EXPECT_EQ(f.get_uint("llama.rope.dimension_count"), 16u);
    EXPECT_EQ(f.get_float("llama.rope.freq_base"), 10000.0);
    EXPECT_FALSE(f.has("llama.attention.key_length"));  // head_dim not in config.json
    fs::remove_all(c.dir);
  }
  {
    const auto c = convert_tiny("mistral");
    const auto f = gguf::GgufFile::open(c.gguf);
    EXPECT_EQ(f.get_uint("mistral.attention.sliding_window"), 16u);
    fs::remove_all(c.dir);
  }
  {
    const auto c = convert_tiny("mixtral");
    const auto f = gguf::GgufFile::open(c.gguf);
    EXPECT_EQ(f.get_uint("llama.expert_count"), 4u);
    EXPECT_EQ(f.get_uint("llama.expert_used_count"), 2u);
    fs::remove_all(c.dir);
  }
  {
    const auto c = convert_tiny("granite");
    const auto f = gguf::GgufFile::open(c.gguf);
    EXPECT_FLOAT_EQ(static_cast<float>(f.get_float("granite.embedding_scale")), 12.0f);
    EXPECT_FLOAT_EQ(static_cast<float>(f.get_float("granite.residual_scale")), 0.22f);
    EXPECT_FLOAT_EQ(static_cast<float>(f.get_float("granite.attention.scale")), 0.0625f);
    EXPECT_FLOAT_EQ(static_cast<float>(f.get_float("granite.logit_scale")), 4.0f);
    fs::remove_all(c.dir);
  }
  {
    const auto c = convert_tiny("qwen3");
    const auto f = gguf::GgufFile::open(c.gguf);
    EXPECT_EQ(f.get_uint("qwen3.attention.key_length"), 24u);
    EXPECT_EQ(f.get_uint("qwen3.attention.value_length"), 24u);
    EXPECT_EQ(f.get_float("qwen3.rope.freq_base"), 1000000.0);
    fs::remove_all(c.dir);
  }
  {
    const auto c = convert_tiny("qwen3moe");
    const auto f = gguf::GgufFile::open(c.gguf);
    EXPECT_EQ(f.get_uint("qwen3moe.expert_count"), 4u);
    EXPECT_EQ(f.get_uint("qwen3moe.expert_used_count"), 2u);
    EXPECT_EQ(f.get_uint("qwen3moe.expert_feed_forward_length"), 32u);
    fs::remove_all(c.dir);
  }
  {
    const auto c = convert_tiny("gemma2");
    const auto f = gguf::GgufFile::open(c.gguf);
    EXPECT_EQ(f.get_float("gemma2.attention.attn_logit_softcapping"), 50.0);
    EXPECT_EQ(f.get_float("gemma2.final_logit_softcapping"), 30.0);
    EXPECT_EQ(f.get_uint("gemma2.attention.sliding_window"), 16u);
    EXPECT_EQ(f.get_uint("gemma2.attention.key_length"), 16u);
    EXPECT_FALSE(f.has("gemma2.attention.scale"));  // query_pre_attn_scalar == head_dim
    fs::remove_all(c.dir);
  }
  {
    const auto c = convert_tiny("gemma3");
    const auto f = gguf::GgufFile::open(c.gguf);
    EXPECT_EQ(f.get_float("gemma3.rope.freq_base"), 1000000.0);  // the global layers'
    EXPECT_EQ(f.get_string("gemma3.rope.scaling.type"), "linear");
    EXPECT_EQ(f.get_float("gemma3.rope.scaling.factor"), 8.0);
    EXPECT_EQ(f.get_uint("gemma3.attention.sliding_window"), 16u);
    EXPECT_FALSE(f.has("gemma3.final_logit_softcapping"));
    fs::remove_all(c.dir);
  }
  {
    const auto c = convert_tiny("phi3");
    const auto f = gguf::GgufFile::open(c.gguf);
    EXPECT_EQ(f.get_uint("phi3.rope.dimension_count"), 16u);
    EXPECT_EQ(f.get_uint("phi3.rope.scaling.original_context_length"), 256u);
    EXPECT_EQ(f.get_uint("phi3.attention.sliding_window"), 32u);
    fs::remove_all(c.dir);
  }
}

// Tensors convert copies keep every value, in the same flat order (GGUF ne0 = PyTorch's last dim).
TEST(Convert, CopiedTensorsKeepTheirValues) {
  const auto c = convert_tiny("qwen2");
  const auto f = gguf::GgufFile::open(c.gguf);
  for (const auto& [gguf_name, hf_name] : std::vector<std::pair<std::string, std::string>>{
           {"token_embd.weight", "model.embed_tokens.weight"},
           {"blk.1.attn_q.weight", "model.layers.1.self_attn.q_proj.weight"},
           {"blk.0.attn_k.bias", "model.layers.0.self_attn.k_proj.bias"},
           {"blk.0.attn_output.weight", "model.layers.0.self_attn.o_proj.weight"},
           {"blk.1.ffn_down.weight", "model.layers.1.mlp.down_proj.weight"},
           {"blk.1.ffn_norm.weight", "model.layers.1.post_attention_layernorm.weight"},
           {"output_norm.weight", "model.norm.weight"}}) {
    const auto v = tensor_f32(f, gguf_name);
    const auto& s = c.ckpt.spec(hf_name);
    ASSERT_EQ(f.tensor(gguf_name).shape, (std::vector<uint64_t>(s.shape.rbegin(), s.shape.rend()))) << gguf_name;
    for (size_t i = 0; i < v.size(); ++i) ASSERT_EQ(v[i], c.ckpt.weight(hf_name, static_cast<int64_t>(i))) << gguf_name << " " << i;
  }
  fs::remove_all(c.dir);
}

TEST(Convert, GemmaNormsAreStoredPlusOne) {
  for (const std::string family : {"gemma2", "gemma3"}) {
    const auto c = convert_tiny(family);
    const auto f = gguf::GgufFile::open(c.gguf);
    std::vector<std::pair<std::string, std::string>> pairs = {
        {"output_norm.weight", "model.norm.weight"},
        {"blk.0.attn_norm.weight", "model.layers.0.input_layernorm.weight"},
        {"blk.0.post_attention_norm.weight", "model.layers.0.post_attention_layernorm.weight"},
        {"blk.1.ffn_norm.weight", "model.layers.1.pre_feedforward_layernorm.weight"},
        {"blk.1.post_ffw_norm.weight", "model.layers.1.post_feedforward_layernorm.weight"}};
    if (family == "gemma3") pairs.emplace_back("blk.0.attn_q_norm.weight", "model.layers.0.self_attn.q_norm.weight");
    for (const auto& [g, h] : pairs) {
      const auto v = tensor_f32(f, g);
      for (size_t i = 0; i < v.size(); ++i) EXPECT_EQ(v[i], 1.0f + c.ckpt.weight(h, static_cast<int64_t>(i))) << g << " " << i;
    }
    // Not a norm: unchanged.
    EXPECT_EQ(tensor_f32(f, "blk.0.attn_v.weight")[5], c.ckpt.weight("model.layers.0.self_attn.v_proj.weight", 5));
    EXPECT_EQ(f.find_tensor("output.weight"), nullptr);  // Gemma ties the output to the embeddings
    fs::remove_all(c.dir);
  }
}

// Each expert's matrix becomes one slice of the stacked tensor [ne0, ne1, n_expert].
void check_experts(const std::string& family, bool fused) {
  TinyOptions opt;
  opt.fused_experts = fused;
  const auto c = convert_tiny(family, opt);
  const auto f = gguf::GgufFile::open(c.gguf);
  const int64_t E = c.ckpt.n_embd, FE = c.ckpt.n_ff_expert, X = c.ckpt.n_expert;
  const std::string p = fused || family == "qwen3moe" ? "model.layers.1.mlp." : "model.layers.1.block_sparse_moe.";
  const auto gate = tensor_f32(f, "blk.1.ffn_gate_exps.weight");
  const auto up = tensor_f32(f, "blk.1.ffn_up_exps.weight");
  const auto down = tensor_f32(f, "blk.1.ffn_down_exps.weight");
  EXPECT_EQ(f.tensor("blk.1.ffn_gate_exps.weight").shape, (std::vector<uint64_t>{64, static_cast<uint64_t>(FE), 4}));
  EXPECT_EQ(f.tensor("blk.1.ffn_down_exps.weight").shape, (std::vector<uint64_t>{static_cast<uint64_t>(FE), 64, 4}));
  EXPECT_EQ(f.tensor("blk.1.ffn_gate_inp.weight").shape, (std::vector<uint64_t>{64, 4}));
  for (int64_t x = 0; x < X; ++x)
    for (int64_t r = 0; r < FE; ++r)
      for (int64_t col = 0; col < E; col += 7) {
        const size_t at = static_cast<size_t>((x * FE + r) * E + col);
        float want_gate, want_up;
        if (fused) {  // experts.gate_up_proj [X, 2 * FE, E]: gate rows first
          want_gate = c.ckpt.weight(p + "experts.gate_up_proj", (x * 2 * FE + r) * E + col);
          want_up = c.ckpt.weight(p + "experts.gate_up_proj", (x * 2 * FE + FE + r) * E + col);
        } else {
          const std::string ep = p + "experts." + std::to_string(x) + ".";
          want_gate = c.ckpt.weight(ep + (family == "mixtral" ? "w1.weight" : "gate_proj.weight"), r * E + col);
          want_up = c.ckpt.weight(ep + (family == "mixtral" ? "w3.weight" : "up_proj.weight"), r * E + col);
        }
        ASSERT_EQ(gate[at], want_gate) << x << " " << r << " " << col;
        ASSERT_EQ(up[at], want_up) << x << " " << r << " " << col;
      }
  for (int64_t x = 0; x < X; ++x)
    for (int64_t r = 0; r < E; r += 5)
      for (int64_t col = 0; col < FE; ++col) {
        const float want = fused ? c.ckpt.weight(p + "experts.down_proj", (x * E + r) * FE + col)
                                 : c.ckpt.weight(p + "experts." + std::to_string(x) +
                                                     (family == "mixtral" ? ".w2.weight" : ".down_proj.weight"),
                                                 r * FE + col);
        ASSERT_EQ(down[static_cast<size_t>((x * E + r) * FE + col)], want);
      }
  fs::remove_all(c.dir);
}

TEST(Convert, MixtralExpertsAreStacked) { check_experts("mixtral", false); }
TEST(Convert, Qwen3MoeExpertsAreStacked) { check_experts("qwen3moe", false); }
TEST(Convert, Transformers5FusedExpertsAreSplit) {
  check_experts("qwen3moe", true);
  check_experts("mixtral", true);
}

TEST(Convert, Phi3FusedTensorsStayFused) {
  const auto c = convert_tiny("phi3");
  const auto f = gguf::GgufFile::open(c.gguf);
  EXPECT_EQ(f.tensor("blk.0.attn_qkv.weight").shape, (std::vector<uint64_t>{64, (4 + 2 * 2) * 16}));
  EXPECT_EQ(f.tensor("blk.0.ffn_up.weight").shape, (std::vector<uint64_t>{64, 2 * 96}));
  const auto qkv = tensor_f32(f, "blk.0.attn_qkv.weight");
  for (size_t i = 0; i < qkv.size(); i += 11) ASSERT_EQ(qkv[i], c.ckpt.weight("model.layers.0.self_attn.qkv_proj.weight", static_cast<int64_t>(i)));
  const auto gu = tensor_f32(f, "blk.0.ffn_up.weight");
  for (size_t i = 0; i < gu.size(); i += 13) ASSERT_EQ(gu[i], c.ckpt.weight("model.layers.0.mlp.gate_up_proj.weight", static_cast<int64_t>(i)));
  fs::remove_all(c.dir);
}

// Llama-family Q/K are re-ordered for ggml's RoPE (adjacent pairs) from transformers' (halves).
// Checked by what matters: the attention score of every head pair (Q at one position, K at
// another) is the same computed either way.
TEST(Convert, LlamaQkPermutationPreservesAttentionScores) {
  for (const std::string family : {"llama", "granite"}) {
    const auto c = convert_tiny(family);
    const auto f = gguf::GgufFile::open(c.gguf);
    const int64_t E = 64, H = 4, KV = 2, D = 16;
    std::vector<double> x1(E), x2(E);
    for (int64_t i = 0; i < E; ++i) {
      x1[static_cast<size_t>(i)] = std::sin(0.37 * static_cast<double>(i) + 1.0);
      x2[static_cast<size_t>(i)] = std::cos(0.91 * static_cast<double>(i) - 0.5);
    }
    auto proj = [&](auto weight, const std::vector<double>& x, int64_t rows) {
      std::vector<double> y(static_cast<size_t>(rows));
      for (int64_t r = 0; r < rows; ++r)
        for (int64_t k = 0; k < E; ++k) y[static_cast<size_t>(r)] += weight(r * E + k) * x[static_cast<size_t>(k)];
      return y;
    };
    // transformers: rotate_half pairs (i, i + D/2); ggml mode 0: pairs (2i, 2i + 1).
    auto rope = [&](std::vector<double> v, int64_t heads, double pos, bool halves) {
      for (int64_t h = 0; h < heads; ++h)
        for (int64_t i = 0; i < D / 2; ++i) {
          const double a = pos * std::pow(10000.0, -2.0 * static_cast<double>(i) / D);
          const size_t i1 = static_cast<size_t>(h * D + (halves ? i : 2 * i));
          const size_t i2 = static_cast<size_t>(h * D + (halves ? i + D / 2 : 2 * i + 1));
          const double a1 = v[i1], a2 = v[i2];
          v[i1] = a1 * std::cos(a) - a2 * std::sin(a);
          v[i2] = a2 * std::cos(a) + a1 * std::sin(a);
        }
      return v;
    };
    const std::string p = "model.layers.1.self_attn.";
    const auto gq = tensor_f32(f, "blk.1.attn_q.weight"), gk = tensor_f32(f, "blk.1.attn_k.weight");
    auto hf = [&](const std::string& n) { return [&, n](int64_t i) { return static_cast<double>(c.ckpt.weight(p + n, i)); }; };
    auto gg = [](const std::vector<float>& v) { return [&v](int64_t i) { return static_cast<double>(v[static_cast<size_t>(i)]); }; };
    const auto q_hf = rope(proj(hf("q_proj.weight"), x1, H * D), H, 7, true);
    const auto k_hf = rope(proj(hf("k_proj.weight"), x2, KV * D), KV, 3, true);
    const auto q_gg = rope(proj(gg(gq), x1, H * D), H, 7, false);
    const auto k_gg = rope(proj(gg(gk), x2, KV * D), KV, 3, false);
    for (int64_t h = 0; h < H; ++h) {
      const int64_t g = h / (H / KV);
      double s_hf = 0, s_gg = 0;
      for (int64_t i = 0; i < D; ++i) {
        s_hf += q_hf[static_cast<size_t>(h * D + i)] * k_hf[static_cast<size_t>(g * D + i)];
        s_gg += q_gg[static_cast<size_t>(h * D + i)] * k_gg[static_cast<size_t>(g * D + i)];
      }
      EXPECT_NEAR(s_hf, s_gg, 1e-9 * (1 + std::abs(s_hf))) << family << " head " << h;
    }
    // And the permutation is not the identity (the test above would pass trivially otherwise).
    EXPECT_NE(gq[static_cast<size_t>(1 * E)], c.ckpt.weight(p + "q_proj.weight", 1 * E));
    fs::remove_all(c.dir);
  }
}

// The converted Llama-family models load and compute what the checkpoint computes.
void check_forward(const std::string& family, const TinyOptions& opt = {}) {
  const auto c = convert_tiny(family, opt);
  const std::vector<int32_t> tokens = {258, 72, 101, 108, 108, 111, 44, 32, 256, 257, 33, 10, 5, 299, 150, 42,
                                       17, 200, 3, 99};
  const auto want = test::hf_reference_logits(c.ckpt, family, tokens);
  const auto model = model::Model::load(c.gguf);
  backend::CpuBackend be({.n_threads = 2});
  be.load(model, {.n_blocks = 4, .block_size = 16, .type = GgmlType::F32});
  backend::Batch batch;
  std::vector<int32_t> table = {0, 1};
  batch.set_sequence(0, table, static_cast<int32_t>(tokens.size()));
  for (size_t i = 0; i < tokens.size(); ++i)
    batch.add_token(tokens[i], static_cast<int32_t>(i), 0, static_cast<int32_t>(i), true);
  backend::Logits logits;
  be.forward(batch, logits);
  ASSERT_EQ(logits.rows(), tokens.size());
  double max_err = 0, max_ref = 0;
  for (size_t r = 0; r < tokens.size(); ++r)
    for (size_t v = 0; v < 300; ++v) {
      max_err = std::max(max_err, std::abs(logits.row(r)[v] - want[r][v]));
      max_ref = std::max(max_ref, std::abs(want[r][v]));
    }
  EXPECT_LE(max_err, 1e-4 * max_ref) << family << ": max |cpu - hf| = " << max_err << ", max |hf| = " << max_ref;
  EXPECT_GT(max_ref, 0.1);
  fs::remove_all(c.dir);
}

TEST(ConvertForward, Llama) { check_forward("llama"); }
TEST(ConvertForward, LlamaWithLlama3Rope) {
  TinyOptions opt;
  opt.llama3_rope = true;
  check_forward("llama", opt);
}
TEST(ConvertForward, MistralSlidingWindow) { check_forward("mistral"); }
TEST(ConvertForward, Qwen2) { check_forward("qwen2"); }
TEST(ConvertForward, Qwen3) { check_forward("qwen3"); }

TEST(Convert, Llama3RopeFreqsMatchTransformersInvFreq) {
  TinyOptions opt;
  opt.llama3_rope = true;
  const auto c = convert_tiny("llama", opt);
  const auto f = gguf::GgufFile::open(c.gguf);
  const auto factors = tensor_f32(f, "rope_freqs.weight");
  ASSERT_EQ(factors.size(), 8u);
  // transformers' llama3 rope: inv_freq / factor for long wavelengths, smoothed in between.
  int scaled = 0;
  for (size_t i = 0; i < 8; ++i) {
    const double inv = std::pow(500000.0, -2.0 * static_cast<double>(i) / 16.0);
    const double wavelen = 2 * std::numbers::pi / inv;
    double adjusted = inv;
    if (wavelen > 64.0) adjusted = inv / 8.0;
    else if (wavelen >= 16.0) {
      const double s = (64.0 / wavelen - 1.0) / 3.0;
      adjusted = (1 - s) * inv / 8.0 + s * inv;
    }
    EXPECT_NEAR(inv / factors[i], adjusted, 1e-6 * adjusted) << i;
    scaled += factors[i] != 1.0f;
  }
  EXPECT_GT(scaled, 2);
  fs::remove_all(c.dir);
}

TEST(Convert, QuantizedTypesFollowTheMix) {
  {
    const auto c = convert_tiny("llama", {}, "q8_0");
    const auto f = gguf::GgufFile::open(c.gguf);
    EXPECT_EQ(f.get_uint("general.file_type"), 7u);
    EXPECT_EQ(f.tensor("blk.0.attn_q.weight").type, GgmlType::Q8_0);
    EXPECT_EQ(f.tensor("output.weight").type, GgmlType::Q8_0);
    EXPECT_EQ(f.tensor("token_embd.weight").type, GgmlType::Q8_0);
    EXPECT_EQ(f.tensor("blk.0.attn_norm.weight").type, GgmlType::F32);
    EXPECT_EQ(f.tensor("output_norm.weight").type, GgmlType::F32);
    // Dequantized values are close to the checkpoint's.
    std::vector<float> row(64);
    quant::dequantize_row(GgmlType::Q8_0, f.tensor_data(f.tensor("blk.0.ffn_up.weight")).data(), row.data(), 64);
    for (int i = 0; i < 64; ++i) EXPECT_NEAR(row[static_cast<size_t>(i)], c.ckpt.weight("model.layers.0.mlp.up_proj.weight", i), 0.1 / 127);
    const auto model = model::Model::load(c.gguf);  // loads
    EXPECT_EQ(model->layer(0).wq.type, GgmlType::Q8_0);
    fs::remove_all(c.dir);
  }
  {
    // Q4_K_M: rows of 64 do not fit 256-element K blocks, so the fallbacks apply (as in llama.cpp).
    const auto c = convert_tiny("llama", {}, "Q4_K_M");
    const auto f = gguf::GgufFile::open(c.gguf);
    EXPECT_EQ(f.get_uint("general.file_type"), 15u);
    EXPECT_EQ(f.tensor("blk.0.attn_q.weight").type, GgmlType::Q5_0);  // Q4_K -> Q5_0
    EXPECT_EQ(f.tensor("output.weight").type, GgmlType::Q8_0);        // Q6_K -> Q8_0
    EXPECT_EQ(f.tensor("blk.0.attn_norm.weight").type, GgmlType::F32);
    fs::remove_all(c.dir);
  }
  for (const auto& [type, ggml, ftype] : {std::tuple{"f16", GgmlType::F16, 1u}, std::tuple{"bf16", GgmlType::BF16, 32u}}) {
    const auto c = convert_tiny("qwen2", {}, type);
    const auto f = gguf::GgufFile::open(c.gguf);
    EXPECT_EQ(f.get_uint("general.file_type"), ftype);
    EXPECT_EQ(f.tensor("blk.0.attn_q.weight").type, ggml);
    EXPECT_EQ(f.tensor("blk.0.attn_q.bias").type, GgmlType::F32);
    EXPECT_EQ(f.tensor("blk.0.attn_norm.weight").type, GgmlType::F32);
    fs::remove_all(c.dir);
  }
}

TEST(Convert, AutoTypeFollowsTheCheckpoint) {
  TinyOptions bf;
  bf.dtype = StDtype::kBF16;
  const auto c = convert_tiny("llama", bf, "auto");
  const auto f = gguf::GgufFile::open(c.gguf);
  EXPECT_EQ(f.get_uint("general.file_type"), 32u);  // MOSTLY_BF16
  EXPECT_EQ(f.tensor("blk.0.attn_v.weight").type, GgmlType::BF16);
  // BF16 in, BF16 out: bit-exact.
  const auto d = f.tensor_data(f.tensor("blk.0.attn_v.weight"));
  for (int64_t i = 0; i < 64; ++i) {
    uint16_t h;
    std::memcpy(&h, d.data() + i * 2, 2);
    EXPECT_EQ(bf16_to_f32(h), c.ckpt.weight("model.layers.0.self_attn.v_proj.weight", i));
  }
  fs::remove_all(c.dir);
  const auto c32 = convert_tiny("llama", {}, "auto");
  EXPECT_EQ(gguf::GgufFile::open(c32.gguf).get_uint("general.file_type"), 1u);  // F32 in -> F16
  fs::remove_all(c32.dir);
}

TEST(Convert, F16CheckpointIsReadExactly) {
  TinyOptions o;
  o.dtype = StDtype::kF16;
  const auto c = convert_tiny("qwen3", o);
  const auto f = gguf::GgufFile::open(c.gguf);
  const auto v = tensor_f32(f, "blk.1.ffn_gate.weight");
  for (size_t i = 0; i < v.size(); i += 3) ASSERT_EQ(v[i], c.ckpt.weight("model.layers.1.mlp.gate_proj.weight", static_cast<int64_t>(i)));
  fs::remove_all(c.dir);
}

TEST(Convert, ShardedCheckpointGivesTheSameFile) {
  TinyOptions sharded;
  sharded.shards = 3;
  const auto a = convert_tiny("mixtral");
  const auto b = convert_tiny("mixtral", sharded);
  ASSERT_TRUE(fs::exists(b.dir / "hf/model-00003-of-00003.safetensors"));
  // general.name is the directory name in both ("hf"): the files are byte-identical.
  EXPECT_EQ(test::read_file(a.gguf), test::read_file(b.gguf));
  fs::remove_all(a.dir);
  fs::remove_all(b.dir);
}

TEST(Convert, Transformers4ConfigGivesTheSameFile) {
  TinyOptions t4;
  t4.transformers4_rope = true;
  t4.llama3_rope = true;
  TinyOptions t5;
  t5.llama3_rope = true;
  const auto a = convert_tiny("llama", t5);
  const auto b = convert_tiny("llama", t4);
  EXPECT_EQ(test::read_file(a.gguf), test::read_file(b.gguf));
  fs::remove_all(a.dir);
  fs::remove_all(b.dir);
}

TEST(Convert, ChatTemplateFromJinjaFile) {
  const auto dir = test::temp_dir("quarrel-convert-jinja");
  const auto ck = test::make_tiny("qwen3");
  test::write_tiny(ck, dir / "hf");
  auto cfg = nlohmann::json::parse(test::read_file(dir / "hf/tokenizer_config.json"));
  cfg.erase("chat_template");
  std::ofstream(dir / "hf/tokenizer_config.json") << cfg.dump();
  std::ofstream(dir / "hf/chat_template.jinja") << "{{ messages[0]['content'] }}";
  convert_hf((dir / "hf").string(), (dir / "o.gguf").string(), {.type = "f32"});
  EXPECT_EQ(gguf::GgufFile::open((dir / "o.gguf").string()).get_string("tokenizer.chat_template"),
            "{{ messages[0]['content'] }}");
  fs::remove_all(dir);
}

// ---- errors -------------------------------------------------------------------------------

struct Broken {
  fs::path dir;
  fs::path hf;
  std::string out;
  explicit Broken(const std::string& family = "llama") {
    dir = test::temp_dir("quarrel-convert-bad");
    hf = dir / "hf";
    test::write_tiny(test::make_tiny(family), hf);
    out = (dir / "out.gguf").string();
  }
  ~Broken() { fs::remove_all(dir); }
  std::string run(ErrorCode* code = nullptr) const {
    const std::string e = error_of([&] { convert_hf(hf.string(), out, {.type = "f32"}); }, code);
    EXPECT_FALSE(fs::exists(out)) << "a failed conversion left " << out;
    return e;
  }
  void edit_config(const std::function<void(nlohmann::json&)>& f) const {
    auto j = nlohmann::json::parse(test::read_file(hf / "config.json"));
    f(j);
    std::ofstream(hf / "config.json") << j.dump();
  }
};

TEST(ConvertErrors, UnsupportedArchitecture) {
  Broken b;
  b.edit_config([](auto& j) { j["architectures"] = {"FalconForCausalLM"}; });
  ErrorCode code{};
  const auto e = b.run(&code);
  EXPECT_EQ(code, ErrorCode::kUnsupported);
  EXPECT_NE(e.find("unsupported architecture 'FalconForCausalLM'"), std::string::npos) << e;
  EXPECT_NE(e.find("Qwen3MoeForCausalLM"), std::string::npos) << e;  // lists what it knows
}

TEST(ConvertErrors, MissingFiles) {
  {
    Broken b;
    fs::remove(b.hf / "config.json");
    ErrorCode code{};
    EXPECT_NE(b.run(&code).find("missing config.json"), std::string::npos);
    EXPECT_EQ(code, ErrorCode::kNotFound);
  }
  {
    Broken b;
    fs::remove(b.hf / "model.safetensors");
    EXPECT_NE(b.run().find("missing model.safetensors"), std::string::npos);
  }
  {
    Broken b;
    fs::remove(b.hf / "tokenizer.json");
    EXPECT_NE(b.run().find("missing tokenizer.json"), std::string::npos);
  }
  {
    Broken b;
    fs::remove_all(b.hf);
    EXPECT_NE(b.run().find("no such directory"), std::string::npos);
  }
  {
    Broken b;
    std::ofstream(b.hf / "model.safetensors.index.json")
        << R"({"weight_map": {"model.embed_tokens.weight": "model-00002-of-00002.safetensors"}})";
    EXPECT_NE(b.run().find("missing weight shard model-00002-of-00002.safetensors"), std::string::npos);
  }
  {
    Broken b;
    fs::remove(b.hf / "model.safetensors");
    std::ofstream(b.hf / "pytorch_model.bin") << "pickle";
    EXPECT_NE(b.run().find("pytorch_model.bin"), std::string::npos);
  }
  {
    Broken b;
    EXPECT_NE(error_of([&] { convert_hf(b.hf.string(), (b.dir / "nodir/x.gguf").string(), {}); }).find("does not exist"),
              std::string::npos);
  }
}

TEST(ConvertErrors, BadSafetensorsHeader) {
  Broken b;
  std::string bytes = test::read_file(b.hf / "model.safetensors");
  bytes[8] = '#';  // the JSON header's opening brace
  std::ofstream(b.hf / "model.safetensors", std::ios::binary) << bytes;
  ErrorCode code{};
  const auto e = b.run(&code);
  EXPECT_EQ(code, ErrorCode::kInvalidFile);
  EXPECT_NE(e.find("model.safetensors: bad safetensors header"), std::string::npos) << e;
  // Truncated data.
  std::ofstream(b.hf / "model.safetensors", std::ios::binary) << test::read_file(b.hf / "tokenizer.json").substr(0, 4);
  EXPECT_NE(b.run().find("bad safetensors header"), std::string::npos);
}

TEST(ConvertErrors, TensorsThatDoNotFit) {
  {
    Broken b;
    b.edit_config([](auto& j) { j["intermediate_size"] = 128; });
    const auto e = b.run();
    EXPECT_NE(e.find("'model.layers.0.mlp.gate_proj.weight' has shape [96, 64], expected [128, 64]"), std::string::npos) << e;
  }
  {
    Broken b;
    b.edit_config([](auto& j) { j["num_hidden_layers"] = 3; });
    const auto e = b.run();
    EXPECT_NE(e.find("no tensor for blk.2.attn_norm.weight"), std::string::npos) << e;
  }
  {
    Broken b;
    b.edit_config([](auto& j) { j["num_hidden_layers"] = 1; });
    EXPECT_NE(b.run().find("names layer 1, but config.json has 1 layers"), std::string::npos);
  }
  {
    Broken b("llama");
    b.edit_config([](auto& j) { j["architectures"] = {"Qwen3ForCausalLM"}; });
    const auto e = b.run();
    EXPECT_NE(e.find("attn_q_norm"), std::string::npos) << e;
  }
  {
    Broken b;
    b.edit_config([](auto& j) { j.erase("hidden_size"); });
    EXPECT_NE(b.run().find("missing 'hidden_size'"), std::string::npos);
  }
  {
    Broken b;
    b.edit_config([](auto& j) { j["rope_parameters"] = {{"rope_type", "dynamic"}, {"factor", 2.0}}; });
    EXPECT_NE(b.run().find("RoPE scaling type 'dynamic' is not supported"), std::string::npos);
  }
}

TEST(ConvertErrors, BadType) {
  Broken b;
  const auto e = error_of([&] { convert_hf(b.hf.string(), b.out, {.type = "q3_xyz"}); });
  EXPECT_NE(e.find("unknown --type 'q3_xyz'"), std::string::npos) << e;
  EXPECT_NE(e.find("q4_k_m"), std::string::npos) << e;
}

}  // namespace
}  // namespace quarrel::convert
