// Package bench compares wspipe with the net/http-based servers of
// internal/servers (gorilla/websocket, coder/websocket, lxzan/gws) in one
// process. The client is gorilla's in every case, so the server is what
// differs. cmd/compare runs the comparison across processes.
package bench

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"io"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/wspipe/wspipe/bench/internal/servers"
)

// startServer serves lib's echo server on 127.0.0.1 and returns its ws:// URL.
func startServer(tb testing.TB, lib string) string {
	tb.Helper()
	h, err := servers.New(lib)
	if err != nil {
		tb.Fatal(err)
	}
	srv := httptest.NewServer(h)
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := h.Shutdown(ctx); err != nil {
			tb.Errorf("%s shutdown: %v", lib, err)
		}
		srv.Close()
	})
	return "ws" + strings.TrimPrefix(srv.URL, "http")
}

// dial connects gorilla's client with its default options.
func dial(tb testing.TB, url string) *websocket.Conn {
	tb.Helper()
	c, _, err := websocket.DefaultDialer.Dial(url, nil)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		c.WriteControl(websocket.CloseMessage,
			websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(time.Second))
		c.Close()
	})
	return c
}

var errLong = errors.New("echo longer than its buffer")

// echo sends msg as one message and reads the reply into buf; a reply
// that fills buf fails with errLong, so buf should be one byte longer than
// the longest reply expected. It returns the reply's type and bytes.
func echo(c *websocket.Conn, typ int, msg, buf []byte) (int, []byte, error) {
	if err := c.WriteMessage(typ, msg); err != nil {
		return 0, nil, err
	}
	rtyp, r, err := c.NextReader()
	if err != nil {
		return 0, nil, err
	}
	n := 0
	for n < len(buf) {
		k, err := r.Read(buf[n:])
		n += k
		if err == io.EOF {
			return rtyp, buf[:n], nil
		}
		if err != nil {
			return rtyp, buf[:n], err
		}
	}
	return rtyp, buf[:n], errLong
}

var sizes = []struct {
	name string
	n    int
}{
	{"1KiB", 1 << 10},
	{"64KiB", 64 << 10},
}

// BenchmarkEcho measures one message to the server and its echo back over
// 127.0.0.1. SetBytes counts the message once per round trip; allocs/op
// counts the whole process, so it includes the gorilla client's 2 allocations
// per round trip (its NextWriter and NextReader each allocate).
func BenchmarkEcho(b *testing.B) {
	for _, lib := range servers.Libs {
		b.Run(lib, func(b *testing.B) {
			for _, s := range sizes {
				b.Run(s.name, func(b *testing.B) {
					c := dial(b, startServer(b, lib))
					msg := bytes.Repeat([]byte("echo me\n"), s.n/8)
					buf := make([]byte, s.n+1)
					for range 16 { // warm up pools and buffers
						if _, got, err := echo(c, websocket.BinaryMessage, msg, buf); err != nil || !bytes.Equal(got, msg) {
							b.Fatalf("warm-up: %d bytes back, %v", len(got), err)
						}
					}
					b.SetBytes(int64(s.n))
					b.ReportAllocs()
					b.ResetTimer()
					for range b.N {
						if _, _, err := echo(c, websocket.BinaryMessage, msg, buf); err != nil {
							b.Fatal(err)
						}
					}
				})
			}
		})
	}
}

// TestEchoExact runs both servers briefly and checks every message comes
// back with its type and exact bytes.
func TestEchoExact(t *testing.T) {
	for _, lib := range servers.Libs {
		t.Run(lib, func(t *testing.T) {
			c := dial(t, startServer(t, lib))
			c.SetReadDeadline(time.Now().Add(10 * time.Second))
			buf := make([]byte, 1<<20+1) // room to detect a reply too long
			for _, n := range []int{0, 1, 125, 126, 1 << 10, 65535, 65536, 64 << 10, 1 << 20} {
				bin := make([]byte, n)
				rand.Read(bin)
				// Text of up to n bytes mixing 1- to 4-byte code points.
				text := bytes.Repeat([]byte("é€𝄞a"), n/10)
				for _, m := range []struct {
					typ int
					p   []byte
				}{{websocket.BinaryMessage, bin}, {websocket.TextMessage, text}} {
					typ, got, err := echo(c, m.typ, m.p, buf)
					if err != nil {
						t.Fatalf("%d-byte type %d message: %v", len(m.p), m.typ, err)
					}
					if typ != m.typ || !bytes.Equal(got, m.p) {
						t.Fatalf("%d-byte type %d message: got %d bytes of type %d", len(m.p), m.typ, len(got), typ)
					}
				}
			}
		})
	}
}
