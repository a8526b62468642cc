package pipeline

import (
	"io"
	"net"
	"testing"
	"unsafe"

	"github.com/wspipe/wspipe/internal/stackcheck"
	"github.com/wspipe/wspipe/layers"
)

// A short connection's whole life on its reader goroutine (the fast path
// reads the peer's close, our close is written from the reader, the
// connection is torn down) fits in the 2 KiB stack a goroutine starts
// with, as the handshake does (echo's TestServeConnFitsStartingStack):
// growing it would copy the stack once per connection. See the stack
// budget in docs/architecture.md.
func TestReaderFitsStartingStack(t *testing.T) {
	stackcheck.SkipUnlessChecked(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	opts := &Options{OnMessage: func(c *Conn, typ MessageType, r io.Reader) error { return nil }}
	// As in the handshake's test, the runtime's allocation slow paths (a
	// new span, a bigger timer heap) now and then go deeper than the budget;
	// a path that does not fit grows the stack every time.
	const warm, n = 8, 48
	grew := 0
	for i := range warm + n {
		errc := make(chan error, 1)
		go func() { errc <- closeRightAway(ln.Addr().String()) }()
		nc, err := ln.Accept()
		if err != nil {
			t.Fatal(err)
		}
		c := prepareConn(nc, nil, layers.RoleServer, opts, nil)
		moved := make(chan bool, 1)
		c.g.Go(func() error {
			var mark byte
			before := uintptr(unsafe.Pointer(&mark))
			err := c.readLoop()
			moved <- uintptr(unsafe.Pointer(&mark)) != before
			return err
		})
		c.Wait()
		if err := <-errc; err != nil {
			t.Fatal(err)
		}
		if CloseStatus(c.Err()) != CloseNormal {
			t.Fatalf("connection ended with %v, not the peer's close", c.Err())
		}
		if <-moved && i >= warm {
			grew++
		}
	}
	t.Logf("%d of %d reader goroutines grew their stack", grew, n)
	if grew > n/2 {
		t.Fatalf("%d of %d reader goroutines grew their stack", grew, n)
	}
}

// closeRightAway connects to addr as a WebSocket client past its handshake,
// sends a close frame and waits for the server's.
func closeRightAway(addr string) error {
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		return err
	}
	defer nc.Close()
	// A masked close frame, code 1000, with a zero key.
	if _, err := nc.Write([]byte{0x88, 0x82, 0, 0, 0, 0, 0x03, 0xe8}); err != nil {
		return err
	}
	_, err = io.ReadAll(nc)
	return err
}
