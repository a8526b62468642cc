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

// rawUpgrade is one raw upgrade's state: the request buffer and what was
// parsed from it. It is pooled, and kept off the stack: the upgrade runs on
// a connection's fresh goroutine, whose 2 KiB starting stack it fits in
// (growing it would cost a copy per handshake), so it is done in steps
// that run one after another (read, parse, respond), each with a small
// frame, called from a driver that holds only a pointer.
type rawUpgrade struct {
	buf    []byte
	n      int // bytes read into buf
	end    int // index of the last header line's LF
	endLen int // length of the blank line after it
	req    rawRequest
	resp   []byte // the 101, within buf
}

var rawUpgrades = sync.Pool{New: func() any {
	return &rawUpgrade{buf: make([]byte, DefaultMaxRequestBytes)}
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
// Refusals (a TLS ClientHello's too), timeouts and deadlines behave as in
// UpgradeConn; the caller closes conn after an error.
func (s *Server) UpgradeRaw(conn net.Conn, onHeader func(name, value []byte) error) (RawResult, error) {
	var res RawResult
	err := s.upgradeRaw(&res, conn, "", onHeader)
	return res, err
}

// HandOffError is UpgradeOrHandOff's answer to a request that is not a
// WebSocket upgrade for its path: nothing was written, and Head holds every
// byte read from the connection, for an HTTP server to serve the request.
type HandOffError struct {
	Head []byte
}

func (e *HandOffError) Error() string { return "handshake: not a WebSocket upgrade for this path" }

// UpgradeOrHandOff is UpgradeRaw for a server that also speaks plain HTTP
// on the same port: a request whose target's path is not path, or that is
// not a WebSocket client's (neither an Upgrade to "websocket" nor a
// Sec-WebSocket-Key, as IsWebSocketRequest says), gets no answer; the
// error is then a *HandOffError with the bytes read, to be replayed to an
// http.Server (through a listener that yields the connection with those
// bytes first). A WebSocket client's request for path is handled, or
// refused, as UpgradeRaw does.
func (s *Server) UpgradeOrHandOff(conn net.Conn, path string, onHeader func(name, value []byte) error) (RawResult, error) {
	var res RawResult
	err := s.upgradeRaw(&res, conn, path, onHeader)
	return res, err
}

// upgradeRaw is UpgradeRaw into res, handing off what is not an upgrade
// for path when path is not empty.
func (s *Server) upgradeRaw(res *RawResult, conn net.Conn, path string, onHeader func(name, value []byte) error) error {
	u := rawUpgrades.Get().(*rawUpgrade)
	setHandshakeDeadline(conn, s.handshakeTimeout())
	err := s.readRawHead(u, conn)
	if err == nil {
		err = s.answerRaw(u, res, conn, path, onHeader)
	}
	if err == nil {
		// The accept value goes at the end of the buffer, hashed in the
		// room there; computed here, not in rawResponse: the SHA-1 call
		// chain is deep.
		appendAcceptKey(u.buf[len(u.buf)-acceptRoom:len(u.buf)-acceptRoom], u.req.key)
		s.rawResponse(u, res)
	}
	if err == nil {
		// Written from here, not from deeper down: the write's own call
		// chain is about 450 bytes of stack.
		if _, werr := conn.Write(u.resp); werr != nil {
			err = writeError(werr)
		}
	}
	setHandshakeDeadline(conn, 0)
	u.req, u.resp = rawRequest{}, nil // drop references into the buffer and the request
	rawUpgrades.Put(u)
	return err
}

// setHandshakeDeadline sets conn's deadline d from now, or clears it if d
// is 0.
func setHandshakeDeadline(conn net.Conn, d time.Duration) {
	var t time.Time
	if d != 0 {
		t = time.Now().Add(d)
	}
	conn.SetDeadline(t)
}

// readRawHead reads into u.buf until the blank line that ends the header
// block.
func (s *Server) readRawHead(u *rawUpgrade, conn net.Conn) error {
	limit := s.maxRequestBytes()
	if len(u.buf) < limit {
		u.buf = make([]byte, limit)
	}
	buf := u.buf[:limit]
	n := 0
	for {
		if n == limit {
			return s.rawRefuse(conn, refuse(http.StatusRequestHeaderFieldsTooLarge, ErrRequestTooLarge, "request header too large", nil))
		}
		m, err := conn.Read(buf[n:])
		from := max(n-2, 0)
		n += m
		if n > 0 && buf[0] == recordTypeHandshake {
			return s.refuseTLS(conn, buf, n)
		}
		if i, skip := headEnd(buf[from:n]); i >= 0 {
			u.n, u.end, u.endLen = n, from+i, skip
			return nil
		}
		if err != nil {
			return readRefusal(err)
		}
	}
}

// refuseTLS answers a TLS ClientHello, the first n bytes in buf, with a
// plain-HTTP 400: a TLS client reports that answer at once as not TLS
// (crypto/tls: a RecordHeaderError), where waiting for a blank line would
// keep it waiting for a ServerHello until a timeout. The ClientHello's
// record is read whole first, as far as buf holds it, so that closing the
// connection with its bytes unread does not reset it before the client
// has read the answer.
func (s *Server) refuseTLS(conn net.Conn, buf []byte, n int) error {
	for {
		want := 5 // the record header, then the record
		if n >= want {
			want = min(want+(int(buf[3])<<8|int(buf[4])), len(buf))
		}
		if n >= want {
			break
		}
		m, err := conn.Read(buf[n:want])
		n += m
		if err != nil {
			break // answer anyway, best effort
		}
	}
	return s.rawRefuse(conn, tlsRefusal())
}

// readRefusal is the error for a request whose read failed with err.
func readRefusal(err error) error {
	if isTimeout(err) {
		return refuse(0, ErrTimeout, "timeout reading request", err)
	}
	return refuse(0, ErrMalformedRequest, "connection failed before end of request", err)
}

// answerRaw hands off, refuses or accepts the request head in u.
func (s *Server) answerRaw(u *rawUpgrade, res *RawResult, conn net.Conn, path string, onHeader func(name, value []byte) error) error {
	head := u.buf[:u.end+1]
	if path != "" && !isUpgradeFor(head, path) {
		return &HandOffError{Head: bytes.Clone(u.buf[:u.n])}
	}
	if u.n > u.end+u.endLen {
		res.Buffered = bytes.Clone(u.buf[u.end+u.endLen : u.n])
	}
	if rerr := s.parseRaw(&u.req, head, onHeader); rerr != nil {
		return s.rawRefuse(conn, rerr)
	}
	res.Subprotocol = u.req.subprotocol
	if len(u.req.extensions) > 0 {
		if rerr := s.rawExtensions(res, u.req.extensions); rerr != nil {
			return s.rawRefuse(conn, rerr)
		}
	}
	return nil
}

// rawResponse builds the 101 into u.resp, from the start of the buffer
// (the request bytes are no longer needed), with the accept value that
// upgradeRaw put at its end.
func (s *Server) rawResponse(u *rawUpgrade, res *RawResult) {
	tail := len(u.buf) - acceptRoom
	u.resp = s.appendResponse(u.buf[:0:tail], u.buf[tail:tail+28], res.Subprotocol, res.Extensions)
}

// rawExtensions negotiates the extensions offered in the header values
// offered, into res.Extensions. Without a Server.Extensions hook, nothing
// is accepted, but a malformed header is still refused, as Upgrade does.
func (s *Server) rawExtensions(res *RawResult, offered []string) *RequestError {
	offers, err := ParseExtensions(offered)
	if err != nil {
		return refuse(http.StatusBadRequest, ErrBadExtensions, "malformed Sec-WebSocket-Extensions", err)
	}
	if s.Extensions == nil || len(offers) == 0 {
		return nil
	}
	res.Extensions = s.Extensions(offers)
	if err := validAccepted(res.Extensions, offers); err != nil {
		return refuse(http.StatusInternalServerError, ErrExtensionsHook, "extension negotiation failed", err)
	}
	return nil
}

// rawRefuse writes e's refusal, if it has a status, and returns e.
func (s *Server) rawRefuse(conn net.Conn, e *RequestError) error {
	if e.Status != 0 {
		conn.Write(rawRefusal(e)) // best effort; the caller closes conn
	}
	return e
}

// rawRequest is what parseRaw gathers from a request head; the slices
// alias the buffer. It lives in the pooled rawUpgrade, not on the stack.
type rawRequest struct {
	key         []byte
	subprotocol string
	extensions  []string

	get                            bool // the method is GET
	major, minor                   int  // HTTP version
	host, origin, version          []byte
	hosts, origins, versions, keys int
	upgrade, connection, body      bool
	best                           int // index of the best subprotocol offered
}

var errRejected = errors.New("handshake: request rejected by the application")

// parseRaw parses and validates a request head (the request line and
// header lines, each ending in LF or CR LF), in the order negotiate checks.
func (s *Server) parseRaw(req *rawRequest, head []byte, onHeader func(name, value []byte) error) *RequestError {
	line, head := cutLine(head)
	if rerr := req.requestLine(line); rerr != nil {
		return rerr
	}
	req.best = len(s.Subprotocols)
	for len(head) > 0 {
		line, head = cutLine(head)
		if rerr := s.rawHeader(req, line, onHeader); rerr != nil {
			return rerr
		}
	}
	return s.checkRaw(req)
}

// requestLine parses the request line; the method and version are checked
// later, in checkRaw, after the header lines.
func (req *rawRequest) requestLine(line []byte) *RequestError {
	method, rest, _ := bytes.Cut(line, []byte{' '})
	target, proto, ok := bytes.Cut(rest, []byte{' '})
	if !ok || len(method) == 0 || len(target) == 0 || bytes.IndexByte(proto, ' ') >= 0 {
		return refuse(http.StatusBadRequest, ErrMalformedRequest, "malformed request", nil)
	}
	major, minor, ok := http.ParseHTTPVersion(string(proto))
	if !ok || !validTarget(target) {
		return refuse(http.StatusBadRequest, ErrMalformedRequest, "malformed request", nil)
	}
	req.get, req.major, req.minor = string(method) == http.MethodGet, major, minor
	return nil
}

// rawHeader takes in one header line.
func (s *Server) rawHeader(req *rawRequest, line []byte, onHeader func(name, value []byte) error) *RequestError {
	if len(line) == 0 || isOWS(line[0]) {
		// Obsolete line folding, or a stray blank line.
		return refuse(http.StatusBadRequest, ErrMalformedRequest, "malformed request", nil)
	}
	name, value, ok := bytes.Cut(line, []byte{':'})
	if !ok || !isTokenBytes(name) {
		return refuse(http.StatusBadRequest, ErrMalformedRequest, "malformed request", nil)
	}
	value = bytes.Trim(value, " \t")
	if bytes.ContainsFunc(value, func(r rune) bool { return r < ' ' && r != '\t' || r == 0x7f }) {
		return refuse(http.StatusBadRequest, ErrMalformedRequest, "malformed request", nil)
	}
	if onHeader != nil {
		if err := onHeader(name, value); err != nil {
			var re *RequestError
			if errors.As(err, &re) {
				return re
			}
			return refuse(http.StatusForbidden, errRejected, "request rejected", err)
		}
	}
	switch {
	case asciiEqualFold(name, "Host"):
		req.host, req.hosts = value, req.hosts+1
	case asciiEqualFold(name, "Upgrade"):
		req.upgrade = req.upgrade || hasTokenBytes(value, "websocket")
	case asciiEqualFold(name, "Connection"):
		req.connection = req.connection || hasTokenBytes(value, "upgrade")
	case asciiEqualFold(name, "Sec-WebSocket-Version"):
		req.version, req.versions = value, req.versions+1
	case asciiEqualFold(name, "Sec-WebSocket-Key"):
		req.key, req.keys = value, req.keys+1
	case asciiEqualFold(name, "Origin"):
		req.origin, req.origins = value, req.origins+1
	case asciiEqualFold(name, "Sec-WebSocket-Protocol"):
		req.best = s.bestSubprotocol(value, req.best)
	case asciiEqualFold(name, "Sec-WebSocket-Extensions"):
		req.extensions = append(req.extensions, string(value))
	case asciiEqualFold(name, "Content-Length"):
		req.body = req.body || !bytes.Equal(value, []byte("0"))
	case asciiEqualFold(name, "Transfer-Encoding"):
		req.body = true
	}
	return nil
}

// checkRaw checks what the request line and header lines gave, and picks
// the subprotocol.
func (s *Server) checkRaw(req *rawRequest) *RequestError {
	switch {
	case !req.get:
		return refuse(http.StatusMethodNotAllowed, ErrBadMethod, "method must be GET", nil)
	case req.major < 1 || req.major == 1 && req.minor < 1:
		return badProtocol(req.keys > 0)
	case req.hosts != 1 || len(req.host) == 0:
		return refuse(http.StatusBadRequest, ErrMalformedRequest, "missing Host header", nil)
	case req.body:
		return refuse(http.StatusBadRequest, ErrMalformedRequest, "request body not allowed", nil)
	case !req.upgrade:
		return badUpgrade(req.keys > 0)
	case !req.connection:
		return badConnection(req.keys > 0)
	case req.versions != 1 || string(req.version) != "13":
		return refuse(http.StatusUpgradeRequired, ErrBadVersion, "Sec-WebSocket-Version must be 13", nil)
	case req.keys != 1:
		return refuse(http.StatusBadRequest, ErrBadKey, "exactly one Sec-WebSocket-Key required", nil)
	case !validKeyBytes(req.key):
		return refuse(http.StatusBadRequest, ErrBadKey, "invalid Sec-WebSocket-Key", nil)
	}
	if req.origins > 1 && !s.DangerouslyAllowAnyOrigin {
		return refuse(403, ErrForbiddenOrigin, "malformed Origin header", errors.New("more than one Origin header"))
	}
	if req.origins == 1 && !s.DangerouslyAllowAnyOrigin && !sameOrigin(req.origin, req.host) {
		// The slow path, with allocations, for patterns and refusals.
		if e := s.checkOrigin([]string{string(req.origin)}, string(req.host)); e != nil {
			return e
		}
	}
	if req.best < len(s.Subprotocols) {
		req.subprotocol = s.Subprotocols[req.best]
	}
	return nil
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

// isUpgradeFor reports whether the request head is a WebSocket client's,
// for a target whose path is path: it has an Upgrade header listing
// "websocket" or a Sec-WebSocket-Key header, as IsWebSocketRequest says.
// A client's request whose Upgrade or Connection a proxy dropped is thus
// refused with a reason, not handed off.
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
		if asciiEqualFold(name, "Upgrade") && hasTokenBytes(bytes.Trim(value, " \t"), "websocket") ||
			asciiEqualFold(name, "Sec-WebSocket-Key") {
			return true
		}
	}
	return false
}
