package echo

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wspipe/wspipe/handshake"
	"github.com/wspipe/wspipe/pipeline"
)

// serveWS serves h on a loopback port for the life of t and returns its
// WebSocket URL.
func serveWS(t *testing.T, h *Handler) string {
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return "ws" + strings.TrimPrefix(srv.URL, "http") + "/"
}

func TestShutdownClosesConnectionsWithGoingAway(t *testing.T) {
	h := &Handler{}
	url := serveWS(t, h)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	clients := dialEchoed(t, ctx, url, 3)
	shutdownGoingAway(t, ctx, h, clients)
	// New connections are refused after Shutdown.
	if _, resp, err := pipeline.Dial(ctx, url, nil, nil); err == nil || resp == nil || resp.StatusCode != 503 {
		t.Fatalf("dial after Shutdown: %v", err)
	}
}

// dialEchoed dials n clients to url, each proven alive (and so surely
// tracked by the server) by one round trip.
func dialEchoed(t *testing.T, ctx context.Context, url string, n int) []*pipeline.Conn {
	t.Helper()
	var clients []*pipeline.Conn
	for range n {
		c, _, err := pipeline.Dial(ctx, url, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.CloseNow() })
		if err := c.WriteMessage(ctx, pipeline.Binary, []byte{1}); err != nil {
			t.Fatal(err)
		}
		if _, _, err := c.ReadMessage(ctx, nil); err != nil {
			t.Fatal(err)
		}
		clients = append(clients, c)
	}
	return clients
}

// shutdownGoingAway shuts h down and checks that every client sees close
// 1001.
func shutdownGoingAway(t *testing.T, ctx context.Context, h *Handler, clients []*pipeline.Conn) {
	t.Helper()
	errc := make(chan error, len(clients))
	for _, c := range clients {
		go func() { _, _, err := c.ReadMessage(ctx, nil); errc <- err }()
	}
	if err := h.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	for range clients {
		var ce *pipeline.CloseError
		if err := <-errc; !errors.As(err, &ce) || ce.Code != pipeline.CloseGoingAway {
			t.Fatalf("client saw %v, want close 1001", err)
		}
	}
}

// serveLoopback accepts connections on a loopback listener and serves each
// with serve, until the test ends. It returns the listener's address.
func serveLoopback(t *testing.T, serve func(net.Conn)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				serve(c)
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		wg.Wait()
	})
	return ln.Addr().String()
}

func TestWSSToPlainListenerFailsAtOnce(t *testing.T) {
	// Before, the raw handshake waited for the end of a request head, and
	// the client for a ServerHello, until a timeout.
	h := &Handler{}
	serveConn := serveLoopback(t, func(c net.Conn) { h.ServeConn(c, "/", nil) })
	acceptConn := serveLoopback(t, func(c net.Conn) {
		if pc, err := pipeline.AcceptConn(c, nil, nil); err == nil {
			pc.Close(pipeline.CloseNormal, "")
		}
		c.Close()
	})
	for name, addr := range map[string]string{"ServeConn": serveConn, "pipeline.AcceptConn": acceptConn} {
		t.Run(name, func(t *testing.T) {
			// The context is a safety net: the handshake timeout is longer,
			// so a wait for a ServerHello shows as a context error.
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			c, _, err := pipeline.Dial(ctx, "wss://"+addr+"/", &handshake.Client{HandshakeTimeout: time.Minute}, nil)
			if err == nil {
				c.Close(pipeline.CloseNormal, "")
				t.Fatal("wss:// to a plain listener succeeded")
			}
			var rh tls.RecordHeaderError
			if !errors.As(err, &rh) || !strings.Contains(err.Error(), "not TLS") {
				t.Fatalf("err = %v, want crypto/tls's RecordHeaderError, explained", err)
			}
		})
	}
}

// proxiedRequest is a WebSocket client's request as a proxy that drops
// hop-by-hop headers passes it on: without Upgrade and Connection.
const proxiedRequest = "GET / HTTP/1.1\r\nHost: example.com\r\nConnection: close\r\n" +
	"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"

// checkProxyRefusal fails unless resp is a 400 whose body names the
// missing Upgrade header and a proxy.
func checkProxyRefusal(t *testing.T, resp *http.Response) {
	t.Helper()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(body), "Upgrade: websocket") || !strings.Contains(string(body), "proxy") {
		t.Errorf("got %s %q, want 400 naming the Upgrade header and a proxy", resp.Status, body)
	}
}

func TestClientRequestWithoutUpgradeIsRefusedNotPaged(t *testing.T) {
	page := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "the page") })
	h := &Handler{Page: page}

	t.Run("ServeHTTP", func(t *testing.T) {
		srv := httptest.NewServer(h)
		defer srv.Close()
		resp, err := http.Get(srv.URL)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || string(body) != "the page" {
			t.Fatalf("plain GET: %s %q, want the page", resp.Status, body)
		}
		req, _ := http.NewRequest("GET", srv.URL, nil)
		req.Header.Set("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==")
		req.Header.Set("Sec-WebSocket-Version", "13")
		resp, err = http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		checkProxyRefusal(t, resp)
	})
	t.Run("ServeConn", func(t *testing.T) {
		handedOff := make(chan struct{}, 1)
		addr := serveLoopback(t, func(c net.Conn) {
			h.ServeConn(c, "/", func(c net.Conn, _ []byte) {
				handedOff <- struct{}{}
				c.Close()
			})
		})
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(10 * time.Second))
		io.WriteString(c, proxiedRequest)
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatalf("no answer: %v", err)
		}
		checkProxyRefusal(t, resp)
		select {
		case <-handedOff:
			t.Error("the request was handed off to the page server")
		default:
		}
	})
}

func TestReplyStreamsLongMessage(t *testing.T) {
	// With no message limit, -reply must not hold a message whole: the
	// reply to a long one starts before the message has ended.
	url := serveWS(t, &Handler{Reply: true, Options: pipeline.Options{MaxMessageSize: -1}})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, _, err := pipeline.Dial(ctx, url, nil, &pipeline.Options{MaxMessageSize: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(pipeline.CloseNormal, "")

	part := strings.Repeat("0123456789abcdef", 1<<16) // 1 MiB, 16 times the part read whole
	w, err := c.NextWriter(ctx, pipeline.Text)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.WriteString(w, part); err != nil {
		t.Fatal(err)
	}
	// The message is still open. The context is the safety net: a reply
	// held back until the message ends never comes.
	typ, r, err := c.NextReader(ctx)
	if err != nil {
		t.Fatalf("no reply while the message is open: %v", err)
	}
	head := make([]byte, len("Received ")+len(part)/2)
	if _, err := io.ReadFull(r, head); err != nil || typ != pipeline.Text ||
		string(head) != "Received "+part[:len(part)/2] {
		t.Fatalf("reply starts %.40q (%v, %v)", head, typ, err)
	}
	// Finish the message; the reply ends with the rest and the thanks.
	if _, err := io.WriteString(w, part); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	rest, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	if want := part[len(part)/2:] + part + ". Thanks!"; string(rest) != want {
		t.Fatalf("reply goes on with %d bytes ending %q, want %d bytes", len(rest), rest[max(0, len(rest)-20):], len(want))
	}

	// A short message is answered whole, as before.
	if err := c.WriteMessage(ctx, pipeline.Text, []byte("Hello")); err != nil {
		t.Fatal(err)
	}
	if _, msg, err := c.ReadMessage(ctx, nil); err != nil || string(msg) != "Received Hello. Thanks!" {
		t.Fatalf("reply %q, %v", msg, err)
	}
}
