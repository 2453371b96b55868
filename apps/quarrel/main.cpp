// quarrel: one binary, many subcommands (see command.h). Every error a user can cause ends as
// one line on stderr and a non-zero exit code.
#include <algorithm>
#include <cstdio>
#include <map>

#include "apps/quarrel/command.h"
#include "core/error.h"

namespace quarrel::cli {
std::vector<Command>& commands() {
  static std::vector<Command> all;
  return all;
}
}  // namespace quarrel::cli

int main(int argc, char** argv) {
  using namespace quarrel;
  CLI::App app{"quarrel: run and serve large language models (GGUF) on CPU and CUDA GPUs"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "quarrel 0.1.0");
  auto& cmds = cli::commands();
  std::sort(cmds.begin(), cmds.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
  std::map<CLI::App*, std::function<int()>> actions;
  for (auto& c : cmds) {
    CLI::App* sub = app.add_subcommand(c.name, c.summary);
    actions[sub] = c.setup(*sub);
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  try {
    for (auto& [sub, action] : actions)
      if (sub->parsed()) return action();
  } catch (const Error& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
  return 1;
}
