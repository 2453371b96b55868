#pragma once
// Errors from chat templates. Every failure (a syntax error, a construct the interpreter does
// not implement, a type error while rendering, or the template's own raise_exception) is a
// TemplateError: a quarrel::Error whose one-line message names the construct and the line of
// the template source it comes from.
#include <stdexcept>
#include <string>

#include "core/error.h"

namespace quarrel::chat {

enum class TemplateErrorKind {
  kSyntax,       // the source does not parse
  kUnsupported,  // a statement, filter, test or method the interpreter does not implement
  kRuntime,      // a type error or similar while rendering (often caused by the messages)
  kRaised,       // the template called raise_exception(message)
};

class TemplateError : public Error {
 public:
  // line is 1-based in the template source, 0 when unknown.
  TemplateError(TemplateErrorKind kind, int line, std::string detail);

  TemplateErrorKind kind() const noexcept { return kind_; }
  int line() const noexcept { return line_; }
  // The message without the location prefix (for kRaised: exactly the template's message).
  const std::string& detail() const noexcept { return detail_; }

 private:
  TemplateErrorKind kind_;
  int line_;
  std::string detail_;
};

namespace jinja {

// Thrown inside the interpreter where the line is not known; the interpreter adds the line of
// the node being evaluated and turns it into a TemplateError.
class EvalError : public std::runtime_error {
 public:
  explicit EvalError(const std::string& what, TemplateErrorKind kind = TemplateErrorKind::kRuntime)
      : std::runtime_error(what), kind_(kind) {}
  TemplateErrorKind kind() const noexcept { return kind_; }

 private:
  TemplateErrorKind kind_;
};

[[noreturn]] inline void unsupported(const std::string& what) {
  throw EvalError(what, TemplateErrorKind::kUnsupported);
}
[[noreturn]] inline void runtime_error(const std::string& what) { throw EvalError(what); }

}  // namespace jinja
}  // namespace quarrel::chat
