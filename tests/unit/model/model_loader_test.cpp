// Model loading: hparams from the <arch>.* keys, the weight table per architecture, tied
// embeddings, weights in place in the mmap, and the errors a bad file gives.
#include <gtest/gtest.h>

#include <filesystem>
#include <functional>

#include "common/test_data.h"
#include "core/error.h"
#include "gguf/gguf_file.h"
#include "gguf/gguf_writer.h"
#include "model/model.h"
#include "model/synthetic.h"
#include "model/tensor_names.h"

namespace quarrel::model {
namespace {
namespace fs = std::filesystem;

class ModelLoaderTest : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = test::temp_dir("quarrel-model-loader"); }
  void TearDown() override { fs::remove_all(dir_); }

  std::string write(const SyntheticSpec& spec, const std::string& name = "m.gguf") {
    const std::string path = (dir_ / name).string();
    write_synthetic_model(spec, path);
    return path;
  }

  // Rewrites `src` with metadata changes and per-tensor replacements: edit(name, info, writer)
  // returns false to drop the tensor (it may add a replacement itself).
  std::string rewrite(const std::string& src, const std::function<void(gguf::GgufWriter&)>& meta,
                      const std::function<bool(const gguf::TensorInfo&, gguf::GgufWriter&)>& edit) {
    const auto f = gguf::GgufFile::open(src);
    gguf::GgufWriter w;
    w.copy_metadata_from(f);
    if (meta) meta(w);
    for (const auto& t : f.tensors()) {
      if (edit && !edit(t, w)) continue;
      const auto bytes = f.tensor_data(t);
      w.add_tensor(t.name, t.type, t.shape, std::vector<uint8_t>(bytes.begin(), bytes.end()));
    }
    const std::string out = (dir_ / "edited.gguf").string();
    w.write(out);
    return out;
  }

  static Error load_error(const std::string& path) {
    try {
      Model::load(path);
    } catch (const Error& e) {
      return e;
    }
    ADD_FAILURE() << "loading " << path << " did not fail";
    return Error(ErrorCode::kInternal, "");
  }

  fs::path dir_;
};

TEST_F(ModelLoaderTest, TensorNames) {
  EXPECT_EQ(tensor_name(TensorKind::kTokenEmbd), "token_embd.weight");
  EXPECT_EQ(tensor_name(TensorKind::kAttnQ, 3), "blk.3.attn_q.weight");
  EXPECT_EQ(tensor_name(TensorKind::kAttnKBias, 0), "blk.0.attn_k.bias");
  EXPECT_EQ(tensor_name(TensorKind::kAttnQNorm, 11), "blk.11.attn_q_norm.weight");
  EXPECT_EQ(tensor_name(TensorKind::kFfnDown, 2), "blk.2.ffn_down.weight");
  EXPECT_FALSE(is_per_layer(TensorKind::kOutput));
  EXPECT_TRUE(is_per_layer(TensorKind::kFfnNorm));
}

TEST_F(ModelLoaderTest, StoriesHParams) {
  const auto m = Model::load(test::data_path("models/stories260K.gguf").string());
  const HParams& hp = m->hparams();
  EXPECT_EQ(hp.arch, "llama");
  EXPECT_EQ(hp.n_vocab, 512);
  EXPECT_EQ(hp.n_embd, 64);
  EXPECT_EQ(hp.n_layer, 5);
  EXPECT_EQ(hp.n_head, 8);
  EXPECT_EQ(hp.n_head_kv, 4);
  EXPECT_EQ(hp.head_dim_k, 8);
  EXPECT_EQ(hp.n_ff, 172);
  EXPECT_EQ(hp.n_rot, 8);
  EXPECT_EQ(hp.n_ctx_train, 2048);
  EXPECT_EQ(hp.n_ctx, 2048);
  EXPECT_FLOAT_EQ(hp.rope_freq_base, 10000.0f);
  EXPECT_NEAR(hp.rms_eps, 1e-5f, 1e-9f);
  EXPECT_EQ(m->block().rope_style, RopeStyle::kNormal);
  EXPECT_FALSE(m->tied_embeddings());
  EXPECT_EQ(m->output().name(), "output.weight");
  EXPECT_EQ(m->layers().size(), 5u);
  EXPECT_EQ(m->layer(4).ffn_down.cols(), 172);
  EXPECT_EQ(m->layer(4).ffn_down.rows(), 64);
  EXPECT_FALSE(m->layer(0).bq);
  EXPECT_FALSE(m->rope_freqs());
}

TEST_F(ModelLoaderTest, ContextOverride) {
  const auto m = Model::load(test::data_path("models/stories260K.gguf").string(), {.n_ctx = 512});
  EXPECT_EQ(m->hparams().n_ctx, 512);
  EXPECT_EQ(m->hparams().n_ctx_train, 2048);
}

TEST_F(ModelLoaderTest, WeightsAreViewsIntoTheMapping) {
  const auto m = Model::load(test::data_path("models/stories260K.gguf").string());
  const auto bytes = m->file().bytes();
  const uint8_t* lo = bytes.data();
  const uint8_t* hi = lo + bytes.size();
  for (const auto* w : {&m->token_embd(), &m->output(), &m->layer(2).wq, &m->layer(2).ffn_norm}) {
    ASSERT_TRUE(*w);
    EXPECT_GE(w->data, lo);
    EXPECT_LE(w->data + w->n_bytes, hi);
    EXPECT_EQ(w->data, m->file().tensor_data(*w->info).data());
  }
}

TEST_F(ModelLoaderTest, EachArchitecture) {
  struct Case {
    std::string arch;
    RopeStyle style;
    bool bias, qk_norm;
  };
  for (const Case& c : {Case{"llama", RopeStyle::kNormal, false, false}, Case{"mistral", RopeStyle::kNormal, false, false},
                        Case{"qwen2", RopeStyle::kNeox, true, false}, Case{"qwen3", RopeStyle::kNeox, false, true}}) {
    SCOPED_TRACE(c.arch);
    SyntheticSpec spec;
    spec.arch = c.arch;
    spec.n_layer = 2;
    spec.head_dim = c.arch == "qwen3" ? 32 : 0;  // qwen3: head size not n_embd / n_head
    spec.sliding_window = c.arch == "mistral" ? 7 : 0;
    const auto m = Model::load(write(spec, c.arch + ".gguf"));
    EXPECT_EQ(m->arch().name, c.arch);
    EXPECT_EQ(m->block().rope_style, c.style);
    EXPECT_EQ(static_cast<bool>(m->layer(1).bq), c.bias);
    EXPECT_EQ(static_cast<bool>(m->layer(1).bv), c.bias);
    EXPECT_EQ(static_cast<bool>(m->layer(1).q_norm), c.qk_norm);
    EXPECT_EQ(static_cast<bool>(m->layer(1).k_norm), c.qk_norm);
    EXPECT_EQ(m->hparams().sliding_window, c.arch == "mistral" ? 7 : 0);
    EXPECT_EQ(m->hparams().head_dim_k, c.arch == "qwen3" ? 32 : 64);
    EXPECT_EQ(m->layer(0).wq.rows(), m->hparams().n_head * m->hparams().head_dim_k);
  }
}

TEST_F(ModelLoaderTest, TiedEmbeddingsAndRopeFreqs) {
  SyntheticSpec spec;
  spec.tied_embeddings = true;
  spec.rope_freqs = true;
  spec.rope_scaling = "yarn";
  spec.rope_scale_factor = 4.0f;
  spec.rope_orig_ctx = 512;
  const auto m = Model::load(write(spec));
  EXPECT_TRUE(m->tied_embeddings());
  EXPECT_EQ(m->output().data, m->token_embd().data);
  ASSERT_TRUE(m->rope_freqs());
  EXPECT_EQ(m->rope_freqs().cols(), m->hparams().n_rot / 2);
  EXPECT_EQ(m->hparams().rope_scaling, RopeScaling::kYarn);
  EXPECT_FLOAT_EQ(m->hparams().rope_freq_scale(), 0.25f);
  EXPECT_EQ(m->hparams().rope_orig_ctx, 512);
}

TEST_F(ModelLoaderTest, QuantizedWeightsKeepTheirType) {
  SyntheticSpec spec;
  spec.type = GgmlType::Q4_K;
  spec.output_type = GgmlType::Q6_K;
  const auto m = Model::load(write(spec));
  EXPECT_EQ(m->layer(0).wq.type, GgmlType::Q4_K);
  EXPECT_EQ(m->output().type, GgmlType::Q6_K);
  EXPECT_EQ(m->layer(0).attn_norm.type, GgmlType::F32);
  EXPECT_EQ(m->layer(0).wq.row_bytes(), row_bytes(GgmlType::Q4_K, 256));
  EXPECT_GT(m->bytes_per_token(), 0u);
  EXPECT_LT(m->bytes_per_token(), m->weight_bytes());
}

TEST_F(ModelLoaderTest, UnknownArchitectureIsNamed) {
  const std::string path = rewrite(write({}), [](gguf::GgufWriter& w) {
    w.set("general.architecture", gguf::Value::string("gpt-neo"));
  }, nullptr);
  const Error e = load_error(path);
  EXPECT_EQ(e.code(), ErrorCode::kUnsupported);
  EXPECT_NE(std::string(e.what()).find("'gpt-neo'"), std::string::npos) << e.what();
  EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
}

TEST_F(ModelLoaderTest, MissingTensorIsNamed) {
  const std::string path = rewrite(write({}), nullptr, [](const gguf::TensorInfo& t, gguf::GgufWriter&) {
    return t.name != "blk.1.ffn_up.weight";
  });
  const Error e = load_error(path);
  EXPECT_EQ(e.code(), ErrorCode::kNotFound);
  EXPECT_NE(std::string(e.what()).find("'blk.1.ffn_up.weight'"), std::string::npos) << e.what();
  EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
}

TEST_F(ModelLoaderTest, MissingBiasOfQwen2IsNamed) {
  SyntheticSpec spec;
  spec.arch = "qwen2";
  const std::string path = rewrite(write(spec), nullptr, [](const gguf::TensorInfo& t, gguf::GgufWriter&) {
    return t.name != "blk.0.attn_v.bias";
  });
  const Error e = load_error(path);
  EXPECT_EQ(e.code(), ErrorCode::kNotFound);
  EXPECT_NE(std::string(e.what()).find("'blk.0.attn_v.bias'"), std::string::npos) << e.what();
}

TEST_F(ModelLoaderTest, WrongShapeIsNamed) {
  const std::string path = rewrite(write({}), nullptr, [](const gguf::TensorInfo& t, gguf::GgufWriter& w) {
    if (t.name != "blk.0.attn_k.weight") return true;
    w.add_tensor(t.name, GgmlType::F32, {256, 64}, std::vector<uint8_t>(256 * 64 * 4));
    return false;
  });
  const Error e = load_error(path);
  EXPECT_EQ(e.code(), ErrorCode::kInvalidFile);
  const std::string msg = e.what();
  EXPECT_NE(msg.find("'blk.0.attn_k.weight'"), std::string::npos) << msg;
  EXPECT_NE(msg.find("[256, 64]"), std::string::npos) << msg;
  EXPECT_NE(msg.find("[256, 128]"), std::string::npos) << msg;
}

TEST_F(ModelLoaderTest, UnsupportedTypeIsNamed) {
  const std::string path = rewrite(write({}), nullptr, [](const gguf::TensorInfo& t, gguf::GgufWriter& w) {
    if (t.name != "blk.1.ffn_gate.weight") return true;
    w.add_tensor(t.name, GgmlType::IQ2_XXS, t.shape, std::vector<uint8_t>(row_bytes(GgmlType::IQ2_XXS, 256) * 512));
    return false;
  });
  const Error e = load_error(path);
  EXPECT_EQ(e.code(), ErrorCode::kUnsupported);
  const std::string msg = e.what();
  EXPECT_NE(msg.find("'blk.1.ffn_gate.weight'"), std::string::npos) << msg;
  EXPECT_NE(msg.find("IQ2_XXS"), std::string::npos) << msg;
}

TEST_F(ModelLoaderTest, MissingKeyIsNamed) {
  const std::string path = rewrite(write({}), [](gguf::GgufWriter& w) { w.remove("llama.block_count"); }, nullptr);
  const Error e = load_error(path);
  EXPECT_EQ(e.code(), ErrorCode::kNotFound);
  EXPECT_NE(std::string(e.what()).find("llama.block_count"), std::string::npos) << e.what();
}

}  // namespace
}  // namespace quarrel::model
