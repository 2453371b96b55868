// POST /tokenize and POST /detokenize, shaped as llama.cpp's server shapes them:
//   /tokenize   {"content" (or "prompt"): text, "add_special": false, "parse_special": true,
//                "with_pieces": false} -> {"tokens": [ids]} or, with pieces,
//                {"tokens": [{"id", "piece"}]} (piece: a string, or its bytes when the token
//                is not valid UTF-8 alone)
//   /detokenize {"tokens": [ids]} -> {"content": text}
#include <fmt/format.h>

#include "server/api_error.h"
#include "server/openai_request.h"
#include "server/route.h"

namespace quarrel::server {
namespace {

using json = nlohmann::json;
using ojson = nlohmann::ordered_json;

bool valid_utf8(const std::string& s) {
  size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    size_t n = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
    if (n == 0 || i + n > s.size()) return false;
    for (size_t k = 1; k < n; ++k)
      if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) return false;
    i += n;
  }
  return true;
}

ojson body_object(const RouteContext& ctx) {
  ojson body = ojson::parse(ctx.req.body());
  if (!body.is_object()) throw invalid_request("the body must be a JSON object");
  return body;
}

json tokenize(const RouteContext& ctx) {
  const ojson body = body_object(ctx);
  const char* key = body.contains("content") ? "content" : "prompt";
  if (!body.contains(key)) throw invalid_request("content: required");
  const std::string text = string_field(body, key, "", "");
  const bool add_special = bool_field(body, "add_special", "", false);
  const bool parse_special = bool_field(body, "parse_special", "", true);
  const bool with_pieces = bool_field(body, "with_pieces", "", false);
  const auto& tok = ctx.model.tokenizer();
  const std::vector<int32_t> ids = tok.encode(text, add_special, parse_special);
  json tokens = json::array();
  for (int32_t id : ids) {
    if (!with_pieces) {
      tokens.push_back(id);
      continue;
    }
    const std::string piece = tok.token_to_piece(id);
    json p;
    if (valid_utf8(piece)) {
      p = piece;
    } else {
      p = json::array();
      for (unsigned char c : piece) p.push_back(static_cast<int>(c));
    }
    tokens.push_back({{"id", id}, {"piece", p}});
  }
  return {{"tokens", tokens}};
}

json detokenize(const RouteContext& ctx) {
  const ojson body = body_object(ctx);
  auto it = body.find("tokens");
  if (it == body.end() || !it->is_array()) throw invalid_request("tokens: required, an array of token ids");
  const int32_t n_vocab = ctx.model.n_vocab();
  std::vector<int32_t> ids;
  for (const auto& t : *it) {
    if (!t.is_number_integer()) throw invalid_request("tokens: must be an array of token ids");
    const int64_t id = t.get<int64_t>();
    if (id < 0 || id >= n_vocab) throw invalid_request(fmt::format("tokens: {} is not a token id of this model", id));
    ids.push_back(static_cast<int32_t>(id));
  }
  return {{"content", ctx.model.tokenizer().decode(ids)}};
}

}  // namespace

std::vector<Route> tokenize_routes() {
  using V = boost::beast::http::verb;
  return {
      {V::post, "/tokenize", [](RouteContext& ctx) { return respond_json(ctx, 200, tokenize(ctx)); }},
      {V::post, "/detokenize", [](RouteContext& ctx) { return respond_json(ctx, 200, detokenize(ctx)); }},
  };
}

}  // namespace quarrel::server
