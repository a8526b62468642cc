package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wspipe/wspipe/handshake"
	"github.com/wspipe/wspipe/pipeline"
)

// TestMain restarts the test binary with GODEBUG=http2xconnect=1 when it
// is missing, as cmd/echo's main does, so that run() in this process
// serves WebSockets over HTTP/2.
func TestMain(m *testing.M) {
	if err := handshake.EnableExtendedConnect(); err != nil {
		fmt.Fprintln(os.Stderr, "HTTP/2 WebSocket tests will fail:", err)
	}
	os.Exit(m.Run())
}

// 1000 WebSockets at once over HTTP/2 against cmd/echo -tls-dev, all on
// one TCP connection, each echoing its own messages.
func TestHTTP2ThousandStreamsOneConnection(t *testing.T) {
	n := 1000
	if testing.Short() {
		n = 200
	}
	s := startRun(t, "-addr", "127.0.0.1:0", "-tls-dev")
	if !strings.Contains(s.stderr.String(), "extended_connect=true") {
		t.Fatalf("extended CONNECT is off:\n%s", s.stderr)
	}
	hc := &handshake.Client{HTTP2: handshake.HTTP2Require, TLSConfig: &tls.Config{InsecureSkipVerify: true}}
	defer hc.CloseIdleConnections()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute) // a hang guard
	defer cancel()
	conns := make([]*pipeline.Conn, n)
	errs := make(chan error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			c, resp, err := pipeline.Dial(ctx, s.url, hc, nil)
			if err != nil {
				errs <- err
				return
			}
			if resp.ProtoMajor != 2 {
				errs <- fmt.Errorf("over %s", resp.Proto)
			}
			conns[i] = c
			for j := range 3 {
				msg := fmt.Sprintf("stream %d message %d", i, j)
				if err := c.WriteMessage(ctx, pipeline.Text, []byte(msg)); err != nil {
					errs <- err
					return
				}
				_, got, err := c.ReadMessage(ctx, nil)
				if err != nil || string(got) != msg {
					errs <- fmt.Errorf("stream %d: got %q, %v", i, got, err)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	// All open at once, on one connection.
	addrs := map[string]bool{}
	for _, c := range conns {
		addrs[c.LocalAddr().String()] = true
		if c.Err() != nil {
			t.Fatalf("a connection ended early: %v", c.Err())
		}
	}
	if len(addrs) != 1 {
		t.Fatalf("%d WebSockets used %d TCP connections, want 1", n, len(addrs))
	}
	for _, c := range conns {
		wg.Go(func() {
			c.Close(pipeline.CloseNormal, "")
			if st := pipeline.CloseStatus(c.Wait()); st != pipeline.CloseNormal {
				t.Errorf("closed with %v", c.Err())
			}
		})
	}
	wg.Wait()
}

// cmd/echo -tls-dev -http2=false serves HTTP/1.1 only: a client that
// requires HTTP/2 gets ErrNoHTTP2, one that prefers it falls back.
func TestHTTP2OffFallsBack(t *testing.T) {
	s := startRun(t, "-addr", "127.0.0.1:0", "-tls-dev", "-http2=false")
	ctx := context.Background()
	hc := &handshake.Client{HTTP2: handshake.HTTP2Require, TLSConfig: &tls.Config{InsecureSkipVerify: true}}
	if _, _, err := pipeline.Dial(ctx, s.url, hc, nil); !errors.Is(err, handshake.ErrNoHTTP2) {
		t.Fatalf("Require: %v, want ErrNoHTTP2", err)
	}
	hc.HTTP2 = handshake.HTTP2Prefer
	c, resp, err := pipeline.Dial(ctx, s.url, hc, nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("status %s", resp.Status)
	}
	c.Close(pipeline.CloseNormal, "")
}

// cmd/echo -h2c serves WebSockets over cleartext HTTP/2 as well as the
// ordinary HTTP/1.1 upgrade, on the same port.
func TestH2C(t *testing.T) {
	s := startRun(t, "-addr", "127.0.0.1:0", "-h2c")
	ctx := context.Background()
	for _, mode := range []handshake.HTTP2Mode{handshake.HTTP2Require, handshake.HTTP2Off} {
		hc := &handshake.Client{HTTP2: mode}
		c, resp, err := pipeline.Dial(ctx, s.url, hc, nil)
		if err != nil {
			t.Fatal(mode, err)
		}
		if want := map[handshake.HTTP2Mode]int{handshake.HTTP2Require: 2, handshake.HTTP2Off: 1}[mode]; resp.ProtoMajor != want {
			t.Fatalf("mode %d: over %s", mode, resp.Proto)
		}
		c.WriteMessage(ctx, pipeline.Binary, []byte{1, 2, 3})
		if _, got, err := c.ReadMessage(ctx, nil); err != nil || string(got) != "\x01\x02\x03" {
			t.Fatal(got, err)
		}
		c.Close(pipeline.CloseNormal, "")
		hc.CloseIdleConnections()
	}
}

func TestH2CFlagNeedsPlainServer(t *testing.T) {
	if _, err := parseFlags([]string{"-h2c", "-tls-dev"}, &strings.Builder{}); err == nil {
		t.Fatal("-h2c with -tls-dev accepted")
	}
	if _, err := parseFlags([]string{"-tls-dev", "-tls-cert", "a", "-tls-key", "b"}, &strings.Builder{}); err == nil {
		t.Fatal("-tls-dev with -tls-cert accepted")
	}
}
