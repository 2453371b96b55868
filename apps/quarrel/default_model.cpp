#include "apps/quarrel/default_model.h"

#include <cstdlib>
#include <filesystem>

#include "core/error.h"

namespace quarrel::cli {

namespace fs = std::filesystem;

std::string default_model() {
  if (const char* env = std::getenv("QUARREL_MODEL"); env != nullptr && *env != '\0') return env;
  if (fs::exists(kDemoModel)) return kDemoModel;
  std::error_code ec;
  fs::path dir = fs::read_symlink("/proc/self/exe", ec).parent_path();
  for (; !ec && !dir.empty(); dir = dir.parent_path()) {
    if (fs::exists(dir / kDemoModel)) return (dir / kDemoModel).string();
    if (dir == dir.parent_path()) break;
  }
  fail(ErrorCode::kNotFound,
       "no MODEL given and the demo model {} was not found (in the current directory or above the quarrel binary); "
       "give a model file or set QUARREL_MODEL",
       kDemoModel);
}

bool looks_like_model_path(const std::string& arg) {
  if (arg.size() >= 5 && arg.compare(arg.size() - 5, 5, ".gguf") == 0) return true;
  std::error_code ec;
  return arg.find('\n') == std::string::npos && fs::is_regular_file(arg, ec);
}

}  // namespace quarrel::cli
