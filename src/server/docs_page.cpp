// GET /openapi.json and GET /docs: the API description and a page rendered from it on the
// server (no scripts, no CDN: the server may have no internet).
#include <fmt/format.h>

#include <algorithm>
#include <cctype>

#include "core/html_escape.h"
#include "server/openapi.h"
#include "server/route.h"

namespace quarrel::server {
namespace {

using ojson = nlohmann::ordered_json;

std::string esc(const std::string& s) { return html_escape(s); }

std::string type_of(const ojson& schema) {
  if (schema.contains("$ref")) {
    const std::string r = schema["$ref"];
    const std::string name = r.substr(r.rfind('/') + 1);
    return fmt::format("<a href=\"#schema-{0}\">{0}</a>", esc(name));
  }
  if (schema.contains("oneOf")) {
    std::string t;
    for (const auto& s : schema["oneOf"]) t += (t.empty() ? "" : " | ") + type_of(s);
    return t;
  }
  const std::string type = schema.value("type", "any");
  if (type == "array" && schema.contains("items")) return "array of " + type_of(schema["items"]);
  return esc(type);
}

// A schema as a table of its properties (or its type when it has none).
std::string schema_table(const ojson& schema) {
  if (!schema.contains("properties")) return "<p>" + type_of(schema) + "</p>";
  std::string h = "<table><tr><th>field</th><th>type</th><th>description</th></tr>";
  std::vector<std::string> required;
  if (schema.contains("required"))
    for (const auto& r : schema["required"]) required.push_back(r);
  for (const auto& [name, p] : schema["properties"].items()) {
    const bool req = std::find(required.begin(), required.end(), name) != required.end();
    h += fmt::format("<tr><td><code>{}</code>{}</td><td>{}</td><td>{}</td></tr>", esc(name), req ? " *" : "",
                     type_of(p), esc(p.value("description", "")));
  }
  return h + "</table>";
}

}  // namespace

std::string docs_html(const ojson& doc) {
  std::string h =
      "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>Quarrel API</title>"
      "<style>body{font-family:system-ui,sans-serif;max-width:60em;margin:2em auto;padding:0 1em;color:#222}"
      "code{background:#f3f3f3;padding:0 .2em}table{border-collapse:collapse;margin:.5em 0}"
      "td,th{border:1px solid #ccc;padding:.2em .5em;text-align:left;vertical-align:top}"
      ".m{font-weight:bold;display:inline-block;min-width:4em}.op{border-top:1px solid #ddd;padding-top:.5em}"
      "</style></head><body>\n";
  h += fmt::format("<h1>{} {}</h1><p>{}</p><p>Machine-readable: <a href=\"/openapi.json\">/openapi.json</a></p>\n",
                   esc(doc["info"]["title"]), esc(doc["info"]["version"]), esc(doc["info"]["description"]));
  h += "<h2>Routes</h2><ul>\n";
  for (const auto& [path, methods] : doc["paths"].items())
    for (const auto& [method, op] : methods.items())
      h += fmt::format("<li><a href=\"#{0}-{1}\"><span class=\"m\">{2}</span> <code>{1}</code></a> {3}</li>\n",
                       esc(method), esc(path), method == "get" ? "GET" : method == "post" ? "POST" : esc(method),
                       esc(op.value("summary", "")));
  h += "</ul>\n";
  for (const auto& [path, methods] : doc["paths"].items()) {
    for (const auto& [method, op] : methods.items()) {
      std::string upper = method;
      for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
      h += fmt::format("<div class=\"op\" id=\"{}-{}\"><h3><span class=\"m\">{}</span> <code>{}</code></h3><p>{}</p>",
                       esc(method), esc(path), esc(upper), esc(path), esc(op.value("summary", "")));
      if (!op.value("description", "").empty()) h += "<p>" + esc(op["description"]) + "</p>";
      if (op.contains("parameters")) {
        h += "<h4>Parameters</h4><table><tr><th>name</th><th>in</th><th>description</th></tr>";
        for (const auto& prm : op["parameters"])
          h += fmt::format("<tr><td><code>{}</code></td><td>{}</td><td>{}</td></tr>", esc(prm["name"]), esc(prm["in"]),
                           esc(prm.value("description", "")));
        h += "</table>";
      }
      if (op.contains("requestBody")) {
        h += "<h4>Request body (application/json)</h4>";
        const ojson& schema = op["requestBody"]["content"]["application/json"]["schema"];
        h += schema.contains("$ref") ? "<p>" + type_of(schema) + "</p>" : schema_table(schema);
      }
      h += "<h4>Responses</h4><ul>";
      for (const auto& [code, r] : op["responses"].items()) {
        h += fmt::format("<li><b>{}</b> {}", esc(code), esc(r.value("description", "")));
        if (r.contains("content"))
          for (const auto& [type, c] : r["content"].items()) h += fmt::format(" <code>{}</code>: {}", esc(type), type_of(c["schema"]));
        h += "</li>";
      }
      h += "</ul></div>\n";
    }
  }
  h += "<h2>Schemas</h2>\n";
  for (const auto& [name, schema] : doc["components"]["schemas"].items()) {
    h += fmt::format("<div class=\"op\" id=\"schema-{0}\"><h3>{0}</h3>", esc(name));
    if (schema.contains("description")) h += "<p>" + esc(schema["description"]) + "</p>";
    h += schema_table(schema) + "</div>\n";
  }
  return h + "</body></html>\n";
}

std::vector<Route> docs_routes() {
  using V = boost::beast::http::verb;
  return {
      {V::get, "/openapi.json",
       [](RouteContext& ctx) {
         return respond(ctx, make_response(ctx, 200, "application/json",
                                           openapi_document(ctx.model.id(), "0.1.0").dump(2) + "\n"));
       }},
      {V::get, "/docs",
       [](RouteContext& ctx) {
         return respond(ctx, make_response(ctx, 200, "text/html; charset=utf-8",
                                           docs_html(openapi_document(ctx.model.id(), "0.1.0"))));
       }},
  };
}

}  // namespace quarrel::server
