// /openapi.json describes every route of the route table (route.h), and /docs renders every
// path of the document with its text HTML-escaped.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <cctype>
#include <string>

#include "server/openapi.h"
#include "server/route.h"

namespace quarrel::server {
namespace {

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

TEST(OpenApi, DescribesEveryRouteOfTheTable) {
  const auto doc = openapi_document("m", "0.1.0");
  ASSERT_FALSE(api_routes().empty());
  for (const Route& r : api_routes()) {
    const std::string method = lower(std::string(boost::beast::http::to_string(r.method)));
    ASSERT_TRUE(doc["paths"].contains(r.path)) << r.path;
    EXPECT_TRUE(doc["paths"][r.path].contains(method)) << method << " " << r.path;
  }
  // And the routes http_server.cpp answers itself (OpenAI, health) and /metrics.
  for (const char* p : {"/healthz", "/readyz", "/version", "/metrics", "/v1/models", "/v1/completions",
                        "/v1/chat/completions"})
    EXPECT_TRUE(doc["paths"].contains(p)) << p;
}

TEST(OpenApi, FindRouteMatchesMethodAndPath) {
  bool known = false;
  const Route* r = find_route(boost::beast::http::verb::post, "/api/chat", &known);
  ASSERT_NE(r, nullptr);
  EXPECT_EQ(r->path, "/api/chat");
  EXPECT_TRUE(known);
  EXPECT_EQ(find_route(boost::beast::http::verb::get, "/api/chat", &known), nullptr);
  EXPECT_TRUE(known);  // 405, not 404
  EXPECT_EQ(find_route(boost::beast::http::verb::get, "/api/chatx", &known), nullptr);
  EXPECT_FALSE(known);
}

TEST(DocsPage, ListsEveryPathAndEscapesText) {
  auto doc = openapi_document("m", "0.1.0");
  const std::string html = docs_html(doc);
  EXPECT_EQ(html.rfind("<!DOCTYPE html>", 0), 0u);
  for (const auto& [path, methods] : doc["paths"].items())
    EXPECT_NE(html.find("<code>" + path + "</code>"), std::string::npos) << path;
  doc["paths"]["/x"]["get"] = {{"summary", "<script>alert(1)</script> & co"}, {"responses", nlohmann::ordered_json::object()}};
  const std::string hostile = docs_html(doc);
  EXPECT_EQ(hostile.find("<script>"), std::string::npos);
  EXPECT_NE(hostile.find("&lt;script&gt;alert(1)&lt;/script&gt; &amp; co"), std::string::npos);
}

}  // namespace
}  // namespace quarrel::server
