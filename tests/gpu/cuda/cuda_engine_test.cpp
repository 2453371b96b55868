// The engine on the CUDA backend: sampled generation from the candidates the GPU selects (the
// default on a device backend) gives the tokens that sampling from whole logits rows gives, for
// concurrent requests with top-k, penalties and logit bias; greedy too. Skipped without a GPU.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>

#include "backend/cuda/cuda_backend.h"
#include "common/test_data.h"
#include "model/model.h"
#include "model/synthetic.h"
#include "runtime/engine.h"
#include "tests/gpu/cuda/gpu_test_util.h"

namespace quarrel::runtime {
namespace {

std::vector<std::vector<TokenId>> generate(const std::shared_ptr<const model::Model>& m, EngineConfig::CandidateSampling mode,
                                           const std::vector<Request>& requests) {
  auto be = std::make_unique<backend::CudaBackend>();
  be->load(m, {.n_blocks = 64, .block_size = 16});
  EngineConfig cfg{.max_running = 4, .max_batch_tokens = 256};
  cfg.candidate_sampling = mode;
  Engine e(std::move(be), std::nullopt, cfg);
  std::vector<std::shared_ptr<RequestHandle>> handles;
  for (const Request& r : requests) handles.push_back(e.submit(r));
  e.run_until_idle();
  std::vector<std::vector<TokenId>> out;
  for (auto& h : handles) {
    std::vector<TokenId> toks;
    TokenEvent ev;
    while (h->next(ev)) {
      if (ev.final) {
        EXPECT_EQ(ev.reason, StopReason::kLength) << ev.error;
        break;
      }
      toks.push_back(ev.token);
    }
    out.push_back(toks);
  }
  return out;
}

TEST(CudaEngine, SamplingFromDeviceCandidatesEqualsWholeRows) {
  QUARREL_SKIP_WITHOUT_GPU();
  const auto dir = test::temp_dir("quarrel-cuda-engine");
  model::SyntheticSpec s;
  s.type = GgmlType::Q8_0;
  s.seed = 5;
  const std::string path = (dir / "m.gguf").string();
  model::write_synthetic_model(s, path);
  auto m = model::Model::load(path, {.n_ctx = 256});
  std::filesystem::remove_all(dir);
  std::vector<Request> reqs;
  for (int i = 0; i < 6; ++i) {
    Request r;
    for (int p = 0; p < 3 + 5 * i; ++p) r.prompt.push_back((p * 31 + i * 7) % 200 + 1);
    r.max_tokens = 24;
    r.sampling.seed = 100 + i;
    r.sampling.temperature = i == 5 ? 0.0f : 1.2f;
    r.sampling.top_k = 10 + 20 * i;
    if (i % 2) r.sampling.repeat_penalty = 1.5f;
    if (i == 2) r.sampling.logit_bias = {{3, 5.0f}, {4, -INFINITY}};
    reqs.push_back(r);
  }
  const auto whole = generate(m, EngineConfig::CandidateSampling::kNever, reqs);
  const auto cand = generate(m, EngineConfig::CandidateSampling::kAuto, reqs);
  for (size_t i = 0; i < reqs.size(); ++i) {
    EXPECT_EQ(cand[i], whole[i]) << "request " << i;
    EXPECT_EQ(cand[i].size(), 24u);
  }
}

}  // namespace
}  // namespace quarrel::runtime
