// One client's HTTP/1.1 connection on Boost.Beast: waits for a request (at
// most 60 s idle), reads its header (at most 16 KiB, within header_timeout,
// 10 s, of its first byte: a slowloris client dribbling a header is cut
// off), answers `Expect: 100-continue` once the header is
// accepted, reads the body (at most body_limit, upload_limit on an upload
// route: Pipeline::BodyLimit; a larger Content-Length, or a
// chunked body passing the limit, is answered 413 without reading the rest),
// hands the request to the Pipeline, writes its answer and, with keep-alive,
// reads the next request. A malformed request is answered 400, an oversized
// header 431; after such an answer (and after a refusal over the connection
// limit, 503 with Retry-After) what the client still sends is drained for a
// few seconds before the connection closes, so that the client reads the
// answer rather than a reset. A client address (the TCP peer, unless it is
// a trusted proxy) holds at most its share of max_connections
// (client_share_percent): a connection past it is answered 429 with
// Retry-After and closed the same way. A server-streaming route turns the connection
// into an event stream (sse.h) that owns it until the stream ends.
//
// A connection lives on the io_context of its socket (one event loop), so its
// handlers never run concurrently; the pipeline's answers, which come from
// any thread, are posted back to that loop. It keeps itself alive (shared
// ownership by its pending operations) and counts itself in Metrics while
// open; an idle connection costs only its socket, parser and read buffer.
//
// Thread-safety: ServeConnection and RefuseConnection may be called from any
// thread; the ConnectionContext belongs to the server and must outlive every
// connection (including those still queued in a stopped loop).
#ifndef RAPPORT_GATEWAY_CONNECTION_H_
#define RAPPORT_GATEWAY_CONNECTION_H_

#include <boost/asio/ip/tcp.hpp>

#include "gateway/client_share.h"
#include "gateway/metrics.h"
#include "gateway/pipeline.h"
#include "gateway/server.h"

namespace rapport::gateway {

// What every connection shares, owned by the server.
struct ConnectionContext {
  const GatewayOptions* options;  // limits, timeouts, sse_heartbeat, trusted_proxies
  Metrics* metrics;
  Pipeline* pipeline;
  ShareCounter* shares;  // open connections per client address
};

// Serves requests on socket until the client leaves or keep-alive ends (or
// refuses it with 429 when its address already holds its share).
void ServeConnection(boost::asio::ip::tcp::socket socket, const ConnectionContext* context);

// Over the connection limit: answers 503 (UNAVAILABLE, Retry-After: 1) at
// once, without waiting for a request, then drains and closes.
void RefuseConnection(boost::asio::ip::tcp::socket socket, const ConnectionContext* context);

}  // namespace rapport::gateway

#endif  // RAPPORT_GATEWAY_CONNECTION_H_
