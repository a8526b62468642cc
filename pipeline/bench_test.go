package pipeline

import (
	"bytes"
	"context"
	"io"
	"net"
	"testing"
)

// loopbackPair returns a client Conn connected over 127.0.0.1 to a server
// Conn that serve runs on in its own goroutine. Both are closed when tb ends.
func loopbackPair(tb testing.TB, serve func(*Conn)) *Conn {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		raw, err := ln.Accept()
		ln.Close()
		if err != nil {
			return
		}
		s, err := AcceptConn(raw, nil, nil)
		if err != nil {
			raw.Close()
			return
		}
		defer s.Close(CloseNormal, "")
		serve(s)
	}()
	c := dialRaw(tb, ln.Addr().String(), nil)
	tb.Cleanup(func() {
		c.Close(CloseNormal, "")
		ln.Close()
		<-done
	})
	return c
}

// serveMessages echoes whole messages through one reused buffer.
func serveMessages(s *Conn) {
	ctx := context.Background()
	var buf []byte
	for {
		typ, msg, err := s.ReadMessage(ctx, buf)
		if err != nil {
			return
		}
		buf = msg
		if err := s.WriteMessage(ctx, typ, msg); err != nil {
			return
		}
	}
}

// serveStream echoes each message as it arrives, with NextReader,
// NextWriter and io.Copy.
func serveStream(s *Conn) {
	ctx := context.Background()
	for {
		typ, r, err := s.NextReader(ctx)
		if err != nil {
			return
		}
		w, err := s.NextWriter(ctx, typ)
		if err != nil {
			return
		}
		if _, err := io.Copy(w, r); err != nil {
			return
		}
		if err := w.Close(); err != nil {
			return
		}
	}
}

// roundTripper sends msg and reads the echo back into a reused buffer.
type roundTripper struct {
	c   *Conn
	msg []byte
	buf []byte
}

func newRoundTripper(c *Conn, size int) *roundTripper {
	msg := bytes.Repeat([]byte("wspipe!\n"), size/8+1)[:size]
	return &roundTripper{c: c, msg: msg, buf: make([]byte, 0, size)}
}

func (rt *roundTripper) do(ctx context.Context) error {
	if err := rt.c.WriteMessage(ctx, Binary, rt.msg); err != nil {
		return err
	}
	_, got, err := rt.c.ReadMessage(ctx, rt.buf[:0])
	rt.buf = got
	if err != nil {
		return err
	}
	if len(got) != len(rt.msg) {
		return io.ErrShortBuffer
	}
	return nil
}

var benchSizes = []struct {
	name string
	size int
}{
	{"128B", 128},
	{"1KiB", 1 << 10},
	{"16KiB", 16 << 10},
	{"1MiB", 1 << 20},
}

// warmUp is how many round trips run before timing starts, so pools,
// queues and buffers reach their steady-state sizes.
const warmUp = 16

func benchRoundTrip(b *testing.B, serve func(*Conn), size int) {
	c := loopbackPair(b, serve)
	rt := newRoundTripper(c, size)
	ctx := context.Background()
	for range warmUp {
		if err := rt.do(ctx); err != nil {
			b.Fatal(err)
		}
	}
	if !bytes.Equal(rt.buf, rt.msg) {
		b.Fatal("echo differs from the message sent")
	}
	b.SetBytes(int64(size))
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if err := rt.do(ctx); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
}

// BenchmarkRoundTrip measures one message out and its echo back, whole
// messages on both ends. SetBytes counts the message once per round trip.
func BenchmarkRoundTrip(b *testing.B) {
	for _, s := range benchSizes {
		b.Run(s.name, func(b *testing.B) { benchRoundTrip(b, serveMessages, s.size) })
	}
}

// BenchmarkStreamEcho is BenchmarkRoundTrip with a server that streams
// each message back with NextReader/NextWriter and io.Copy.
func BenchmarkStreamEcho(b *testing.B) {
	for _, s := range benchSizes {
		b.Run(s.name, func(b *testing.B) { benchRoundTrip(b, serveStream, s.size) })
	}
}
