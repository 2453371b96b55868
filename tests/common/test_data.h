#pragma once
// Where tests find their data. Shared data (../shared/data: models/, vocab/, quant/,
// templates/) comes from QUARREL_TEST_DATA; a test whose data is missing fails loudly
// (the helpers throw, so the test errors out) instead of passing or skipping.
#include <filesystem>
#include <string>

namespace quarrel::test {

// The shared data directory; throws if it does not exist.
std::filesystem::path data_dir();
// data_dir() / rel; throws naming the path if the file does not exist.
std::filesystem::path data_path(const std::string& rel);
// The repository root (QUARREL_SOURCE_DIR, else the configured source dir).
std::filesystem::path source_dir();
// The built `quarrel` binary (QUARREL_BINARY, else the one this build made).
std::filesystem::path quarrel_binary();
// A fresh empty directory under the system temp dir, removed by the caller if it likes.
std::filesystem::path temp_dir(const std::string& prefix);
// Whole file as bytes.
std::string read_file(const std::filesystem::path& p);

// Runs a shell command, returning its exit status and (if out != nullptr) its stdout.
int run_command(const std::string& cmd, std::string* out = nullptr);

}  // namespace quarrel::test
