// load_engine: a GGUF model on the CPU (or CUDA) backend, with its tokenizer, ready to start.
#include "backend/cpu_backend.h"
#include "gguf/keys.h"
#include "model/model.h"
#include "runtime/engine.h"
#ifdef QUARREL_HAVE_CUDA
#include "backend/cuda/cuda_backend.h"
#endif

namespace quarrel::runtime {
namespace {

std::unique_ptr<backend::Backend> make_backend(const EngineOptions& o) {
  if (o.backend == "cpu") {
    return std::make_unique<backend::CpuBackend>(backend::CpuBackendOptions{.n_threads = o.n_threads});
  }
  if (o.backend == "cuda") {
#ifdef QUARREL_HAVE_CUDA
    return std::make_unique<backend::CudaBackend>();
#else
    fail(ErrorCode::kUnsupported, "backend cuda: this quarrel was built without the CUDA backend");
#endif
  }
  fail(ErrorCode::kInvalidArgument, "backend must be cpu or cuda, got '{}'", o.backend);
}

}  // namespace

bool is_backend_name(const std::string& name) { return name == "cpu" || name == "cuda"; }

std::unique_ptr<Engine> load_engine(const EngineOptions& o) {
  if (o.n_ctx < 0) fail(ErrorCode::kInvalidArgument, "the context size must be positive, got {}", o.n_ctx);
  if (o.n_threads < 0) fail(ErrorCode::kInvalidArgument, "the thread count must be positive, got {}", o.n_threads);
  if (o.block_size < 1) fail(ErrorCode::kInvalidArgument, "the KV block size must be positive, got {}", o.block_size);
  if (o.engine.max_running < 1) {
    fail(ErrorCode::kInvalidArgument, "the number of parallel sequences must be at least 1, got {}",
         o.engine.max_running);
  }
  // The backend first: a cuda request in a build or on a machine without it fails before the load.
  std::unique_ptr<backend::Backend> be = make_backend(o);
  backend::require_kv_type(*be, o.kv_type);
  std::shared_ptr<const model::Model> model = model::Model::load(o.model_path, {.n_ctx = o.n_ctx});
  const int64_t n_ctx = model->hparams().n_ctx;
  std::optional<tokenizer::Tokenizer> tok;
  if (model->file().has(gguf::keys::kTokenizerTokens)) tok = tokenizer::Tokenizer::from_gguf(model->file());

  const int64_t per_seq = backend::KvCacheConfig::blocks_for(n_ctx, o.block_size);
  const int64_t n_blocks = o.n_blocks > 0 ? o.n_blocks : per_seq * o.engine.max_running;
  if (n_blocks < per_seq) {
    fail(ErrorCode::kInvalidArgument, "a KV pool of {} blocks cannot hold one context of {} tokens", n_blocks, n_ctx);
  }
  if (n_blocks > INT32_MAX) fail(ErrorCode::kInvalidArgument, "a KV pool of {} blocks is too large", n_blocks);
  be->load(model, {.n_blocks = static_cast<int32_t>(n_blocks), .block_size = o.block_size, .type = o.kv_type});
  EngineConfig cfg = o.engine;
  cfg.n_ctx = static_cast<int32_t>(std::min<int64_t>(n_ctx, INT32_MAX));
  return std::make_unique<Engine>(std::move(be), std::move(tok), cfg);
}

std::unique_ptr<Engine> load_cpu_engine(const CpuEngineOptions& options) {
  CpuEngineOptions o = options;
  o.backend = "cpu";
  return load_engine(o);
}

}  // namespace quarrel::runtime
