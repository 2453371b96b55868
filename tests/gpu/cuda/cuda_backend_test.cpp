// Whole models on the CUDA backend against the CPU backend: stories260K and random-weight
// models of every architecture and weight type, prompt (cuBLAS path) and decode steps (quantized
// matrix-vector kernels, CUDA graphs) within stated bounds; greedy tokens identical to the CPU's
// for 32 steps on F32/F16; batched equals sequential; copy-on-write; errors; an fp8 (e4m3) KV
// cache against the CPU's f16 one within a looser bound. Skipped without a GPU.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <numeric>
#include <string>

#include "backend/cpu/ops.h"
#include "backend/cpu_backend.h"
#include "backend/cuda/attention_decode.h"
#include "backend/cuda/cuda_backend.h"
#include "common/test_data.h"
#include "core/error.h"
#include "model/model.h"
#include "model/synthetic.h"
#include "tests/gpu/cuda/gpu_test_util.h"

namespace quarrel::backend {
namespace {
namespace fs = std::filesystem;

constexpr int32_t kBlock = 16, kBlocks = 24;

// A sequence of n blocks whose logical block j is pool block (kBlocks - 1 - j - offset):
// scattered, reversed.
std::vector<int32_t> table(int offset, int n = 8) {
  std::vector<int32_t> t;
  for (int j = 0; j < n; ++j) t.push_back(kBlocks - 1 - j - offset);
  return t;
}
int32_t slot_of(const std::vector<int32_t>& t, int32_t pos) { return t[static_cast<size_t>(pos / kBlock)] * kBlock + pos % kBlock; }

double rel(std::span<const float> a, std::span<const float> b) {
  double num = 0, den = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::isnan(a[i])) return INFINITY;
    num += (double(a[i]) - b[i]) * (double(a[i]) - b[i]);
    den += double(b[i]) * b[i];
  }
  return std::sqrt(num / std::max(den, 1e-30));
}

// Prompt of n_prompt tokens (all logits) then n_decode greedy steps (the CPU's choice fed to
// both); returns the largest relative logit error of the prompt rows and of the decode rows.
// The CPU keeps its KV cache in f16, the GPU in gpu_kv. *graphs: the decode graphs the GPU made.
std::pair<double, double> compare(const std::string& path, int n_prompt, int n_decode,
                                  GgmlType gpu_kv = GgmlType::F16, size_t* graphs = nullptr) {
  auto m = model::Model::load(path, {.n_ctx = 256});
  CpuBackend cpu({.n_threads = 2});
  CudaBackend gpu;
  cpu.load(m, {.n_blocks = kBlocks, .block_size = kBlock});
  gpu.load(m, {.n_blocks = kBlocks, .block_size = kBlock, .type = gpu_kv});
  const auto bt = table(0, std::max(8, (n_prompt + n_decode + kBlock - 1) / kBlock));
  Batch b;
  b.set_sequence(3, bt, n_prompt);
  for (int p = 0; p < n_prompt; ++p) {
    b.add_token(static_cast<TokenId>((p * 37 + 11) % m->hparams().n_vocab), p, 3, slot_of(bt, p), true);
  }
  Logits lc, lg;
  cpu.forward(b, lc);
  gpu.forward(b, lg);
  EXPECT_EQ(lg.batch_index, lc.batch_index);
  double e_prompt = 0, e_decode = 0;
  for (size_t r = 0; r < lc.rows(); ++r) e_prompt = std::max(e_prompt, rel(lg.row(r), lc.row(r)));
  TokenId tok = static_cast<TokenId>(cpu::argmax(lc.row(lc.rows() - 1).data(), lc.n_vocab));
  for (int s = 0; s < n_decode; ++s) {
    const int p = n_prompt + s;
    b.clear();
    b.set_sequence(3, bt, p + 1);
    b.add_token(tok, p, 3, slot_of(bt, p), true);
    cpu.forward(b, lc);
    gpu.forward(b, lg);
    e_decode = std::max(e_decode, rel(lg.row(0), lc.row(0)));
    tok = static_cast<TokenId>(cpu::argmax(lc.row(0).data(), lc.n_vocab));
  }
  if (n_decode > 0) {
    EXPECT_GT(gpu.graph_count(), 0u);
  }
  if (graphs) *graphs = gpu.graph_count();
  std::printf("%s (gpu KV %s): max relative logit error vs cpu (KV F16): prompt %.2e, decode %.2e\n", path.c_str(),
              std::string(type_name(gpu_kv)).c_str(), e_prompt, e_decode);
  return {e_prompt, e_decode};
}

// A synthetic model spec of arch with a weight type ("F16") or a mix ("Q4_K_M").
model::SyntheticSpec spec_of(const std::string& arch, const std::string& type_or_mix, uint64_t seed) {
  model::SyntheticSpec s;
  s.arch = arch;
  s.seed = seed;
  if (type_or_mix.find("_M") != std::string::npos || type_or_mix.find("_S") != std::string::npos) {
    s.mix = type_or_mix;
  } else {
    s.type = *parse_type_name(type_or_mix);
  }
  return s;
}

TEST(CudaBackend, Stories260KMatchesCpu) {
  QUARREL_SKIP_WITHOUT_GPU();
  const auto [ep, ed] = compare(test::data_path("models/stories260K.gguf").string(), 21, 12);
  EXPECT_LT(ep, 2e-3);
  EXPECT_LT(ed, 2e-3);
}

// Decode steps that cross kShortContextKeys keys: the graph of the short-context attention kernel
// (a block per query head) gives way to one of the split kernel, and the logits stay the CPU's
// on both sides of the change (F16: GQA groups of the synthetic llama; Q4_K_M: int8 activations).
TEST(CudaBackend, DecodeAcrossTheShortContextLimitMatchesCpu) {
  QUARREL_SKIP_WITHOUT_GPU();
  const fs::path dir = test::temp_dir("quarrel-cuda-short");
  for (const std::string mix : {"F16", "Q4_K_M"}) {
    const std::string path = (dir / (mix + ".gguf")).string();
    model::write_synthetic_model(spec_of("llama", mix, 7), path);
    size_t graphs = 0;
    const int n_prompt = cuda::short_context_keys() - 6;
    const auto [ep, ed] = compare(path, n_prompt, 12, GgmlType::F16, &graphs);
    EXPECT_LT(ed, mix == "F16" ? 5e-3 : 5e-2) << mix << ": decode";
    EXPECT_EQ(graphs, 2u) << mix << ": one decode graph per attention kernel";
  }
  fs::remove_all(dir);
}

struct Case {
  std::string arch;
  std::string type;  // a GgmlType name or a mix ("Q4_K_M")
  double bound;      // relative logit error allowed against the CPU backend
};

class CudaSynthetic : public ::testing::TestWithParam<Case> {};

// The architecture's own options, each set so that the 19-token prompt and 10 decode steps
// exercise it: windows of 12 keys; gemma2's score and final soft-caps low enough to bend the
// scores and logits of these weights (theirs are 50 and 30, which barely bend them); gemma3's
// head size of 256 and global RoPE base of 1e6 (its window layers keep 10000); granite's four
// multipliers; phi3's fused projections come with the architecture.
model::SyntheticSpec arch_spec(const std::string& arch) {
  model::SyntheticSpec s;
  s.arch = arch;
  if (arch == "mistral" || arch == "phi3" || arch == "gemma2" || arch == "gemma3") s.sliding_window = 12;
  if (arch == "qwen3") s.head_dim = 128;
  s.rope_freqs = arch == "llama";
  if (arch == "gemma2") {
    s.attn_softcap = 2.0f;
    s.final_softcap = 3.0f;
    s.attn_scale = 0.1f;
  }
  if (arch == "gemma3") {
    s.head_dim = 256;
    s.rope_freq_base = 1e6f;
  }
  if (arch == "granite") {
    s.embd_scale = 6.0f;
    s.residual_scale = 0.3f;
    s.attn_scale = 0.09f;
    s.logit_scale = 4.0f;
  }
  return s;
}

// Bounds: F32 weights compute in f32 on both sides (cuBLAS f32 for the prompt); F16/BF16 prompts
// run cuBLAS on f16 activations; for quantized weights the CPU multiplies 8-bit-quantized
// activations while the GPU uses f32 (decode) or f16 (prompt) ones.
TEST_P(CudaSynthetic, LogitsMatchCpu) {
  QUARREL_SKIP_WITHOUT_GPU();
  const Case& c = GetParam();
  const fs::path dir = test::temp_dir("quarrel-cuda");
  model::SyntheticSpec s = arch_spec(c.arch);
  const model::SyntheticSpec t = spec_of(c.arch, c.type, 5);
  s.seed = t.seed;
  s.mix = t.mix;
  s.type = t.type;
  const std::string path = (dir / (c.arch + "-" + c.type + ".gguf")).string();
  model::write_synthetic_model(s, path);
  const auto [ep, ed] = compare(path, 19, 10);
  EXPECT_LT(ep, c.bound) << "prompt";
  EXPECT_LT(ed, c.bound) << "decode";
  fs::remove_all(dir);
}

std::vector<Case> cases() {
  std::vector<Case> v;
  for (const std::string arch : {"llama", "mistral", "qwen2", "qwen3", "gemma2", "gemma3", "phi3", "granite"}) {
    v.push_back({arch, "F32", 1e-3});
    v.push_back({arch, "F16", 5e-3});
    v.push_back({arch, "Q8_0", 3e-2});
    v.push_back({arch, "Q4_K_M", 5e-2});
  }
  for (const std::string t : {"BF16"}) v.push_back({"llama", t, 1e-2});
  for (const std::string t : {"Q4_0", "Q4_K", "Q5_K", "Q6_K", "IQ4_XS", "Q5_0"}) v.push_back({"llama", t, 5e-2});
  return v;
}
INSTANTIATE_TEST_SUITE_P(All, CudaSynthetic, ::testing::ValuesIn(cases()), [](const auto& param_info) {
  return param_info.param.arch + "_" + param_info.param.type;
});

// 32 greedy tokens after a 5-token prompt. check_step(s, b) may run the step's batch b first
// (before forward_greedy writes the same K/V again).
template <typename Check>
std::vector<TokenId> greedy_32(Backend& be, const std::vector<int32_t>& bt, Check check_step) {
  std::vector<TokenId> out, ids;
  Batch b;
  b.set_sequence(0, bt, 5);
  for (int p = 0; p < 5; ++p) b.add_token(static_cast<TokenId>(p * 7 + 1), p, 0, slot_of(bt, p), p == 4);
  be.forward_greedy(b, ids);
  for (int s = 0; s < 32; ++s) {
    EXPECT_EQ(ids.size(), 1u);
    out.push_back(ids.at(0));
    const int p = 5 + s;
    b.clear();
    b.set_sequence(0, bt, p + 1);
    b.add_token(ids[0], p, 0, slot_of(bt, p), true);
    check_step(s, b);
    be.forward_greedy(b, ids);
  }
  return out;
}

class CudaModelTest : public ::testing::Test {
 protected:
  void SetUp() override {
    QUARREL_SKIP_WITHOUT_GPU();
    dir_ = test::temp_dir("quarrel-cuda-model");
  }
  void TearDown() override {
    if (!dir_.empty()) fs::remove_all(dir_);
  }
  std::string make(const std::string& arch, GgmlType type) {
    model::SyntheticSpec s;
    s.arch = arch;
    s.type = type;
    s.seed = 9;
    const std::string p = (dir_ / (arch + std::string(type_name(type)) + ".gguf")).string();
    model::write_synthetic_model(s, p);
    return p;
  }
  fs::path dir_;
};

// 32 greedy tokens of the model at path on both backends: the same ids.
void expect_same_greedy_tokens(const std::string& path, const std::string& what) {
  auto m = model::Model::load(path, {.n_ctx = 256});
  CpuBackend cpu({.n_threads = 2});
  CudaBackend gpu;
  cpu.load(m, {.n_blocks = kBlocks, .block_size = kBlock});
  gpu.load(m, {.n_blocks = kBlocks, .block_size = kBlock});
  const auto none = [](int, const Batch&) {};
  const auto out_c = greedy_32(cpu, table(0), none), out_g = greedy_32(gpu, table(0), none);
  EXPECT_EQ(out_g, out_c) << what;
}

TEST_F(CudaModelTest, GreedyIdenticalToCpuFor32Steps) {
  for (GgmlType t : {GgmlType::F32, GgmlType::F16}) expect_same_greedy_tokens(make("llama", t), std::string(type_name(t)));
}

// The same for every other architecture the backend runs, F32 weights.
TEST_F(CudaModelTest, GreedyIdenticalToCpuFor32StepsEveryArchitecture) {
  for (const std::string arch : {"mistral", "qwen2", "qwen3", "gemma2", "gemma3", "phi3", "granite"}) {
    model::SyntheticSpec s = arch_spec(arch);
    s.seed = 9;
    const std::string path = (dir_ / (arch + "-greedy.gguf")).string();
    model::write_synthetic_model(s, path);
    expect_same_greedy_tokens(path, arch);
  }
}

// Two sequences decoded in one batch give the logits each gives alone (bit-identical: the
// kernels compute every column and query independently); forward_greedy == argmax(forward).
TEST_F(CudaModelTest, BatchedEqualsSequentialAndCopyOnWrite) {
  auto m = model::Model::load(make("qwen2", GgmlType::Q8_0), {.n_ctx = 256});
  auto run = [&](bool together) {
    CudaBackend gpu;
    gpu.load(m, {.n_blocks = kBlocks, .block_size = kBlock});
    const std::vector<std::vector<int32_t>> bts = {{0, 2, 4, 6}, {1, 3, 5, 7}};
    const int lens[2] = {7, 20};
    std::vector<std::vector<float>> logits(2);
    Batch b;
    Logits l;
    for (int s = 0; s < 2; ++s) {
      b.clear();
      b.set_sequence(s, bts[s], lens[s]);
      for (int p = 0; p < lens[s]; ++p) b.add_token((p * 13 + s) % 256, p, s, slot_of(bts[s], p), false);
      gpu.forward(b, l);
    }
    for (int step = 0; step < 4; ++step) {
      if (together) {
        b.clear();
        for (int s = 0; s < 2; ++s) {
          const int p = lens[s] + step;
          b.set_sequence(s, bts[s], p + 1);
          b.add_token(40 + step + s, p, s, slot_of(bts[s], p), true);
        }
        gpu.forward(b, l);
        for (int s = 0; s < 2; ++s) logits[s].insert(logits[s].end(), l.row(s).begin(), l.row(s).end());
        std::vector<TokenId> ids;
        EXPECT_NO_THROW(gpu.forward_greedy(b, ids));  // writes the same K/V again
        for (int s = 0; s < 2; ++s) EXPECT_EQ(ids[s], cpu::argmax(l.row(s).data(), l.n_vocab));
      } else {
        for (int s = 0; s < 2; ++s) {
          const int p = lens[s] + step;
          b.clear();
          b.set_sequence(s, bts[s], p + 1);
          b.add_token(40 + step + s, p, s, slot_of(bts[s], p), true);
          gpu.forward(b, l);
          logits[s].insert(logits[s].end(), l.row(0).begin(), l.row(0).end());
        }
      }
    }
    // Copy-on-write: sequence 1's block 1 (positions 16..31, pool block 3) copied to block 9;
    // a fork with table {1, 9, ...} continuing at position 24 equals sequence 1 continuing there.
    gpu.copy_blocks(std::vector<kv::BlockCopy>{{.src = 3, .dst = 9}});
    const std::vector<int32_t> fork = {1, 9, 5, 7};
    b.clear();
    b.set_sequence(5, fork, 25);
    b.add_token(99, 24, 5, slot_of(fork, 24), true);
    gpu.forward(b, l);
    std::vector<float> f(l.row(0).begin(), l.row(0).end());
    b.clear();
    b.set_sequence(1, bts[1], 25);
    b.add_token(99, 24, 1, slot_of(bts[1], 24), true);
    gpu.forward(b, l);
    EXPECT_EQ(f, std::vector<float>(l.row(0).begin(), l.row(0).end())) << "fork after copy_blocks";
    return logits;
  };
  const auto a = run(true), s = run(false);
  EXPECT_EQ(a, s);
}

// Continuous batching of many sequences: 7, 12 and 40 sequences (contexts of 3 to 42 tokens)
// decode together. 7 is a decode graph whose products take the int8 tensor cores (matmul_q8) on
// the int8 copies the norms and attention make (Q4_K_M; Q8_0 keeps the int8 matvec there); 12, 24
// and 40 are past the matvec's 8 columns, with the prompt kernel's attention: 12 take
// matmul_f16act (blocks of 4 warps; Q8_0 and IQ4_XS matmul_q8), 24 matmul_f16act (8 warps; IQ4_XS
// cuBLAS on the F16 copies), 40 cuBLAS on the copies, or matmul_f16act (16 warps) when the backend
// keeps none. Every row's logits against the CPU's (Q4_K_M: Q4_K and Q6_K weights; Q8_0; IQ4_XS).
TEST_F(CudaModelTest, ManySequencesDecodeTogetherMatchCpu) {
  for (const std::string mix : {"Q4_K_M", "Q8_0", "IQ4_XS"}) {
    const std::string path = (dir_ / ("many-" + mix + ".gguf")).string();
    model::write_synthetic_model(spec_of("llama", mix, 11), path);
    auto m = model::Model::load(path, {.n_ctx = 64});
    for (const auto& [n_seq, f16_copies] :
         {std::pair{7, true}, std::pair{12, true}, std::pair{24, true}, std::pair{40, true}, std::pair{40, false}}) {
      const int32_t blocks_per_seq = 3, n_blocks = n_seq * blocks_per_seq;
      CpuBackend cpu({.n_threads = 2});
      CudaBackend gpu({.f16_weight_cache = f16_copies});
      cpu.load(m, {.n_blocks = n_blocks, .block_size = kBlock});
      gpu.load(m, {.n_blocks = n_blocks, .block_size = kBlock});
      std::vector<std::vector<int32_t>> bts(static_cast<size_t>(n_seq));
      std::vector<int> lens(static_cast<size_t>(n_seq));
      Batch b;
      Logits lc, lg;
      for (int s = 0; s < n_seq; ++s) {  // each sequence's prompt on its own
        for (int j = 0; j < blocks_per_seq; ++j) bts[s].push_back(j * n_seq + s);
        lens[s] = 3 + s % 40;
        b.clear();
        b.set_sequence(s, bts[s], lens[s]);
        for (int p = 0; p < lens[s]; ++p) b.add_token((p * 13 + 5 * s) % 256, p, s, slot_of(bts[s], p), p == lens[s] - 1);
        cpu.forward(b, lc);
        gpu.forward(b, lg);
      }
      double worst = 0;
      for (int step = 0; step < 3; ++step) {
        b.clear();
        for (int s = 0; s < n_seq; ++s) {
          const int p = lens[s] + step;
          b.set_sequence(s, bts[s], p + 1);
          b.add_token((7 * s + step) % 256, p, s, slot_of(bts[s], p), true);
        }
        cpu.forward(b, lc);
        gpu.forward(b, lg);
        ASSERT_EQ(lg.rows(), static_cast<size_t>(n_seq));
        for (int s = 0; s < n_seq; ++s) worst = std::max(worst, rel(lg.row(s), lc.row(s)));
      }
      std::printf("%s, %d sequences decoding together (F16 copies %s): max relative logit error vs cpu %.2e\n",
                  mix.c_str(), n_seq, f16_copies ? "kept" : "none", worst);
      EXPECT_LT(worst, 5e-2) << mix << " " << n_seq << " sequences, F16 copies " << f16_copies;
    }
  }
}

// forward_candidates selects on the device what the host selects from forward()'s rows (the
// same logits: the K/V written again are the same): a prompt batch of two sequences (no graph)
// and decode steps (graphs), a different k and named tokens per row.
TEST_F(CudaModelTest, CandidatesEqualTheHostSelection) {
  auto m = model::Model::load(make("llama", GgmlType::Q4_K), {.n_ctx = 256});
  const auto n_vocab = static_cast<int32_t>(m->hparams().n_vocab);
  CudaBackend gpu;
  gpu.load(m, {.n_blocks = kBlocks, .block_size = kBlock});
  const std::vector<std::vector<int32_t>> bts = {{0, 2, 4, 6}, {1, 3, 5, 7}};
  const std::vector<CandidateRequest> reqs = {{.k = 1, .ids = {}}, {.k = std::min(300, n_vocab), .ids = {0, 5, n_vocab - 1}}};
  auto check = [&](const Batch& b) {
    Logits l;
    gpu.forward(b, l);
    Candidates c;
    gpu.forward_candidates(b, reqs, c);
    ASSERT_EQ(c.batch_index, l.batch_index);
    ASSERT_EQ(c.rows.size(), 2u);
    for (size_t r = 0; r < 2; ++r) {
      RowCandidates want;
      select_candidates(l.row(r), reqs[r], want);
      ASSERT_EQ(c.rows[r].best.size(), want.best.size());
      for (size_t i = 0; i < want.best.size(); ++i) {
        EXPECT_EQ(c.rows[r].best[i].id, want.best[i].id) << "row " << r << " rank " << i;
        EXPECT_EQ(c.rows[r].best[i].logit, want.best[i].logit);
      }
      EXPECT_EQ(c.rows[r].named, want.named);
    }
  };
  Batch b;
  for (int s = 0; s < 2; ++s) {
    b.set_sequence(s, bts[s], 9 + s);
    for (int p = 0; p < 9 + s; ++p) b.add_token((p * 13 + s) % 256, p, s, slot_of(bts[s], p), p == 8 + s);
  }
  check(b);
  for (int step = 0; step < 3; ++step) {
    b.clear();
    for (int s = 0; s < 2; ++s) {
      const int p = 9 + s + step;
      b.set_sequence(s, bts[s], p + 1);
      b.add_token(40 + step + s, p, s, slot_of(bts[s], p), true);
    }
    check(b);
  }
  Candidates c;
  b.clear();
  b.set_sequence(0, bts[0], 1);
  b.add_token(1, 0, 0, slot_of(bts[0], 0), true);
  EXPECT_THROW(gpu.forward_candidates(b, std::vector<CandidateRequest>{{.k = n_vocab + 1, .ids = {}}}, c), Error);
  EXPECT_THROW(gpu.forward_candidates(b, std::vector<CandidateRequest>{{.k = 1, .ids = {-1}}}, c), Error);
  EXPECT_THROW(gpu.forward_candidates(b, std::vector<CandidateRequest>{}, c), Error);
}

TEST_F(CudaModelTest, ErrorsNotCrashes) {
  auto m = model::Model::load(make("llama", GgmlType::F16), {.n_ctx = 256});
  CudaBackend gpu;
  try {
    gpu.load(m, {.n_blocks = 4, .block_size = 16, .type = GgmlType::Q8_0});
    ADD_FAILURE() << "a Q8_0 KV cache was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("f16 or f8_e4m3"), std::string::npos) << e.what();
  }
  try {
    gpu.load(m, {.n_blocks = INT32_MAX / 2, .block_size = 64});
    ADD_FAILURE() << "a KV pool far over the device memory was accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kOutOfMemory) << e.what();
  }
  {  // a mixture-of-experts model: a clear error naming it, not a wrong forward
    model::SyntheticSpec s;
    s.arch = "qwen3moe";
    s.n_expert = 4;
    s.n_expert_used = 2;
    const std::string path = (dir_ / "moe.gguf").string();
    model::write_synthetic_model(s, path);
    CudaBackend moe;
    try {
      moe.load(model::Model::load(path, {.n_ctx = 256}), {.n_blocks = 4, .block_size = 16});
      ADD_FAILURE() << "a mixture-of-experts model was accepted";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::kUnsupported) << e.what();
      EXPECT_NE(std::string(e.what()).find("mixture-of-experts"), std::string::npos) << e.what();
    }
  }
  gpu.load(m, {.n_blocks = 0, .block_size = 16});  // sized from free memory
  EXPECT_GT(gpu.kv_config().n_blocks, 0);
  Batch b;
  b.set_sequence(0, std::vector<int32_t>{0}, 1);
  b.add_token(100000, 0, 0, 0, true);
  Logits l;
  EXPECT_THROW(gpu.forward(b, l), Error);
}

// An fp8 (e4m3) KV cache: each cached K/V element is rounded to 3 mantissa bits (relative error
// up to 2^-4 = 6.25%, about 3.6% RMS), where f16 rounds to 10 bits (0.05%). A V error enters the
// attention output weighted by the softmax (few keys: nearly as is, many keys: averaged down), a
// K error shifts scores by about 3.6% of |q||k|; both reach the logits through the remaining
// layers, diluted by the residual stream. A bound of 0.1 on the relative logit error over the
// vocabulary leaves room for that and still fails for a misread cache (wrong element size, wrong
// layout or an f16 cache read as fp8 give errors of order 1). The measured errors are printed.
constexpr double kFp8Bound = 0.1;

TEST(CudaBackendFp8, Stories260KMatchesCpuF16Cache) {
  QUARREL_SKIP_WITHOUT_GPU();
  const auto [ep, ed] = compare(test::data_path("models/stories260K.gguf").string(), 21, 12, GgmlType::F8_E4M3);
  EXPECT_LT(ep, kFp8Bound);
  EXPECT_LT(ed, kFp8Bound);
}

TEST_F(CudaModelTest, Fp8CacheLogitsNearCpuAndHalfTheBytes) {
  for (const std::string arch : {"llama", "qwen3"}) {  // head dims 64 (llama's synthetic) and 128
    model::SyntheticSpec s;
    s.arch = arch;
    s.type = GgmlType::F16;
    s.head_dim = arch == "qwen3" ? 128 : 0;
    s.seed = 11;
    const std::string path = (dir_ / (arch + "-fp8kv.gguf")).string();
    model::write_synthetic_model(s, path);
    const auto [ep, ed] = compare(path, 19, 10, GgmlType::F8_E4M3);
    EXPECT_LT(ep, kFp8Bound) << arch << " prompt";
    EXPECT_LT(ed, kFp8Bound) << arch << " decode";
    // The fp8 cache is really used: logits differ from the f16 cache's, and the pool halves.
    auto m = model::Model::load(path, {.n_ctx = 256});
    CudaBackend g16, g8;
    g16.load(m, {.n_blocks = kBlocks, .block_size = kBlock});
    g8.load(m, {.n_blocks = kBlocks, .block_size = kBlock, .type = GgmlType::F8_E4M3});
    EXPECT_EQ(g8.kv_bytes() * 2, g16.kv_bytes());
    EXPECT_EQ(g8.kv_config().type, GgmlType::F8_E4M3);
    const auto bt = table(0);
    Batch b;
    b.set_sequence(0, bt, 12);
    for (int p = 0; p < 12; ++p) b.add_token((p * 29 + 3) % m->hparams().n_vocab, p, 0, slot_of(bt, p), p == 11);
    Logits l16, l8;
    g16.forward(b, l16);
    g8.forward(b, l8);
    const double d = rel(l8.row(0), l16.row(0));
    EXPECT_GT(d, 0.0) << arch << ": fp8 logits identical to f16's";
    EXPECT_LT(d, kFp8Bound) << arch;
  }
}

// Greedy decoding on an fp8 cache runs (decode graphs, device argmax) and gives in-range tokens
// equal to argmax(forward); how many match the CPU's f16 greedy tokens is printed.
TEST_F(CudaModelTest, Fp8CacheGreedyDecodes) {
  auto m = model::Model::load(make("llama", GgmlType::F16), {.n_ctx = 256});
  CpuBackend cpu({.n_threads = 2});
  CudaBackend gpu;
  cpu.load(m, {.n_blocks = kBlocks, .block_size = kBlock});
  gpu.load(m, {.n_blocks = kBlocks, .block_size = kBlock, .type = GgmlType::F8_E4M3});
  const auto out_c = greedy_32(cpu, table(0), [](int, const Batch&) {});
  const auto out_g = greedy_32(gpu, table(0), [&](int s, const Batch& b) {
    if (s != 20) return;  // the greedy id is the argmax of the same step's logits
    Logits l;
    gpu.forward(b, l);
    std::vector<TokenId> ids;
    gpu.forward_greedy(b, ids);  // writes the same K/V again
    EXPECT_EQ(ids.at(0), static_cast<TokenId>(cpu::argmax(l.row(0).data(), l.n_vocab)));
  });
  for (TokenId t : out_g) {
    EXPECT_GE(t, 0);
    EXPECT_LT(t, m->hparams().n_vocab);
  }
  EXPECT_GT(gpu.graph_count(), 0u);
  size_t same = 0;
  while (same < out_g.size() && out_g[same] == out_c[same]) ++same;
  std::printf("fp8 KV greedy: first %zu of %zu tokens equal to the cpu's (f16 KV)\n", same, out_g.size());
}

}  // namespace
}  // namespace quarrel::backend
