// Loading the architectures beyond the Llama four: the hparams each one derives from its keys
// (window pattern, local RoPE base, scales, caps, experts), the weights it expects, and the
// one-line errors for files that cannot be right.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>

#include "common/test_data.h"
#include "core/error.h"
#include "gguf/gguf_writer.h"
#include "model/model.h"
#include "model/synthetic.h"

namespace quarrel {
namespace {
namespace fs = std::filesystem;

class ArchLoader : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = test::temp_dir("quarrel-arch-loader"); }
  void TearDown() override { fs::remove_all(dir_); }
  std::string write(const model::SyntheticSpec& spec, const std::string& name) {
    const std::string path = (dir_ / (name + ".gguf")).string();
    model::write_synthetic_model(spec, path);
    return path;
  }
  static model::SyntheticSpec small(const std::string& arch) {
    model::SyntheticSpec s;
    s.arch = arch;
    s.n_vocab = 64;
    s.n_embd = 64;
    s.n_head = 2;
    s.n_head_kv = 1;
    s.n_ff = 96;
    return s;
  }
  fs::path dir_;
};

TEST_F(ArchLoader, Gemma2AlternatesWindowLayersAndScalesEmbeddings) {
  auto s = small("gemma2");
  s.n_layer = 4;
  s.sliding_window = 16;
  s.attn_softcap = 50.0f;
  s.final_softcap = 30.0f;
  const auto m = model::Model::load(write(s, "gemma2"));
  const auto& hp = m->hparams();
  EXPECT_TRUE(hp.is_swa_layer(0));
  EXPECT_FALSE(hp.is_swa_layer(1));
  EXPECT_TRUE(hp.is_swa_layer(2));
  EXPECT_FALSE(hp.is_swa_layer(3));
  EXPECT_FLOAT_EQ(hp.embd_scale, 8.0f);
  EXPECT_FLOAT_EQ(hp.attn_softcap, 50.0f);
  EXPECT_FLOAT_EQ(hp.final_softcap, 30.0f);
  EXPECT_EQ(m->block().ffn_act, model::FfnActivation::kGeluTanh);
  EXPECT_TRUE(m->layer(0).attn_post_norm);
  EXPECT_TRUE(m->layer(3).ffn_post_norm);
}

TEST_F(ArchLoader, Gemma3HasFiveLocalLayersPerGlobalOneWithTheirOwnRopeBase) {
  auto s = small("gemma3");
  s.n_layer = 7;
  s.sliding_window = 16;
  const auto m = model::Model::load(write(s, "gemma3"));
  const auto& hp = m->hparams();
  for (int il = 0; il < 7; ++il) EXPECT_EQ(hp.is_swa_layer(il), il != 5) << il;
  EXPECT_FLOAT_EQ(hp.rope_freq_base_swa, 10000.0f);
  EXPECT_EQ(hp.final_softcap, 0.0f);
  EXPECT_TRUE(m->layer(0).q_norm);
}

TEST_F(ArchLoader, GemmaWithoutASlidingWindowIsAnError) {
  const std::string path = write(small("gemma2"), "gemma2-nowindow");
  try {
    model::Model::load(path);
    FAIL() << "loaded";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("sliding_window"), std::string::npos) << e.what();
  }
}

TEST_F(ArchLoader, Phi3IsFusedAndGraniteReadsItsMultipliers) {
  auto p = small("phi3");
  p.sliding_window = 32;
  const auto phi = model::Model::load(write(p, "phi3"));
  EXPECT_TRUE(phi->layer(0).wqkv);
  EXPECT_FALSE(phi->layer(0).wq);
  EXPECT_FALSE(phi->layer(0).ffn_gate);
  EXPECT_EQ(phi->layer(0).ffn_up.rows(), 2 * 96);
  EXPECT_TRUE(phi->hparams().is_swa_layer(1));

  auto g = small("granite");
  g.embd_scale = 12.0f;
  g.residual_scale = 0.22f;
  g.attn_scale = 0.125f;
  g.logit_scale = 8.0f;
  const auto gr = model::Model::load(write(g, "granite"));
  EXPECT_FLOAT_EQ(gr->hparams().embd_scale, 12.0f);
  EXPECT_FLOAT_EQ(gr->hparams().residual_scale, 0.22f);
  EXPECT_FLOAT_EQ(gr->hparams().attn_scale, 0.125f);
  EXPECT_FLOAT_EQ(gr->hparams().logit_scale, 8.0f);
}

TEST_F(ArchLoader, ExpertsOnLlamaAndQwen3Moe) {
  auto s = small("llama");
  s.n_expert = 4;
  s.n_expert_used = 2;
  const auto mix = model::Model::load(write(s, "mixtral"));
  EXPECT_EQ(mix->hparams().n_expert, 4);
  EXPECT_EQ(mix->hparams().n_ff_exp, 96);
  EXPECT_FALSE(mix->layer(0).ffn_gate);
  EXPECT_EQ(mix->layer(1).ffn_down_exps.ne[2], 4);
  // Per token, 2 of the 4 experts are read.
  const uint64_t experts = mix->layer(0).ffn_gate_exps.n_bytes + mix->layer(0).ffn_up_exps.n_bytes +
                           mix->layer(0).ffn_down_exps.n_bytes;
  EXPECT_LT(mix->bytes_per_token(), mix->weight_bytes() - experts);

  auto q = small("qwen3moe");
  q.n_expert = 8;
  q.n_expert_used = 3;
  q.n_ff_exp = 32;
  const auto qm = model::Model::load(write(q, "qwen3moe"));
  EXPECT_EQ(qm->hparams().n_ff_exp, 32);
  EXPECT_EQ(qm->layer(0).ffn_gate_exps.ne[1], 32);
  EXPECT_TRUE(qm->hparams().expert_weights_norm);
}

TEST_F(ArchLoader, BadExpertCountsAreErrors) {
  auto q = small("qwen3moe");
  EXPECT_THROW(model::Model::load(write(q, "no-experts")), Error);  // qwen3moe needs expert_count

  q.n_expert = 4;
  q.n_expert_used = 2;
  gguf::GgufWriter w = model::synthetic_model_writer(q);
  w.set("qwen3moe.expert_used_count", gguf::Value::u32(5));
  const std::string path = (dir_ / "too-many-used.gguf").string();
  w.write(path);
  try {
    model::Model::load(path);
    FAIL() << "loaded";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidFile);
    EXPECT_NE(std::string(e.what()).find("expert_used_count"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace quarrel
