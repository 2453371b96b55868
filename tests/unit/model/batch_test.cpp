// Batched equals sequential: sequences of different lengths decoded together in one batch
// (prompt chunks and decode tokens mixed, in interleaved order, blocks scattered over the
// pool) give the same tokens as each decoded alone. Also: copy-on-write of a shared block,
// and the errors a malformed batch gives.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <string>

#include "backend/cpu_backend.h"
#include "backend/generate.h"
#include "common/test_data.h"
#include "core/error.h"
#include "model/model.h"
#include "model/synthetic.h"

namespace quarrel::backend {
namespace {
namespace fs = std::filesystem;

constexpr int32_t kBlock = 16;

class BatchTest : public ::testing::TestWithParam<std::string> {
 protected:
  static void SetUpTestSuite() {
    dir_ = test::temp_dir("quarrel-batch");
    for (const std::string arch : {"mistral", "qwen3"}) {
      for (GgmlType type : {GgmlType::F32, GgmlType::F16}) {
        model::SyntheticSpec s;
        s.arch = arch;
        s.type = type;
        s.sliding_window = arch == "mistral" ? 12 : 0;
        s.head_dim = arch == "qwen3" ? 128 : 0;
        s.seed = 11;
        model::write_synthetic_model(s, path(arch, type));
      }
    }
  }
  static void TearDownTestSuite() { fs::remove_all(dir_); }
  static std::string path(const std::string& arch, GgmlType type) {
    return (dir_ / (arch + "-" + std::string(type_name(type)) + ".gguf")).string();
  }
  static fs::path dir_;
};
fs::path BatchTest::dir_;

struct Seq {
  SeqId id;
  std::vector<TokenId> prompt;
  int start_step;                // the step at which its prompt starts
  std::vector<int32_t> blocks;   // its block table
  int32_t n_done = 0;            // tokens whose K/V is in the cache
  std::vector<TokenId> generated;
};

std::vector<TokenId> make_prompt(int n, int salt) {
  std::vector<TokenId> p;
  for (int i = 0; i < n; ++i) p.push_back(static_cast<TokenId>((i * 31 + salt * 17 + 5) % 256));
  return p;
}

int32_t slot(const Seq& s, int32_t pos) { return s.blocks[static_cast<size_t>(pos / kBlock)] * kBlock + pos % kBlock; }

// Runs the sequences together: each step, every started sequence adds either its next prompt
// chunk (at most `chunk` tokens) or its last generated token; tokens of different sequences are
// interleaved round-robin in the batch. Blocks come from one free list as they are needed, so
// the sequences' blocks are scattered and interleaved.
void run_together(Backend& be, std::vector<Seq>& seqs, int n_gen, int chunk) {
  int32_t next_block = 0;
  auto ensure_blocks = [&](Seq& s, int32_t n_tokens) {
    while (static_cast<int32_t>(s.blocks.size()) * kBlock < n_tokens) s.blocks.push_back(next_block++);
  };
  Batch batch;
  Logits logits;
  for (int step = 0;; ++step) {
    batch.clear();
    std::vector<std::vector<std::tuple<TokenId, int32_t, bool>>> per_seq(seqs.size());
    bool any = false;
    for (size_t i = 0; i < seqs.size(); ++i) {
      Seq& s = seqs[i];
      if (step < s.start_step || static_cast<int>(s.generated.size()) >= n_gen) continue;
      const auto n_prompt = static_cast<int32_t>(s.prompt.size());
      if (s.n_done < n_prompt) {
        const int32_t end = std::min(n_prompt, s.n_done + chunk);
        for (int32_t p = s.n_done; p < end; ++p) per_seq[i].emplace_back(s.prompt[static_cast<size_t>(p)], p, p == n_prompt - 1);
      } else {
        per_seq[i].emplace_back(s.generated.back(), s.n_done, true);
      }
      const int32_t n_ctx = s.n_done + static_cast<int32_t>(per_seq[i].size());
      ensure_blocks(s, n_ctx);
      batch.set_sequence(s.id, s.blocks, n_ctx);
      any = true;
    }
    if (!any) {
      if (std::all_of(seqs.begin(), seqs.end(), [&](const Seq& s) { return static_cast<int>(s.generated.size()) >= n_gen; })) break;
      continue;
    }
    // Round-robin interleaving.
    std::vector<size_t> owner;  // batch token -> sequence index
    for (size_t k = 0;; ++k) {
      bool added = false;
      for (size_t i = 0; i < seqs.size(); ++i) {
        if (k >= per_seq[i].size()) continue;
        const auto [tok, pos, want] = per_seq[i][k];
        batch.add_token(tok, pos, seqs[i].id, slot(seqs[i], pos), want);
        owner.push_back(i);
        added = true;
      }
      if (!added) break;
    }
    be.forward(batch, logits);
    for (size_t i = 0; i < seqs.size(); ++i) seqs[i].n_done += static_cast<int32_t>(per_seq[i].size());
    for (size_t r = 0; r < logits.rows(); ++r) {
      Seq& s = seqs[owner[static_cast<size_t>(logits.batch_index[r])]];
      const auto row = logits.row(r);
      s.generated.push_back(static_cast<TokenId>(std::max_element(row.begin(), row.end()) - row.begin()));
    }
  }
}

TEST_P(BatchTest, BatchedEqualsSequential) {
  const std::string arch = GetParam();
  constexpr int kGen = 24;
  for (GgmlType type : {GgmlType::F32, GgmlType::F16}) {
    SCOPED_TRACE(std::string(type_name(type)));
    const auto model = model::Model::load(path(arch, type));
    std::vector<Seq> seqs = {
        {.id = 10, .prompt = make_prompt(3, 1), .start_step = 0, .blocks = {}},
        {.id = 4, .prompt = make_prompt(17, 2), .start_step = 0, .blocks = {}},
        {.id = 7, .prompt = make_prompt(9, 3), .start_step = 2, .blocks = {}},
        {.id = 2, .prompt = make_prompt(30, 4), .start_step = 5, .blocks = {}},
        {.id = 99, .prompt = make_prompt(1, 5), .start_step = 9, .blocks = {}},
    };
    CpuBackend together({.n_threads = 2});
    together.load(model, {.n_blocks = 40, .block_size = kBlock, .type = GgmlType::F16});
    run_together(together, seqs, kGen, /*chunk=*/7);

    for (const Seq& s : seqs) {
      CpuBackend alone({.n_threads = 1});
      alone.load(model, {.n_blocks = 8, .block_size = kBlock, .type = GgmlType::F16});
      const GreedyResult r = generate_greedy(alone, s.prompt, kGen);
      EXPECT_EQ(s.generated, r.tokens) << "sequence " << s.id << " (prompt of " << s.prompt.size() << ")";
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Archs, BatchTest, ::testing::Values("mistral", "qwen3"));

// A fork: sequence 1 shares sequence 0's full first block and gets a copy of its partially
// filled second block (copy_blocks), then both continue; each gives the tokens of a sequence
// decoded alone.
TEST(CopyBlocks, ForkedSequenceContinuesLikeTheOriginal) {
  const fs::path dir = test::temp_dir("quarrel-fork");
  const std::string path = (dir / "m.gguf").string();
  model::write_synthetic_model({}, path);
  const auto model = model::Model::load(path);
  const std::vector<TokenId> prompt = make_prompt(20, 9);
  constexpr int kGen = 12;

  CpuBackend alone({.n_threads = 1});
  alone.load(model, {.n_blocks = 4, .block_size = kBlock});
  const auto expected = generate_greedy(alone, prompt, kGen).tokens;

  CpuBackend be({.n_threads = 1});
  be.load(model, {.n_blocks = 8, .block_size = kBlock});
  std::vector<int32_t> t0 = {5, 3};  // sequence 0
  Batch batch;
  Logits logits;
  batch.set_sequence(0, t0, 20);
  for (int32_t p = 0; p < 20; ++p) batch.add_token(prompt[static_cast<size_t>(p)], p, 0, t0[static_cast<size_t>(p / kBlock)] * kBlock + p % kBlock, p == 19);
  be.forward(batch, logits);
  const auto row = logits.row(0);
  const auto first = static_cast<TokenId>(std::max_element(row.begin(), row.end()) - row.begin());
  ASSERT_EQ(first, expected[0]);

  // Fork: block 5 shared, block 3 copied to block 6.
  const kv::BlockCopy copy{3, 6};
  be.copy_blocks(std::span(&copy, 1));
  std::vector<int32_t> t1 = {5, 6};
  std::vector<TokenId> out0 = {first}, out1 = {first};
  for (int step = 1; step < kGen; ++step) {
    const int32_t pos = 20 + step - 1;
    batch.clear();
    batch.set_sequence(1, t1, pos + 1);
    batch.set_sequence(0, t0, pos + 1);
    batch.add_token(out1.back(), pos, 1, t1[static_cast<size_t>(pos / kBlock)] * kBlock + pos % kBlock, true);
    batch.add_token(out0.back(), pos, 0, t0[static_cast<size_t>(pos / kBlock)] * kBlock + pos % kBlock, true);
    be.forward(batch, logits);
    auto pick = [&](size_t r) {
      const auto l = logits.row(r);
      return static_cast<TokenId>(std::max_element(l.begin(), l.end()) - l.begin());
    };
    out1.push_back(pick(0));
    out0.push_back(pick(1));
  }
  EXPECT_EQ(out0, expected);
  EXPECT_EQ(out1, expected);
  fs::remove_all(dir);
}

class BatchErrors : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = test::temp_dir("quarrel-batch-errors");
    const std::string path = (dir_ / "m.gguf").string();
    model::write_synthetic_model({}, path);
    be_.load(model::Model::load(path), {.n_blocks = 4, .block_size = kBlock});
    batch_.set_sequence(0, table_, 2);
    batch_.add_token(1, 0, 0, 32, false);
    batch_.add_token(2, 1, 0, 33, true);
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string error_of(const Batch& b) {
    Logits out;
    try {
      be_.forward(b, out);
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
      return e.what();
    }
    return "(no error)";
  }

  fs::path dir_;
  CpuBackend be_{{.n_threads = 1}};
  std::vector<int32_t> table_ = {2, 0};
  Batch batch_;
};

TEST_F(BatchErrors, AGoodBatchRuns) {
  Logits out;
  be_.forward(batch_, out);
  ASSERT_EQ(out.rows(), 1u);
  EXPECT_EQ(out.batch_index[0], 1);
  EXPECT_EQ(out.n_vocab, 256);
  EXPECT_TRUE(std::all_of(out.values.begin(), out.values.end(), [](float v) { return std::isfinite(v); }));
}

TEST_F(BatchErrors, WrongSlot) {
  batch_.slots[1] = 34;
  EXPECT_NE(error_of(batch_).find("slot 34"), std::string::npos) << error_of(batch_);
}

TEST_F(BatchErrors, UnknownSequence) {
  batch_.seq_ids[0] = 5;
  EXPECT_NE(error_of(batch_).find("sequence 5"), std::string::npos) << error_of(batch_);
}

TEST_F(BatchErrors, TokenOutsideTheVocabulary) {
  batch_.tokens[1] = 256;
  EXPECT_NE(error_of(batch_).find("id 256"), std::string::npos) << error_of(batch_);
}

TEST_F(BatchErrors, PositionPastTheContext) {
  batch_.set_sequence(0, table_, 1);
  EXPECT_NE(error_of(batch_).find("position 1"), std::string::npos) << error_of(batch_);
}

TEST_F(BatchErrors, BlockOutsideThePool) {
  const std::vector<int32_t> bad = {2, 4};
  batch_.set_sequence(0, bad, 2);
  EXPECT_NE(error_of(batch_).find("block 4"), std::string::npos) << error_of(batch_);
}

TEST_F(BatchErrors, SlotWrittenTwice) {
  batch_.add_token(3, 1, 0, 33, false);
  EXPECT_NE(error_of(batch_).find("twice"), std::string::npos) << error_of(batch_);
}

TEST_F(BatchErrors, RaggedArrays) {
  batch_.positions.pop_back();
  EXPECT_NE(error_of(batch_).find("different lengths"), std::string::npos) << error_of(batch_);
}

TEST_F(BatchErrors, CopyOutsideThePool) {
  const kv::BlockCopy copy{0, 4};
  EXPECT_THROW(be_.copy_blocks(std::span(&copy, 1)), Error);
}

TEST(CpuBackendLoad, UnsupportedKvType) {
  const fs::path dir = test::temp_dir("quarrel-kv-type");
  const std::string path = (dir / "m.gguf").string();
  model::write_synthetic_model({}, path);
  CpuBackend be({.n_threads = 1});
  try {
    be.load(model::Model::load(path), {.n_blocks = 4, .block_size = kBlock, .type = GgmlType::Q4_0});
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("Q4_0"), std::string::npos) << e.what();
  }
  fs::remove_all(dir);
}

}  // namespace
}  // namespace quarrel::backend
