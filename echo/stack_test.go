package echo

import (
	"bufio"
	"crypto/sha1"
	"net"
	"net/http"
	"testing"

	"github.com/wspipe/wspipe/internal/stackcheck"
)

// A handshake through ServeConn, up to the connection's start, fits in the
// 2 KiB stack a goroutine starts with: growing it would copy the stack
// once per handshake (about 3 % of a handshake's CPU).
func TestServeConnFitsStartingStack(t *testing.T) {
	stackcheck.SkipUnlessChecked(t)
	if stackcheck.OnFresh(func() { sha1.Sum([]byte("key")) }) {
		t.Skip("this CPU's SHA-1 block function alone needs a bigger stack")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	h := &Handler{}
	// The first handshakes fill pools and grow the timer heap, on longer
	// paths. After them, an allocation now and then takes the runtime's
	// slow path, deeper than the stack has room for: here, with client and
	// server in one small heap, the Conn's allocation takes a new span
	// every sixth connection or so (in the real server about one handshake
	// in thirty grows). So some may grow, not most: before the upgrade was
	// made to fit, every one did.
	const warm, n = 8, 48
	grew := 0
	for i := range warm + n {
		errc := make(chan error, 1)
		go func() { errc <- handshakeAndClose(ln.Addr().String()) }()
		conn, err := ln.Accept()
		if err != nil {
			t.Fatal(err)
		}
		moved := stackcheck.OnFresh(func() { h.ServeConn(conn, "/", nil) })
		if err := <-errc; err != nil {
			t.Fatal(err)
		}
		if moved && i >= warm {
			grew++
		}
	}
	t.Logf("%d of %d handshakes grew the goroutine's stack", grew, n)
	if grew > n/2 {
		t.Fatalf("%d of %d handshakes grew the goroutine's stack", grew, n)
	}
}

// handshakeAndClose upgrades a connection to addr and closes it again.
func handshakeAndClose(addr string) error {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		return err
	}
	defer c.Close()
	req := "GET / HTTP/1.1\r\nHost: " + addr + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
	if _, err := c.Write([]byte(req)); err != nil {
		return err
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		return &net.OpError{Op: "handshake", Err: http.ErrNotSupported}
	}
	// A masked close frame, code 1000, with a zero key.
	_, err = c.Write([]byte{0x88, 0x82, 0, 0, 0, 0, 0x03, 0xe8})
	return err
}
