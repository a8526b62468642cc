package handshake

import (
	"bytes"
	"errors"
	"io"
	"net"
	"slices"
	"testing"
	"time"
)

// memConn serves one request from memory and discards what is written.
type memConn struct {
	net.Conn // nil: only the methods below are used
	req      []byte
	off      int
}

func (m *memConn) Read(p []byte) (int, error) {
	if m.off == len(m.req) {
		return 0, io.EOF
	}
	n := copy(p, m.req[m.off:])
	m.off += n
	return n, nil
}
func (m *memConn) Write(p []byte) (int, error)        { return len(p), nil }
func (m *memConn) SetDeadline(t time.Time) error      { return nil }
func (m *memConn) RemoteAddr() net.Addr               { return nil }
func (m *memConn) SetReadDeadline(t time.Time) error  { return nil }
func (m *memConn) SetWriteDeadline(t time.Time) error { return nil }

var benchRequest = []byte("GET /chat HTTP/1.1\r\nHost: server.example.com\r\nUpgrade: websocket\r\n" +
	"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n" +
	"Origin: http://server.example.com\r\nSec-WebSocket-Protocol: chat, superchat\r\n" +
	"Sec-WebSocket-Version: 13\r\nUser-Agent: test\r\n\r\n")

func TestUpgradeRawAllocs(t *testing.T) {
	s := &Server{Subprotocols: []string{"chat"}}
	c := &memConn{req: benchRequest}
	for range 10 {
		c.off = 0
		s.UpgradeRaw(c, nil)
	}
	allocs := testing.AllocsPerRun(100, func() {
		c.off = 0
		if _, err := s.UpgradeRaw(c, nil); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Fatalf("UpgradeRaw allocates %v times per handshake, want 0", allocs)
	}
}

func BenchmarkUpgrade(b *testing.B) {
	s := &Server{Subprotocols: []string{"chat"}}
	b.Run("UpgradeRaw", func(b *testing.B) {
		c := &memConn{req: benchRequest}
		b.ReportAllocs()
		for b.Loop() {
			c.off = 0
			if _, err := s.UpgradeRaw(c, nil); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("UpgradeConn", func(b *testing.B) {
		c := &memConn{req: benchRequest}
		b.ReportAllocs()
		for b.Loop() {
			c.off = 0
			if _, err := s.UpgradeConn(c); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// FuzzUpgradeRaw checks UpgradeRaw against UpgradeConn, which parses with
// net/http: UpgradeRaw must not accept what UpgradeConn refuses, and when
// both accept they must agree on the subprotocol and the pipelined bytes.
// Neither may panic.
func FuzzUpgradeRaw(f *testing.F) {
	f.Add(benchRequest)
	f.Add([]byte("GET / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: AAAAAAAAAAAAAAAAAAAAAA==\r\n\r\n\x81\x80abcd"))
	f.Add([]byte("POST / HTTP/1.1\r\nHost: a\r\n\r\n"))
	f.Add([]byte("GET / HTTP/1.0\r\nHost: a\r\nUpgrade: websocket\r\n\r\n"))
	f.Add([]byte("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: AAAAAAAAAAAAAAAAAAAAAA==\r\n\r\n"))
	f.Add([]byte("GET / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: AAAAAAAAAAAAAAAAAAAAAA==\r\nOrigin: http://b\r\n\r\n"))
	s := &Server{Subprotocols: []string{"chat", "superchat"}, OriginPatterns: []string{"*.example.com"}}
	f.Fuzz(func(t *testing.T, req []byte) {
		rawConn, conn := &memConn{req: req}, &memConn{req: req}
		raw, rawErr := s.UpgradeRaw(rawConn, nil)
		res, connErr := s.UpgradeConn(conn)
		if rawErr != nil {
			var re *RequestError
			if !errors.As(rawErr, &re) {
				t.Fatalf("UpgradeRaw error %v is not a *RequestError", rawErr)
			}
			return
		}
		// UpgradeRaw may be stricter than net/http on malformed input,
		// never laxer; on well-formed requests the table tests hold both
		// to the same verdicts and statuses.
		if connErr != nil {
			t.Fatalf("UpgradeRaw accepted what UpgradeConn refused: %v", connErr)
		}
		if raw.Subprotocol != res.Subprotocol {
			t.Fatalf("subprotocol: raw %q, conn %q", raw.Subprotocol, res.Subprotocol)
		}
		// Each may read a different amount past the request head; what
		// follows the head, buffered then unread, must be the same.
		rest := func(b []byte, c *memConn) []byte { return slices.Concat(b, c.req[c.off:]) }
		rawRest, connRest := rest(raw.Buffered, rawConn), rest(res.Buffered, conn)
		if !bytes.Equal(rawRest, connRest) {
			t.Fatalf("after the head: raw %q, conn %q", rawRest, connRest)
		}
	})
}
