package handshake

import (
	"bytes"
	"encoding/base64"
	"errors"
	"net"
	"net/http"
	"net/url"
	"sync"
	"time"
)

// RawResult is what UpgradeRaw yields, by value.
type RawResult struct {
	// Buffered holds bytes the client sent after its request (frames
	// pipelined with the handshake), copied out; nil if none (the usual
	// case, which allocates nothing).
	Buffered []byte
	// Subprotocol is the selected subprotocol (one of Server.Subprotocols)
	// or "".
	Subprotocol string
	// Extensions are the accepted extensions.
	Extensions []Extension
}

// rawBufs holds request buffers for UpgradeRaw.
var rawBufs = sync.Pool{New: func() any {
	b := make([]byte, DefaultMaxRequestBytes)
	return &b
}}

// headEnd finds the blank line that ends a header block in b: it returns
// the index of the last header line's LF and the length of the terminator
// from there ("\n\r\n" or "\n\n": like net/http, a bare LF ends a line
// too, RFC 7230 section 3.5), or -1.
func headEnd(b []byte) (int, int) {
	for i := 0; i < len(b); i++ {
		if b[i] != '\n' {
			continue
		}
		if i+1 < len(b) && b[i+1] == '\n' {
			return i, 2
		}
		if i+2 < len(b) && b[i+1] == '\r' && b[i+2] == '\n' {
			return i, 3
		}
	}
	return -1, 0
}

// UpgradeRaw is UpgradeConn without net/http and without allocating: it
// reads the request into a pooled buffer, validates it as Upgrade and
// UpgradeConn do, and writes the 101 from the same buffer. No
// *http.Request is built; instead onHeader, if not nil, sees every header
// line's name and value (valid only during the call) and may refuse the
// request by returning an error (a *RequestError for a status of its
// choosing, anything else gives 403). It allocates only for what the client
// chooses to send beyond a plain handshake: bytes pipelined after the
// request, and extension offers when Server.Extensions is set.
//
// Refusals, timeouts and deadlines behave as in UpgradeConn; the caller
// closes conn after an error.
func (s *Server) UpgradeRaw(conn net.Conn, onHeader func(name, value []byte) error) (RawResult, error) {
	return s.upgradeRaw(conn, "", onHeader)
}

// HandOffError is UpgradeOrHandOff's answer to a request that is not a
// WebSocket upgrade for its path: nothing was written, and Head holds every
// byte read from the connection, for an HTTP server to serve the request.
type HandOffError struct {
	Head []byte
}

func (e *HandOffError) Error() string { return "handshake: not a WebSocket upgrade for this path" }

// UpgradeOrHandOff is UpgradeRaw for a server that also speaks plain HTTP
// on the same port: a request whose target's path is not path, or that
// does not ask for a WebSocket upgrade, gets no answer; the error is then
// a *HandOffError with the bytes read, to be replayed to an http.Server
// (through a listener that yields the connection with those bytes first).
// A WebSocket upgrade for path is handled, or refused, as UpgradeRaw does.
func (s *Server) UpgradeOrHandOff(conn net.Conn, path string, onHeader func(name, value []byte) error) (RawResult, error) {
	return s.upgradeRaw(conn, path, onHeader)
}

// upgradeRaw is UpgradeRaw, handing off what is not an upgrade for path
// when path is not empty.
func (s *Server) upgradeRaw(conn net.Conn, path string, onHeader func(name, value []byte) error) (RawResult, error) {
	conn.SetDeadline(time.Now().Add(s.handshakeTimeout()))
	defer conn.SetDeadline(time.Time{})

	bp := rawBufs.Get().(*[]byte)
	defer rawBufs.Put(bp)
	limit := s.maxRequestBytes()
	if len(*bp) < limit {
		*bp = make([]byte, limit)
	}
	buf := (*bp)[:limit]

	// Read until the blank line that ends the header block.
	n, end, endLen := 0, -1, 0
	for end < 0 {
		if n == limit {
			return s.rawRefuse(conn, refuse(http.StatusRequestHeaderFieldsTooLarge, ErrRequestTooLarge, "request header too large", nil))
		}
		m, err := conn.Read(buf[n:])
		from := max(n-2, 0)
		n += m
		if i, skip := headEnd(buf[from:n]); i >= 0 {
			end, endLen = from+i, skip
			break
		}
		if err != nil {
			if isTimeout(err) {
				return RawResult{}, refuse(0, ErrTimeout, "timeout reading request", err)
			}
			return RawResult{}, refuse(0, ErrMalformedRequest, "connection failed before end of request", err)
		}
	}
	if path != "" && !isUpgradeFor(buf[:end+1], path) {
		return RawResult{}, &HandOffError{Head: append([]byte(nil), buf[:n]...)}
	}
	var res RawResult
	if rest := buf[end+endLen : n]; len(rest) > 0 {
		res.Buffered = append([]byte(nil), rest...)
	}
	req, rerr := s.parseRaw(buf[:end+1], onHeader)
	if rerr != nil {
		return s.rawRefuse(conn, rerr)
	}
	res.Subprotocol = req.subprotocol
	if s.Extensions != nil && len(req.extensions) > 0 {
		offers, err := ParseExtensions(req.extensions)
		if err != nil {
			return s.rawRefuse(conn, refuse(http.StatusBadRequest, ErrBadExtensions, "malformed Sec-WebSocket-Extensions", err))
		}
		if len(offers) > 0 {
			res.Extensions = s.Extensions(offers)
			if err := validAccepted(res.Extensions, offers); err != nil {
				return s.rawRefuse(conn, refuse(http.StatusInternalServerError, ErrExtensionsHook, "extension negotiation failed", err))
			}
		}
	} else if len(req.extensions) > 0 {
		// Still refuse a malformed header, as Upgrade does.
		if _, err := ParseExtensions(req.extensions); err != nil {
			return s.rawRefuse(conn, refuse(http.StatusBadRequest, ErrBadExtensions, "malformed Sec-WebSocket-Extensions", err))
		}
	}
	// The accept value goes at the end of the buffer, the response at its
	// start: the request bytes are no longer needed.
	acc := appendAcceptKey(buf[len(buf)-28:len(buf)-28], req.key)
	resp := s.appendResponse(buf[:0:len(buf)-28], acc, res.Subprotocol, res.Extensions)
	if _, err := conn.Write(resp); err != nil {
		return RawResult{}, writeError(err)
	}
	return res, nil
}

func (s *Server) rawRefuse(conn net.Conn, e *RequestError) (RawResult, error) {
	if e.Status != 0 {
		conn.Write(rawRefusal(e)) // best effort; the caller closes conn
	}
	return RawResult{}, e
}

// rawRequest is what parseRaw keeps of a request; key aliases the buffer.
type rawRequest struct {
	key         []byte
	subprotocol string
	extensions  []string
}

var errRejected = errors.New("handshake: request rejected by the application")

// parseRaw parses and validates a request head (the request line and
// header lines, each ending in LF or CR LF), in the order negotiate checks.
func (s *Server) parseRaw(head []byte, onHeader func(name, value []byte) error) (rawRequest, *RequestError) {
	var req rawRequest
	line, head := cutLine(head)
	method, rest, _ := bytes.Cut(line, []byte{' '})
	target, proto, ok := bytes.Cut(rest, []byte{' '})
	if !ok || len(method) == 0 || len(target) == 0 || bytes.IndexByte(proto, ' ') >= 0 {
		return req, refuse(http.StatusBadRequest, ErrMalformedRequest, "malformed request", nil)
	}
	major, minor, ok := http.ParseHTTPVersion(string(proto))
	if !ok || !validTarget(target) {
		return req, refuse(http.StatusBadRequest, ErrMalformedRequest, "malformed request", nil)
	}
	var (
		host, origin, version          []byte
		hosts, origins, versions, keys int
		upgrade, connection, body      bool
		best                           = len(s.Subprotocols)
	)
	for len(head) > 0 {
		line, head = cutLine(head)
		if len(line) == 0 || isOWS(line[0]) {
			// Obsolete line folding, or a stray blank line.
			return req, refuse(http.StatusBadRequest, ErrMalformedRequest, "malformed request", nil)
		}
		name, value, ok := bytes.Cut(line, []byte{':'})
		if !ok || !isTokenBytes(name) {
			return req, refuse(http.StatusBadRequest, ErrMalformedRequest, "malformed request", nil)
		}
		value = bytes.Trim(value, " \t")
		if bytes.ContainsFunc(value, func(r rune) bool { return r < ' ' && r != '\t' || r == 0x7f }) {
			return req, refuse(http.StatusBadRequest, ErrMalformedRequest, "malformed request", nil)
		}
		if onHeader != nil {
			if err := onHeader(name, value); err != nil {
				var re *RequestError
				if errors.As(err, &re) {
					return req, re
				}
				return req, refuse(http.StatusForbidden, errRejected, "request rejected", err)
			}
		}
		switch {
		case asciiEqualFold(name, "Host"):
			host, hosts = value, hosts+1
		case asciiEqualFold(name, "Upgrade"):
			upgrade = upgrade || hasTokenBytes(value, "websocket")
		case asciiEqualFold(name, "Connection"):
			connection = connection || hasTokenBytes(value, "upgrade")
		case asciiEqualFold(name, "Sec-WebSocket-Version"):
			version, versions = value, versions+1
		case asciiEqualFold(name, "Sec-WebSocket-Key"):
			req.key, keys = value, keys+1
		case asciiEqualFold(name, "Origin"):
			origin, origins = value, origins+1
		case asciiEqualFold(name, "Sec-WebSocket-Protocol"):
			best = s.bestSubprotocol(value, best)
		case asciiEqualFold(name, "Sec-WebSocket-Extensions"):
			req.extensions = append(req.extensions, string(value))
		case asciiEqualFold(name, "Content-Length"):
			body = body || !bytes.Equal(value, []byte("0"))
		case asciiEqualFold(name, "Transfer-Encoding"):
			body = true
		}
	}
	switch {
	case string(method) != http.MethodGet:
		return req, refuse(http.StatusMethodNotAllowed, ErrBadMethod, "method must be GET", nil)
	case major < 1 || major == 1 && minor < 1:
		return req, refuse(http.StatusBadRequest, ErrBadProtocol, "HTTP/1.1 or later required", nil)
	case hosts != 1 || len(host) == 0:
		return req, refuse(http.StatusBadRequest, ErrMalformedRequest, "missing Host header", nil)
	case body:
		return req, refuse(http.StatusBadRequest, ErrMalformedRequest, "request body not allowed", nil)
	case !upgrade:
		return req, refuse(http.StatusBadRequest, ErrBadUpgrade, `Upgrade header must contain "websocket"`, nil)
	case !connection:
		return req, refuse(http.StatusBadRequest, ErrBadConnection, `Connection header must contain "Upgrade"`, nil)
	case versions != 1 || string(version) != "13":
		return req, refuse(http.StatusUpgradeRequired, ErrBadVersion, "Sec-WebSocket-Version must be 13", nil)
	case keys != 1:
		return req, refuse(http.StatusBadRequest, ErrBadKey, "exactly one Sec-WebSocket-Key required", nil)
	case !validKeyBytes(req.key):
		return req, refuse(http.StatusBadRequest, ErrBadKey, "invalid Sec-WebSocket-Key", nil)
	}
	if origins > 1 && !s.DangerouslyAllowAnyOrigin {
		return req, refuse(403, ErrForbiddenOrigin, "malformed Origin header", errors.New("more than one Origin header"))
	}
	if origins == 1 && !s.DangerouslyAllowAnyOrigin && !sameOrigin(origin, host) {
		// The slow path, with allocations, for patterns and refusals.
		if e := s.checkOrigin([]string{string(origin)}, string(host)); e != nil {
			return req, e
		}
	}
	if best < len(s.Subprotocols) {
		req.subprotocol = s.Subprotocols[best]
	}
	return req, nil
}

// cutLine splits b after its first LF, dropping the line's CR LF or LF.
func cutLine(b []byte) (line, rest []byte) {
	line, rest, _ = bytes.Cut(b, []byte{'\n'})
	return bytes.TrimSuffix(line, []byte{'\r'}), rest
}

// bestSubprotocol returns the index in s.Subprotocols of the most preferred
// subprotocol offered in the list value, or best if none beats it.
func (s *Server) bestSubprotocol(value []byte, best int) int {
	for len(value) > 0 {
		var elem []byte
		elem, value, _ = bytes.Cut(value, []byte{','})
		elem = bytes.Trim(elem, " \t")
		for i := 0; i < best; i++ {
			if string(elem) == s.Subprotocols[i] && isToken(s.Subprotocols[i]) {
				best = i
				break
			}
		}
	}
	return best
}

// hasTokenBytes reports whether the comma-separated list value contains
// token, ASCII case-insensitively.
func hasTokenBytes(value []byte, token string) bool {
	for len(value) > 0 {
		var elem []byte
		elem, value, _ = bytes.Cut(value, []byte{','})
		if asciiEqualFold(bytes.Trim(elem, " \t"), token) {
			return true
		}
	}
	return false
}

func asciiEqualFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := range len(b) {
		x, y := b[i], s[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

func isTokenBytes(b []byte) bool {
	if len(b) == 0 {
		return false
	}
	for _, c := range b {
		if !isTokenByte(c) {
			return false
		}
	}
	return true
}

// validKeyBytes is validKey for a byte slice, without allocating.
func validKeyBytes(key []byte) bool {
	if len(key) != 24 {
		return false
	}
	var buf [18]byte
	n, err := base64.StdEncoding.Decode(buf[:], key)
	return err == nil && n == 16
}

// sameOrigin is the fast, allocation-free case of the origin check: an
// Origin of the form scheme://host[:port] whose host[:port] equals Host.
func sameOrigin(origin, host []byte) bool {
	i := bytes.Index(origin, []byte("://"))
	if i <= 0 {
		return false
	}
	h := origin[i+3:]
	if len(h) == 0 || bytes.ContainsAny(h, "/@?#") {
		return false
	}
	return asciiEqualFold(h, string(host))
}

// validTarget accepts a request target as net/http does: an origin-form
// path, or (rarely, so parsed the slow way) an absolute URI.
func validTarget(t []byte) bool {
	for _, c := range t {
		if c <= ' ' || c == 0x7f {
			return false
		}
	}
	if t[0] == '/' {
		return true
	}
	_, err := url.ParseRequestURI(string(t))
	return err == nil
}

// isUpgradeFor reports whether the request head asks for a WebSocket
// upgrade (an Upgrade header listing "websocket") of a target whose path
// is path.
func isUpgradeFor(head []byte, path string) bool {
	line, head := cutLine(head)
	_, rest, _ := bytes.Cut(line, []byte{' '})
	target, _, _ := bytes.Cut(rest, []byte{' '})
	target, _, _ = bytes.Cut(target, []byte{'?'})
	if string(target) != path {
		return false
	}
	for len(head) > 0 {
		line, head = cutLine(head)
		name, value, _ := bytes.Cut(line, []byte{':'})
		if asciiEqualFold(name, "Upgrade") && hasTokenBytes(bytes.Trim(value, " \t"), "websocket") {
			return true
		}
	}
	return false
}
