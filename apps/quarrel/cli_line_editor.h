#pragma once
// A minimal line editor for `quarrel run --chat` (our own, no readline dependency).
//
// On a terminal it puts stdin in raw mode while a line is read and supports: typing and
// pasting UTF-8 text, Left/Right, Home/End (Ctrl-A / Ctrl-E), Backspace, Delete, Ctrl-K / Ctrl-U
// (kill to end / start), Ctrl-W (delete the word before the cursor), Up/Down (history of this
// session), Ctrl-L (clear the screen), Ctrl-C (abandon the line), Ctrl-D (end of input on an
// empty line). Characters are assumed one column wide. When stdin is not a terminal, lines
// are read as they come (no prompt is shown), so scripts can pipe a conversation in.
#include <optional>
#include <string>
#include <vector>

namespace quarrel::cli {

class LineEditor {
 public:
  LineEditor();
  bool interactive() const { return interactive_; }

  // One line without its newline; "" when Ctrl-C abandoned it; nullopt at the end of input.
  std::optional<std::string> read_line(const std::string& prompt);
  void add_history(const std::string& line);

 private:
  std::optional<std::string> read_raw(const std::string& prompt);
  bool interactive_;
  std::vector<std::string> history_;
};

}  // namespace quarrel::cli
