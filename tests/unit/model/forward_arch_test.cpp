// The fast CPU forward pass against the float64 reference forward (forward_compare.h) on
// random-weight models of the architectures beyond the Llama four: gemma2, gemma3, phi3,
// granite, Mixtral (llama with experts) and qwen3moe, each built with the options it is there to
// exercise (soft-capping, sliding-window patterns smaller than the sequence, local/global RoPE,
// attention scale, fused projections, multipliers, top-k experts).
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <string>

#include "backend/cpu_backend.h"
#include "backend/generate.h"
#include "common/test_data.h"
#include "forward_compare.h"
#include "model/model.h"
#include "model/synthetic.h"

namespace quarrel {
namespace {
namespace fs = std::filesystem;

model::SyntheticSpec arch_spec(const std::string& name) {
  model::SyntheticSpec s;
  s.n_vocab = 256;
  s.n_embd = 256;
  s.n_layer = 2;
  s.n_head = 4;
  s.n_head_kv = 2;
  s.n_ff = 512;
  s.seed = 11;
  if (name == "gemma2") {  // both soft-caps, a query scale, sliding/global layers, window < prompt
    s.arch = "gemma2";
    s.n_layer = 4;
    s.sliding_window = 8;
    s.attn_softcap = 2.0f;
    s.final_softcap = 15.0f;  // bites on the largest logits without saturating float tanh into ties
    s.attn_scale = 0.1f;
    s.tied_embeddings = true;
  } else if (name == "gemma3") {  // Q/K norms, 5 local + 1 global layers, local/global RoPE bases, linear scaling
    s.arch = "gemma3";
    s.n_layer = 6;
    s.n_head_kv = 1;
    s.head_dim = 64;
    s.sliding_window = 8;
    s.rope_freq_base = 1000000.0f;
    s.rope_scaling = "linear";
    s.rope_scale_factor = 8.0f;
    s.tied_embeddings = true;
  } else if (name == "phi3") {  // fused QKV and gate/up, window on every layer
    s.arch = "phi3";
    s.sliding_window = 8;
  } else if (name == "granite") {  // the four multipliers
    s.arch = "granite";
    s.embd_scale = 12.0f;
    s.residual_scale = 0.22f;
    s.attn_scale = 0.03125f;
    s.logit_scale = 4.0f;
    s.tied_embeddings = true;
  } else if (name == "mixtral") {  // llama with 4 experts, top 2
    s.arch = "llama";
    s.n_expert = 4;
    s.n_expert_used = 2;
    s.n_ff = 192;
  } else if (name == "qwen3moe") {  // 8 experts of their own size, top 2, Q/K norms
    s.arch = "qwen3moe";
    s.n_expert = 8;
    s.n_expert_used = 2;
    s.n_ff_exp = 96;
    s.head_dim = 64;
    s.rope_freq_base = 1000000.0f;
  }
  return s;
}

// Float weights: float32 activations on every path (as forward_reference_test.cpp).
constexpr double kFloatPathBound = 1e-5;

class ArchForwardVsReference : public ::testing::TestWithParam<std::string> {
 protected:
  static void SetUpTestSuite() { dir_ = test::temp_dir("quarrel-forward-arch"); }
  static void TearDownTestSuite() { fs::remove_all(dir_); }
  static fs::path dir_;
};
fs::path ArchForwardVsReference::dir_;

TEST_P(ArchForwardVsReference, F32AndF16WeightsMatchAndGreedyIsIdentical) {
  for (const GgmlType type : {GgmlType::F32, GgmlType::F16}) {
    model::SyntheticSpec spec = arch_spec(GetParam());
    spec.type = type;
    const std::string path = (dir_ / (GetParam() + "-" + std::string(type_name(type)) + ".gguf")).string();
    model::write_synthetic_model(spec, path);
    const test::Outcome o = test::compare(path, GgmlType::F32, true);
    std::printf("  %-9s %-4s prompt %.3g  decode %.3g  mixed decode %.3g\n", GetParam().c_str(),
                std::string(type_name(type)).c_str(), o.prompt_error, o.decode_error, o.mixed_decode_error);
    SCOPED_TRACE(std::string(type_name(type)));
    EXPECT_LE(o.prompt_error, kFloatPathBound);
    EXPECT_LE(o.decode_error, kFloatPathBound);
    EXPECT_LE(o.mixed_decode_error, kFloatPathBound);
    EXPECT_EQ(o.greedy_mismatch, -1) << "greedy tokens differ from step " << o.greedy_mismatch;
  }
}

// Q8_0 weights: a single decode token's activations are rounded to 8 bits (as for the Llama
// four, bound 0.04); batches meet the same bound. With experts, a token whose router logits are
// within that rounding of a tie may pick another expert: a larger, discontinuous error on that
// token (measured 0.078 on one Mixtral prompt token), so the bound there is 0.12.
TEST_P(ArchForwardVsReference, Q8_0WeightsWithinTheDecodeBound) {
  const bool moe = GetParam() == "mixtral" || GetParam() == "qwen3moe";
  const double bound = moe ? 0.12 : 0.04;
  model::SyntheticSpec spec = arch_spec(GetParam());
  spec.type = GgmlType::Q8_0;
  const std::string path = (dir_ / (GetParam() + "-q8_0.gguf")).string();
  model::write_synthetic_model(spec, path);
  const test::Outcome o = test::compare(path, GgmlType::F32, false);
  std::printf("  %-9s Q8_0 prompt %.3g  decode %.3g  mixed decode %.3g\n", GetParam().c_str(), o.prompt_error,
              o.decode_error, o.mixed_decode_error);
  EXPECT_LE(o.prompt_error, bound);
  EXPECT_LE(o.decode_error, bound);
  EXPECT_LE(o.mixed_decode_error, bound);
}

// F16 KV cache (K and V rounded to 11 significant bits; bound as for the Llama four).
TEST_P(ArchForwardVsReference, F16KvCache) {
  const std::string path = (dir_ / (GetParam() + "-kv.gguf")).string();
  model::write_synthetic_model(arch_spec(GetParam()), path);
  const test::Outcome o = test::compare(path, GgmlType::F16, false, 2);
  EXPECT_LE(o.prompt_error, 1e-3);
  EXPECT_LE(o.decode_error, 1e-3);
  EXPECT_LE(o.mixed_decode_error, 1e-3);
}

INSTANTIATE_TEST_SUITE_P(NewArchs, ArchForwardVsReference,
                         ::testing::Values("gemma2", "gemma3", "phi3", "granite", "mixtral", "qwen3moe"));

// Final-logit soft-capping bounds every logit by the cap, and changes them (the cap is reached).
TEST(ArchForward, FinalSoftcapBoundsTheLogits) {
  const fs::path dir = test::temp_dir("quarrel-forward-softcap");
  model::SyntheticSpec spec = arch_spec("gemma2");
  spec.final_softcap = 0.5f;
  const std::string capped = (dir / "capped.gguf").string(), plain = (dir / "plain.gguf").string();
  model::write_synthetic_model(spec, capped);
  spec.final_softcap = 0.0f;
  model::write_synthetic_model(spec, plain);
  auto last_logits = [](const std::string& path) {
    backend::CpuBackend be({.n_threads = 1});
    be.load(model::Model::load(path), {.n_blocks = 4, .block_size = 16, .type = GgmlType::F32});
    const std::vector<int32_t> table = {0, 1, 2, 3};
    backend::Batch batch;
    batch.set_sequence(0, table, 10);
    for (int p = 0; p < 10; ++p) batch.add_token((p * 7 + 3) % 256, p, 0, p, p == 9);
    backend::Logits out;
    be.forward(batch, out);
    const auto row = out.row(0);
    return std::vector<float>(row.begin(), row.end());
  };
  const auto a = last_logits(capped), b = last_logits(plain);
  double max_plain = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_LE(std::abs(a[i]), 0.5f);
    EXPECT_NEAR(a[i], 0.5 * std::tanh(b[i] / 0.5), 1e-5) << "id " << i;
    max_plain = std::max(max_plain, static_cast<double>(std::abs(b[i])));
  }
  EXPECT_GT(max_plain, 1.0);  // the cap bites
  fs::remove_all(dir);
}

}  // namespace
}  // namespace quarrel
