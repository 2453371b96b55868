#pragma once
// The OpenAPI 3.0 description of every route `quarrel serve` answers (GET /openapi.json),
// and the HTML page rendered from it (GET /docs: self-contained, no scripts from elsewhere:
// the server may have no internet).
#include <nlohmann/json.hpp>

#include <string>

namespace quarrel::server {

// `model_id` fills the examples; `version` is the server's version.
nlohmann::ordered_json openapi_document(const std::string& model_id, const std::string& version);

// The docs page: every path with its methods, summary, parameters, request and response
// schemas, rendered on the server from the document (HTML-escaped).
std::string docs_html(const nlohmann::ordered_json& openapi);

}  // namespace quarrel::server
