package pipeline

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/wspipe/wspipe/handshake"
)

// echoServer starts an httptest server that echoes with pipeline.Conn.
func echoServer(t testing.TB, opts *Options) (addr string, conns chan *Conn) {
	conns = make(chan *Conn, 16)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := Accept(w, r, &handshake.Server{}, opts)
		if err != nil {
			return
		}
		select {
		case conns <- c:
		default: // tests that don't look at server conns don't drain
		}
		ctx := context.Background()
		for {
			typ, rd, err := c.NextReader(ctx)
			if err != nil {
				return
			}
			wr, err := c.NextWriter(ctx, typ)
			if err != nil {
				return
			}
			if _, err := io.Copy(wr, rd); err != nil {
				return
			}
			if wr.Close() != nil {
				return
			}
		}
	}))
	t.Cleanup(srv.Close)
	return srv.Listener.Addr().String(), conns
}

func TestEchoRoundTrip(t *testing.T) {
	addr, _ := echoServer(t, nil)
	c := dialRaw(t, addr, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, size := range []int{0, 1, 125, 126, 65535, 65536, 1 << 20} {
		msg := bytes.Repeat([]byte("a"), size)
		if err := c.WriteMessage(ctx, Text, msg); err != nil {
			t.Fatal(err)
		}
		typ, got, err := c.ReadMessage(ctx, nil)
		if err != nil {
			t.Fatalf("size %d: %v", size, err)
		}
		if typ != Text || !bytes.Equal(got, msg) {
			t.Fatalf("size %d: got %v %d bytes", size, typ, len(got))
		}
	}
	if err := c.Close(CloseNormal, "bye"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.NextReader(ctx); !errors.Is(err, ErrClosed) {
		t.Fatalf("after close: %v", err)
	}
}

func TestPingRoundTrip(t *testing.T) {
	addr, _ := echoServer(t, nil)
	c := dialRaw(t, addr, nil)
	defer c.Close(CloseNormal, "")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	// The server only answers pings while its reader runs, which it does
	// while waiting for a message.
	rtt, err := c.Ping(ctx)
	if err != nil || rtt <= 0 {
		t.Fatalf("ping: %v %v", rtt, err)
	}
}

func TestCancelReadKeepsConn(t *testing.T) {
	addr, _ := echoServer(t, nil)
	c := dialRaw(t, addr, nil)
	defer c.Close(CloseNormal, "")
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	_, _, err := c.NextReader(ctx)
	cancel()
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("got %v", err)
	}
	ctx2, cancel2 := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel2()
	if err := c.WriteMessage(ctx2, Binary, []byte("still here")); err != nil {
		t.Fatal(err)
	}
	_, got, err := c.ReadMessage(ctx2, nil)
	if err != nil || string(got) != "still here" {
		t.Fatalf("%q %v", got, err)
	}
}
