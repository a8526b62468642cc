package pipeline

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/net/http2"

	"github.com/wspipe/wspipe/handshake"
)

// TestMain restarts the test binary with GODEBUG=http2xconnect=1 when it
// is missing, so that net/http's HTTP/2 server advertises extended
// CONNECT and plain `go test` runs the HTTP/2 tests.
func TestMain(m *testing.M) {
	if err := handshake.EnableExtendedConnect(); err != nil {
		fmt.Fprintln(os.Stderr, "HTTP/2 WebSocket tests will fail:", err)
	}
	os.Exit(m.Run())
}

// h2Server serves handler over TLS with HTTP/1.1 and HTTP/2 (and h2c on
// a second, plain listener), set up by handshake.ConfigureHTTP2.
type h2Server struct {
	tls, plain *httptest.Server
	protos     sync.Map // request path -> ProtoMajor seen by the handler
}

func newH2Server(t testing.TB, handler http.Handler) *h2Server {
	t.Helper()
	s := &h2Server{}
	s.tls = httptest.NewUnstartedServer(handler)
	if err := handshake.ConfigureHTTP2(s.tls.Config, false); err != nil {
		t.Fatal(err)
	}
	s.tls.EnableHTTP2 = true
	s.tls.StartTLS()
	s.plain = httptest.NewUnstartedServer(handler)
	if err := handshake.ConfigureHTTP2(s.plain.Config, true); err != nil {
		t.Fatal(err)
	}
	s.plain.Start()
	t.Cleanup(func() {
		s.tls.Close()
		s.plain.Close()
	})
	return s
}

// wss is the server's wss:// URL for path.
func (s *h2Server) wss(path string) string {
	return "wss" + strings.TrimPrefix(s.tls.URL, "https") + path
}

// ws is the h2c server's ws:// URL for path.
func (s *h2Server) ws(path string) string {
	return "ws" + strings.TrimPrefix(s.plain.URL, "http") + path
}

// h2Client is a client of s over HTTP/2 (mode), trusting its certificate.
func h2Client(s *h2Server, mode handshake.HTTP2Mode) *handshake.Client {
	return &handshake.Client{
		HTTP2:     mode,
		TLSConfig: &tls.Config{RootCAs: s.tls.Client().Transport.(*http.Transport).TLSClientConfig.RootCAs},
	}
}

// echoHandler accepts a WebSocket and echoes every message until the
// connection ends, waiting for it as Accept asks over HTTP/2; proto
// receives each accepted request's ProtoMajor.
func echoHandler(t testing.TB, opts *Options, proto chan<- int) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := Accept(w, r, &handshake.Server{Subprotocols: []string{"chat"}}, opts)
		if err != nil {
			return
		}
		if proto != nil {
			proto <- r.ProtoMajor
		}
		ctx := context.Background()
		buf := make([]byte, 0, 1024)
		for {
			typ, msg, err := c.ReadMessage(ctx, buf[:0])
			if err != nil {
				break
			}
			buf = msg
			if err := c.WriteMessage(ctx, typ, msg); err != nil {
				break
			}
		}
		c.Wait()
	})
}

// checkGoroutines fails t if more goroutines than before remain after a
// grace period.
func checkGoroutines(t testing.TB, before int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		n := runtime.NumGoroutine()
		if n <= before {
			return
		}
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			buf = buf[:runtime.Stack(buf, true)]
			t.Fatalf("%d goroutines, %d before:\n%s", n, before, buf)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestHTTP2Echo(t *testing.T) {
	if !handshake.ExtendedConnectEnabled() {
		t.Fatal("extended CONNECT is off")
	}
	for _, tc := range []struct {
		name     string
		compress bool
		h2c      bool
	}{{"tls", false, false}, {"tls-deflate", true, false}, {"h2c", false, true}} {
		t.Run(tc.name, func(t *testing.T) {
			proto := make(chan int, 4)
			var sopts, copts *Options
			if tc.compress {
				sopts = &Options{Compression: &Compression{}}
				copts = &Options{Compression: &Compression{}}
			}
			s := newH2Server(t, echoHandler(t, sopts, proto))
			hc := h2Client(s, handshake.HTTP2Require)
			hc.Subprotocols = []string{"chat"}
			url := s.wss("/")
			if tc.h2c {
				url = s.ws("/")
			}
			ctx := context.Background()
			var conns []*Conn
			for i := range 3 {
				c, resp, err := Dial(ctx, url, hc, copts)
				if err != nil {
					t.Fatal(err)
				}
				if resp.StatusCode != 200 || resp.ProtoMajor != 2 {
					t.Fatalf("response %s %s", resp.Proto, resp.Status)
				}
				if got := <-proto; got != 2 {
					t.Fatalf("server saw HTTP/%d", got)
				}
				if c.Subprotocol() != "chat" {
					t.Fatalf("subprotocol %q", c.Subprotocol())
				}
				for _, size := range []int{0, 5, 125, 126, 65535, 65536, 1 << 20} {
					msg := bytes.Repeat([]byte{byte('a' + i)}, size)
					if err := c.WriteMessage(ctx, Binary, msg); err != nil {
						t.Fatal(err)
					}
					typ, got, err := c.ReadMessage(ctx, nil)
					if err != nil || typ != Binary || !bytes.Equal(got, msg) {
						t.Fatalf("size %d: %v %v %d bytes", size, typ, err, len(got))
					}
				}
				conns = append(conns, c)
			}
			// One TCP connection for the three: same local address.
			if a, b := conns[0].LocalAddr().String(), conns[2].LocalAddr().String(); a != b {
				t.Errorf("local addresses %s and %s: not one shared connection", a, b)
			}
			for _, c := range conns {
				if err := c.Close(CloseNormal, "bye"); err != nil {
					t.Fatal(err)
				}
				if CloseStatus(c.Wait()) != CloseNormal {
					t.Fatalf("ended with %v", c.Err())
				}
			}
			hc.CloseIdleConnections()
		})
	}
}

// A server without extended CONNECT: HTTP2Prefer falls back to HTTP/1.1,
// HTTP2Require fails with ErrNoHTTP2.
func TestHTTP2Fallback(t *testing.T) {
	proto := make(chan int, 4)
	// HTTP/2 server without ConfigureHTTP2's h2c: ws:// answers the h2c
	// preface in HTTP/1.
	plain := httptest.NewServer(echoHandler(t, nil, proto))
	defer plain.Close()
	// A TLS server with HTTP/1.1 only in ALPN.
	h1 := httptest.NewTLSServer(echoHandler(t, nil, proto))
	defer h1.Close()
	roots := h1.Client().Transport.(*http.Transport).TLSClientConfig.RootCAs
	ctx := context.Background()
	for _, url := range []string{"ws" + strings.TrimPrefix(plain.URL, "http"), "wss" + strings.TrimPrefix(h1.URL, "https")} {
		hc := &handshake.Client{HTTP2: handshake.HTTP2Require, TLSConfig: &tls.Config{RootCAs: roots}}
		_, _, err := Dial(ctx, url, hc, nil)
		if !errors.Is(err, handshake.ErrNoHTTP2) {
			t.Fatalf("%s: Require: %v, want ErrNoHTTP2", url, err)
		}
		hc.HTTP2 = handshake.HTTP2Prefer
		for range 2 { // the second time from what the pool remembers
			c, resp, err := Dial(ctx, url, hc, nil)
			if err != nil {
				t.Fatalf("%s: Prefer: %v", url, err)
			}
			if resp.StatusCode != 101 || <-proto != 1 {
				t.Fatalf("%s: not HTTP/1.1: %s", url, resp.Status)
			}
			c.WriteMessage(ctx, Text, []byte("hi"))
			if _, msg, err := c.ReadMessage(ctx, nil); err != nil || string(msg) != "hi" {
				t.Fatal(msg, err)
			}
			c.Close(CloseNormal, "")
		}
		hc.CloseIdleConnections()
	}
}

// An HTTP/2 server that does not advertise extended CONNECT (ALPN h2,
// but no SETTINGS_ENABLE_CONNECT_PROTOCOL): a child process without the
// GODEBUG setting would be needed for net/http, so a hand-made server
// answers the preface with empty SETTINGS and closes. Require fails with
// ErrNoHTTP2, Prefer opens HTTP/1.1 on a new connection.
func TestHTTP2NoExtendedConnect(t *testing.T) {
	if os.Getenv("WSPIPE_NOXCONNECT_CHILD") != "" {
		t.Skip()
	}
	proto := make(chan int, 4)
	s := httptest.NewUnstartedServer(echoHandler(t, nil, proto))
	s.EnableHTTP2 = true
	s.StartTLS()
	defer s.Close()
	_ = s
	// This process has extended CONNECT on; the fallback on a server
	// without it is tested by the h2 settings fake below.
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{
		Certificates: s.TLS.Certificates,
		NextProtos:   []string{"h2", "http/1.1"},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var h1 atomic.Int32
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go fakeH2NoXConnect(conn, echoHandler(t, nil, proto), &h1)
		}
	}()
	url := "wss://" + ln.Addr().String() + "/"
	roots := s.Client().Transport.(*http.Transport).TLSClientConfig.RootCAs
	ctx := context.Background()
	hc := &handshake.Client{HTTP2: handshake.HTTP2Require, TLSConfig: &tls.Config{RootCAs: roots}}
	if _, _, err := Dial(ctx, url, hc, nil); !errors.Is(err, handshake.ErrNoHTTP2) {
		t.Fatalf("Require: %v, want ErrNoHTTP2", err)
	}
	hc.CloseIdleConnections()
	hc.HTTP2 = handshake.HTTP2Prefer
	c, resp, err := Dial(ctx, url, hc, nil)
	if err != nil {
		t.Fatalf("Prefer: %v", err)
	}
	if resp.StatusCode != 101 || h1.Load() != 1 {
		t.Fatalf("not HTTP/1.1: %s", resp.Status)
	}
	c.Close(CloseNormal, "")
	hc.CloseIdleConnections()
}

// fakeH2NoXConnect serves one TLS connection: over HTTP/1.1 with handler
// if ALPN chose it, else as an HTTP/2 server that advertises no extended
// CONNECT (an empty SETTINGS frame) and then hangs up after a while.
func fakeH2NoXConnect(conn net.Conn, handler http.Handler, h1 *atomic.Int32) {
	tc := conn.(*tls.Conn)
	if err := tc.Handshake(); err != nil {
		conn.Close()
		return
	}
	if tc.ConnectionState().NegotiatedProtocol != "h2" {
		h1.Add(1)
		srv := &http.Server{Handler: handler}
		srv.Serve(&oneConnListener{conn: conn})
		return
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	preface := make([]byte, len(http2.ClientPreface))
	if _, err := io.ReadFull(conn, preface); err != nil {
		return
	}
	fr := http2.NewFramer(conn, conn)
	fr.WriteSettings() // no SETTINGS_ENABLE_CONNECT_PROTOCOL
	for {
		f, err := fr.ReadFrame()
		if err != nil {
			return
		}
		switch f := f.(type) {
		case *http2.SettingsFrame:
			if !f.IsAck() {
				fr.WriteSettingsAck()
			}
		case *http2.PingFrame:
			if !f.IsAck() {
				fr.WritePing(true, f.Data)
			}
		}
	}
}

// oneConnListener yields one connection, then blocks until closed.
type oneConnListener struct {
	conn net.Conn
	once sync.Once
	done chan struct{}
	mu   sync.Mutex
}

func (l *oneConnListener) Accept() (net.Conn, error) {
	var c net.Conn
	l.once.Do(func() { c = l.conn })
	if c != nil {
		return c, nil
	}
	l.mu.Lock()
	if l.done == nil {
		l.done = make(chan struct{})
	}
	d := l.done
	l.mu.Unlock()
	<-d
	return nil, net.ErrClosed
}

func (l *oneConnListener) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.done == nil {
		l.done = make(chan struct{})
	}
	select {
	case <-l.done:
	default:
		close(l.done)
	}
	return nil
}

func (l *oneConnListener) Addr() net.Addr { return l.conn.LocalAddr() }
