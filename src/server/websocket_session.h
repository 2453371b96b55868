#pragma once
// The native WebSocket API at GET /ws (an HTTP upgrade on the server's port). Messages are JSON
// text frames {"type", "id", "payload"}:
//
//   client -> server                          server -> client
//   inference {prompt | messages, model,      inference {token, token_id, complete: false,
//     temperature, topk, topp, max_tokens,      tokens_per_sec} per token while streaming, then
//     seed, stop, stream (default true),        {complete: true, text?, finish_reason, usage,
//                                               tokens_per_sec}
//     ignore_eos}
//   stop {} (id: the generation to cancel)    inference ... finish_reason "cancelled"
//   status {}                                 status {model, ready, n_ctx, generations, engine}
//   metrics {}                                metrics {engine counters snapshot}
//   ping {}                                   pong {time}
//   anything wrong                            error {code, message} (id of the message if any)
//
// Several generations run at once on one connection, each under its own id (a second
// inference with the id of a running one is an error). Closing the connection cancels its
// generations. The server answers WebSocket ping frames with pong frames and pings an idle
// client itself (the connection is dropped when a ping goes unanswered for the idle timeout).
#include <utility>  // before Boost: its awaitable.hpp uses std::exchange without it

#include <boost/asio/awaitable.hpp>

#include <vector>

#include "server/route.h"

namespace quarrel::server {

// GET /ws: upgrades and runs the session until the client goes away; returns false (the
// connection is not HTTP any more). Not an upgrade request: ApiError 400.
boost::asio::awaitable<bool> websocket_session(RouteContext& ctx);

}  // namespace quarrel::server
