#include "common/test_data.h"

#include <sys/wait.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <random>
#include <sstream>
#include <stdexcept>

namespace quarrel::test {
namespace fs = std::filesystem;

namespace {
std::string env_or(const char* name, const std::string& fallback) {
  const char* v = std::getenv(name);
  return v && *v ? std::string(v) : fallback;
}
}  // namespace

fs::path data_dir() {
  const fs::path dir = env_or("QUARREL_TEST_DATA", QUARREL_DEFAULT_TEST_DATA);
  if (!fs::is_directory(dir))
    throw std::runtime_error("test data directory not found: " + dir.string() +
                             " (set QUARREL_TEST_DATA to the shared data folder)");
  return dir;
}

fs::path data_path(const std::string& rel) {
  fs::path p = data_dir() / rel;
  if (!fs::exists(p)) throw std::runtime_error("test data file not found: " + p.string());
  return p;
}

fs::path source_dir() { return env_or("QUARREL_SOURCE_DIR", QUARREL_DEFAULT_SOURCE_DIR); }

fs::path quarrel_binary() {
  const std::string v = env_or("QUARREL_BINARY", QUARREL_DEFAULT_BINARY);
  if (!fs::exists(v)) throw std::runtime_error("quarrel binary not found: " + v);
  return v;
}

fs::path temp_dir(const std::string& prefix) {
  std::random_device rd;
  for (int i = 0; i < 100; ++i) {
    fs::path p = fs::temp_directory_path() / (prefix + "-" + std::to_string(rd()));
    if (fs::create_directory(p)) return p;
  }
  throw std::runtime_error("cannot create a temp directory");
}

std::string read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + p.string());
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

int run_command(const std::string& cmd, std::string* out) {
  FILE* f = ::popen(cmd.c_str(), "r");
  if (!f) throw std::runtime_error("popen failed: " + cmd);
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, f)) > 0)
    if (out) out->append(buf, n);
  const int status = ::pclose(f);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

}  // namespace quarrel::test
