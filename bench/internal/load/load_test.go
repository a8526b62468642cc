package load

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/wspipe/wspipe/bench/internal/servers"
)

// start serves lib in this process and returns its target; CPU figures
// then count the client too, which these tests do not look at.
func start(t *testing.T, lib string) Target {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv, err := servers.Start(lib, ln, io.Discard)
	if err != nil {
		ln.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Stop(ctx)
	})
	return Target{Addr: ln.Addr().String(), TCP: lib == "tcp", PID: os.Getpid()}
}

// TestThroughputExact drives a few servers briefly, pipelined, with
// payload sizes in each of the three frame-length encodings, and checks
// that every reply came back exact (Throughput fails on any difference).
func TestThroughputExact(t *testing.T) {
	for _, lib := range []string{"wspipe", "gobwas", "nbio", "tcp"} {
		t.Run(lib, func(t *testing.T) {
			target := start(t, lib)
			for _, size := range []int{100, 3000, 70000} {
				res, err := Throughput(context.Background(), target, Scenario{
					Conns: 3, Size: size, InFlight: 4,
					Warmup: 50 * time.Millisecond, Duration: 250 * time.Millisecond,
				})
				if err != nil {
					t.Fatalf("%d bytes: %v", size, err)
				}
				if res.Messages == 0 || res.Verified < res.Messages {
					t.Fatalf("%d bytes: %d messages measured, %d verified", size, res.Messages, res.Verified)
				}
			}
		})
	}
}

// TestIdleAndHandshakes runs the other two kinds of measurement small.
func TestIdleAndHandshakes(t *testing.T) {
	for _, lib := range []string{"gorilla", "tcp"} {
		t.Run(lib, func(t *testing.T) {
			target := start(t, lib)
			if _, err := Idle(context.Background(), target, 50, 8, ""); err != nil {
				t.Fatal(err)
			}
			res, err := Handshakes(context.Background(), target, 100, 10, 4)
			if err != nil {
				t.Fatal(err)
			}
			if res.Handshakes != 100 {
				t.Fatalf("%d handshakes", res.Handshakes)
			}
		})
	}
}

// badServer is a gorilla echo server that spoils its replies with bad.
func badServer(t *testing.T, bad func(n int, msg []byte) []byte) Target {
	t.Helper()
	up := websocket.Upgrader{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer c.Close()
		for n := 0; ; n++ {
			typ, msg, err := c.ReadMessage()
			if err != nil {
				return
			}
			if err := c.WriteMessage(typ, bad(n, msg)); err != nil {
				return
			}
		}
	}))
	t.Cleanup(srv.Close)
	return Target{Addr: strings.TrimPrefix(srv.URL, "http://"), PID: os.Getpid()}
}

// TestWrongRepliesFail checks that a flipped byte, a reply from an earlier
// message, a short reply and a text reply each fail the run as a mismatch.
func TestWrongRepliesFail(t *testing.T) {
	var first []byte
	cases := map[string]func(n int, msg []byte) []byte{
		"flipped byte": func(n int, msg []byte) []byte {
			if n == 20 {
				msg[len(msg)/2] ^= 1
			}
			return msg
		},
		"stale reply": func(n int, msg []byte) []byte {
			if first == nil {
				first = append([]byte(nil), msg...)
			}
			if n == 20 {
				return first
			}
			return msg
		},
		"short reply": func(n int, msg []byte) []byte {
			if n == 20 {
				return msg[:len(msg)-1]
			}
			return msg
		},
	}
	for name, bad := range cases {
		t.Run(name, func(t *testing.T) {
			target := badServer(t, bad)
			_, err := Throughput(context.Background(), target, Scenario{
				Conns: 1, Size: 1000, InFlight: 1, Warmup: 10 * time.Millisecond, Duration: 2 * time.Second,
			})
			if !errors.Is(err, ErrMismatch) {
				t.Fatalf("got %v, want a mismatch", err)
			}
		})
	}
}

// TestMisroutedReply checks that a reply sent on the wrong connection is
// caught: the payload carries its connection's number.
func TestMisroutedReply(t *testing.T) {
	p0, p1 := make([]byte, 64), make([]byte, 64)
	fill(p0, 0, 5)
	fill(p1, 1, 5)
	if err := compare(p1, p0); !errors.Is(err, ErrMismatch) {
		t.Fatalf("payloads of two connections compare equal: %v", err)
	}
	fill(p1, 0, 6)
	if err := compare(p1, p0); !errors.Is(err, ErrMismatch) {
		t.Fatalf("payloads of two messages compare equal: %v", err)
	}
}

func TestHistQuantiles(t *testing.T) {
	var h hist
	for i := 1; i <= 1000; i++ {
		h.add(time.Duration(i) * time.Microsecond)
	}
	for _, c := range []struct {
		q    float64
		want time.Duration
	}{{0.5, 500 * time.Microsecond}, {0.99, 990 * time.Microsecond}} {
		got := h.quantile(c.q)
		if d := float64(got-c.want) / float64(c.want); d < -0.04 || d > 0.04 {
			t.Errorf("quantile(%v) = %v, want %v within 4%%", c.q, got, c.want)
		}
	}
	for _, v := range []uint64{0, 1, 63, 64, 65, 1000, 1 << 20, 1<<40 + 12345} {
		b := bucketValue(bucket(v))
		if d := float64(b) - float64(v); d < -0.04*float64(v)-1 || d > 0.04*float64(v)+1 {
			t.Errorf("bucket value of %d is %d", v, b)
		}
	}
}

func TestMask(t *testing.T) {
	key := [4]byte{1, 2, 3, 4}
	for n := range 40 {
		p := make([]byte, n)
		for i := range p {
			p[i] = byte(i * 7)
		}
		q := append([]byte(nil), p...)
		maskInPlace(q, key)
		for i := range q {
			if q[i] != p[i]^key[i%4] {
				t.Fatalf("n=%d: byte %d masked wrong", n, i)
			}
		}
	}
}
