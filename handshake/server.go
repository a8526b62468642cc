package handshake

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/http"
	"slices"
	"strconv"
	"time"
)

// Defaults for the zero values of Server's limits.
const (
	// DefaultHandshakeTimeout is used when Server.HandshakeTimeout is <= 0.
	DefaultHandshakeTimeout = 10 * time.Second
	// DefaultMaxRequestBytes is used when Server.MaxRequestBytes is <= 0.
	DefaultMaxRequestBytes = 8 << 10
)

// Server holds the server's handshake policy. The zero value is usable: it
// accepts same-origin and non-browser clients, selects no subprotocol and
// accepts no extensions. A Server must not be modified while in use; its
// methods are safe for concurrent use.
type Server struct {
	// Subprotocols lists the subprotocols the server speaks, in order of
	// preference. The first of these that the client offered in
	// Sec-WebSocket-Protocol is selected (compared case-sensitively). If
	// none matches, the handshake still succeeds, without a subprotocol.
	Subprotocols []string

	// OriginPatterns lists extra allowed origins as path.Match patterns on
	// the origin's host[:port], matched case-insensitively, for example
	// "*.example.com" or "localhost:*". A pattern without a port does not
	// match an origin with one. Malformed patterns never match.
	OriginPatterns []string

	// DangerouslyAllowAnyOrigin disables the origin check, letting any web
	// page open a connection with the user's cookies (cross-site WebSocket
	// hijacking). Prefer OriginPatterns.
	DangerouslyAllowAnyOrigin bool

	// Extensions negotiates extensions. It is called with the client's
	// parsed offers (only when there is at least one) and returns the
	// accepted extensions, which are written to the response in order.
	// Each accepted name must have been offered and every name and value
	// must be a token; otherwise the handshake fails with ErrExtensionsHook.
	// If nil, no extension is accepted.
	Extensions func(offers []Extension) []Extension

	// Header holds extra headers for the response that accepts the
	// handshake: the 101, or the 200 to an HTTP/2 extended CONNECT.
	// Headers with invalid names, and the headers the handshake sets
	// itself (Upgrade, Connection, Sec-WebSocket-Accept,
	// Sec-WebSocket-Protocol, Sec-WebSocket-Extensions), are skipped, and
	// over HTTP/2 also the connection-level headers HTTP/2 forbids and
	// Content-Length; control characters in values but tab are replaced
	// by spaces.
	Header http.Header

	// HandshakeTimeout bounds the whole handshake in the raw upgrades
	// (UpgradeConn, UpgradeRaw, UpgradeOrHandOff: reading the request and
	// writing the response). Upgrade uses it as the write deadline of the
	// 101 response. Default DefaultHandshakeTimeout.
	HandshakeTimeout time.Duration

	// MaxRequestBytes bounds the request line and headers read by the raw
	// upgrades; a larger request is refused with 431. Default
	// DefaultMaxRequestBytes.
	MaxRequestBytes int
}

// Result is what a successful upgrade yields: the raw stream for the
// WebSocket connection.
type Result struct {
	// Conn is the raw connection with all deadlines cleared. The caller
	// owns it and must close it.
	Conn net.Conn
	// Buffered holds bytes the client sent after its request that were
	// already read from Conn (frames pipelined with the handshake). They
	// come before anything read from Conn. Nil if none.
	Buffered []byte
	// Subprotocol is the selected subprotocol, or "" if none.
	Subprotocol string
	// Extensions are the accepted extensions, as written in the response.
	Extensions []Extension
	// Request is the client's request. For UpgradeConn it is parsed from
	// the connection, with RemoteAddr (and TLS for a *tls.Conn) filled in
	// and no body.
	Request *http.Request
}

// negotiation is the outcome of a successful validation.
type negotiation struct {
	key         string
	subprotocol string
	extensions  []Extension
}

// IsUpgradeRequest reports whether r asks for a WebSocket upgrade, that is
// whether its Upgrade header lists the token "websocket". It does not
// validate the rest of the handshake. To choose between an upgrade and a
// page, prefer IsWebSocketRequest.
//
// An RFC 8441 extended CONNECT over HTTP/2 (IsExtendedConnect) counts as
// an upgrade request too.
func IsUpgradeRequest(r *http.Request) bool {
	return hasToken(r.Header.Values("Upgrade"), "websocket") || IsExtendedConnect(r)
}

// IsWebSocketRequest reports whether r comes from a WebSocket client: it
// asks for an upgrade to "websocket" or carries a Sec-WebSocket-Key. Use it
// to choose between Upgrade and serving something else, such as a page,
// to a plain GET: a client's request whose Upgrade and Connection headers
// a proxy dropped (they are hop-by-hop, and proxies drop them unless told
// otherwise) then gets Upgrade's 400 naming the missing header, not a
// page it cannot use.
func IsWebSocketRequest(r *http.Request) bool {
	return IsUpgradeRequest(r) || len(r.Header.Values("Sec-WebSocket-Key")) > 0
}

// Reasons for the refusals a proxy in between can cause, given when the
// request carries a Sec-WebSocket-Key (it comes from a WebSocket client):
// Upgrade and Connection are hop-by-hop headers, which a proxy drops
// unless configured to pass them on, and some proxies speak HTTP/1.0
// upstream by default. Each fits the 120 bytes a HandshakeError quotes.
const (
	reasonProxyUpgrade    = `missing "Upgrade: websocket" header; a proxy may have dropped it (proxies must pass on Upgrade and Connection)`
	reasonProxyConnection = `missing "Connection: Upgrade" header; a proxy may have dropped it (proxies must pass on Upgrade and Connection)`
	reasonProxyProtocol   = "HTTP/1.1 or later required; a proxy may have sent HTTP/1.0 (it must use HTTP/1.1 and pass on Upgrade and Connection)"
)

// badProtocol, badUpgrade and badConnection are the refusals for a request
// that is not HTTP/1.1, lacks Upgrade: websocket or lacks Connection:
// Upgrade; fromClient says it carries a Sec-WebSocket-Key.
func badProtocol(fromClient bool) *RequestError {
	if fromClient {
		return refuse(http.StatusBadRequest, ErrBadProtocol, reasonProxyProtocol, nil)
	}
	return refuse(http.StatusBadRequest, ErrBadProtocol, "HTTP/1.1 or later required", nil)
}

func badUpgrade(fromClient bool) *RequestError {
	if fromClient {
		return refuse(http.StatusBadRequest, ErrBadUpgrade, reasonProxyUpgrade, nil)
	}
	return refuse(http.StatusBadRequest, ErrBadUpgrade, `Upgrade header must contain "websocket"`, nil)
}

func badConnection(fromClient bool) *RequestError {
	if fromClient {
		return refuse(http.StatusBadRequest, ErrBadConnection, reasonProxyConnection, nil)
	}
	return refuse(http.StatusBadRequest, ErrBadConnection, `Connection header must contain "Upgrade"`, nil)
}

// negotiate validates r and decides the subprotocol and extensions.
func (s *Server) negotiate(r *http.Request) (*negotiation, *RequestError) {
	if r.Method != http.MethodGet {
		return nil, refuse(http.StatusMethodNotAllowed, ErrBadMethod, "method must be GET", nil)
	}
	h := r.Header
	fromClient := len(h.Values("Sec-WebSocket-Key")) > 0
	if !r.ProtoAtLeast(1, 1) {
		return nil, badProtocol(fromClient)
	}
	if r.Host == "" {
		return nil, refuse(http.StatusBadRequest, ErrMalformedRequest, "missing Host header", nil)
	}
	if r.ContentLength > 0 || len(r.TransferEncoding) > 0 {
		return nil, refuse(http.StatusBadRequest, ErrMalformedRequest, "request body not allowed", nil)
	}
	if !hasToken(h.Values("Upgrade"), "websocket") {
		return nil, badUpgrade(fromClient)
	}
	if !hasToken(h.Values("Connection"), "upgrade") {
		return nil, badConnection(fromClient)
	}
	if v := h.Values("Sec-WebSocket-Version"); len(v) != 1 || trimOWS(v[0]) != "13" {
		return nil, refuse(http.StatusUpgradeRequired, ErrBadVersion, "Sec-WebSocket-Version must be 13", nil)
	}
	keys := h.Values("Sec-WebSocket-Key")
	if len(keys) != 1 {
		return nil, refuse(http.StatusBadRequest, ErrBadKey, "exactly one Sec-WebSocket-Key required",
			fmt.Errorf("%d Sec-WebSocket-Key headers", len(keys)))
	}
	key := trimOWS(keys[0])
	if !validKey(key) {
		return nil, refuse(http.StatusBadRequest, ErrBadKey, "invalid Sec-WebSocket-Key",
			fmt.Errorf("key %q is not base64 of 16 bytes", key))
	}
	n, e := s.agree(h, r.Host)
	if e != nil {
		return nil, e
	}
	n.key = key
	return n, nil
}

// agree finishes a negotiation once the request is a valid WebSocket
// request (over HTTP/1.1 or HTTP/2): the Origin policy, then the
// subprotocol and extensions the server selects.
func (s *Server) agree(h http.Header, host string) (*negotiation, *RequestError) {
	if e := s.checkOrigin(h.Values("Origin"), host); e != nil {
		return nil, e
	}
	offers, err := ParseExtensions(h.Values("Sec-WebSocket-Extensions"))
	if err != nil {
		return nil, refuse(http.StatusBadRequest, ErrBadExtensions, "malformed Sec-WebSocket-Extensions", err)
	}
	n := &negotiation{subprotocol: s.selectSubprotocol(h.Values("Sec-WebSocket-Protocol"))}
	if s.Extensions != nil && len(offers) > 0 {
		n.extensions = s.Extensions(offers)
		if err := validAccepted(n.extensions, offers); err != nil {
			return nil, refuse(http.StatusInternalServerError, ErrExtensionsHook, "extension negotiation failed", err)
		}
	}
	return n, nil
}

// validKey reports whether key is the standard base64 encoding of 16 bytes.
func validKey(key string) bool {
	if len(key) != 24 {
		return false
	}
	var buf [18]byte
	n, err := base64.StdEncoding.Decode(buf[:], []byte(key))
	return err == nil && n == 16
}

// selectSubprotocol returns the first of s.Subprotocols that appears in
// the client's Sec-WebSocket-Protocol lists, or "".
func (s *Server) selectSubprotocol(offered []string) string {
	if len(s.Subprotocols) == 0 || len(offered) == 0 {
		return ""
	}
	for _, want := range s.Subprotocols {
		if !isToken(want) {
			continue
		}
		if listElements(offered, func(elem string) bool { return elem == want }) {
			return want
		}
	}
	return ""
}

// reservedHeaders are set by the handshake itself and never copied from
// Server.Header.
var reservedHeaders = []string{
	"Upgrade", "Connection", "Sec-Websocket-Accept",
	"Sec-Websocket-Protocol", "Sec-Websocket-Extensions",
}

// h2ReservedHeaders stay out of the 200 that accepts an extended CONNECT
// too: HTTP/1.1's connection-level headers, which HTTP/2 forbids (RFC
// 9113 section 8.2.2), and Content-Length, which no 2xx answer to a
// CONNECT carries (RFC 9110 section 9.3.6).
var h2ReservedHeaders = []string{"Keep-Alive", "Proxy-Connection", "Transfer-Encoding", "Content-Length"}

// extraHeader reports whether Server.Header's entry named k goes into the
// answer that accepts a handshake (over HTTP/2 with h2), a valid name the
// handshake does not set itself, and returns the name in canonical form.
func extraHeader(k string, h2 bool) (string, bool) {
	if !isToken(k) {
		return "", false
	}
	ck := http.CanonicalHeaderKey(k)
	return ck, !slices.Contains(reservedHeaders, ck) && !(h2 && slices.Contains(h2ReservedHeaders, ck))
}

// scrubValue returns a Server.Header value with its control characters but
// tab made spaces (see appendValue); v itself when it has none.
func scrubValue(v string) string {
	for i := 0; i < len(v); i++ {
		if isValueCTL(v[i]) {
			return string(appendValue(make([]byte, 0, len(v)), v))
		}
	}
	return v
}

// appendValue appends a Server.Header value with its control characters
// but tab made spaces, so that it can neither end its line early nor
// smuggle another in.
func appendValue(b []byte, v string) []byte {
	for i := 0; i < len(v); i++ {
		if c := v[i]; isValueCTL(c) {
			b = append(b, ' ')
		} else {
			b = append(b, c)
		}
	}
	return b
}

// response builds the complete 101 response in one buffer.
func (s *Server) response(n *negotiation) []byte {
	b := appendAcceptKey(make([]byte, 0, 256), n.key)
	return s.appendResponse(b[len(b):], b, n.subprotocol, n.extensions)
}

// appendResponse appends the complete 101 response, with the accept value
// accept, to b.
func (s *Server) appendResponse(b, accept []byte, subprotocol string, extensions []Extension) []byte {
	b = append(b, "HTTP/1.1 101 Switching Protocols\r\n"+
		"Upgrade: websocket\r\n"+
		"Connection: Upgrade\r\n"+
		"Sec-WebSocket-Accept: "...)
	b = append(b, accept...)
	b = append(b, "\r\n"...)
	if subprotocol != "" {
		b = append(b, "Sec-WebSocket-Protocol: "...)
		b = append(b, subprotocol...)
		b = append(b, "\r\n"...)
	}
	if len(extensions) > 0 {
		b = append(b, "Sec-WebSocket-Extensions: "...)
		b = append(b, FormatExtensions(extensions)...)
		b = append(b, "\r\n"...)
	}
	if len(s.Header) > 0 {
		b = s.appendHeader(b)
	}
	return append(b, "\r\n"...)
}

// appendHeader appends the lines of s.Header that a 101 may carry, sorted
// by name.
func (s *Server) appendHeader(b []byte) []byte {
	names := make([]string, 0, len(s.Header))
	for k := range s.Header {
		if _, ok := extraHeader(k, false); ok {
			names = append(names, k)
		}
	}
	slices.Sort(names)
	for _, k := range names {
		for _, v := range s.Header[k] {
			b = append(b, k...)
			b = append(b, ": "...)
			b = appendValue(b, v)
			b = append(b, "\r\n"...)
		}
	}
	return b
}

// rawRefusal builds the HTTP error response for e, for UpgradeConn.
func rawRefusal(e *RequestError) []byte {
	body := e.Reason + "\n"
	b := make([]byte, 0, 160+len(body))
	b = append(b, "HTTP/1.1 "...)
	b = strconv.AppendInt(b, int64(e.Status), 10)
	b = append(b, ' ')
	b = append(b, http.StatusText(e.Status)...)
	b = append(b, "\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\nContent-Length: "...)
	b = strconv.AppendInt(b, int64(len(body)), 10)
	b = append(b, "\r\n"...)
	for _, kv := range e.refusalHeaders() {
		b = append(b, kv[0]...)
		b = append(b, ": "...)
		b = append(b, kv[1]...)
		b = append(b, "\r\n"...)
	}
	b = append(b, "\r\n"...)
	return append(b, body...)
}

// writeHTTPError answers a refused request through net/http. The response
// asks to close the connection, since the client may have pipelined
// WebSocket frames that must not be read as HTTP.
func writeHTTPError(w http.ResponseWriter, e *RequestError) {
	h := w.Header()
	for _, kv := range e.refusalHeaders() {
		h.Set(kv[0], kv[1])
	}
	h.Set("Connection", "close")
	http.Error(w, e.Reason, e.Status)
}

// Upgrade performs the handshake for a net/http request. It validates r,
// hijacks the connection through http.NewResponseController(w).Hijack(),
// writes the 101 response directly to the connection and returns the
// connection with any bytes net/http had already buffered from the client.
//
// If the request is refused, Upgrade writes an HTTP error response (status
// and a short plain-text reason, "Connection: close") through w and returns
// a *RequestError; the handler must not write to w afterwards. If writing
// the 101 fails after hijacking, Upgrade closes the connection and returns
// the write error (matching ErrTimeout if the write deadline expired).
//
// Over HTTP/2, an RFC 8441 extended CONNECT (IsExtendedConnect) is
// accepted the same way, with the same version, origin, subprotocol and
// extension rules: Upgrade answers 200 (no Sec-WebSocket-Accept; a
// refusal has the same status and reason as over HTTP/1.1) and
// Result.Conn is the HTTP/2 stream, reading the request body and writing
// (and flushing) the response. The stream lives only as long as the
// handler: the handler must not return before Result.Conn is closed (a
// pipeline.Conn's Wait returns after that), and its return ends the
// stream (a Result.Conn still open then fails its reads and writes). Closing Result.Conn ends the stream's reads and writes and lets
// the handler return; a reset stream or a lost connection fails its reads
// and writes with an error other than io.EOF. The server must advertise
// extended CONNECT for clients to use it: see ConfigureHTTP2 and
// EnableExtendedConnect.
func (s *Server) Upgrade(w http.ResponseWriter, r *http.Request) (*Result, error) {
	if IsExtendedConnect(r) {
		return s.upgradeH2(w, r)
	}
	n, rerr := s.negotiate(r)
	if rerr != nil {
		writeHTTPError(w, rerr)
		return nil, rerr
	}
	conn, brw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		rerr := refuse(http.StatusInternalServerError, ErrHijack, "cannot upgrade this connection", err)
		writeHTTPError(w, rerr)
		return nil, rerr
	}
	if err := brw.Writer.Flush(); err != nil {
		conn.Close()
		return nil, fmt.Errorf("handshake: flushing hijacked writer: %w", err)
	}
	buffered := takeBuffered(brw.Reader)
	conn.SetWriteDeadline(time.Now().Add(s.handshakeTimeout()))
	_, err = conn.Write(s.response(n))
	// Clear our write deadline and any deadline the server left on the
	// connection (net/http clears its own on hijack, others may not).
	conn.SetDeadline(time.Time{})
	if err != nil {
		conn.Close()
		return nil, writeError(err)
	}
	return &Result{
		Conn:        conn,
		Buffered:    buffered,
		Subprotocol: n.subprotocol,
		Extensions:  n.extensions,
		Request:     r,
	}, nil
}

// takeBuffered copies out the bytes buffered in br, or returns nil.
func takeBuffered(br *bufio.Reader) []byte {
	n := br.Buffered()
	if n == 0 {
		return nil
	}
	p, _ := br.Peek(n)
	return bytes.Clone(p)
}

// writeError wraps an error from writing the 101 response.
func writeError(err error) error {
	if isTimeout(err) {
		return fmt.Errorf("handshake: writing response: %w: %w", ErrTimeout, err)
	}
	return fmt.Errorf("handshake: writing response: %w", err)
}

// isTimeout reports whether err is a deadline expiry.
func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

func (s *Server) handshakeTimeout() time.Duration {
	if s.HandshakeTimeout > 0 {
		return s.HandshakeTimeout
	}
	return DefaultHandshakeTimeout
}

func (s *Server) maxRequestBytes() int {
	if s.MaxRequestBytes > 0 {
		return s.MaxRequestBytes
	}
	return DefaultMaxRequestBytes
}
