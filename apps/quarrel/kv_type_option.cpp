// parse_kv_type_option: see kv_type_option.h.
#include "apps/quarrel/kv_type_option.h"

#include <cctype>
#include <string>

#include "core/error.h"

namespace quarrel::cli {

GgmlType parse_kv_type_option(std::string_view name) {
  std::string lower(name);
  for (auto& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (lower == "fp8" || lower == "fp8_e4m3") return GgmlType::F8_E4M3;
  const auto t = parse_type_name(lower);
  if (t && (*t == GgmlType::F16 || *t == GgmlType::F32 || *t == GgmlType::Q8_0 || *t == GgmlType::F8_E4M3)) return *t;
  fail(ErrorCode::kInvalidArgument, "--kv-type must be f16, f32, q8_0 or f8_e4m3 (also fp8, fp8_e4m3), got '{}'",
       name);
}

}  // namespace quarrel::cli
