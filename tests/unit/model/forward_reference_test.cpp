// The fast CPU forward pass against the float64 reference forward (tests/common), on
// random-weight models of each architecture and each weight type.
//
// Each case writes a tiny model, runs the reference greedily from a 20-token prompt for 32
// steps (recording its logits), then feeds the same tokens to the CPU backend and compares the
// logits at every position (forward_compare.h):
//   error = max_i |fast_i - ref_i| / max_i |ref_i|   (over the vocabulary, worst position)
// for the prompt as one batch, for each decode token alone, and for each decode token batched
// with another sequence's prompt tokens. On F32, F16 and BF16 weights the backend's own greedy
// choices must also be the reference's, for all 32 steps.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <span>
#include <string>

#include "forward_compare.h"
#include "backend/cpu_backend.h"
#include "backend/generate.h"
#include "common/test_data.h"
#include "model/model.h"
#include "model/synthetic.h"

namespace quarrel {
namespace {
namespace fs = std::filesystem;
using test::compare;
using test::Outcome;

// The architectures, each with the features it is there to exercise.
model::SyntheticSpec arch_spec(const std::string& name) {
  model::SyntheticSpec s;
  s.n_vocab = 256;
  s.n_embd = 256;
  s.n_layer = 2;
  s.n_head = 4;
  s.n_head_kv = 2;
  s.n_ff = 512;
  s.seed = 7;
  if (name == "llama") {  // llama3-style: rope frequency factors, tied embeddings
    s.arch = "llama";
    s.rope_freqs = true;
    s.tied_embeddings = true;
    s.rope_freq_base = 500000.0f;
  } else if (name == "llama_yarn") {
    s.arch = "llama";
    s.rope_scaling = "yarn";
    s.rope_scale_factor = 4.0f;
    s.rope_orig_ctx = 64;
  } else if (name == "llama_linear") {
    s.arch = "llama";
    s.rope_scaling = "linear";
    s.rope_scale_factor = 2.0f;
  } else if (name == "mistral") {  // a sliding window smaller than the sequence
    s.arch = "mistral";
    s.sliding_window = 8;
  } else if (name == "qwen2") {  // Q/K/V biases, NeoX RoPE
    s.arch = "qwen2";
    s.rope_freq_base = 1000000.0f;
  } else if (name == "qwen3") {  // per-head Q/K norms, head size not n_embd / n_head
    s.arch = "qwen3";
    s.head_dim = 128;
    s.n_head = 4;
    s.n_head_kv = 2;
    s.rope_freq_base = 1000000.0f;
  }
  return s;
}

// F32/F16/BF16 weights multiply float32 activations on every path, so they meet this bound.
// Quantized weights round the activations to 8 bits on both paths (the GEMM for batches of
// cpu::kGemmMinColumns tokens or more quantizes and dequantizes each column as the decode
// path does), so a token's logits do not depend on its batch: prompt and mixed-batch decode
// errors meet the type's decode bound.
constexpr double kFloatPathBound = 1e-5;

// A single decode token takes the vector-dot path, whose activations are quantized to 8 bits
// (Q8_0 blocks of 32, or Q8_K blocks of 256 for the k-quants and IQ4_XS) as llama.cpp does; that
// rounding, not the weight type, sets the error (measured 0.5-3.3%); the bounds are about twice
// the worst measured over the four architectures.
struct TypeBound {
  GgmlType type;
  double decode_bound;  // on Outcome::decode_error, with an F32 KV cache
};

class ForwardVsReference : public ::testing::TestWithParam<std::tuple<std::string, TypeBound>> {
 protected:
  static void SetUpTestSuite() { dir_ = test::temp_dir("quarrel-forward-ref"); }
  static void TearDownTestSuite() { fs::remove_all(dir_); }
  static fs::path dir_;
};
fs::path ForwardVsReference::dir_;

TEST_P(ForwardVsReference, LogitsWithinTheTypeBound) {
  const auto& [arch, tb] = GetParam();
  model::SyntheticSpec spec = arch_spec(arch);
  spec.type = tb.type;
  const std::string path = (dir_ / (arch + "-" + std::string(type_name(tb.type)) + ".gguf")).string();
  model::write_synthetic_model(spec, path);
  const bool exact_types = tb.type == GgmlType::F32 || tb.type == GgmlType::F16 || tb.type == GgmlType::BF16;
  const Outcome o = compare(path, GgmlType::F32, exact_types);
  std::printf("  %-8s %-7s prompt %.3g  decode %.3g (bound %.3g)  mixed decode %.3g\n", arch.c_str(),
              std::string(type_name(tb.type)).c_str(), o.prompt_error, o.decode_error, tb.decode_bound,
              o.mixed_decode_error);
  const double batch_bound = exact_types ? kFloatPathBound : tb.decode_bound;
  EXPECT_LE(o.prompt_error, batch_bound);
  EXPECT_LE(o.mixed_decode_error, batch_bound);
  EXPECT_LE(o.decode_error, tb.decode_bound);
  if (exact_types) {
    EXPECT_EQ(o.greedy_mismatch, -1) << "greedy tokens differ from step " << o.greedy_mismatch;
  }
}

const TypeBound kTypeBounds[] = {
    {GgmlType::F32, 1e-5},   {GgmlType::F16, 1e-5},   {GgmlType::BF16, 1e-5},   {GgmlType::Q8_0, 0.04},
    {GgmlType::Q4_0, 0.05},  {GgmlType::Q4_1, 0.04},  {GgmlType::Q5_0, 0.04},   {GgmlType::Q5_1, 0.04},
    {GgmlType::Q4_K, 0.06},  {GgmlType::Q5_K, 0.06},  {GgmlType::Q6_K, 0.06},   {GgmlType::Q2_K, 0.06},
    {GgmlType::Q3_K, 0.06},  {GgmlType::IQ4_NL, 0.04}, {GgmlType::IQ4_XS, 0.06},
};

INSTANTIATE_TEST_SUITE_P(AllArchsAllTypes, ForwardVsReference,
                         ::testing::Combine(::testing::Values("llama", "mistral", "qwen2", "qwen3"),
                                            ::testing::ValuesIn(kTypeBounds)),
                         [](const auto& param_info) {
                           const auto& param = param_info.param;
                           return std::get<0>(param) + "_" + std::string(type_name(std::get<1>(param).type));
                         });

// RoPE scaling (linear, YaRN) on F32 weights: float-path accuracy and identical greedy tokens.
TEST(ForwardVsReferenceRope, LinearAndYarnScaling) {
  const fs::path dir = test::temp_dir("quarrel-forward-rope");
  for (const std::string arch : {"llama_linear", "llama_yarn"}) {
    SCOPED_TRACE(arch);
    const std::string path = (dir / (arch + ".gguf")).string();
    model::write_synthetic_model(arch_spec(arch), path);
    const Outcome o = compare(path, GgmlType::F32, true);
    EXPECT_LE(o.prompt_error, kFloatPathBound);
    EXPECT_LE(o.decode_error, kFloatPathBound);
    EXPECT_LE(o.mixed_decode_error, kFloatPathBound);
    EXPECT_EQ(o.greedy_mismatch, -1);
  }
  fs::remove_all(dir);
}

// KV cache types on F32 weights. F16 rounds K and V to 11 significant bits, Q8_0 to 8-bit
// blocks of 32 (measured worst errors: F16 4.3e-4, Q8_0 1.1e-2).
TEST(ForwardVsReferenceKv, F16AndQ8_0Caches) {
  const fs::path dir = test::temp_dir("quarrel-forward-kv");
  struct Case {
    GgmlType kv;
    double bound;
  };
  for (const std::string arch : {"llama", "mistral", "qwen2", "qwen3"}) {
    const std::string path = (dir / (arch + ".gguf")).string();
    model::write_synthetic_model(arch_spec(arch), path);
    for (const Case c : {Case{GgmlType::F16, 1e-3}, Case{GgmlType::Q8_0, 2e-2}}) {
      SCOPED_TRACE(arch + " KV " + std::string(type_name(c.kv)));
      const Outcome o = compare(path, c.kv, false);
      std::printf("  %-8s KV %-5s prompt %.3g  decode %.3g  mixed decode %.3g\n", arch.c_str(),
                  std::string(type_name(c.kv)).c_str(), o.prompt_error, o.decode_error, o.mixed_decode_error);
      EXPECT_LE(o.prompt_error, c.bound);
      EXPECT_LE(o.decode_error, c.bound);
      EXPECT_LE(o.mixed_decode_error, c.bound);
    }
  }
  fs::remove_all(dir);
}

}  // namespace
}  // namespace quarrel
