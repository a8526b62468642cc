package pipeline_test

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log"
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

// echoHandler upgrades with hs and echoes whole messages until the
// connection closes. Handlers still running are waited for by the
// returned function.
func echoHandler(hs *handshake.Server) (http.Handler, func()) {
	var wg sync.WaitGroup
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		wg.Add(1) // before the hijack, so httptest's Close orders it before wait
		defer wg.Done()
		c, err := pipeline.Accept(w, r, hs, nil)
		if err != nil {
			return
		}
		defer c.Close(pipeline.CloseNormal, "")
		ctx := context.Background()
		var buf []byte
		for {
			typ, msg, err := c.ReadMessage(ctx, buf)
			if err != nil {
				return
			}
			buf = msg
			if err := c.WriteMessage(ctx, typ, msg); err != nil {
				return
			}
		}
	})
	return h, wg.Wait
}

// echoRoundTrip sends msg as typ and expects it back.
func echoRoundTrip(t *testing.T, c *pipeline.Conn, typ pipeline.MessageType, msg string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.WriteMessage(ctx, typ, []byte(msg)); err != nil {
		t.Fatalf("write: %v", err)
	}
	gotType, got, err := c.ReadMessage(ctx, nil)
	if err != nil || gotType != typ || string(got) != msg {
		t.Fatalf("read %v %q %v, want %v %q", gotType, got, err, typ, msg)
	}
}

// closeAndCheck closes c and checks that the close handshake completed
// with the server echoing 1000.
func closeAndCheck(t *testing.T, c *pipeline.Conn) {
	t.Helper()
	if err := c.Close(pipeline.CloseNormal, "bye"); err != nil {
		t.Fatalf("Close: %v", err)
	}
	_, _, err := c.ReadMessage(context.Background(), nil)
	var ce *pipeline.CloseError
	if !errors.As(err, &ce) || ce.Code != pipeline.CloseNormal {
		t.Fatalf("after Close, read gives %v, want the server's close 1000", err)
	}
}

func TestDial(t *testing.T) {
	h, wait := echoHandler(&handshake.Server{Subprotocols: []string{"chat"}})
	ts := httptest.NewServer(h)
	defer wait()
	defer ts.Close()
	url := "ws" + strings.TrimPrefix(ts.URL, "http") + "/echo"

	c, resp, err := pipeline.Dial(context.Background(), url, &handshake.Client{Subprotocols: []string{"chat"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols || c.Subprotocol() != "chat" {
		t.Errorf("%s, subprotocol %q", resp.Status, c.Subprotocol())
	}
	echoRoundTrip(t, c, pipeline.Text, "hello")
	echoRoundTrip(t, c, pipeline.Binary, "\x00\x01\xff")
	echoRoundTrip(t, c, pipeline.Text, strings.Repeat("big ", 50000))
	closeAndCheck(t, c)

	// A nil Client is the zero Client: no subprotocol.
	c, _, err = pipeline.Dial(context.Background(), url, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.Subprotocol() != "" {
		t.Errorf("subprotocol %q without an offer", c.Subprotocol())
	}
	echoRoundTrip(t, c, pipeline.Text, "no client settings")
	closeAndCheck(t, c)
}

func TestDialTLS(t *testing.T) {
	h, wait := echoHandler(&handshake.Server{})
	ts := httptest.NewTLSServer(h)
	defer wait()
	defer ts.Close()
	pool := x509.NewCertPool()
	pool.AddCert(ts.Certificate())
	hc := &handshake.Client{TLSConfig: &tls.Config{RootCAs: pool}}
	c, _, err := pipeline.Dial(context.Background(), "wss"+strings.TrimPrefix(ts.URL, "https"), hc, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := c.UnderlyingConn().(*tls.Conn); !ok {
		t.Errorf("UnderlyingConn is %T, want *tls.Conn", c.UnderlyingConn())
	}
	echoRoundTrip(t, c, pipeline.Text, "secret")
	closeAndCheck(t, c)
}

func TestDialRefused(t *testing.T) {
	ts := httptest.NewServer(http.NotFoundHandler())
	defer ts.Close()
	c, resp, err := pipeline.Dial(context.Background(), ts.URL+"/nothing", nil, nil)
	var he *handshake.HandshakeError
	if c != nil || !errors.As(err, &he) || !errors.Is(err, handshake.ErrBadStatus) {
		t.Fatalf("conn %v, err %v; want a HandshakeError", c, err)
	}
	if he.StatusCode != 404 || resp == nil || resp.StatusCode != 404 || !strings.Contains(string(he.Body), "404 page not found") {
		t.Errorf("status %d, resp %v, body %q", he.StatusCode, resp, he.Body)
	}
}

func TestDialPipelinedFrame(t *testing.T) {
	// A server that sends a text frame in the same write as its 101.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	done := make(chan struct{})
	go func() {
		defer close(done)
		nc, err := ln.Accept()
		if err != nil {
			return
		}
		defer nc.Close()
		r, err := http.ReadRequest(bufio.NewReader(nc))
		if err != nil {
			return
		}
		io.WriteString(nc, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
			"Sec-WebSocket-Accept: "+handshake.AcceptKey(r.Header.Get("Sec-WebSocket-Key"))+"\r\n\r\n"+
			"\x81\x05early")
		nc.SetReadDeadline(time.Now().Add(5 * time.Second))
		io.Copy(io.Discard, nc)
	}()
	c, _, err := pipeline.Dial(context.Background(), "ws://"+ln.Addr().String()+"/", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { c.UnderlyingConn().Close(); <-done }()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	typ, msg, err := c.ReadMessage(ctx, nil)
	if err != nil || typ != pipeline.Text || string(msg) != "early" {
		t.Fatalf("read %v %q %v, want the pipelined text frame", typ, msg, err)
	}
}

func ExampleDial() {
	// An in-process echo server.
	echo, wait := echoHandler(&handshake.Server{})
	ts := httptest.NewServer(echo)
	defer wait()
	defer ts.Close()
	url := "ws" + strings.TrimPrefix(ts.URL, "http") // ws://127.0.0.1:port

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, _, err := pipeline.Dial(ctx, url, &handshake.Client{Header: http.Header{"Origin": {ts.URL}}}, nil)
	if err != nil {
		log.Fatal(err) // a refusal is a *handshake.HandshakeError with the status
	}
	defer c.Close(pipeline.CloseNormal, "")
	if err := c.WriteMessage(ctx, pipeline.Text, []byte("hello, echo")); err != nil {
		log.Fatal(err)
	}
	_, msg, err := c.ReadMessage(ctx, nil)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%s\n", msg)
	// Output: hello, echo
}
