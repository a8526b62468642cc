package handshake

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Defaults for the zero values of Client's limits.
const (
	// DefaultMaxResponseBytes is used when Client.MaxResponseBytes is <= 0.
	DefaultMaxResponseBytes = 8 << 10
)

const (
	// maxRefusalBody bounds the body kept from a refusal.
	maxRefusalBody = 1 << 10
	// refusalBodyTimeout bounds the time spent reading a refusal's body.
	refusalBodyTimeout = time.Second
)

// Client-side sentinel errors. A response that refuses or fails the
// handshake is reported as a *HandshakeError whose Err matches one of
// ErrBadStatus, ErrBadAccept, ErrBadUpgradeResponse, ErrUnexpectedSubprotocol,
// ErrUnexpectedExtension or ErrProxy with errors.Is. Failures before a
// response (a bad URL or Client, dialing, TLS, timeouts) are plain wrapped
// errors; timeouts match ErrTimeout and context.DeadlineExceeded, and a
// cancelled context matches context.Canceled.
var (
	// ErrBadURL: the URL is not a ws, wss, http or https URL with a host,
	// or it has user information or a fragment.
	ErrBadURL = errors.New("handshake: bad WebSocket URL")
	// ErrBadClient: the Client's Subprotocols, Extensions or Header cannot
	// be sent (not tokens, duplicates, control characters, or a header the
	// handshake sets itself).
	ErrBadClient = errors.New("handshake: invalid Client configuration")
	// ErrBadStatus: the server answered with a status other than 101. The
	// HandshakeError carries the status, headers and the start of the body.
	ErrBadStatus = errors.New("handshake: server refused the upgrade")
	// ErrBadAccept: Sec-WebSocket-Accept is missing, repeated or wrong.
	ErrBadAccept = errors.New("handshake: bad Sec-WebSocket-Accept")
	// ErrBadUpgradeResponse: the 101 response is not a valid WebSocket
	// upgrade (Upgrade lacks "websocket", Connection lacks "upgrade", an
	// HTTP/1.0 response, malformed Sec-WebSocket-Extensions), or the
	// response cannot be parsed as HTTP.
	ErrBadUpgradeResponse = errors.New("handshake: invalid upgrade response")
	// ErrUnexpectedSubprotocol: the server selected a subprotocol the client
	// did not offer, or more than one.
	ErrUnexpectedSubprotocol = errors.New("handshake: server selected a subprotocol that was not offered")
	// ErrUnexpectedExtension: the server accepted an extension the client
	// did not offer.
	ErrUnexpectedExtension = errors.New("handshake: server accepted an extension that was not offered")
	// ErrProxy: the proxy could not be used: its URL is unusable, it refused
	// the CONNECT request (a *HandshakeError with the proxy's status), or
	// the connection to it failed.
	ErrProxy = errors.New("handshake: proxy failed")
	// ErrResponseTooLarge: the status line and headers exceeded
	// Client.MaxResponseBytes.
	ErrResponseTooLarge = errors.New("handshake: response header too large")
)

// HandshakeError reports a response that refused or failed the handshake:
// a status other than 101, a 101 that does not validate, or a proxy's
// refusal of CONNECT.
type HandshakeError struct {
	// StatusCode is the response's status code, e.g. 404 or 101.
	StatusCode int
	// Status is the status line's code and reason, e.g. "404 Not Found".
	Status string
	// Header holds the response headers.
	Header http.Header
	// Body holds the first bytes (at most 1 KiB) of the body of a response
	// other than 101, read with a short deadline. Nil for a 101.
	Body []byte
	// Err matches one of the sentinel errors with errors.Is and says what
	// was wrong.
	Err error

	url string // the URL dialed, without its query, for the message
}

// Error says what went wrong in one line, with the status and, for a
// refusal, the server's reason: the first line of the body (or an HTML
// page's title), stripped of control characters and escape sequences and
// cut to 120 bytes. A 2xx or 3xx answer is reported as the URL not being
// a WebSocket endpoint, with a redirect's Location.
func (e *HandshakeError) Error() string {
	msg := "handshake: failed"
	if e.Err != nil {
		msg = e.Err.Error()
	}
	status := oneLine(e.Status, maxStatusLen)
	if status == "" && e.StatusCode != 0 {
		status = strconv.Itoa(e.StatusCode)
	}
	switch {
	case status == "":
		return msg
	case e.StatusCode == http.StatusSwitchingProtocols:
		// A 101 that does not validate: Err says why.
		return msg + " (status " + status + ")"
	case errors.Is(e.Err, ErrBadStatus) && e.StatusCode >= 200 && e.StatusCode < 400:
		return e.notEndpoint(status)
	}
	msg += ": " + status
	if r := serverReason(e.Body, e.Header.Get("Content-Type"), status); r != "" {
		msg += ": " + r
	}
	return msg
}

// notEndpoint is the message for a 2xx or 3xx answer to the upgrade: what
// a web page or a redirect gives, which are no WebSocket endpoint.
func (e *HandshakeError) notEndpoint(status string) string {
	target := "the URL"
	if e.url != "" {
		target = e.url
	}
	msg := "handshake: " + target + " is not a WebSocket endpoint: the server answered " + status
	if e.StatusCode >= 300 {
		if loc := oneLine(e.Header.Get("Location"), maxLocationLen); loc != "" {
			msg += ", a redirect to " + loc
		}
		return msg + " (Dial does not follow redirects)"
	}
	if ct := oneLine(e.Header.Get("Content-Type"), maxStatusLen); ct != "" {
		msg += " (" + ct + ")"
	}
	return msg + " instead of 101 Switching Protocols"
}

// Unwrap returns Err.
func (e *HandshakeError) Unwrap() error { return e.Err }

// Client holds the client's handshake settings. The zero value is usable:
// it offers no subprotocol and no extension, uses the proxy named by the
// environment and the default TLS configuration. A Client must not be
// modified while in use; Dial is safe for concurrent use.
type Client struct {
	// Header holds extra request headers, such as Origin, Authorization or
	// Cookie. A "Host" entry replaces the Host header derived from the URL.
	// Headers the handshake sets itself (Upgrade, Connection,
	// Sec-WebSocket-Key, -Version, -Protocol, -Extensions) and body headers
	// (Content-Length, Transfer-Encoding) are refused with ErrBadClient, as
	// are invalid names and values with control characters.
	Header http.Header

	// Subprotocols are offered in Sec-WebSocket-Protocol, in order of
	// preference. Each must be a token, without duplicates. The server may
	// select one of them or none.
	Subprotocols []string

	// Extensions are offered in Sec-WebSocket-Extensions, in order. Names
	// and parameters must be tokens. The server may accept only offered
	// names (compared case-insensitively); Result.Extensions holds what it
	// accepted, with its parameters.
	Extensions []Extension

	// TLSConfig configures TLS for wss URLs; nil means the default. Dial
	// uses a clone: ServerName is set from the URL's host if empty, and
	// "h2" is removed from NextProtos, since a WebSocket needs HTTP/1.1
	// (with HTTP2 on, "h2" is offered first and "http/1.1" last instead).
	TLSConfig *tls.Config

	// HTTP2 says whether Dial opens WebSockets over HTTP/2 (RFC 8441):
	// HTTP2Off (the zero value) never does, HTTP2Prefer does when the
	// server offers it and falls back to HTTP/1.1 otherwise, HTTP2Require
	// fails with ErrNoHTTP2 instead of falling back. WebSockets to the same
	// origin (scheme, host and port) then share one HTTP/2 connection, a
	// new one opened only when the server's stream limit is reached. See
	// HTTP2Mode.
	HTTP2 HTTP2Mode

	// HandshakeTimeout bounds the whole of Dial: connecting, the proxy's
	// CONNECT, TLS and the handshake. Dial also ends when its context does.
	// Default DefaultHandshakeTimeout.
	HandshakeTimeout time.Duration

	// Proxy returns the HTTP proxy for a request, or nil for none. It is
	// called with a GET request for the target whose URL has the scheme
	// http (for ws) or https (for wss), so that http.ProxyFromEnvironment
	// picks HTTP_PROXY or HTTPS_PROXY. Nil means http.ProxyFromEnvironment,
	// which honours NO_PROXY and by design never proxies requests to
	// localhost or loopback addresses; use http.ProxyURL for a fixed proxy.
	// Only http proxies are supported; credentials in the proxy URL are
	// sent as Proxy-Authorization: Basic.
	Proxy func(*http.Request) (*url.URL, error)

	// NetDialContext opens TCP connections, to the server or to the proxy.
	// Nil means a net.Dialer's DialContext.
	NetDialContext func(ctx context.Context, network, addr string) (net.Conn, error)

	// MaxResponseBytes bounds the response's status line and headers (and
	// a proxy's answer to CONNECT). Default DefaultMaxResponseBytes.
	MaxResponseBytes int

	// pool holds the HTTP/2 connections, made on first use (see h2pool).
	pool *h2Pool
}

// dialTarget is a parsed WebSocket URL.
type dialTarget struct {
	u        *url.URL // with scheme ws or wss
	secure   bool     // wss
	hostname string   // host without port or brackets, for TLS
	addr     string   // host:port to connect to
	host     string   // Host header value: the port is omitted if default
}

// shown is the URL for error messages: without its query, which often
// carries a token (browsers cannot send an Authorization header).
func (t *dialTarget) shown() string {
	u := url.URL{Scheme: t.u.Scheme, Host: t.u.Host, Path: t.u.Path, RawPath: t.u.RawPath}
	return u.String()
}

// parseDialTarget parses and checks a WebSocket URL.
func parseDialTarget(rawURL string) (*dialTarget, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadURL, err)
	}
	t := &dialTarget{}
	var port string
	switch u.Scheme {
	case "ws", "http":
		u.Scheme, port = "ws", "80"
	case "wss", "https":
		u.Scheme, port, t.secure = "wss", "443", true
	default:
		return nil, fmt.Errorf("%w: %q: scheme must be ws or wss (or http, https)", ErrBadURL, rawURL)
	}
	if u.Opaque != "" || u.Host == "" || u.Hostname() == "" {
		return nil, fmt.Errorf("%w: %q: no host", ErrBadURL, rawURL)
	}
	if u.User != nil {
		return nil, fmt.Errorf("%w: user information in the URL is not sent; set an Authorization header", ErrBadURL)
	}
	if u.Fragment != "" || strings.HasSuffix(rawURL, "#") {
		return nil, fmt.Errorf("%w: %q: fragments are not allowed", ErrBadURL, rawURL)
	}
	t.hostname = u.Hostname()
	host := strings.TrimSuffix(u.Host, ":") // "h:" means the default port
	if p := u.Port(); p != "" {
		if p == port {
			host = strings.TrimSuffix(host, ":"+p)
		} else {
			port = p
		}
	}
	t.u, t.host, t.addr = u, host, net.JoinHostPort(t.hostname, port)
	return t, nil
}

// reservedClientHeaders cannot be set through Client.Header.
var reservedClientHeaders = []string{
	"Upgrade", "Connection", "Sec-Websocket-Key", "Sec-Websocket-Version",
	"Sec-Websocket-Protocol", "Sec-Websocket-Extensions", "Sec-Websocket-Accept",
	"Content-Length", "Transfer-Encoding",
}

// buildClientRequest returns the request head to send and the request it
// describes.
func (c *Client) buildClientRequest(t *dialTarget, key string, exts []Extension) ([]byte, *http.Request, error) {
	for i, p := range c.Subprotocols {
		if !isToken(p) {
			return nil, nil, fmt.Errorf("%w: subprotocol %q is not a token", ErrBadClient, p)
		}
		if slices.Contains(c.Subprotocols[:i], p) {
			return nil, nil, fmt.Errorf("%w: subprotocol %q offered twice", ErrBadClient, p)
		}
	}
	for _, e := range exts {
		if !isToken(e.Name) {
			return nil, nil, fmt.Errorf("%w: extension name %q is not a token", ErrBadClient, e.Name)
		}
		for _, p := range e.Params {
			if !isToken(p.Name) || p.HasValue && !isToken(p.Value) {
				return nil, nil, fmt.Errorf("%w: extension %q has an invalid parameter %q", ErrBadClient, e.Name, p.Name)
			}
		}
	}
	host := t.host
	names := make([]string, 0, len(c.Header))
	for k, vs := range c.Header {
		ck := http.CanonicalHeaderKey(k)
		switch {
		case !isToken(k):
			return nil, nil, fmt.Errorf("%w: header name %q is not a token", ErrBadClient, k)
		case slices.Contains(reservedClientHeaders, ck):
			return nil, nil, fmt.Errorf("%w: header %s is set by the handshake", ErrBadClient, ck)
		}
		for _, v := range vs {
			if strings.ContainsFunc(v, func(r rune) bool { return r < 0x20 && r != '\t' || r == 0x7f }) {
				return nil, nil, fmt.Errorf("%w: header %s has a control character", ErrBadClient, ck)
			}
		}
		if ck == "Host" {
			if len(vs) > 0 && vs[0] != "" {
				host = vs[0]
			}
			continue
		}
		names = append(names, k)
	}
	slices.Sort(names)

	h := make(http.Header, len(c.Header)+6)
	b := make([]byte, 0, 512)
	line := func(k, v string) {
		h[http.CanonicalHeaderKey(k)] = append(h[http.CanonicalHeaderKey(k)], v)
		b = append(b, k...)
		b = append(b, ": "...)
		b = append(b, v...)
		b = append(b, "\r\n"...)
	}
	b = append(b, "GET "...)
	b = append(b, t.u.RequestURI()...)
	b = append(b, " HTTP/1.1\r\nHost: "...)
	b = append(b, host...)
	b = append(b, "\r\n"...)
	line("Upgrade", "websocket")
	line("Connection", "Upgrade")
	line("Sec-WebSocket-Key", key)
	line("Sec-WebSocket-Version", "13")
	if len(c.Subprotocols) > 0 {
		line("Sec-WebSocket-Protocol", strings.Join(c.Subprotocols, ", "))
	}
	if len(exts) > 0 {
		line("Sec-WebSocket-Extensions", FormatExtensions(exts))
	}
	for _, k := range names {
		for _, v := range c.Header[k] {
			line(k, v)
		}
	}
	b = append(b, "\r\n"...)

	u := *t.u
	req := &http.Request{
		Method:     http.MethodGet,
		URL:        &u,
		Proto:      "HTTP/1.1",
		ProtoMajor: 1,
		ProtoMinor: 1,
		Header:     h,
		Body:       http.NoBody,
		Host:       host,
	}
	return b, req, nil
}

// newClientKey returns a fresh Sec-WebSocket-Key: base64 of 16 random bytes.
func newClientKey() string {
	var k [16]byte
	rand.Read(k[:]) // never fails (crypto/rand crashes the program instead)
	return base64.StdEncoding.EncodeToString(k[:])
}

// dialState is one Dial in progress.
type dialState struct {
	parent  context.Context // the caller's context
	ctx     context.Context // parent bounded by the handshake timeout
	timeout time.Duration
	max     int // response size bound
}

// chainedError is an error with its own message that matches the errors
// it wraps.
type chainedError struct {
	msg  string
	errs []error
}

func (e *chainedError) Error() string   { return e.msg }
func (e *chainedError) Unwrap() []error { return e.errs }

// ended returns the error for a failure (err) while doing what if the
// context ended or a deadline expired: it matches the caller's context
// error if that was cancelled, or else ErrTimeout and
// context.DeadlineExceeded. It returns nil for other failures.
func (d *dialState) ended(what string, err error) error {
	if perr := d.parent.Err(); perr != nil && !errors.Is(perr, context.DeadlineExceeded) {
		return fmt.Errorf("handshake: %s: %w", what, perr)
	}
	if d.ctx.Err() != nil || isTimeout(err) {
		return &chainedError{
			msg:  "handshake: timeout " + what,
			errs: []error{ErrTimeout, context.DeadlineExceeded},
		}
	}
	return nil
}

// fail wraps an error that happened while doing what, reporting the end
// of the context or a deadline as ended does.
func (d *dialState) fail(what string, err error) error {
	if e := d.ended(what, err); e != nil {
		return e
	}
	return fmt.Errorf("handshake: %s: %w", what, err)
}

// Dial opens a WebSocket connection to rawURL (ws://, wss://, or http://
// and https:// as aliases) and performs the opening handshake of RFC 6455
// section 4.1, all within HandshakeTimeout and ctx. It sends a fresh
// Sec-WebSocket-Key, the offered subprotocols and extensions and Header,
// and validates the answer: status 101, Upgrade "websocket", Connection
// "upgrade", the Sec-WebSocket-Accept matching the key, at most one offered
// subprotocol and only offered extensions.
//
// On success, the Result holds the connection (deadlines cleared), the
// bytes the server sent after its 101 (Buffered, frames pipelined with the
// response), the selected subprotocol and the accepted extensions; the
// *http.Response is the 101 response, with Body http.NoBody. The caller
// owns Result.Conn and must close it.
//
// A response that refuses or fails the handshake gives a *HandshakeError
// and, when it came from the server, the *http.Response too, whose Body
// holds the same bytes as HandshakeError.Body. In every failure the
// connection is closed.
//
// With HTTP2 set, Dial first tries an RFC 8441 extended CONNECT on a
// shared HTTP/2 connection (see HTTP2Mode): on success Result.Conn is the
// HTTP/2 stream (Buffered is nil) and the *http.Response is the server's
// 200; closing Result.Conn ends the stream, not the shared connection.
func (c *Client) Dial(ctx context.Context, rawURL string) (*Result, *http.Response, error) {
	return c.DialExtensions(ctx, rawURL)
}

// DialExtensions is Dial offering extra extensions after c.Extensions.
// It is for a layer above the handshake that adds an extension of its own
// (pipeline.Dial offers permessage-deflate through it): copying the Client
// to add it instead would lose the shared HTTP/2 connections.
func (c *Client) DialExtensions(ctx context.Context, rawURL string, extra ...Extension) (*Result, *http.Response, error) {
	t, err := parseDialTarget(rawURL)
	if err != nil {
		return nil, nil, err
	}
	exts := c.Extensions
	if len(extra) > 0 {
		exts = append(slices.Clip(exts), extra...)
	}
	key := newClientKey()
	head, req, err := c.buildClientRequest(t, key, exts)
	if err != nil {
		return nil, nil, err
	}
	timeout := c.HandshakeTimeout
	if timeout <= 0 {
		timeout = DefaultHandshakeTimeout
	}
	dctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	d := &dialState{parent: ctx, ctx: dctx, timeout: timeout, max: c.MaxResponseBytes}
	if d.max <= 0 {
		d.max = DefaultMaxResponseBytes
	}
	req = req.WithContext(ctx)

	var conn net.Conn
	var stop func() bool
	if c.HTTP2 != HTTP2Off {
		var res *Result
		var resp *http.Response
		res, resp, conn, stop, err = c.dialH2(d, t, req, exts)
		if res != nil || err != nil {
			return res, resp, err
		}
		// conn, if not nil, is a TLS connection whose ALPN chose HTTP/1.1.
	}
	if conn == nil {
		conn, stop, err = c.connect(d, t, false)
		if err != nil {
			return nil, nil, err
		}
	}
	ok := false
	defer func() {
		if !ok {
			stop()
			conn.Close()
		}
	}()

	if _, err := conn.Write(head); err != nil {
		return nil, nil, d.fail("writing request", err)
	}
	resp, br, lr, ioFailure, err := readResponseHead(conn, req, d.max, ErrBadUpgradeResponse)
	if ioFailure {
		return nil, nil, d.fail("reading response", err)
	}
	if err != nil {
		return nil, nil, err
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		body := readRefusalBody(d, conn, resp, lr)
		resp.Body = io.NopCloser(bytes.NewReader(body))
		return nil, resp, &HandshakeError{
			StatusCode: resp.StatusCode,
			Status:     resp.Status,
			Header:     resp.Header,
			Body:       body,
			Err:        ErrBadStatus,
			url:        t.shown(),
		}
	}
	resp.Body = http.NoBody
	subprotocol, accepted, err := c.checkUpgradeResponse(resp, key, exts)
	if err != nil {
		return nil, resp, &HandshakeError{
			StatusCode: resp.StatusCode,
			Status:     resp.Status,
			Header:     resp.Header,
			Err:        err,
		}
	}
	if !stop() {
		// The context ended just now and its deadline callback ran.
		return nil, nil, d.fail("finishing handshake", context.DeadlineExceeded)
	}
	if err := conn.SetDeadline(time.Time{}); err != nil {
		return nil, nil, d.fail("clearing deadline", err)
	}
	ok = true
	return &Result{
		Conn:        conn,
		Buffered:    takeBuffered(br),
		Subprotocol: subprotocol,
		Extensions:  accepted,
		Request:     req,
	}, resp, nil
}

// connect opens the stream to the target: TCP to the server or through a
// proxy tunnel, then TLS for wss. The returned stream has the Dial's
// deadline set; stop cancels the callback that expires it early when the
// context ends, and reports whether it did so before the callback ran.
//
// With h2, TLS offers "h2" before "http/1.1" in ALPN.
func (c *Client) connect(d *dialState, t *dialTarget, h2 bool) (net.Conn, func() bool, error) {
	proxyURL, err := c.proxyFor(t)
	if err != nil {
		return nil, nil, err
	}
	addr := t.addr
	if proxyURL != nil {
		if addr, err = proxyAddr(proxyURL); err != nil {
			return nil, nil, err
		}
	}
	dial := c.NetDialContext
	if dial == nil {
		var nd net.Dialer
		dial = nd.DialContext
	}
	conn, err := dial(d.ctx, "tcp", addr)
	if err == nil && conn == nil {
		err = errors.New("NetDialContext returned no connection")
	}
	if err != nil {
		what := "dialing " + addr
		if proxyURL != nil {
			what = "dialing proxy " + addr
		}
		e := d.ended(what, err)
		if e == nil {
			if _, isOp := err.(*net.OpError); isOp && proxyURL == nil {
				e = fmt.Errorf("handshake: %w", err) // it names the address
			} else {
				e = fmt.Errorf("handshake: %s: %w", what, err)
			}
		}
		if proxyURL != nil {
			e = &chainedError{msg: e.Error(), errs: []error{ErrProxy, e}}
		}
		return nil, nil, e
	}
	if dl, ok := d.ctx.Deadline(); ok {
		conn.SetDeadline(dl)
	}
	stop := context.AfterFunc(d.ctx, func() { conn.SetDeadline(time.Unix(1, 0)) })
	fail := func(err error) (net.Conn, func() bool, error) {
		stop()
		conn.Close()
		return nil, nil, err
	}
	if proxyURL != nil {
		if err := connectTunnel(d, conn, proxyURL, t.addr); err != nil {
			return fail(err)
		}
	}
	if t.secure {
		var cfg *tls.Config
		if c.TLSConfig != nil {
			cfg = c.TLSConfig.Clone()
		} else {
			cfg = &tls.Config{}
		}
		if cfg.ServerName == "" {
			cfg.ServerName = t.hostname
		}
		cfg.NextProtos = slices.DeleteFunc(slices.Clone(cfg.NextProtos), func(p string) bool { return p == "h2" })
		if h2 {
			cfg.NextProtos = append([]string{"h2"}, slices.DeleteFunc(cfg.NextProtos, func(p string) bool { return p == "http/1.1" })...)
			cfg.NextProtos = append(cfg.NextProtos, "http/1.1")
		}
		tc := tls.Client(conn, cfg)
		if err := tc.HandshakeContext(d.ctx); err != nil {
			return fail(d.tlsFail(t.addr, err))
		}
		conn = tc
	}
	return conn, stop, nil
}

// tlsFail wraps the error of a failed TLS handshake with addr, saying so
// when the server is plainly not speaking TLS: it answered with something
// else, such as plain HTTP (crypto/tls's RecordHeaderError, which it still
// matches), or closed the connection without answering.
func (d *dialState) tlsFail(addr string, err error) error {
	what := "TLS handshake with " + addr
	if e := d.ended(what, err); e != nil {
		return e
	}
	var rh tls.RecordHeaderError
	switch {
	case errors.As(err, &rh) && bytes.HasPrefix(rh.RecordHeader[:], []byte("HTTP/")):
		return fmt.Errorf("handshake: %s: the server answered in plain HTTP, not TLS (for a server without TLS, use ws://): %w", what, err)
	case errors.As(err, &rh):
		return fmt.Errorf("handshake: %s: the server's answer is not TLS: %w", what, err)
	case errors.Is(err, io.EOF):
		return fmt.Errorf("handshake: %s: the server closed the connection without a TLS answer (does it speak TLS?): %w", what, err)
	}
	return fmt.Errorf("handshake: %s: %w", what, err)
}

// readResponseHead reads a response's status line and headers from conn,
// reading at most max bytes. It returns the response, the buffered reader
// holding any bytes read past the header block and the limited reader
// under it. If reading failed, ioFailure is true and err is the read error
// (for dialState.fail); otherwise err matches ErrResponseTooLarge, or
// malformed if the response cannot be parsed.
func readResponseHead(conn net.Conn, req *http.Request, max int, malformed error) (resp *http.Response, br *bufio.Reader, lr *limitedReader, ioFailure bool, err error) {
	lr = &limitedReader{r: conn, n: max}
	br = bufio.NewReaderSize(lr, min(max, 4096))
	resp, err = http.ReadResponse(br, req)
	if err != nil {
		switch {
		case lr.exceeded:
			if malformed != ErrBadUpgradeResponse {
				return nil, nil, nil, false, &chainedError{
					msg:  fmt.Sprintf("%v: %v (limit %d bytes)", malformed, ErrResponseTooLarge, max),
					errs: []error{malformed, ErrResponseTooLarge},
				}
			}
			return nil, nil, nil, false, fmt.Errorf("%w (limit %d bytes)", ErrResponseTooLarge, max)
		case lr.err == io.EOF:
			return nil, nil, nil, true, fmt.Errorf("connection closed before the response was complete: %w", io.ErrUnexpectedEOF)
		case lr.err != nil:
			return nil, nil, nil, true, lr.err
		default:
			return nil, nil, nil, false, fmt.Errorf("%w: %w", malformed, err)
		}
	}
	return resp, br, lr, false, nil
}

// readRefusalBody reads the start of a refusal's body, at most
// maxRefusalBody bytes within a short deadline, ignoring errors.
func readRefusalBody(d *dialState, conn net.Conn, resp *http.Response, lr *limitedReader) []byte {
	if d.ctx.Err() != nil {
		return nil
	}
	dl := time.Now().Add(refusalBodyTimeout)
	if cdl, ok := d.ctx.Deadline(); ok && cdl.Before(dl) {
		dl = cdl
	}
	conn.SetReadDeadline(dl)
	lr.n += 2 * maxRefusalBody // room for the body and chunked framing
	body, _ := io.ReadAll(io.LimitReader(resp.Body, maxRefusalBody))
	if len(body) == 0 {
		return nil
	}
	return body
}

// checkUpgradeResponse validates a 101 response to a request with key and
// returns the selected subprotocol and accepted extensions.
func (c *Client) checkUpgradeResponse(resp *http.Response, key string, offered []Extension) (string, []Extension, error) {
	h := resp.Header
	if !resp.ProtoAtLeast(1, 1) {
		return "", nil, fmt.Errorf("%w: %s response", ErrBadUpgradeResponse, resp.Proto)
	}
	if !hasToken(h.Values("Upgrade"), "websocket") {
		return "", nil, fmt.Errorf("%w: Upgrade header %q lacks \"websocket\"", ErrBadUpgradeResponse, h.Values("Upgrade"))
	}
	if !hasToken(h.Values("Connection"), "upgrade") {
		return "", nil, fmt.Errorf("%w: Connection header %q lacks \"upgrade\"", ErrBadUpgradeResponse, h.Values("Connection"))
	}
	want := AcceptKey(key)
	switch acc := h.Values("Sec-WebSocket-Accept"); {
	case len(acc) == 0:
		return "", nil, fmt.Errorf("%w: missing", ErrBadAccept)
	case len(acc) > 1:
		return "", nil, fmt.Errorf("%w: %d headers", ErrBadAccept, len(acc))
	case trimOWS(acc[0]) != want:
		return "", nil, fmt.Errorf("%w: got %q, want %q", ErrBadAccept, acc[0], want)
	}
	return c.checkNegotiated(h, offered)
}

// checkNegotiated validates the subprotocol and extensions of a
// successful answer, over HTTP/1.1 or HTTP/2.
func (c *Client) checkNegotiated(h http.Header, offered []Extension) (string, []Extension, error) {
	var subprotocol string
	switch protos := h.Values("Sec-WebSocket-Protocol"); {
	case len(protos) > 1:
		return "", nil, fmt.Errorf("%w: %d Sec-WebSocket-Protocol headers", ErrUnexpectedSubprotocol, len(protos))
	case len(protos) == 1:
		subprotocol = trimOWS(protos[0])
		if !slices.Contains(c.Subprotocols, subprotocol) {
			return "", nil, fmt.Errorf("%w: %q", ErrUnexpectedSubprotocol, subprotocol)
		}
	}
	exts, err := ParseExtensions(h.Values("Sec-WebSocket-Extensions"))
	if err != nil {
		return "", nil, fmt.Errorf("%w: %w", ErrBadUpgradeResponse, err)
	}
	for _, e := range exts {
		if !slices.ContainsFunc(offered, func(o Extension) bool { return strings.EqualFold(o.Name, e.Name) }) {
			return "", nil, fmt.Errorf("%w: %q", ErrUnexpectedExtension, e.Name)
		}
	}
	return subprotocol, exts, nil
}
