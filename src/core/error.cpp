#include "core/error.h"

namespace quarrel {

void assert_failed(const char* expr, const char* file, int line) {
  throw Error(ErrorCode::kInternal, fmt::format("internal error: assertion `{}` failed at {}:{}", expr, file, line));
}

}  // namespace quarrel
