#pragma once
// CORS for `quarrel serve --cors ORIGINS`: a comma-separated list of origins
// ("https://app.example,http://localhost:3000") or "*". Without it nothing is allowed beyond
// same-origin (no CORS headers are sent). A response to a request whose Origin is allowed
// carries Access-Control-Allow-Origin (the origin itself, or * for "*") and Vary: Origin; a
// preflight (OPTIONS with Access-Control-Request-Method) is answered 204 with the allowed
// methods and headers.
#include <boost/beast/http/fields.hpp>

#include <optional>
#include <string>
#include <vector>

namespace quarrel::server {

class CorsPolicy {
 public:
  CorsPolicy() = default;
  // Throws Error(kInvalidArgument) for an origin that is not scheme://host[:port].
  static CorsPolicy parse(const std::string& origins);

  bool enabled() const { return any_ || !origins_.empty(); }
  // Origins compare by scheme, host (case-insensitive) and port; a trailing '/' is ignored.
  bool allows(const std::string& origin) const;
  // Adds the headers a response to `request` needs (nothing for a missing or denied origin).
  void decorate(const boost::beast::http::fields& request, boost::beast::http::fields& response) const;
  // A preflight request: OPTIONS with Origin and Access-Control-Request-Method.
  static bool is_preflight(const boost::beast::http::fields& request, bool is_options);
  // The preflight answer's headers (besides decorate's); false when the origin is denied.
  bool preflight(const boost::beast::http::fields& request, boost::beast::http::fields& response) const;

  static constexpr const char* kMethods = "GET, POST, OPTIONS";
  static constexpr const char* kHeaders = "Authorization, Content-Type, X-Quarrel-Priority, X-Request-Id";

 private:
  static std::optional<std::string> normalize(const std::string& origin);
  bool any_ = false;
  std::vector<std::string> origins_;  // normalized
};

}  // namespace quarrel::server
