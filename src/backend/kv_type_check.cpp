// require_kv_type (backend.h): a KV cache type checked against a backend's capabilities.
#include <algorithm>
#include <cctype>
#include <string>

#include "backend/backend.h"
#include "core/error.h"

namespace quarrel::backend {
namespace {

std::string lower_name(GgmlType t) {
  std::string s(type_name(t));
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

}  // namespace

void require_kv_type(const Backend& be, GgmlType type) {
  const std::vector<GgmlType> held = be.capabilities().kv_types;
  if (std::find(held.begin(), held.end(), type) != held.end()) return;
  std::string list;
  for (size_t i = 0; i < held.size(); ++i) {
    if (i > 0) list += i + 1 == held.size() ? " or " : ", ";
    list += lower_name(held[i]);
  }
  fail(ErrorCode::kInvalidArgument, "--kv-type {}: the {} backend keeps the KV cache in {}", lower_name(type), be.name(),
       list);
}

}  // namespace quarrel::backend
