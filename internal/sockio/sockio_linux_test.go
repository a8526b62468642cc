package sockio

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"syscall"
	"testing"
	"time"
)

// Many buffers, empty ones among them and more than one writev takes,
// through a socket buffer far smaller than the data: partial writes and
// waits for room, with every byte arriving in order.
func TestSockWriterBuffers(t *testing.T) {
	a, b := tcpPair(t)
	a.SetWriteBuffer(8 << 10)
	w := rawSide(t, a).Writer().(*rawWriter)
	var bufs [][]byte
	var want []byte
	for i := range 3 * MaxIovecs {
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
	w := rawSide(t, a).Writer()
	a.SetWriteDeadline(time.Now().Add(100 * time.Millisecond))
	_, err := w.Write(make([]byte, 64<<20))
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("write past the deadline: %v", err)
	}
}

// A closed connection, and a peer that reset it.
func TestSockWriterErrors(t *testing.T) {
	a, b := tcpPair(t)
	w := rawSide(t, a).Writer()
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

func TestKernelAtLeast(t *testing.T) {
	var u syscall.Utsname
	if err := syscall.Uname(&u); err != nil {
		t.Fatal(err)
	}
	var rel []byte
	for _, c := range u.Release {
		if c == 0 {
			break
		}
		rel = append(rel, byte(c))
	}
	var major, minor int
	if _, err := fmt.Sscanf(string(rel), "%d.%d", &major, &minor); err != nil {
		t.Fatalf("release %q: %v", rel, err)
	}
	for _, tc := range []struct {
		major, minor int
		want         bool
	}{
		{major, minor, true},
		{major, minor + 1, false},
		{major + 1, 0, false},
		{major - 1, minor + 100, true},
		{major, 0, true},
	} {
		if got := kernelAtLeast(tc.major, tc.minor); got != tc.want {
			t.Errorf("release %s: kernelAtLeast(%d, %d) = %v, want %v", rel, tc.major, tc.minor, got, tc.want)
		}
	}
}
