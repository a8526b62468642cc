//go:build unix

package sockio

import (
	"errors"
	"io"
	"net"
	"os"
	"sync"
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

// rawSide returns a Socket on c, which must read it in RawConn callbacks.
func rawSide(t *testing.T, c *net.TCPConn) *Socket {
	t.Helper()
	s := new(Socket)
	s.Init(c, &sync.Pool{New: func() any { b := make([]byte, 4096); return &b }}, nil)
	if !s.Raw() {
		t.Fatal("no raw socket for a TCP connection")
	}
	return s
}

func TestSockReader(t *testing.T) {
	a, b := tcpPair(t)
	r := rawSide(t, a)
	p := make([]byte, 100)
	a.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
	if _, err := r.ReadDirect(p, false); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("read past the deadline: %v", err)
	}
	a.SetReadDeadline(time.Time{})
	b.Write([]byte("hello"))
	if n, err := r.ReadDirect(p, false); err != nil || string(p[:n]) != "hello" {
		t.Fatalf("read: %q, %v", p[:n], err)
	}
	b.Close()
	if n, err := r.ReadDirect(p, false); n != 0 || err != io.EOF {
		t.Fatalf("read at the end: %d, %v", n, err)
	}
	a.Close()
	if _, err := r.ReadDirect(p, false); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("read after Close: %v", err)
	}
}

// Every connection on a socket holds a rawSock, idle or not: keep it in
// the 48-byte size class (the reader and writer of callers' slices are
// made on first use, behind one pointer).
func TestRawSockSize(t *testing.T) {
	if unsafe.Sizeof(uintptr(0)) != 8 {
		t.Skip("sizes are for 64-bit platforms")
	}
	if n := unsafe.Sizeof(rawSock{}); n > 48 {
		t.Fatalf("rawSock is %d bytes, past the 48-byte size class", n)
	}
}
