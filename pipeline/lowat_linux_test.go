package pipeline

import (
	"bytes"
	"context"
	"io"
	"net"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/wspipe/wspipe/internal/sockio"
	"github.com/wspipe/wspipe/layers"
)

// tcpPair returns both ends of a loopback TCP connection.
func tcpPair(t *testing.T) (a, b *net.TCPConn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	got := make(chan net.Conn, 1)
	go func() {
		c, _ := ln.Accept()
		got <- c
	}()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	s := <-got
	if s == nil {
		t.Fatal("accept failed")
	}
	t.Cleanup(func() { c.Close(); s.Close() })
	return c.(*net.TCPConn), s.(*net.TCPConn)
}

// sockLowat reads c's SO_RCVLOWAT.
func sockLowat(t *testing.T, c syscall.Conn) int {
	t.Helper()
	rc, err := c.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var v int
	var serr error
	rc.Control(func(fd uintptr) { v, serr = syscall.GetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVLOWAT) })
	if serr != nil {
		t.Fatal(serr)
	}
	return v
}

// waitLowat polls c's SO_RCVLOWAT until it is want.
func waitLowat(t *testing.T, c syscall.Conn, want int, what string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		got := sockLowat(t, c)
		if got == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: SO_RCVLOWAT is %d, want %d", what, got, want)
		}
		time.Sleep(time.Millisecond)
	}
}

// lowatConn returns a server Conn on one end of a loopback TCP connection
// and the raw socket of the other end, or skips the test where
// SO_RCVLOWAT is not used.
func lowatConn(t *testing.T, opts *Options) (client, server *net.TCPConn, c *Conn) {
	t.Helper()
	if !sockio.LowatOK() {
		t.Skip("the kernel's SO_RCVLOWAT is not used here")
	}
	client, server = tcpPair(t)
	c = NewConn(server, nil, layers.RoleServer, opts)
	t.Cleanup(func() { server.Close(); c.Wait() })
	return client, server, c
}

// A whole read of a large frame waits for the rest of it with one mark,
// never for more than the frame holds, and the mark is gone before the
// connection waits for the next message.
func TestReadFullLowat(t *testing.T) {
	client, server, c := lowatConn(t, &Options{})

	const size, first = 1 << 20, 100 << 10
	payload := make([]byte, size)
	for i := range payload {
		payload[i] = byte(i * 7)
	}
	type result struct {
		n   int
		err error
	}
	buf := make([]byte, 2*size)
	done := make(chan result, 1)
	go func() {
		_, r, err := c.NextReader(context.Background())
		if err != nil {
			done <- result{0, err}
			return
		}
		n, err := Fill(r, buf)
		done <- result{n, err}
	}()

	// Header and the first part: once the reader has taken what is there,
	// it waits for the rest of the frame, not for all of buf.
	wire := maskedFrame(true, layers.OpBinary, payload)
	hdr := len(wire) - size
	client.Write(wire[:hdr+first])
	waitLowat(t, server, size-first, "waiting inside the frame")

	// Less than the mark: the reader normally sleeps on. Linux may still
	// wake it early (memory pressure, a receive buffer that cannot hold
	// the mark); then it reads what came and waits with a smaller mark.
	// Either way the mark never asks for more than the frame still holds,
	// nor for less than what has not been sent.
	client.Write(wire[hdr+first : hdr+first+200<<10])
	time.Sleep(50 * time.Millisecond) // time for an early wakeup, if any
	if got := sockLowat(t, server); got > size-first || got < size-first-200<<10 {
		t.Fatalf("after part of the rest: SO_RCVLOWAT %d, want between %d and %d", got, size-first-200<<10, size-first)
	}
	select {
	case r := <-done:
		t.Fatalf("Fill returned before the frame was complete: %d, %v", r.n, r.err)
	default:
	}

	client.Write(wire[hdr+first+200<<10:])
	select {
	case r := <-done:
		if r.n != size || r.err != io.EOF {
			t.Fatalf("Fill: %d, %v; want %d, io.EOF", r.n, r.err, size)
		}
		if !bytes.Equal(buf[:size], payload) {
			t.Fatal("Fill: payload differs")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Fill did not return once the frame was complete")
	}

	// Waiting for the next message, the mark is one byte again: a small
	// message is delivered.
	got := make(chan string, 1)
	go func() {
		_, r, err := c.NextReader(context.Background())
		if err != nil {
			got <- err.Error()
			return
		}
		b, _ := io.ReadAll(r)
		got <- string(b)
	}()
	waitLowat(t, server, 1, "between messages")
	client.Write(maskedFrame(true, layers.OpText, []byte("small")))
	select {
	case s := <-got:
		if s != "small" {
			t.Fatalf("next message: %q", s)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("a small message after a large one was not delivered")
	}
}

// The mark covers no more than the current frame of a fragmented message,
// however much the caller's buffer could take.
func TestReadFullLowatFrame(t *testing.T) {
	client, server, c := lowatConn(t, &Options{})

	const frame, first = 200 << 10, 50 << 10
	payload := bytes.Repeat([]byte("wspipe!"), 2*frame/7+1)[:2*frame]
	buf := make([]byte, 1<<20)
	done := make(chan int, 1)
	go func() {
		_, r, err := c.NextReader(context.Background())
		if err != nil {
			done <- -1
			return
		}
		n, err := Fill(r, buf)
		if err != io.EOF {
			n = -1
		}
		done <- n
	}()
	f1 := maskedFrame(false, layers.OpBinary, payload[:frame])
	f2 := maskedFrame(true, layers.OpContinuation, payload[frame:])
	hdr := len(f1) - frame
	client.Write(f1[:hdr+first])
	waitLowat(t, server, frame-first, "inside the first frame")
	client.Write(f1[hdr+first:])
	// Between frames the reader waits for a header: any byte will do.
	waitLowat(t, server, 1, "between the frames")
	client.Write(f2)
	select {
	case n := <-done:
		if n != 2*frame || !bytes.Equal(buf[:n], payload) {
			t.Fatalf("Fill: %d bytes, want %d and the same payload", n, 2*frame)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Fill did not return")
	}
}

// A plain Read waits for any byte, as io.Reader's convention asks: no mark.
func TestReadNoLowat(t *testing.T) {
	client, server, c := lowatConn(t, &Options{})
	const size, first = 1 << 20, 100 << 10
	payload := make([]byte, size)
	var got atomic.Int64 // bytes read so far
	go func() {
		_, r, err := c.NextReader(context.Background())
		if err != nil {
			return
		}
		buf := make([]byte, size)
		for {
			n, err := r.Read(buf)
			got.Add(int64(n))
			if err != nil {
				return
			}
		}
	}()
	wire := maskedFrame(true, layers.OpBinary, payload)
	hdr := len(wire) - size
	client.Write(wire[:hdr+first])
	// Reads return what has come: first all that was sent, in pieces.
	deadline := time.Now().Add(5 * time.Second)
	for got.Load() < first {
		if time.Now().After(deadline) {
			t.Fatalf("Read returned %d of the %d bytes sent", got.Load(), first)
		}
		time.Sleep(time.Millisecond)
	}
	if v := sockLowat(t, server); v > 1 {
		t.Fatalf("plain Read set SO_RCVLOWAT %d", v)
	}
	client.Write(wire[hdr+first:])
}

// A whole read waiting with a mark still ends when the peer goes away
// mid-frame (its FIN wakes the reader whatever the mark) and when the
// connection is closed under it.
func TestReadFullLowatEnds(t *testing.T) {
	for _, how := range []string{"peer FIN", "peer reset", "local close"} {
		t.Run(how, func(t *testing.T) {
			client, server, c := lowatConn(t, &Options{CloseTimeout: 100 * time.Millisecond})
			const size, first = 1 << 20, 64 << 10
			done := make(chan error, 1)
			go func() {
				_, r, err := c.NextReader(context.Background())
				if err == nil {
					_, err = Fill(r, make([]byte, size))
				}
				done <- err
			}()
			wire := maskedFrame(true, layers.OpBinary, make([]byte, size))
			client.Write(wire[:len(wire)-size+first])
			waitLowat(t, server, size-first, "waiting inside the frame")
			switch how {
			case "peer FIN":
				client.CloseWrite()
			case "peer reset":
				client.SetLinger(0)
				client.Close()
			case "local close":
				c.Close(CloseGoingAway, "")
			}
			select {
			case err := <-done:
				if err == nil || err == io.EOF {
					t.Fatalf("Fill of a frame cut short: %v, want an error", err)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("Fill still waiting")
			}
		})
	}
}
