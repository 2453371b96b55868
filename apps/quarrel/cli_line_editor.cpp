#include "apps/quarrel/cli_line_editor.h"

#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <iostream>

namespace quarrel::cli {
namespace {

// Raw mode for the lifetime of the object; the previous settings come back on every exit path.
class RawMode {
 public:
  RawMode() {
    if (tcgetattr(STDIN_FILENO, &saved_) != 0) return;
    termios raw = saved_;
    raw.c_iflag &= ~static_cast<tcflag_t>(BRKINT | ICRNL | INPCK | ISTRIP | IXON);
    raw.c_lflag &= ~static_cast<tcflag_t>(ECHO | ICANON | IEXTEN | ISIG);
    raw.c_cc[VMIN] = 1;
    raw.c_cc[VTIME] = 0;
    ok_ = tcsetattr(STDIN_FILENO, TCSAFLUSH, &raw) == 0;
  }
  ~RawMode() {
    if (ok_) tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved_);
  }
  bool ok() const { return ok_; }

 private:
  termios saved_{};
  bool ok_ = false;
};

int read_byte() {
  unsigned char c = 0;
  for (;;) {
    const ssize_t n = ::read(STDIN_FILENO, &c, 1);
    if (n == 1) return c;
    if (n == 0) return -1;
    if (errno != EINTR) return -1;
  }
}

bool is_continuation(unsigned char c) { return (c & 0xC0) == 0x80; }

size_t prev_char(const std::string& s, size_t i) {
  if (i == 0) return 0;
  --i;
  while (i > 0 && is_continuation(static_cast<unsigned char>(s[i]))) --i;
  return i;
}

size_t next_char(const std::string& s, size_t i) {
  if (i >= s.size()) return s.size();
  ++i;
  while (i < s.size() && is_continuation(static_cast<unsigned char>(s[i]))) ++i;
  return i;
}

size_t columns(const std::string& s, size_t from, size_t to) {
  size_t n = 0;
  for (size_t i = from; i < to; ++i) n += is_continuation(static_cast<unsigned char>(s[i])) ? 0 : 1;
  return n;
}

void redraw(const std::string& prompt, const std::string& buf, size_t cursor) {
  std::string out = "\r" + prompt + buf + "\x1b[K";
  const size_t back = columns(buf, cursor, buf.size());
  if (back > 0) out += "\x1b[" + std::to_string(back) + "D";
  std::fwrite(out.data(), 1, out.size(), stdout);
  std::fflush(stdout);
}

}  // namespace

LineEditor::LineEditor() : interactive_(::isatty(STDIN_FILENO) == 1 && ::isatty(STDOUT_FILENO) == 1) {}

void LineEditor::add_history(const std::string& line) {
  if (!line.empty() && (history_.empty() || history_.back() != line)) history_.push_back(line);
}

std::optional<std::string> LineEditor::read_line(const std::string& prompt) {
  if (interactive_) return read_raw(prompt);
  std::string line;
  if (!std::getline(std::cin, line)) return std::nullopt;
  if (!line.empty() && line.back() == '\r') line.pop_back();
  return line;
}

std::optional<std::string> LineEditor::read_raw(const std::string& prompt) {
  RawMode raw;
  if (!raw.ok()) {  // not a usable terminal after all
    interactive_ = false;
    std::fputs(prompt.c_str(), stdout);
    std::fflush(stdout);
    return read_line(prompt);
  }
  std::string buf;
  size_t cursor = 0;
  size_t hist = history_.size();  // == size(): the line being typed
  std::string typed;              // the line being typed while browsing history
  redraw(prompt, buf, cursor);
  auto finish = [&](const char* tail) {
    std::fputs(tail, stdout);
    std::fflush(stdout);
  };
  for (;;) {
    const int c = read_byte();
    if (c < 0) {
      finish("\r\n");
      return buf.empty() ? std::nullopt : std::optional<std::string>(buf);
    }
    switch (c) {
      case '\r':
      case '\n':
        finish("\r\n");
        return buf;
      case 3:  // Ctrl-C
        finish("^C\r\n");
        return std::string();
      case 4:  // Ctrl-D
        if (buf.empty()) {
          finish("\r\n");
          return std::nullopt;
        }
        buf.erase(cursor, next_char(buf, cursor) - cursor);
        break;
      case 127:
      case 8:  // Backspace
        if (cursor > 0) {
          const size_t p = prev_char(buf, cursor);
          buf.erase(p, cursor - p);
          cursor = p;
        }
        break;
      case 1: cursor = 0; break;            // Ctrl-A
      case 5: cursor = buf.size(); break;   // Ctrl-E
      case 2: cursor = prev_char(buf, cursor); break;  // Ctrl-B
      case 6: cursor = next_char(buf, cursor); break;  // Ctrl-F
      case 11: buf.erase(cursor); break;    // Ctrl-K
      case 21:                              // Ctrl-U
        buf.erase(0, cursor);
        cursor = 0;
        break;
      case 23: {  // Ctrl-W
        size_t p = cursor;
        while (p > 0 && buf[p - 1] == ' ') --p;
        while (p > 0 && buf[p - 1] != ' ') --p;
        buf.erase(p, cursor - p);
        cursor = p;
        break;
      }
      case 12:  // Ctrl-L
        std::fputs("\x1b[H\x1b[2J", stdout);
        break;
      case 27: {  // escape sequences: arrows, Home, End, Delete
        const int a = read_byte();
        if (a != '[' && a != 'O') break;
        int b = read_byte();
        std::string num;
        while (b >= '0' && b <= '9') {
          num += static_cast<char>(b);
          b = read_byte();
        }
        if (b == '~') {
          if (num == "1" || num == "7") cursor = 0;
          if (num == "4" || num == "8") cursor = buf.size();
          if (num == "3") buf.erase(cursor, next_char(buf, cursor) - cursor);
        } else if (b == 'C') {
          cursor = next_char(buf, cursor);
        } else if (b == 'D') {
          cursor = prev_char(buf, cursor);
        } else if (b == 'H') {
          cursor = 0;
        } else if (b == 'F') {
          cursor = buf.size();
        } else if (b == 'A' || b == 'B') {
          if (hist == history_.size()) typed = buf;
          if (b == 'A' && hist > 0) --hist;
          if (b == 'B' && hist < history_.size()) ++hist;
          buf = hist < history_.size() ? history_[hist] : typed;
          cursor = buf.size();
        }
        break;
      }
      default:
        if (c >= 32 || c == '\t') {
          buf.insert(cursor, 1, static_cast<char>(c));
          ++cursor;
        }
        break;
    }
    redraw(prompt, buf, cursor);
  }
}

}  // namespace quarrel::cli
