// Running a model mmap'd does not hold a second copy of its weights: after loading a model and
// generating with the CPU backend, the process's anonymous memory (heap, not file pages) has
// grown by far less than the weights' size, while the weights it read are counted as pages of
// the mapped file. Measured from /proc/self/status (RssAnon, RssFile), in process, for F32
// weights (used as stored) and Q4_0 (quantized blocks used as stored).
#include <gtest/gtest.h>
#include <malloc.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "backend/cpu_backend.h"
#include "backend/generate.h"
#include "common/test_data.h"
#include "core/ggml_type.h"
#include "model/model.h"
#include "model/synthetic.h"

namespace quarrel {
namespace {

namespace fs = std::filesystem;

// A /proc/self/status field in bytes ("RssAnon:	  1234 kB").
int64_t status_bytes(const std::string& field) {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(field + ":", 0) == 0) return std::stoll(line.substr(field.size() + 1)) * 1024;
  }
  throw std::runtime_error("/proc/self/status has no " + field);
}

struct Rss {
  int64_t anon, file;
  static Rss now() {
    ::malloc_trim(0);
    return {status_bytes("RssAnon"), status_bytes("RssFile")};
  }
};

class MmapMemory : public ::testing::TestWithParam<GgmlType> {};

TEST_P(MmapMemory, WeightsAreNotCopied) {
  const fs::path dir = test::temp_dir("quarrel-mmap-memory");
  model::SyntheticSpec spec;
  spec.n_vocab = 32000;  // [512, 32000] embedding and output: most of the bytes
  spec.n_embd = 512;
  spec.n_layer = 4;
  spec.n_head = 8;
  spec.n_head_kv = 4;
  spec.n_ff = 1536;
  spec.type = GetParam();
  const std::string path = (dir / "m.gguf").string();
  model::write_synthetic_model(spec, path);
  const int64_t file_bytes = static_cast<int64_t>(fs::file_size(path));

  const Rss before = Rss::now();
  {
    auto model = model::Model::load(path);
    backend::CpuBackend be({.n_threads = 2});
    be.load(model, {.n_blocks = 4, .block_size = 16, .type = GgmlType::F16});
    const std::vector<backend::TokenId> prompt = {1, 17, 300, 4000, 12};
    // Prompt (a batch) and decode steps: both matmul paths read every weight.
    const auto g = backend::generate_greedy(be, prompt, 8);
    ASSERT_EQ(g.tokens.size(), 8u);
    const Rss during = Rss::now();
    const int64_t anon = during.anon - before.anon;
    const int64_t file = during.file - before.file;
    std::printf("  %s: file %.1f MiB, anonymous memory +%.1f MiB, mapped file pages +%.1f MiB\n",
                std::string(type_name(spec.type)).c_str(), file_bytes / 1048576.0, anon / 1048576.0,
                file / 1048576.0);
    // The weights were read through the mapping (all but the embedding table, of which only
    // the prompt's rows are looked up) ...
    const int64_t embedding_bytes = static_cast<int64_t>(row_bytes(spec.type, spec.n_embd)) * spec.n_vocab;
    EXPECT_GE(file, (file_bytes - embedding_bytes) * 9 / 10);
    // ... and not copied: the heap holds the KV pool, activations and logits, a few MiB.
    EXPECT_LT(anon, file_bytes / 10);
  }
  fs::remove_all(dir);
}

INSTANTIATE_TEST_SUITE_P(Types, MmapMemory, ::testing::Values(GgmlType::F32, GgmlType::Q4_0),
                         [](const auto& param_info) { return std::string(type_name(param_info.param)); });

}  // namespace
}  // namespace quarrel
