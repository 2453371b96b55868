#pragma once
// Subcommands of the one `quarrel` binary. Each cmd_*.cpp registers itself with a static
// Command object: a name, a one-line summary, a function that declares its options on a
// CLI11 subcommand, and the function that runs it (returning the exit code).
#include <CLI/CLI.hpp>

#include <functional>
#include <string>
#include <vector>

namespace quarrel::cli {

struct Command {
  std::string name;
  std::string summary;
  // Declares options on `sub` and returns the action to run when `sub` was chosen.
  std::function<std::function<int()>(CLI::App& sub)> setup;
};

std::vector<Command>& commands();

struct RegisterCommand {
  explicit RegisterCommand(Command c) { commands().push_back(std::move(c)); }
};

}  // namespace quarrel::cli
