package pipeline

import (
	"bytes"
	"errors"
	"io"
	"net"
	"os"
	"syscall"
	"testing"
	"time"
	"unsafe"
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

func rawSide(t *testing.T, c *net.TCPConn) *tcpWaiter {
	t.Helper()
	w, ok := newRawWaiter(c).(*tcpWaiter)
	if !ok {
		t.Fatal("no raw waiter for a TCP connection")
	}
	return w
}

// Many buffers, empty ones among them and more than one writev takes,
// through a socket buffer far smaller than the data: partial writes and
// waits for room, with every byte arriving in order.
func TestSockWriterBuffers(t *testing.T) {
	a, b := tcpPair(t)
	a.SetWriteBuffer(8 << 10)
	w := rawSide(t, a).writer().(*sockWriter)
	var bufs [][]byte
	var want []byte
	for i := range 3 * maxIovecs {
		p := bytes.Repeat([]byte{byte(i)}, (i%7)*5000)
		bufs = append(bufs, p)
		want = append(want, p...)
	}
	got := make(chan []byte, 1)
	go func() {
		all, _ := io.ReadAll(b)
		got <- all
	}()
	n, err := w.WriteBuffers(bufs)
	if err != nil || n != int64(len(want)) {
		t.Fatalf("WriteBuffers: %d, %v; want %d", n, err, len(want))
	}
	if _, err := w.Write([]byte("end")); err != nil {
		t.Fatal(err)
	}
	a.CloseWrite()
	if all := <-got; !bytes.Equal(all, append(want, "end"...)) {
		t.Fatalf("peer got %d bytes, want %d (or different bytes)", len(all), len(want)+3)
	}
}

// A peer that never reads: the write waits for room until the deadline,
// then fails as a net.Conn write would.
func TestSockWriterDeadline(t *testing.T) {
	a, _ := tcpPair(t)
	w := rawSide(t, a).writer()
	a.SetWriteDeadline(time.Now().Add(100 * time.Millisecond))
	_, err := w.Write(make([]byte, 64<<20))
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("write past the deadline: %v", err)
	}
}

// A closed connection, and a peer that reset it.
func TestSockWriterErrors(t *testing.T) {
	a, b := tcpPair(t)
	w := rawSide(t, a).writer()
	b.SetLinger(0)
	b.Close() // RST
	var err error
	for range 100 {
		if _, err = w.Write(make([]byte, 1<<10)); err != nil {
			break
		}
		time.Sleep(time.Millisecond)
	}
	if !errors.Is(err, syscall.EPIPE) && !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("write to a reset connection: %v", err)
	}
	a.Close()
	if _, err := w.Write([]byte("x")); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("write after Close: %v", err)
	}
}

func TestSockReader(t *testing.T) {
	a, b := tcpPair(t)
	r := rawSide(t, a)
	p := make([]byte, 100)
	a.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
	if _, err := r.read(p, false); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("read past the deadline: %v", err)
	}
	a.SetReadDeadline(time.Time{})
	b.Write([]byte("hello"))
	if n, err := r.read(p, false); err != nil || string(p[:n]) != "hello" {
		t.Fatalf("read: %q, %v", p[:n], err)
	}
	b.Close()
	if n, err := r.read(p, false); n != 0 || err != io.EOF {
		t.Fatalf("read at the end: %d, %v", n, err)
	}
	a.Close()
	if _, err := r.read(p, false); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("read after Close: %v", err)
	}
}

// Every connection holds a tcpWaiter, idle or not: keep it in the 48-byte
// size class (the reader and writer of callers' slices are made on first
// use, behind one pointer).
func TestTCPWaiterSize(t *testing.T) {
	if unsafe.Sizeof(uintptr(0)) != 8 {
		t.Skip("sizes are for 64-bit platforms")
	}
	if n := unsafe.Sizeof(tcpWaiter{}); n > 48 {
		t.Fatalf("tcpWaiter is %d bytes, past the 48-byte size class", n)
	}
}
