package pipeline

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/wspipe/wspipe/layers"
)

func TestScanFrames(t *testing.T) {
	small := maskedFrame(true, layers.OpText, []byte("hello"))
	ping := maskedFrame(true, layers.OpPing, []byte("p"))
	first := maskedFrame(false, layers.OpText, []byte("he"))
	last := maskedFrame(true, layers.OpContinuation, []byte("llo"))
	big := maskedFrame(true, layers.OpBinary, make([]byte, 70000))
	cat := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	cases := []struct {
		name string
		b    []byte
		n    int
		data bool
		need int
	}{
		{"empty", nil, 0, false, 2},
		{"one byte", small[:1], 0, false, 2},
		{"header only", small[:6], 0, false, len(small)},
		{"whole", small, len(small), true, 0},
		{"whole and more", cat(small, small[:3]), len(small), true, 0},
		{"ping then part", cat(ping, small[:4]), len(ping), false, 0},
		{"ping then whole", cat(ping, small), len(ping) + len(small), true, 0},
		{"fragments", cat(first, ping, last), len(first) + len(ping) + len(last), true, 0},
		{"fragments cut", cat(ping, first, ping), len(ping), false, 0},
		{"64-bit length cut", big[:20], 0, false, len(big)},
		{"huge length", []byte{0x82, 0xff, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 1, 2, 3, 4}, 0, false, 14 + 1<<30},
	}
	for _, tc := range cases {
		n, data, need := scanFrames(tc.b)
		if n != tc.n || data != tc.data || (n == 0 && need != tc.need) {
			t.Errorf("%s: got %d %v %d, want %d %v %d", tc.name, n, data, need, tc.n, tc.data, tc.need)
		}
	}
}

// pushEcho is a push-mode echo server's options.
func pushEcho() *Options {
	return &Options{
		ReadBufferSize: 1024, // small, so that messages also take the ordinary path
		OnMessage: func(c *Conn, typ MessageType, r io.Reader) error {
			w, err := c.NextWriter(context.Background(), typ)
			if err != nil {
				return err
			}
			if _, err := io.Copy(w, r); err != nil {
				return err
			}
			return w.Close()
		},
	}
}

// The fast path serves bursts of frames however the stream is cut: every
// message is echoed whole and in order, and pings are answered in order up
// to the last one. Pongs may be fewer than pings: with many queued, they
// coalesce into one for the latest ping (RFC 6455 section 5.5.3 allows it,
// and it bounds what a ping flood can queue).
func TestFastPathStreams(t *testing.T) {
	addr, _ := echoServer(t, pushEcho())
	rng := rand.New(rand.NewPCG(1, 2))
	for round := range 20 {
		nc, br := rawClient(t, addr)
		var wire []byte
		var want []string
		pings := 0
		for i := range 40 {
			msg := fmt.Sprintf("r%d m%d ", round, i) + string(bytes.Repeat([]byte{'a' + byte(i%26)}, rng.IntN(3000)))
			switch rng.IntN(4) {
			case 0:
				pings++
				wire = append(wire, maskedFrame(true, layers.OpPing, []byte(strconv.Itoa(pings)))...)
				fallthrough
			case 1:
				wire = append(wire, maskedFrame(true, layers.OpText, []byte(msg))...)
			case 2: // fragmented, a ping inside
				k := len(msg) / 2
				pings++
				wire = append(wire, maskedFrame(false, layers.OpText, []byte(msg[:k]))...)
				wire = append(wire, maskedFrame(true, layers.OpPing, []byte(strconv.Itoa(pings)))...)
				wire = append(wire, maskedFrame(true, layers.OpContinuation, []byte(msg[k:]))...)
			case 3:
				wire = append(wire, maskedFrame(true, layers.OpBinary, []byte(msg))...)
			}
			want = append(want, msg)
		}
		go func(rng *rand.Rand) {
			// Cut the stream at random points, with short pauses.
			for b := wire; len(b) > 0; {
				k := min(len(b), 1+rng.IntN(5000))
				if _, err := nc.Write(b[:k]); err != nil {
					return
				}
				b = b[k:]
				if rng.IntN(4) == 0 {
					time.Sleep(time.Millisecond)
				}
			}
		}(rand.New(rand.NewPCG(uint64(round), 3)))
		nc.SetReadDeadline(time.Now().Add(10 * time.Second))
		fr := layers.NewFrameReader(br, layers.RoleClient)
		got, pongs, lastPong := 0, 0, 0
		var msg []byte
		for got < len(want) || lastPong < pings {
			h, err := fr.Next()
			if err != nil {
				t.Fatalf("round %d: after %d messages and %d pongs: %v", round, got, pongs, err)
			}
			p, _ := io.ReadAll(fr)
			switch {
			case h.Opcode == layers.OpPong:
				n, err := strconv.Atoi(string(p))
				if err != nil || n <= lastPong || n > pings {
					t.Fatalf("round %d: pong %q after pong %d, of %d pings", round, p, lastPong, pings)
				}
				pongs, lastPong = pongs+1, n
				continue
			case h.Opcode.IsControl():
				t.Fatalf("round %d: unexpected %v frame", round, h.Opcode)
			}
			msg = append(msg, p...)
			if !h.Fin {
				continue
			}
			if string(msg) != want[got] {
				t.Fatalf("round %d: echo %d is %.20q..., want %.20q...", round, got, msg, want[got])
			}
			msg, got = msg[:0], got+1
		}
		nc.Close()
	}
}

// Bad input met in the fast path fails the connection with its code.
func TestFastPathBadInput(t *testing.T) {
	cases := []struct {
		name  string
		bytes []byte
		code  layers.CloseCode
	}{
		{"reserved opcode", maskedFrame(true, 3, nil), 1002},
		{"bad utf8", maskedFrame(true, layers.OpText, []byte{0xce, 0xba, 0xff}), 1007},
		{"bad close code", maskedFrame(true, layers.OpClose, []byte{0x03, 0xe8 + 4}), 1002},
		{"continuation first", maskedFrame(true, layers.OpContinuation, []byte("x")), 1002},
		{"long ping", maskedFrame(true, layers.OpPing, make([]byte, 126)), 1002},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			addr, _ := echoServer(t, pushEcho())
			nc, br := rawClient(t, addr)
			// A good message first, in the same write.
			nc.Write(append(maskedFrame(true, layers.OpText, []byte("ok")), tc.bytes...))
			nc.SetReadDeadline(time.Now().Add(5 * time.Second))
			rc := &rawConn{nc, br}
			if h, p := rc.recv(t); h.Opcode != layers.OpText || string(p) != "ok" {
				t.Fatalf("first reply %v %q", h.Opcode, p)
			}
			if code := expectClose(t, nc, br); code != tc.code {
				t.Fatalf("close code %d, want %d", code, tc.code)
			}
		})
	}
}

// A connection waiting in the fast path closes when asked, from outside
// or from its own handler, and its goroutines end.
func TestFastPathClose(t *testing.T) {
	t.Run("idle", func(t *testing.T) {
		addr, conns := echoServer(t, pushEcho())
		nc, br := rawClient(t, addr)
		srv := <-conns
		nc.Write(maskedFrame(true, layers.OpText, []byte("hi")))
		rc := &rawConn{nc, br}
		rc.recv(t)
		time.Sleep(10 * time.Millisecond) // the reader is waiting again
		done := make(chan error, 1)
		go func() { done <- srv.Close(CloseGoingAway, "bye") }()
		if code := expectClose(t, nc, br); code != CloseGoingAway {
			t.Fatalf("close code %d", code)
		}
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		srv.Wait()
	})
	t.Run("handler", func(t *testing.T) {
		opts := &Options{
			CloseTimeout: 200 * time.Millisecond,
			OnMessage: func(c *Conn, typ MessageType, r io.Reader) error {
				return c.Close(4000, "from the handler")
			},
		}
		addr, conns := echoServer(t, opts)
		nc, br := rawClient(t, addr)
		srv := <-conns
		nc.Write(maskedFrame(true, layers.OpText, []byte("close me")))
		nc.SetReadDeadline(time.Now().Add(5 * time.Second))
		fr := layers.NewFrameReader(br, layers.RoleClient)
		h, err := fr.Next()
		if err != nil || h.Opcode != layers.OpClose {
			t.Fatalf("got %v %v, want a close frame", h.Opcode, err)
		}
		p, _ := io.ReadAll(fr)
		if code, _, _ := layers.ParseClose(p); code != 4000 {
			t.Fatalf("close code %d", code)
		}
		// Not answering: the server gives up after CloseTimeout and
		// closes the socket.
		if _, err := io.Copy(io.Discard, br); err != nil && !errors.Is(err, net.ErrClosed) {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				t.Fatal("the server never closed the socket")
			}
		}
		srv.Wait()
	})
}
