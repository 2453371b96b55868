#pragma once
// An error the HTTP API answers with: its HTTP status, its code (INVALID_REQUEST,
// MODEL_NOT_FOUND, INFERENCE_ERROR, CONTEXT_OVERFLOW, RATE_LIMITED, OVERLOADED, UNAUTHORIZED,
// NOT_FOUND, PAYLOAD_TOO_LARGE) and a one-line message. Route code throws it; the session turns
// it into the JSON body {"error": {"message", "type", "code", "request_id"}}.
#include <nlohmann/json.hpp>

#include <stdexcept>
#include <string>

namespace quarrel::server {

class ApiError : public std::runtime_error {
 public:
  ApiError(int status, std::string code, std::string message)
      : std::runtime_error(std::move(message)), status_(status), code_(std::move(code)) {}
  int status() const { return status_; }
  const std::string& code() const { return code_; }
  // Seconds for the Retry-After header (RATE_LIMITED, OVERLOADED); 0: none.
  int retry_after() const { return retry_after_; }
  ApiError& with_retry_after(int seconds) {
    retry_after_ = seconds;
    return *this;
  }

 private:
  int status_;
  std::string code_;
  int retry_after_ = 0;
};

inline ApiError invalid_request(std::string message) { return ApiError(400, "INVALID_REQUEST", std::move(message)); }

inline nlohmann::json error_body(const ApiError& e, const std::string& request_id) {
  return {{"error",
           {{"message", e.what()}, {"type", e.status() >= 500 ? "server_error" : "invalid_request_error"},
            {"code", e.code()}, {"request_id", request_id}}}};
}

}  // namespace quarrel::server
