#pragma once
// Running the real `quarrel` binary from e2e tests: stdout, stderr and the exit status of one
// command line (shared by the run, bench, perplexity and synth tests).
#include <cstdio>
#include <filesystem>
#include <stdexcept>
#include <string>

#include "common/test_data.h"

namespace quarrel::test {

struct CliResult {
  int status = -1;
  std::string out;  // stdout
  std::string err;  // stderr
};

// Runs `quarrel ARGS` through the shell (ARGS is shell text: quote what needs it). `stdin_text`
// is piped in when given, else stdin is /dev/null.
inline CliResult run_cli(const std::string& args, const std::string* stdin_text = nullptr) {
  const auto dir = temp_dir("qcli");
  const auto err_path = dir / "stderr";
  std::string cmd = quarrel_binary().string() + " " + args + " 2>" + err_path.string();
  if (stdin_text) {
    const auto in_path = dir / "stdin";
    {
      FILE* f = std::fopen(in_path.c_str(), "wb");
      if (!f) throw std::runtime_error("cannot write " + in_path.string());
      std::fwrite(stdin_text->data(), 1, stdin_text->size(), f);
      std::fclose(f);
    }
    cmd += " <" + in_path.string();
  } else {
    cmd += " </dev/null";
  }
  CliResult r;
  r.status = run_command(cmd, &r.out);
  r.err = read_file(err_path);
  std::filesystem::remove_all(dir);
  return r;
}

// Single-quotes a string for the shell.
inline std::string shell_quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

inline size_t count_lines(const std::string& s) {
  size_t n = 0;
  for (char c : s) n += c == '\n';
  return n;
}

}  // namespace quarrel::test
