package handshake_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wspipe/wspipe/handshake"
)

// upgradeEchoServer starts an httptest server (TLS if secure) whose
// handler upgrades with hs and then copies the raw stream back to the
// client, starting with any bytes pipelined with the request. The request
// each successful upgrade saw is sent on the returned channel.
func upgradeEchoServer(t *testing.T, hs *handshake.Server, secure bool) (*httptest.Server, <-chan *http.Request) {
	t.Helper()
	reqs := make(chan *http.Request, 16)
	var wg sync.WaitGroup
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		wg.Add(1) // before the hijack, so that httptest's Close orders it before Wait
		res, err := hs.Upgrade(w, r)
		if err != nil {
			wg.Done()
			return
		}
		reqs <- r
		go func() {
			defer wg.Done()
			defer res.Conn.Close()
			io.Copy(res.Conn, io.MultiReader(bytes.NewReader(res.Buffered), res.Conn))
		}()
	})
	ts := httptest.NewUnstartedServer(h)
	if secure {
		ts.Config.ErrorLog = log.New(io.Discard, "", 0) // expected TLS failures
		ts.EnableHTTP2 = true                           // the client must not negotiate it
		ts.StartTLS()
	} else {
		ts.Start()
	}
	t.Cleanup(func() {
		ts.Close()
		wg.Wait()
	})
	return ts, reqs
}

// wsURL turns an httptest URL into a ws or wss URL with path.
func wsURL(ts *httptest.Server, path string) string {
	return "ws" + strings.TrimPrefix(ts.URL, "http") + path
}

// rootsFor returns a TLS config trusting ts's certificate.
func rootsFor(ts *httptest.Server) *tls.Config {
	pool := x509.NewCertPool()
	pool.AddCert(ts.Certificate())
	return &tls.Config{RootCAs: pool}
}

// roundTrip writes msg on conn and expects to read it back.
func roundTrip(t *testing.T, conn net.Conn, msg string) {
	t.Helper()
	conn.SetDeadline(time.Now().Add(5 * time.Second))
	defer conn.SetDeadline(time.Time{})
	if _, err := io.WriteString(conn, msg); err != nil {
		t.Fatalf("write: %v", err)
	}
	got := make([]byte, len(msg))
	if _, err := io.ReadFull(conn, got); err != nil {
		t.Fatalf("read: %v", err)
	}
	if string(got) != msg {
		t.Fatalf("echo = %q, want %q", got, msg)
	}
}

func TestDialOwnServer(t *testing.T) {
	hs := &handshake.Server{
		Subprotocols: []string{"chat", "superchat"},
		Extensions: func(offers []handshake.Extension) []handshake.Extension {
			return []handshake.Extension{{Name: offers[0].Name, Params: []handshake.Param{{Name: "p", Value: "1", HasValue: true}}}}
		},
	}
	ts, reqs := upgradeEchoServer(t, hs, false)
	host := ts.Listener.Addr().String()
	c := &handshake.Client{
		Header:           http.Header{"Origin": {"http://" + host}, "X-Token": {"abc"}},
		Subprotocols:     []string{"superchat", "chat"},
		Extensions:       []handshake.Extension{{Name: "x-test"}},
		HandshakeTimeout: 300 * time.Millisecond,
	}
	res, resp, err := c.Dial(context.Background(), wsURL(ts, "/chat?room=1"))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Conn.Close()
	r := <-reqs
	if r.URL.RequestURI() != "/chat?room=1" || r.Host != host || r.Header.Get("X-Token") != "abc" {
		t.Errorf("server saw %s %s host %q headers %v", r.Method, r.URL, r.Host, r.Header)
	}
	if resp.StatusCode != 101 || resp.Body != http.NoBody {
		t.Errorf("response %s, body %v; want 101 with http.NoBody", resp.Status, resp.Body)
	}
	if res.Subprotocol != "chat" {
		t.Errorf("Subprotocol = %q, want chat (the server's preference)", res.Subprotocol)
	}
	if want := "x-test; p=1"; handshake.FormatExtensions(res.Extensions) != want {
		t.Errorf("Extensions = %+v, want %s", res.Extensions, want)
	}
	if res.Request == nil || res.Request.URL.Scheme != "ws" || res.Request.Header.Get("Sec-WebSocket-Key") == "" {
		t.Errorf("Result.Request = %+v", res.Request)
	}
	// Deadlines must be cleared: wait past HandshakeTimeout, then use the
	// stream.
	time.Sleep(2 * c.HandshakeTimeout)
	roundTrip(t, res.Conn, "hello, server")
}

// fakeServer is a hand-written HTTP server that answers every request with
// the response its respond function builds, then reports whether the
// client closed the connection.
type fakeServer struct {
	addr   string
	reqs   chan *http.Request
	closed chan error // per connection: nil when the client closed it
}

// startFake starts a fakeServer. respond gets the request and the accept
// value for its key and returns the raw response bytes.
func startFake(t *testing.T, respond func(r *http.Request, accept string) string) *fakeServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeServer{addr: ln.Addr().String(), reqs: make(chan *http.Request, 16), closed: make(chan error, 16)}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var conns []net.Conn
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				r, err := http.ReadRequest(bufio.NewReader(c))
				if err != nil {
					return
				}
				f.reqs <- r
				if _, err := io.WriteString(c, respond(r, handshake.AcceptKey(r.Header.Get("Sec-WebSocket-Key")))); err != nil {
					return
				}
				c.SetReadDeadline(time.Now().Add(10 * time.Second))
				_, err = io.Copy(io.Discard, c)
				f.closed <- err
			}()
		}
	}()
	return f
}

// switching returns a 101 response with the given accept value and extra
// header lines.
func switching(accept string, extra ...string) string {
	return "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Accept: " + accept + "\r\n" + strings.Join(append(extra, ""), "\r\n") + "\r\n"
}

func TestDialRequest(t *testing.T) {
	f := startFake(t, func(_ *http.Request, accept string) string { return switching(accept) })
	c := &handshake.Client{
		Header:       http.Header{"Authorization": {"Bearer t"}, "X-Multi": {"a", "b"}},
		Subprotocols: []string{"v2.chat", "v1.chat"},
		Extensions: []handshake.Extension{
			{Name: "permessage-deflate", Params: []handshake.Param{{Name: "client_max_window_bits"}}},
			{Name: "x-other"},
		},
	}
	res, _, err := c.Dial(context.Background(), "ws://"+f.addr+"/a/b%20c?x=1&y=2")
	if err != nil {
		t.Fatal(err)
	}
	res.Conn.Close()
	r := <-f.reqs
	checks := []struct{ name, got, want string }{
		{"method", r.Method, "GET"},
		{"proto", r.Proto, "HTTP/1.1"},
		{"request URI", r.RequestURI, "/a/b%20c?x=1&y=2"},
		{"Host", r.Host, f.addr},
		{"Upgrade", r.Header.Get("Upgrade"), "websocket"},
		{"Connection", r.Header.Get("Connection"), "Upgrade"},
		{"Sec-WebSocket-Version", r.Header.Get("Sec-WebSocket-Version"), "13"},
		{"Sec-WebSocket-Protocol", r.Header.Get("Sec-WebSocket-Protocol"), "v2.chat, v1.chat"},
		{"Sec-WebSocket-Extensions", r.Header.Get("Sec-WebSocket-Extensions"), "permessage-deflate; client_max_window_bits, x-other"},
		{"Authorization", r.Header.Get("Authorization"), "Bearer t"},
		{"X-Multi", strings.Join(r.Header.Values("X-Multi"), ","), "a,b"},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %q, want %q", c.name, c.got, c.want)
		}
	}
	key, err := base64.StdEncoding.DecodeString(r.Header.Get("Sec-WebSocket-Key"))
	if err != nil || len(key) != 16 {
		t.Errorf("Sec-WebSocket-Key %q is not base64 of 16 bytes", r.Header.Get("Sec-WebSocket-Key"))
	}
	// A second dial uses a fresh key.
	res, _, err = c.Dial(context.Background(), "ws://"+f.addr+"/")
	if err != nil {
		t.Fatal(err)
	}
	res.Conn.Close()
	if r2 := <-f.reqs; r2.Header.Get("Sec-WebSocket-Key") == r.Header.Get("Sec-WebSocket-Key") {
		t.Error("two dials sent the same Sec-WebSocket-Key")
	}
}

// redirectDial returns a NetDialContext that connects to addr whatever it
// is asked for, recording what it was asked for.
func redirectDial(addr string, asked *[]string) func(context.Context, string, string) (net.Conn, error) {
	var mu sync.Mutex
	return func(ctx context.Context, network, a string) (net.Conn, error) {
		mu.Lock()
		*asked = append(*asked, a)
		mu.Unlock()
		var d net.Dialer
		return d.DialContext(ctx, network, addr)
	}
}

func TestDialHostAndPorts(t *testing.T) {
	f := startFake(t, func(_ *http.Request, accept string) string { return switching(accept) })
	tests := []struct{ url, addr, host string }{
		{"ws://example.com/x", "example.com:80", "example.com"},
		{"ws://example.com:80/x", "example.com:80", "example.com"},
		{"http://example.com:/x", "example.com:80", "example.com"},
		{"ws://example.com:8080", "example.com:8080", "example.com:8080"},
		{"WS://Example.COM:443/", "Example.COM:443", "Example.COM:443"},
		{"ws://[::1]/", "[::1]:80", "[::1]"},
		{"ws://[::1]:9000/", "[::1]:9000", "[::1]:9000"},
	}
	for _, tt := range tests {
		var asked []string
		c := &handshake.Client{NetDialContext: redirectDial(f.addr, &asked), Proxy: noProxy}
		res, _, err := c.Dial(context.Background(), tt.url)
		if err != nil {
			t.Errorf("%s: %v", tt.url, err)
			continue
		}
		res.Conn.Close()
		r := <-f.reqs
		if len(asked) != 1 || asked[0] != tt.addr || r.Host != tt.host {
			t.Errorf("%s: dialed %q with Host %q, want %q and %q", tt.url, asked, r.Host, tt.addr, tt.host)
		}
		if r.RequestURI != res.Request.URL.RequestURI() {
			t.Errorf("%s: request URI %q", tt.url, r.RequestURI)
		}
	}
	// A Host entry in Header replaces the derived Host.
	var asked []string
	c := &handshake.Client{NetDialContext: redirectDial(f.addr, &asked), Header: http.Header{"Host": {"virtual.example"}}}
	res, _, err := c.Dial(context.Background(), "ws://"+f.addr+"/")
	if err != nil {
		t.Fatal(err)
	}
	res.Conn.Close()
	if r := <-f.reqs; r.Host != "virtual.example" {
		t.Errorf("Host = %q, want the Header's", r.Host)
	}
}

// noProxy is an explicit Proxy function for no proxy.
func noProxy(*http.Request) (*url.URL, error) { return nil, nil }

func TestDialBadURLAndClient(t *testing.T) {
	tests := []struct {
		c    handshake.Client
		url  string
		want error
	}{
		{url: "ftp://example.com/", want: handshake.ErrBadURL},
		{url: "example.com/chat", want: handshake.ErrBadURL},
		{url: "ws:///nohost", want: handshake.ErrBadURL},
		{url: "ws://user:pw@example.com/", want: handshake.ErrBadURL},
		{url: "ws://example.com/#frag", want: handshake.ErrBadURL},
		{url: "ws://exa mple.com/", want: handshake.ErrBadURL},
		{c: handshake.Client{Subprotocols: []string{"a b"}}, want: handshake.ErrBadClient},
		{c: handshake.Client{Subprotocols: []string{"a", "a"}}, want: handshake.ErrBadClient},
		{c: handshake.Client{Extensions: []handshake.Extension{{Name: "x y"}}}, want: handshake.ErrBadClient},
		{c: handshake.Client{Extensions: []handshake.Extension{{Name: "x", Params: []handshake.Param{{Name: "v", Value: "a b", HasValue: true}}}}}, want: handshake.ErrBadClient},
		{c: handshake.Client{Header: http.Header{"Sec-WebSocket-Protocol": {"chat"}}}, want: handshake.ErrBadClient},
		{c: handshake.Client{Header: http.Header{"Connection": {"close"}}}, want: handshake.ErrBadClient},
		{c: handshake.Client{Header: http.Header{"Bad Name": {"x"}}}, want: handshake.ErrBadClient},
		{c: handshake.Client{Header: http.Header{"X-Inject": {"a\r\nEvil: 1"}}}, want: handshake.ErrBadClient},
	}
	for _, tt := range tests {
		u := tt.url
		if u == "" {
			u = "ws://127.0.0.1:1/"
		}
		dialed := false
		tt.c.NetDialContext = func(context.Context, string, string) (net.Conn, error) {
			dialed = true
			return nil, errors.New("must not dial")
		}
		_, _, err := tt.c.Dial(context.Background(), u)
		if !errors.Is(err, tt.want) || dialed {
			t.Errorf("%q %+v: err = %v (dialed %v), want %v before dialing", u, tt.c, err, dialed, tt.want)
		}
	}
}

// handshakeError checks that err is a *HandshakeError matching want with
// the given status code, and returns it.
func handshakeError(t *testing.T, err error, want error, status int) *handshake.HandshakeError {
	t.Helper()
	var he *handshake.HandshakeError
	if !errors.As(err, &he) {
		t.Fatalf("err = %v (%T), want a *HandshakeError", err, err)
	}
	if !errors.Is(err, want) || he.StatusCode != status {
		t.Fatalf("err = %v (status %d), want %v with status %d", err, he.StatusCode, want, status)
	}
	return he
}

func TestDialRefusal(t *testing.T) {
	long := strings.Repeat("x", 3000)
	tests := []struct {
		name     string
		response string
		status   int
		body     string
	}{
		{"403 with body", "HTTP/1.1 403 Forbidden\r\nContent-Length: 9\r\nX-Why: test\r\n\r\nforbidden", 403, "forbidden"},
		{"long body is cut at 1 KiB", "HTTP/1.1 500 Internal Server Error\r\nContent-Length: 3000\r\n\r\n" + long, 500, long[:1024]},
		{"chunked body", "HTTP/1.1 401 Unauthorized\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nwho \r\n4\r\nare \r\n4\r\nyou?\r\n0\r\n\r\n", 401, "who are you?"},
		{"no body", "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n", 404, ""},
		{"200 instead of 101", "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi", 200, "hi"},
		{"redirect is not followed", "HTTP/1.1 302 Found\r\nLocation: /elsewhere\r\nContent-Length: 0\r\n\r\n", 302, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := startFake(t, func(*http.Request, string) string { return tt.response })
			start := time.Now()
			res, resp, err := (&handshake.Client{}).Dial(context.Background(), "ws://"+f.addr+"/")
			if res != nil {
				t.Fatal("Result on refusal")
			}
			he := handshakeError(t, err, handshake.ErrBadStatus, tt.status)
			if string(he.Body) != tt.body {
				t.Errorf("Body = %q, want %q", he.Body, tt.body)
			}
			if resp == nil || resp.StatusCode != tt.status {
				t.Fatalf("resp = %v", resp)
			}
			if b, _ := io.ReadAll(resp.Body); string(b) != tt.body {
				t.Errorf("resp.Body = %q, want %q", b, tt.body)
			}
			if !strings.Contains(err.Error(), fmt.Sprint(tt.status)) {
				t.Errorf("message %q lacks the status", err)
			}
			if time.Since(start) > 900*time.Millisecond {
				t.Errorf("refusal with a complete body took %v", time.Since(start))
			}
			if cerr := <-f.closed; cerr != nil {
				t.Errorf("connection not closed by the client: %v", cerr)
			}
		})
	}
	t.Run("open-ended body", func(t *testing.T) {
		// No length and the server keeps the connection open: the body read
		// gives up after a short deadline.
		f := startFake(t, func(*http.Request, string) string {
			return "HTTP/1.1 503 Service Unavailable\r\n\r\npartial"
		})
		start := time.Now()
		_, _, err := (&handshake.Client{}).Dial(context.Background(), "ws://"+f.addr+"/")
		he := handshakeError(t, err, handshake.ErrBadStatus, 503)
		if string(he.Body) != "partial" {
			t.Errorf("Body = %q", he.Body)
		}
		if d := time.Since(start); d > 3*time.Second {
			t.Errorf("took %v", d)
		}
	})
	t.Run("body beyond MaxResponseBytes", func(t *testing.T) {
		// The bound is on the header block; the body has its own.
		body := strings.Repeat("y", 600)
		f := startFake(t, func(*http.Request, string) string {
			return "HTTP/1.1 403 Forbidden\r\nContent-Length: 600\r\n\r\n" + body
		})
		_, _, err := (&handshake.Client{MaxResponseBytes: 128}).Dial(context.Background(), "ws://"+f.addr+"/")
		if he := handshakeError(t, err, handshake.ErrBadStatus, 403); string(he.Body) != body {
			t.Errorf("Body has %d bytes, want %d", len(he.Body), len(body))
		}
	})
	t.Run("own server", func(t *testing.T) {
		ts, _ := upgradeEchoServer(t, &handshake.Server{}, false)
		c := &handshake.Client{Header: http.Header{"Origin": {"https://evil.example"}}}
		_, resp, err := c.Dial(context.Background(), wsURL(ts, "/"))
		he := handshakeError(t, err, handshake.ErrBadStatus, 403)
		if !strings.Contains(string(he.Body), "origin not allowed") || !resp.Close {
			t.Errorf("body %q, header %v", he.Body, resp.Header)
		}
	})
}

func TestDialBadUpgradeResponses(t *testing.T) {
	tests := []struct {
		name    string
		respond func(accept string) string
		want    error
	}{
		{"wrong accept", func(string) string { return switching("s3pPLMBiTxaQ9kYGzzhZRbK+xOo=") }, handshake.ErrBadAccept},
		{"missing accept", func(string) string {
			return "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n"
		}, handshake.ErrBadAccept},
		{"two accepts", func(a string) string { return switching(a, "Sec-WebSocket-Accept: "+a) }, handshake.ErrBadAccept},
		{"missing upgrade", func(a string) string {
			return "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: " + a + "\r\n\r\n"
		}, handshake.ErrBadUpgradeResponse},
		{"upgrade to something else", func(a string) string {
			return "HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: " + a + "\r\n\r\n"
		}, handshake.ErrBadUpgradeResponse},
		{"missing connection", func(a string) string {
			return "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nSec-WebSocket-Accept: " + a + "\r\n\r\n"
		}, handshake.ErrBadUpgradeResponse},
		{"connection keep-alive", func(a string) string {
			return "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: keep-alive\r\nSec-WebSocket-Accept: " + a + "\r\n\r\n"
		}, handshake.ErrBadUpgradeResponse},
		{"HTTP/1.0", func(a string) string {
			return "HTTP/1.0 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: " + a + "\r\n\r\n"
		}, handshake.ErrBadUpgradeResponse},
		{"unoffered subprotocol", func(a string) string { return switching(a, "Sec-WebSocket-Protocol: mqtt") }, handshake.ErrUnexpectedSubprotocol},
		{"subprotocol case differs", func(a string) string { return switching(a, "Sec-WebSocket-Protocol: CHAT") }, handshake.ErrUnexpectedSubprotocol},
		{"two subprotocols", func(a string) string { return switching(a, "Sec-WebSocket-Protocol: chat, json") }, handshake.ErrUnexpectedSubprotocol},
		{"two subprotocol lines", func(a string) string {
			return switching(a, "Sec-WebSocket-Protocol: chat", "Sec-WebSocket-Protocol: json")
		}, handshake.ErrUnexpectedSubprotocol},
		{"unoffered extension", func(a string) string {
			return switching(a, "Sec-WebSocket-Extensions: x-known, permessage-deflate")
		}, handshake.ErrUnexpectedExtension},
		{"malformed extensions", func(a string) string { return switching(a, "Sec-WebSocket-Extensions: x-known;;") }, handshake.ErrBadUpgradeResponse},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := startFake(t, func(_ *http.Request, accept string) string { return tt.respond(accept) })
			c := &handshake.Client{
				Subprotocols: []string{"chat", "json"},
				Extensions:   []handshake.Extension{{Name: "x-known"}},
			}
			res, resp, err := c.Dial(context.Background(), "ws://"+f.addr+"/")
			if res != nil {
				t.Fatal("Result for an invalid response")
			}
			handshakeError(t, err, tt.want, 101)
			if resp == nil || resp.StatusCode != 101 {
				t.Errorf("resp = %v, want the 101", resp)
			}
			if cerr := <-f.closed; cerr != nil {
				t.Errorf("connection not closed by the client: %v", cerr)
			}
		})
	}
	t.Run("valid variations", func(t *testing.T) {
		// Case and list forms the RFC allows, accepted.
		f := startFake(t, func(_ *http.Request, a string) string {
			return "HTTP/1.1 101 Web Socket Protocol Handshake\r\nupgrade: WebSocket\r\nconnection: keep-alive, UPGRADE\r\n" +
				"sec-websocket-accept:   " + a + "  \r\nSec-WebSocket-Protocol: json\r\nSec-WebSocket-Extensions: X-Known; a=1\r\n\r\n"
		})
		c := &handshake.Client{Subprotocols: []string{"chat", "json"}, Extensions: []handshake.Extension{{Name: "x-known"}}}
		res, _, err := c.Dial(context.Background(), "ws://"+f.addr+"/")
		if err != nil {
			t.Fatal(err)
		}
		res.Conn.Close()
		if res.Subprotocol != "json" || len(res.Extensions) != 1 || res.Extensions[0].Params[0].Value != "1" {
			t.Errorf("Result = %+v", res)
		}
	})
}

func TestDialResponseLimits(t *testing.T) {
	big := "X-Big: " + strings.Repeat("b", 20<<10)
	f := startFake(t, func(_ *http.Request, a string) string { return switching(a, big) })
	_, resp, err := (&handshake.Client{}).Dial(context.Background(), "ws://"+f.addr+"/")
	if !errors.Is(err, handshake.ErrResponseTooLarge) || resp != nil {
		t.Fatalf("err = %v, resp %v; want ErrResponseTooLarge", err, resp)
	}
	// A larger MaxResponseBytes admits it.
	c := &handshake.Client{MaxResponseBytes: 32 << 10}
	res, _, err := c.Dial(context.Background(), "ws://"+f.addr+"/")
	if err != nil {
		t.Fatal(err)
	}
	res.Conn.Close()

	t.Run("garbage", func(t *testing.T) {
		f := startFake(t, func(*http.Request, string) string { return "SSH-2.0-OpenSSH\r\n\r\n" })
		_, _, err := (&handshake.Client{}).Dial(context.Background(), "ws://"+f.addr+"/")
		if !errors.Is(err, handshake.ErrBadUpgradeResponse) {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("closed before answering", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		go func() {
			c, err := ln.Accept()
			if err == nil {
				bufio.NewReader(c).ReadString('\n')
				io.WriteString(c, "HTTP/1.1 101 Switching")
				c.Close()
			}
		}()
		_, _, err = (&handshake.Client{}).Dial(context.Background(), "ws://"+ln.Addr().String()+"/")
		if !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Fatalf("err = %v, want io.ErrUnexpectedEOF", err)
		}
	})
}

func TestDialPipelinedFrames(t *testing.T) {
	// A server frame right behind the 101, in the same write: a text frame
	// "hi" then a ping.
	frames := "\x81\x02hi\x89\x00"
	f := startFake(t, func(_ *http.Request, a string) string { return switching(a) + frames })
	res, _, err := (&handshake.Client{}).Dial(context.Background(), "ws://"+f.addr+"/")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Conn.Close()
	t.Logf("%d bytes came in Buffered", len(res.Buffered))
	got := bytes.Clone(res.Buffered)
	res.Conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	for len(got) < len(frames) {
		var b [64]byte
		n, err := res.Conn.Read(b[:])
		if err != nil {
			t.Fatalf("after %q: %v", got, err)
		}
		got = append(got, b[:n]...)
	}
	if string(got) != frames {
		t.Fatalf("stream after the 101 = %q, want %q", got, frames)
	}
}

// silentServer accepts connections and never writes anything.
func silentServer(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		<-done
		for _, c := range conns {
			c.Close()
		}
	})
	return ln.Addr().String()
}

func TestDialTimeout(t *testing.T) {
	addr := silentServer(t)
	for _, scheme := range []string{"ws", "wss"} {
		t.Run(scheme+" HandshakeTimeout", func(t *testing.T) {
			c := &handshake.Client{HandshakeTimeout: 200 * time.Millisecond}
			start := time.Now()
			_, _, err := c.Dial(context.Background(), scheme+"://"+addr+"/")
			if !errors.Is(err, handshake.ErrTimeout) || !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("err = %v, want ErrTimeout and DeadlineExceeded", err)
			}
			if d := time.Since(start); d < 150*time.Millisecond || d > 3*time.Second {
				t.Errorf("gave up after %v, want about 200ms", d)
			}
		})
	}
	t.Run("context deadline", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel()
		start := time.Now()
		_, _, err := (&handshake.Client{}).Dial(ctx, "ws://"+addr+"/")
		if !errors.Is(err, handshake.ErrTimeout) || !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("err = %v", err)
		}
		if d := time.Since(start); d > 3*time.Second {
			t.Errorf("took %v", d)
		}
	})
	t.Run("context cancelled", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		time.AfterFunc(150*time.Millisecond, cancel)
		start := time.Now()
		_, _, err := (&handshake.Client{}).Dial(ctx, "ws://"+addr+"/")
		if !errors.Is(err, context.Canceled) || errors.Is(err, handshake.ErrTimeout) {
			t.Fatalf("err = %v, want context.Canceled", err)
		}
		if d := time.Since(start); d > 3*time.Second {
			t.Errorf("took %v", d)
		}
	})
	t.Run("dial timeout", func(t *testing.T) {
		c := &handshake.Client{
			HandshakeTimeout: 100 * time.Millisecond,
			NetDialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
				<-ctx.Done()
				return nil, ctx.Err()
			},
		}
		_, _, err := c.Dial(context.Background(), "ws://example.com/")
		if !errors.Is(err, handshake.ErrTimeout) {
			t.Fatalf("err = %v", err)
		}
	})
}

func TestDialConnectionRefused(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	_, resp, err := (&handshake.Client{}).Dial(context.Background(), "ws://"+addr+"/")
	var he *handshake.HandshakeError
	var oe *net.OpError
	if err == nil || resp != nil || errors.As(err, &he) || !errors.As(err, &oe) {
		t.Fatalf("err = %v (%T), resp %v; want a *net.OpError", err, err, resp)
	}
	if !strings.HasPrefix(err.Error(), "handshake: dial tcp "+addr) {
		t.Errorf("message %q", err)
	}
}

func TestDialTLS(t *testing.T) {
	ts, reqs := upgradeEchoServer(t, &handshake.Server{Subprotocols: []string{"chat"}}, true)
	cfg := rootsFor(ts)
	cfg.NextProtos = []string{"h2", "http/1.1"}
	c := &handshake.Client{TLSConfig: cfg, Subprotocols: []string{"chat"}}
	res, _, err := c.Dial(context.Background(), wsURL(ts, "/secure"))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Conn.Close()
	tc, ok := res.Conn.(*tls.Conn)
	if !ok {
		t.Fatalf("Conn is %T, want *tls.Conn", res.Conn)
	}
	if st := tc.ConnectionState(); !st.HandshakeComplete || st.NegotiatedProtocol == "h2" {
		t.Errorf("TLS state: complete %v, protocol %q", st.HandshakeComplete, st.NegotiatedProtocol)
	}
	if cfg.ServerName != "" || !slices.Equal(cfg.NextProtos, []string{"h2", "http/1.1"}) {
		t.Errorf("caller's TLSConfig was modified: %q %q", cfg.ServerName, cfg.NextProtos)
	}
	if r := <-reqs; r.TLS == nil || r.URL.Path != "/secure" {
		t.Errorf("server saw TLS %v path %q", r.TLS, r.URL.Path)
	}
	if res.Subprotocol != "chat" {
		t.Errorf("Subprotocol %q", res.Subprotocol)
	}
	roundTrip(t, res.Conn, "over TLS")

	t.Run("ServerName from URL host", func(t *testing.T) {
		// httptest's certificate is valid for example.com; dial it on
		// loopback under that name, with the default port 443.
		var asked []string
		c := &handshake.Client{TLSConfig: rootsFor(ts), NetDialContext: redirectDial(ts.Listener.Addr().String(), &asked), Proxy: noProxy}
		res, _, err := c.Dial(context.Background(), "https://example.com/")
		if err != nil {
			t.Fatal(err)
		}
		defer res.Conn.Close()
		if sn := res.Conn.(*tls.Conn).ConnectionState().ServerName; sn != "example.com" || asked[0] != "example.com:443" {
			t.Errorf("server name %q, dialed %q", sn, asked)
		}
		if r := <-reqs; r.Host != "example.com" {
			t.Errorf("Host %q", r.Host)
		}
	})
	t.Run("untrusted certificate", func(t *testing.T) {
		_, resp, err := (&handshake.Client{}).Dial(context.Background(), wsURL(ts, "/"))
		var ue x509.UnknownAuthorityError
		if !errors.As(err, &ue) || resp != nil {
			t.Fatalf("err = %v, want x509.UnknownAuthorityError", err)
		}
	})
}
