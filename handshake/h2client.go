package handshake

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"golang.org/x/net/http2"
)

// HTTP2Mode says whether Client.Dial opens WebSockets over HTTP/2 (RFC
// 8441). For wss:// URLs the TLS handshake offers "h2" in ALPN; for ws://
// URLs the client speaks HTTP/2 over cleartext with prior knowledge (h2c),
// which only servers configured for it (http.Server.Protocols with
// UnencryptedHTTP2, see ConfigureHTTP2) accept. Either way the server must
// advertise SETTINGS_ENABLE_CONNECT_PROTOCOL.
type HTTP2Mode int

const (
	// HTTP2Off: HTTP/1.1 only, one TCP connection per WebSocket.
	HTTP2Off HTTP2Mode = iota
	// HTTP2Prefer: HTTP/2 when the server offers it; otherwise (no "h2" in
	// ALPN, no h2c, no extended CONNECT in its SETTINGS) the WebSocket
	// opens over HTTP/1.1, on the same TLS connection when ALPN chose
	// HTTP/1.1, else on a new one. A server found without it is not tried
	// again by this Client (until CloseIdleConnections).
	HTTP2Prefer
	// HTTP2Require: HTTP/2 or an error matching ErrNoHTTP2.
	HTTP2Require
)

// ErrNoHTTP2: with HTTP2Require, the server does not offer WebSockets over
// HTTP/2: it did not choose "h2" in ALPN, does not speak h2c, or does not
// advertise extended CONNECT (RFC 8441) in its SETTINGS.
var ErrNoHTTP2 = errors.New("handshake: server does not offer WebSockets over HTTP/2 (RFC 8441 extended CONNECT)")

// poolMu guards every Client's pool field (made on first use).
var poolMu sync.Mutex

// h2pool returns c's HTTP/2 connection pool, making it on first use.
func (c *Client) h2pool() *h2Pool {
	poolMu.Lock()
	defer poolMu.Unlock()
	if c.pool == nil {
		c.pool = &h2Pool{
			t:     &http2.Transport{IdleConnTimeout: 90 * time.Second},
			conns: map[string][]*http2.ClientConn{},
			addrs: map[*http2.ClientConn][2]net.Addr{},
			no:    map[string]bool{},
			dials: map[string]chan struct{}{},
		}
	}
	return c.pool
}

// CloseIdleConnections closes the HTTP/2 connections of c that carry no
// WebSocket (they close by themselves after 90 s idle), and forgets which
// servers were found without HTTP/2 support.
func (c *Client) CloseIdleConnections() {
	poolMu.Lock()
	p := c.pool
	poolMu.Unlock()
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for k, ccs := range p.conns {
		kept := ccs[:0]
		for _, cc := range ccs {
			if st := cc.State(); st.StreamsActive == 0 && st.StreamsReserved == 0 && st.StreamsPending == 0 {
				cc.Close()
				delete(p.addrs, cc)
				continue
			}
			kept = append(kept, cc)
		}
		p.conns[k] = kept
	}
	clear(p.no)
}

// h2Pool is a Client's HTTP/2 connections, by origin.
type h2Pool struct {
	t     *http2.Transport
	mu    sync.Mutex
	conns map[string][]*http2.ClientConn
	addrs map[*http2.ClientConn][2]net.Addr // local, remote
	no    map[string]bool                   // origins found without RFC 8441
	dials map[string]chan struct{}          // a dial in progress, closed when done
}

// errNoH2Fallback is dialH2's signal to fall back to HTTP/1.1.
var errNoH2Fallback = errors.New("fall back to HTTP/1.1")

// get returns a connection to t's origin with a stream reserved on it,
// dialing one if none has room; at most one dial per origin runs at a
// time, so concurrent Dials share it. If the server turns out not to
// speak HTTP/2, get returns errNoH2Fallback, with the connection (a TLS
// connection whose ALPN chose HTTP/1.1) when it can be reused.
func (p *h2Pool) get(c *Client, d *dialState, t *dialTarget, key string) (*http2.ClientConn, net.Conn, func() bool, *sniffConn, error) {
	for {
		p.mu.Lock()
		if p.no[key] {
			p.mu.Unlock()
			return nil, nil, nil, nil, errNoH2Fallback
		}
		ccs := p.conns[key]
		kept := ccs[:0]
		var found *http2.ClientConn
		for _, cc := range ccs {
			if st := cc.State(); st.Closed || st.Closing {
				delete(p.addrs, cc)
				continue
			}
			kept = append(kept, cc)
			if found == nil && cc.ReserveNewRequest() {
				found = cc
			}
		}
		clear(ccs[len(kept):])
		p.conns[key] = kept
		if found != nil {
			p.mu.Unlock()
			return found, nil, nil, nil, nil
		}
		if ch, ok := p.dials[key]; ok {
			p.mu.Unlock()
			select {
			case <-ch:
				continue
			case <-d.ctx.Done():
				return nil, nil, nil, nil, d.fail("waiting for an HTTP/2 connection", d.ctx.Err())
			}
		}
		ch := make(chan struct{})
		p.dials[key] = ch
		p.mu.Unlock()
		cc, conn, stop, sniff, err := p.dial(c, d, t, key)
		p.mu.Lock()
		delete(p.dials, key)
		close(ch)
		if err == nil {
			p.conns[key] = append(p.conns[key], cc)
			p.addrs[cc] = [2]net.Addr{sniff.Conn.LocalAddr(), sniff.Conn.RemoteAddr()}
			if !cc.ReserveNewRequest() {
				// Not likely on a fresh connection; let the loop see.
				p.mu.Unlock()
				continue
			}
		}
		p.mu.Unlock()
		return cc, conn, stop, sniff, err
	}
}

// dial opens a new HTTP/2 connection to t.
func (p *h2Pool) dial(c *Client, d *dialState, t *dialTarget, key string) (*http2.ClientConn, net.Conn, func() bool, *sniffConn, error) {
	conn, stop, err := c.connect(d, t, true)
	if err != nil {
		return nil, nil, nil, nil, err
	}
	if tc, ok := conn.(*tls.Conn); ok && tc.ConnectionState().NegotiatedProtocol != "h2" {
		p.mu.Lock()
		p.no[key] = true
		p.mu.Unlock()
		return nil, conn, stop, nil, errNoH2Fallback
	}
	// The connection outlives this Dial: no deadline from it.
	stop()
	conn.SetDeadline(time.Time{})
	sniff := &sniffConn{Conn: conn}
	cc, err := p.t.NewClientConn(sniff)
	if err != nil {
		conn.Close()
		return nil, nil, nil, nil, d.fail("starting HTTP/2", err)
	}
	// Until the server's SETTINGS are in, the transport assumes a limit
	// of 100 streams and no extended CONNECT; the answer to a PING comes
	// after them, so from then on the connection takes as many WebSockets
	// as the server allows. A server that does not speak HTTP/2 (an h2c
	// preface answered in HTTP/1) fails here.
	if err := cc.Ping(d.ctx); err != nil {
		cc.Close()
		if sniff.sawHTTP1() {
			p.mu.Lock()
			p.no[key] = true
			p.mu.Unlock()
			return nil, nil, nil, nil, errNoH2Fallback
		}
		return nil, nil, nil, nil, d.fail("starting HTTP/2", err)
	}
	return cc, nil, nil, sniff, nil
}

// sniffConn notes whether the server answered the HTTP/2 preface in
// HTTP/1 (it does not speak h2c).
type sniffConn struct {
	net.Conn
	read  bool // only the transport's read loop reads
	http1 bool
	mu    sync.Mutex
}

func (s *sniffConn) Read(p []byte) (int, error) {
	n, err := s.Conn.Read(p)
	if !s.read && n > 0 {
		s.read = true
		s.mu.Lock()
		s.http1 = bytes.HasPrefix(p[:n], []byte("HTTP/"))
		s.mu.Unlock()
	}
	return n, err
}

func (s *sniffConn) sawHTTP1() bool {
	if s == nil {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.http1
}

// isNoXConnect reports whether err is the HTTP/2 transport's refusal to
// send an extended CONNECT to a server that did not advertise it.
func isNoXConnect(err error) bool {
	return err != nil && strings.Contains(err.Error(), "extended connect not supported")
}

// dialH2 tries to open the WebSocket over HTTP/2. It returns the result,
// or an error, or neither: then the caller goes on over HTTP/1.1, on conn
// (its deadline callback stop) if it is not nil.
func (c *Client) dialH2(d *dialState, t *dialTarget, req1 *http.Request, exts []Extension) (*Result, *http.Response, net.Conn, func() bool, error) {
	p := c.h2pool()
	key := t.u.Scheme + "://" + t.addr
	fallback := func(conn net.Conn, stop func() bool, why string) (*Result, *http.Response, net.Conn, func() bool, error) {
		if c.HTTP2 == HTTP2Require {
			if conn != nil {
				stop()
				conn.Close()
			}
			return nil, nil, nil, nil, fmt.Errorf("%w: %s: %s", ErrNoHTTP2, t.shown(), why)
		}
		return nil, nil, conn, stop, nil
	}
	cc, conn, stop, sniff, err := p.get(c, d, t, key)
	if err == errNoH2Fallback {
		why := "no h2 in its ALPN answer"
		if !t.secure {
			why = "it does not speak h2c (HTTP/2 with prior knowledge)"
		}
		return fallback(conn, stop, why)
	}
	if err != nil {
		return nil, nil, nil, nil, err
	}

	// The request: RFC 8441 section 4. Its context outlives Dial (it is
	// the stream's); Dial's end cancels it only until the answer is in.
	h := req1.Header.Clone()
	for _, k := range []string{"Upgrade", "Connection", "Sec-Websocket-Key"} {
		delete(h, k)
	}
	h[":protocol"] = []string{"websocket"}
	scheme := "https"
	if !t.secure {
		scheme = "http"
	}
	u := &url.URL{Scheme: scheme, Host: t.u.Host, Path: t.u.Path, RawPath: t.u.RawPath, RawQuery: t.u.RawQuery}
	sctx, cancel := context.WithCancel(context.WithoutCancel(d.parent))
	stopCancel := context.AfterFunc(d.ctx, cancel)
	pr, pw := io.Pipe()
	req := (&http.Request{
		Method:        http.MethodConnect,
		URL:           u,
		Proto:         "HTTP/2.0",
		ProtoMajor:    2,
		Header:        h,
		Body:          pr,
		ContentLength: -1,
		Host:          req1.Host,
	}).WithContext(sctx)
	resp, err := cc.RoundTrip(req)
	if err != nil {
		stopCancel()
		cancel()
		pw.Close()
		if isNoXConnect(err) || sniff.sawHTTP1() {
			p.mu.Lock()
			p.no[key] = true
			p.mu.Unlock()
			if cc.State().StreamsActive == 0 {
				cc.Close()
			}
			why := "no extended CONNECT in its SETTINGS"
			if sniff.sawHTTP1() {
				why = "it answered HTTP/1 to the h2c preface"
			}
			return fallback(nil, nil, why)
		}
		return nil, nil, nil, nil, d.fail("HTTP/2 extended CONNECT", err)
	}
	fail := func(e error) (*Result, *http.Response, net.Conn, func() bool, error) {
		stopCancel()
		pw.Close()
		resp.Body.Close()
		cancel()
		return nil, resp, nil, nil, e
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		body := readH2RefusalBody(d, resp)
		resp.Body = io.NopCloser(bytes.NewReader(body))
		stopCancel()
		pw.Close()
		cancel()
		return nil, resp, nil, nil, &HandshakeError{
			StatusCode: resp.StatusCode,
			Status:     resp.Status,
			Header:     resp.Header,
			Body:       body,
			Err:        ErrBadStatus,
			url:        t.shown(),
		}
	}
	subprotocol, accepted, err := c.checkNegotiated(resp.Header, exts)
	if err != nil {
		return fail(&HandshakeError{StatusCode: resp.StatusCode, Status: resp.Status, Header: resp.Header, Err: err})
	}
	if !stopCancel() {
		return fail(d.fail("finishing handshake", context.DeadlineExceeded))
	}
	body := resp.Body
	s := &h2ClientStream{pw: pw, body: body, release: cancel}
	// Closing the response body waits for the request body's end: end it
	// too (the stream is reset either way).
	s.abortRead = func() {
		pw.CloseWithError(errDeadline())
		body.Close()
	}
	s.abortWrite = func() { pw.CloseWithError(errDeadline()) }
	p.mu.Lock()
	a, ok := p.addrs[cc]
	p.mu.Unlock()
	if ok {
		s.local, s.remote = a[0], a[1]
	} else {
		s.local, s.remote = h2Addr(""), h2Addr(t.addr)
	}
	resp.Body = http.NoBody
	return &Result{Conn: s, Subprotocol: subprotocol, Extensions: accepted, Request: req}, resp, nil, nil, nil
}

// readH2RefusalBody reads the start of a refusal's body, at most
// maxRefusalBody bytes within a short time.
func readH2RefusalBody(d *dialState, resp *http.Response) []byte {
	defer resp.Body.Close()
	if d.ctx.Err() != nil {
		return nil
	}
	t := time.AfterFunc(refusalBodyTimeout, func() { resp.Body.Close() })
	defer t.Stop()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, maxRefusalBody))
	if len(body) == 0 {
		return nil
	}
	return body
}
