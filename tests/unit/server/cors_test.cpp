// CORS origin matching, response headers and preflight answers.
#include <gtest/gtest.h>

#include <boost/beast/http.hpp>

#include "core/error.h"
#include "server/cors.h"

namespace quarrel::server {
namespace {

namespace http = boost::beast::http;

http::request<http::string_body> request_from(const std::string& origin, bool preflight = false) {
  http::request<http::string_body> req{preflight ? http::verb::options : http::verb::post, "/v1/completions", 11};
  if (!origin.empty()) req.set(http::field::origin, origin);
  if (preflight) {
    req.set(http::field::access_control_request_method, "POST");
    req.set(http::field::access_control_request_headers, "authorization, content-type");
  }
  return req;
}

TEST(Cors, OriginMatching) {
  const CorsPolicy p = CorsPolicy::parse("https://app.example, http://localhost:3000/");
  EXPECT_TRUE(p.enabled());
  EXPECT_TRUE(p.allows("https://app.example"));
  EXPECT_TRUE(p.allows("https://APP.example"));       // hosts are case-insensitive
  EXPECT_TRUE(p.allows("https://app.example:443"));   // the default port is the same origin
  EXPECT_TRUE(p.allows("http://localhost:3000"));
  EXPECT_FALSE(p.allows("http://app.example"));       // another scheme
  EXPECT_FALSE(p.allows("https://app.example:8443"));  // another port
  EXPECT_FALSE(p.allows("https://evil.app.example"));
  EXPECT_FALSE(p.allows("https://app.example.evil"));
  EXPECT_FALSE(p.allows("http://localhost:30000"));
  EXPECT_FALSE(p.allows("null"));
  EXPECT_FALSE(p.allows(""));
  const CorsPolicy any = CorsPolicy::parse("*");
  EXPECT_TRUE(any.allows("https://whatever.example"));
  EXPECT_FALSE(CorsPolicy::parse("").enabled());
  EXPECT_THROW(CorsPolicy::parse("app.example"), Error);
  EXPECT_THROW(CorsPolicy::parse("https://app.example/path"), Error);
  EXPECT_THROW(CorsPolicy::parse("ftp://x"), Error);
}

TEST(Cors, HeadersOnlyForAllowedOrigins) {
  const CorsPolicy p = CorsPolicy::parse("https://app.example");
  http::response<http::string_body> ok, denied, none;
  p.decorate(request_from("https://app.example"), ok);
  EXPECT_EQ(ok[http::field::access_control_allow_origin], "https://app.example");
  EXPECT_EQ(ok[http::field::vary], "Origin");
  p.decorate(request_from("https://evil.example"), denied);
  EXPECT_EQ(denied.find(http::field::access_control_allow_origin), denied.end());
  p.decorate(request_from(""), none);
  EXPECT_EQ(none.find(http::field::access_control_allow_origin), none.end());
  // No --cors: no headers at all.
  http::response<http::string_body> off;
  CorsPolicy().decorate(request_from("https://app.example"), off);
  EXPECT_EQ(off.find(http::field::access_control_allow_origin), off.end());
  // "*" answers with *.
  http::response<http::string_body> star;
  CorsPolicy::parse("*").decorate(request_from("https://x.example"), star);
  EXPECT_EQ(star[http::field::access_control_allow_origin], "*");
}

TEST(Cors, Preflight) {
  const CorsPolicy p = CorsPolicy::parse("https://app.example");
  EXPECT_TRUE(CorsPolicy::is_preflight(request_from("https://app.example", true), true));
  EXPECT_FALSE(CorsPolicy::is_preflight(request_from("https://app.example", false), false));
  EXPECT_FALSE(CorsPolicy::is_preflight(request_from("", true), true));
  http::response<http::string_body> ok, denied;
  EXPECT_TRUE(p.preflight(request_from("https://app.example", true), ok));
  EXPECT_EQ(ok[http::field::access_control_allow_origin], "https://app.example");
  EXPECT_NE(std::string(ok[http::field::access_control_allow_methods]).find("POST"), std::string::npos);
  EXPECT_NE(std::string(ok[http::field::access_control_allow_headers]).find("Authorization"), std::string::npos);
  EXPECT_FALSE(p.preflight(request_from("https://evil.example", true), denied));
  EXPECT_EQ(denied.find(http::field::access_control_allow_methods), denied.end());
}

}  // namespace
}  // namespace quarrel::server
