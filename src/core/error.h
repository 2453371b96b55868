#pragma once
// Errors that reach the user. Every failure a user can cause (a bad file, a bad argument, a bad
// request) is thrown as quarrel::Error with a one-line message that names the thing and the
// problem; the CLI prints it and exits non-zero, the server turns it into a 4xx/5xx body.
// Asserts (QUARREL_ASSERT) guard internal invariants only.
#include <fmt/format.h>

#include <stdexcept>
#include <string>

namespace quarrel {

// Broad classes, so callers (HTTP, CLI) can map an error to a status without parsing text.
enum class ErrorCode {
  kInvalidArgument,  // bad user input: flags, request fields, values out of range
  kInvalidFile,      // malformed or hostile file contents
  kNotFound,         // a file, key, tensor or model that does not exist
  kUnsupported,      // well-formed, but something the engine does not handle
  kIo,               // the operating system refused (open, mmap, write)
  kOutOfMemory,      // a request for more memory than is available
  kInternal,         // a broken invariant: a bug in Quarrel
};

class Error : public std::runtime_error {
 public:
  Error(ErrorCode code, std::string message) : std::runtime_error(std::move(message)), code_(code) {}
  ErrorCode code() const noexcept { return code_; }

 private:
  ErrorCode code_;
};

// fail(code, "format {}", args...) throws an Error with a formatted message.
template <typename... Args>
[[noreturn]] void fail(ErrorCode code, fmt::format_string<Args...> f, Args&&... args) {
  throw Error(code, fmt::format(f, std::forward<Args>(args)...));
}

[[noreturn]] void assert_failed(const char* expr, const char* file, int line);

}  // namespace quarrel

#define QUARREL_ASSERT(cond) \
  ((cond) ? (void)0 : ::quarrel::assert_failed(#cond, __FILE__, __LINE__))
