// Package handshake implements both sides of the WebSocket opening
// handshake defined in RFC 6455 section 4: the server's ([Server]) and the
// client's ([Client.Dial], with TLS and HTTP CONNECT proxies).
//
// It knows HTTP and nothing else: it validates a client's upgrade request,
// negotiates a subprotocol and extensions, writes the "101 Switching
// Protocols" response and hands back the raw connection together with any
// bytes the client sent after its request. What happens on the connection
// afterwards (framing, masking, closing) is someone else's job.
//
// Two entry points exist. [Server.Upgrade] is for net/http handlers: it
// validates the *http.Request, hijacks the connection and writes the 101.
// [Server.UpgradeConn] is for programs without net/http: it reads the request
// from a bare net.Conn itself, with a bound on its size and a deadline.
//
// A refused handshake always gets an HTTP error response with a short
// plain-text reason, and the caller gets a [*RequestError] that matches one
// of the sentinel errors ([ErrBadMethod], [ErrBadKey], ...) with errors.Is
// and carries the HTTP status code.
//
// [Client.Dial] connects to a ws:// or wss:// URL, directly or through an
// HTTP proxy, sends the upgrade request and validates the answer fully; a
// refusal is a [*HandshakeError] with the status and the start of the body.
//
// Origin checking is on by default: a request with an Origin header is
// accepted only if the origin's host equals the request's Host, or matches
// one of [Server.OriginPatterns]. Requests without an Origin header come from
// non-browser clients and are accepted.
package handshake
