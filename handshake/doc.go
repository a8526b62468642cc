// Package handshake implements both sides of the WebSocket opening
// handshake defined in RFC 6455 section 4: the server's ([Server]) and the
// client's ([Client.Dial], with TLS and HTTP CONNECT proxies).
//
// It knows HTTP and nothing else: it validates the upgrade request (or, as
// a client, the answer), negotiates a subprotocol and extensions
// (permessage-deflate through [DeflatePolicy] and [DeflateOffer]), and
// leaves the caller the raw connection together with any bytes the peer
// sent after its handshake. What happens on the connection afterwards
// (framing, masking, closing) is someone else's job.
//
// A server upgrades in one of four ways:
//
//   - [Server.Upgrade], in a net/http handler: it validates the
//     *http.Request, hijacks the connection and writes the 101.
//   - [Server.UpgradeConn], on a bare net.Conn: it reads the request itself,
//     bounded in size and time, and yields an *http.Request as Upgrade does.
//   - [Server.UpgradeRaw], on a bare net.Conn without allocating: no
//     *http.Request, a callback sees each header line instead.
//   - [Server.UpgradeOrHandOff], UpgradeRaw on a port that also serves
//     plain HTTP: a request that is not a WebSocket client's for the given
//     path is left unanswered, its bytes in a [*HandOffError] for an
//     http.Server.
//
// A refused request gets an HTTP error response with a short plain-text
// reason, and the caller a [*RequestError] that carries the status and
// matches one of the sentinel errors ([ErrBadMethod], [ErrBadKey], ...) with
// errors.Is, or the error UpgradeRaw's callback refused with. A request that
// could not be read (a timeout, a connection that failed) gets no response:
// Status is 0.
//
// [Client.Dial] connects to a ws:// or wss:// URL, directly or through an
// HTTP proxy, sends the upgrade request and validates the answer fully; a
// refusal is a [*HandshakeError] with the status and the start of the body.
//
// WebSockets over HTTP/2 (RFC 8441): [Server.Upgrade] also accepts an
// extended CONNECT ([IsExtendedConnect]) and yields the HTTP/2 stream as
// Result.Conn; [ConfigureHTTP2] sets an http.Server up to serve HTTP/1.1
// and HTTP/2 on one port, and [EnableExtendedConnect] makes net/http
// advertise extended CONNECT, which Go 1.26 does only in a process
// started with GODEBUG=http2xconnect=1. [Client.HTTP2] makes Dial open
// WebSockets over HTTP/2, sharing one connection per origin, with an
// explicit fallback to HTTP/1.1 ([HTTP2Prefer]) or [ErrNoHTTP2]
// ([HTTP2Require]). See docs/http2.md.
//
// Origin checking is on by default: a request with an Origin header is
// accepted only if the origin's host (and port, if any) equals the request's
// Host, or matches one of [Server.OriginPatterns]. Requests without an
// Origin header come from non-browser clients and are accepted.
package handshake
