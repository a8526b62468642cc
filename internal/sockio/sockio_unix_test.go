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

// lockHost is a Host that only locks, for the idle kick's tests.
type lockHost struct {
	sync.Mutex
	after time.Duration
}

func (*lockHost) Consume() bool              { return false }
func (*lockHost) Wake()                      {}
func (h *lockHost) IdleAfter() time.Duration { return h.after }

// queued counts the wheel's pending kicks for s.
func (k *idleWheel) queued(s *Socket) int {
	k.mu.Lock()
	defer k.mu.Unlock()
	n := 0
	for _, e := range k.q[k.head:] {
		if e.s == s {
			n++
		}
	}
	return n
}

// A socket the idle poller kicks (it wants the reader's place) stays in
// the wheel once: arming it again does not queue it twice.
func TestIdleKickQueuedOnce(t *testing.T) {
	s := &Socket{raw: &rawSock{host: &lockHost{after: time.Hour}}}
	s.raw.armIdle(s)
	s.kickIdle() // as the idle poller's kick
	s.raw.armIdle(s)
	if n := kicks.queued(s); n != 1 {
		t.Fatalf("queued %d times, want once", n)
	}
}

// Sockets armed all the time keep the wheel's queue from ever emptying;
// the kicked ones still leave it, so it does not grow with every arm.
func TestIdleWheelSteadyArming(t *testing.T) {
	var k idleWheel
	h := &lockHost{}
	const arms = 400
	for range arms {
		k.add(&Socket{raw: &rawSock{host: h}}, 10*time.Millisecond)
		time.Sleep(500 * time.Microsecond)
	}
	k.mu.Lock()
	n, live := len(k.q), len(k.q)-k.head
	k.mu.Unlock()
	t.Logf("queue %d long, %d pending, after %d arms", n, live, arms)
	if n > arms/2 {
		t.Fatalf("queue %d long with %d pending after %d arms: kicked entries kept", n, live, arms)
	}
}

// A socket armed with a shorter delay than those queued before it (tests
// change the delay) is kicked on its own time, not behind them.
func TestIdleWheelShorterDelayFirst(t *testing.T) {
	var k idleWheel
	h := &lockHost{}
	long, short := &Socket{raw: &rawSock{host: h}}, &Socket{raw: &rawSock{host: h}}
	k.add(long, time.Hour)
	k.add(short, time.Millisecond)
	defer func() {
		k.mu.Lock()
		k.t.Stop()
		k.mu.Unlock()
	}()
	for deadline := time.Now().Add(10 * time.Second); k.queued(short) != 0; {
		if time.Now().After(deadline) {
			t.Fatal("the short delay waits behind the long one")
		}
		time.Sleep(time.Millisecond)
	}
	if k.queued(long) != 1 {
		t.Fatal("the long delay left the queue early")
	}
}
