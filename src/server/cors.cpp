#include "server/cors.h"

#include <algorithm>
#include <cctype>

#include "core/error.h"

namespace quarrel::server {

namespace http = boost::beast::http;

std::optional<std::string> CorsPolicy::normalize(const std::string& origin) {
  std::string o = origin;
  while (!o.empty() && (o.back() == '/' || o.back() == ' ')) o.pop_back();
  while (!o.empty() && o.front() == ' ') o.erase(o.begin());
  const auto sep = o.find("://");
  if (sep == std::string::npos || sep == 0 || sep + 3 >= o.size()) return std::nullopt;
  for (char& c : o) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  const std::string scheme = o.substr(0, sep);
  if (scheme != "http" && scheme != "https") return std::nullopt;
  std::string rest = o.substr(sep + 3);
  if (rest.find_first_of("/?#@ ") != std::string::npos) return std::nullopt;
  // The default port is the same origin as no port.
  if ((scheme == "http" && rest.size() > 3 && rest.ends_with(":80")) ) rest.resize(rest.size() - 3);
  if ((scheme == "https" && rest.size() > 4 && rest.ends_with(":443"))) rest.resize(rest.size() - 4);
  return scheme + "://" + rest;
}

CorsPolicy CorsPolicy::parse(const std::string& origins) {
  CorsPolicy p;
  size_t start = 0;
  while (start <= origins.size()) {
    const size_t comma = std::min(origins.find(',', start), origins.size());
    std::string item = origins.substr(start, comma - start);
    item.erase(0, item.find_first_not_of(' '));
    if (const auto last = item.find_last_not_of(' '); last != std::string::npos) item.resize(last + 1);
    start = comma + 1;
    if (item.empty()) continue;
    if (item == "*") {
      p.any_ = true;
      continue;
    }
    const auto n = normalize(item);
    if (!n) fail(ErrorCode::kInvalidArgument, "--cors: '{}' is not an origin like https://host[:port] (or *)", item);
    p.origins_.push_back(*n);
  }
  return p;
}

bool CorsPolicy::allows(const std::string& origin) const {
  if (origin.empty()) return false;
  if (any_) return true;
  const auto n = normalize(origin);
  return n && std::find(origins_.begin(), origins_.end(), *n) != origins_.end();
}

void CorsPolicy::decorate(const http::fields& request, http::fields& response) const {
  if (!enabled()) return;
  const auto it = request.find(http::field::origin);
  if (it == request.end()) return;
  const std::string origin(it->value());
  response.set(http::field::vary, "Origin");
  if (!allows(origin)) return;
  response.set(http::field::access_control_allow_origin, any_ ? std::string("*") : origin);
  response.set(http::field::access_control_expose_headers, "X-Request-Id, Retry-After");
}

bool CorsPolicy::is_preflight(const http::fields& request, bool is_options) {
  return is_options && request.find(http::field::origin) != request.end() &&
         request.find(http::field::access_control_request_method) != request.end();
}

bool CorsPolicy::preflight(const http::fields& request, http::fields& response) const {
  decorate(request, response);
  const auto it = request.find(http::field::origin);
  if (it == request.end() || !allows(std::string(it->value()))) return false;
  response.set(http::field::access_control_allow_methods, kMethods);
  response.set(http::field::access_control_allow_headers, kHeaders);
  response.set(http::field::access_control_max_age, "600");
  return true;
}

}  // namespace quarrel::server
