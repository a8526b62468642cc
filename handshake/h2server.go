package handshake

import (
	"errors"
	"net/http"
	"os"
	"strings"
	"time"
)

// WebSockets over HTTP/2 (RFC 8441), the server's side: an extended
// CONNECT request with :protocol websocket is answered 200 and the stream
// becomes the WebSocket's raw stream. See docs/http2.md.

// ErrExtendedConnectDisabled: this process's net/http does not advertise
// SETTINGS_ENABLE_CONNECT_PROTOCOL, so clients cannot open WebSockets over
// HTTP/2 (they use HTTP/1.1). On Go 1.26 it takes GODEBUG=http2xconnect=1
// at process start; see EnableExtendedConnect.
var ErrExtendedConnectDisabled = errors.New("handshake: HTTP/2 extended CONNECT (RFC 8441) is off: start the process with GODEBUG=http2xconnect=1")

// godebugXConnect is the GODEBUG setting that makes net/http's HTTP/2
// server advertise extended CONNECT. net/http reads it once, in its
// package init.
const godebugXConnect = "http2xconnect=1"

// xconnectAtStart is whether GODEBUG held the setting when the process
// started, as net/http saw it (its init runs before this package's).
var xconnectAtStart = strings.Contains(os.Getenv("GODEBUG"), godebugXConnect)

// ExtendedConnectEnabled reports whether net/http's HTTP/2 server in this
// process advertises SETTINGS_ENABLE_CONNECT_PROTOCOL (RFC 8441), without
// which browsers and clients open WebSockets over HTTP/1.1 only. On Go
// 1.26 that is whether the process started with GODEBUG=http2xconnect=1:
// net/http reads it once at start, so neither os.Setenv nor a //go:debug
// line can turn it on later. A program that wants it calls
// EnableExtendedConnect first thing in main.
func ExtendedConnectEnabled() bool { return xconnectAtStart }

// EnableExtendedConnect makes sure net/http advertises extended CONNECT
// in this process: if it does not (ExtendedConnectEnabled), it restarts
// the program, on Unix by replacing the process (execve, same pid, same
// arguments and descriptors) with GODEBUG=http2xconnect=1 added to the
// environment. It returns nil when the setting is on; it does not return
// when it restarts; it returns an error matching
// ErrExtendedConnectDisabled if it cannot restart (on systems without
// execve, or if the executable cannot be found), and the program goes on
// serving WebSockets over HTTP/1.1 only. Call it first thing in main,
// before starting goroutines or opening files that must not be inherited.
func EnableExtendedConnect() error {
	if ExtendedConnectEnabled() {
		return nil
	}
	if os.Getenv(reexecGuard) != "" {
		// Restarted once already and still off: GODEBUG was overridden.
		return ErrExtendedConnectDisabled
	}
	exe, err := os.Executable()
	if err != nil {
		return errors.Join(ErrExtendedConnectDisabled, err)
	}
	env := os.Environ()
	found := false
	for i, kv := range env {
		if v, ok := strings.CutPrefix(kv, "GODEBUG="); ok {
			found = true
			if v == "" {
				env[i] = "GODEBUG=" + godebugXConnect
			} else {
				env[i] = "GODEBUG=" + v + "," + godebugXConnect
			}
		}
	}
	if !found {
		env = append(env, "GODEBUG="+godebugXConnect)
	}
	env = append(env, reexecGuard+"=1")
	return errors.Join(ErrExtendedConnectDisabled, reexec(exe, os.Args, env))
}

// reexecGuard is set in the environment of a restarted process, so that a
// GODEBUG that still lacks the setting cannot restart it in a loop.
const reexecGuard = "WSPIPE_XCONNECT_REEXEC"

// Defaults ConfigureHTTP2 sets where srv.HTTP2 leaves them zero.
const (
	// DefaultHTTP2MaxStreams is the number of concurrent streams (thus
	// WebSockets, together with ordinary requests) one HTTP/2 connection
	// may carry.
	DefaultHTTP2MaxStreams = 1000
	// DefaultHTTP2StreamWindow is the receive window of one stream: the
	// most a client can have sent on a WebSocket that the server has not
	// read yet, and so the bound on what a stalled stream holds.
	DefaultHTTP2StreamWindow = 256 << 10
	// DefaultHTTP2ConnWindow is the connection's receive window. It is
	// far larger than a stream's, so that streams whose readers stall
	// (each holding at most a stream window) do not use up the shared
	// window and stall the others: net/http gives the connection's window
	// back only as handlers read.
	DefaultHTTP2ConnWindow = 1 << 30
)

// ConfigureHTTP2 sets srv up to serve WebSockets over HTTP/2 as well as
// over HTTP/1.1, on the same port and with the same handler: it enables
// HTTP/1.1 and HTTP/2 over TLS in srv.Protocols, and with h2c also
// HTTP/2 over cleartext TCP with prior knowledge; it fills the zero
// fields of srv.HTTP2 with the window and stream defaults above
// (creating it if nil). Call it before srv.Serve or ListenAndServe(TLS).
//
// It returns an error matching ErrExtendedConnectDisabled if net/http does
// not advertise extended CONNECT in this process (see
// EnableExtendedConnect): srv is configured anyway and serves HTTP/2, but
// WebSocket clients fall back to HTTP/1.1, so log it.
func ConfigureHTTP2(srv *http.Server, h2c bool) error {
	p := srv.Protocols
	if p == nil {
		p = new(http.Protocols)
	}
	p.SetHTTP1(true)
	p.SetHTTP2(true)
	if h2c {
		p.SetUnencryptedHTTP2(true)
	}
	srv.Protocols = p
	if srv.HTTP2 == nil {
		srv.HTTP2 = &http.HTTP2Config{}
	}
	c := srv.HTTP2
	if c.MaxConcurrentStreams == 0 {
		c.MaxConcurrentStreams = DefaultHTTP2MaxStreams
	}
	if c.MaxReceiveBufferPerStream == 0 {
		c.MaxReceiveBufferPerStream = DefaultHTTP2StreamWindow
	}
	if c.MaxReceiveBufferPerConnection == 0 {
		c.MaxReceiveBufferPerConnection = DefaultHTTP2ConnWindow
	}
	// When net/http has HTTP2Config.EnableConnectProtocol (golang/go PR
	// 79300), this becomes c.EnableConnectProtocol = true and the check
	// below goes.
	if !ExtendedConnectEnabled() {
		return ErrExtendedConnectDisabled
	}
	return nil
}

// IsExtendedConnect reports whether r is an RFC 8441 WebSocket request:
// an HTTP/2 (or later) CONNECT with the :protocol pseudo-header
// "websocket".
func IsExtendedConnect(r *http.Request) bool {
	return r.ProtoMajor >= 2 && r.Method == http.MethodConnect &&
		strings.EqualFold(r.Header.Get(":protocol"), "websocket")
}

// negotiateH2 validates an extended CONNECT and decides the subprotocol
// and extensions, as negotiate does for HTTP/1.1. RFC 8441 section 5:
// there is no Sec-WebSocket-Key (one sent is ignored), no Upgrade nor
// Connection; the version, origin, subprotocol and extension fields are
// the same.
func (s *Server) negotiateH2(r *http.Request) (*negotiation, *RequestError) {
	h := r.Header
	if r.Host == "" {
		return nil, refuse(http.StatusBadRequest, ErrMalformedRequest, "missing :authority", nil)
	}
	if v := h.Values("Sec-WebSocket-Version"); len(v) != 1 || trimOWS(v[0]) != "13" {
		return nil, refuse(http.StatusUpgradeRequired, ErrBadVersion, "Sec-WebSocket-Version must be 13", nil)
	}
	return s.agree(h, r.Host)
}

// writeH2Error answers a refused extended CONNECT: as writeHTTPError,
// without the connection-level headers HTTP/2 forbids.
func writeH2Error(w http.ResponseWriter, e *RequestError) {
	h := w.Header()
	for _, kv := range e.refusalHeaders() {
		h.Set(kv[0], kv[1])
	}
	http.Error(w, e.Reason, e.Status)
}

// upgradeH2 is Upgrade for an extended CONNECT.
func (s *Server) upgradeH2(w http.ResponseWriter, r *http.Request) (*Result, error) {
	n, rerr := s.negotiateH2(r)
	if rerr != nil {
		writeH2Error(w, rerr)
		return nil, rerr
	}
	rc := http.NewResponseController(w)
	if err := rc.EnableFullDuplex(); err != nil && !errors.Is(err, http.ErrNotSupported) {
		rerr := refuse(http.StatusInternalServerError, ErrHijack, "cannot stream this request", err)
		writeH2Error(w, rerr)
		return nil, rerr
	}
	h := w.Header()
	for k, vs := range s.Header {
		ck, ok := extraHeader(k, true)
		if !ok {
			continue
		}
		for _, v := range vs {
			h[ck] = append(h[ck], scrubValue(v)) // ck is canonical already
		}
	}
	if n.subprotocol != "" {
		h.Set("Sec-WebSocket-Protocol", n.subprotocol)
	}
	if len(n.extensions) > 0 {
		h.Set("Sec-WebSocket-Extensions", FormatExtensions(n.extensions))
	}
	w.WriteHeader(http.StatusOK)
	rc.SetWriteDeadline(time.Now().Add(s.handshakeTimeout()))
	err := rc.Flush()
	rc.SetWriteDeadline(time.Time{})
	if err != nil {
		return nil, writeError(err)
	}
	return &Result{
		Conn:        newH2ServerStream(w, r, rc),
		Subprotocol: n.subprotocol,
		Extensions:  n.extensions,
		Request:     r,
	}, nil
}
