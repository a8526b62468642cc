package pipeline

import (
	"bufio"
	"crypto/rand"
	"encoding/base64"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/wspipe/wspipe/handshake"
	"github.com/wspipe/wspipe/layers"
)

// dialRaw performs a minimal client handshake to addr over TCP and returns
// a client Conn. It is test scaffolding, independent of any Dial API.
func dialRaw(t testing.TB, addr string, opts *Options) *Conn {
	t.Helper()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	var k [16]byte
	rand.Read(k[:])
	key := base64.StdEncoding.EncodeToString(k[:])
	req := "GET / HTTP/1.1\r\nHost: " + addr + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: " + key + "\r\nSec-WebSocket-Version: 13\r\n\r\n"
	if _, err := nc.Write([]byte(req)); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(nc)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 101 || resp.Header.Get("Sec-WebSocket-Accept") != handshake.AcceptKey(key) {
		t.Fatalf("handshake: %s %v", resp.Status, resp.Header)
	}
	var buffered []byte
	if n := br.Buffered(); n > 0 {
		buffered, _ = br.Peek(n)
		buffered = append([]byte(nil), buffered...)
	}
	return NewConn(nc, buffered, layers.RoleClient, opts)
}

// rawClient does a client handshake by hand and returns the socket, for
// tests that need to send arbitrary bytes or not read at all.
func rawClient(t testing.TB, addr string) (net.Conn, *bufio.Reader) {
	t.Helper()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	req := "GET / HTTP/1.1\r\nHost: " + addr + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
	if _, err := nc.Write([]byte(req)); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(nc)
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != 101 {
		t.Fatalf("handshake: %v %v", resp, err)
	}
	return nc, br
}

// maskedFrame encodes a client frame.
func maskedFrame(fin bool, op layers.Opcode, payload []byte) []byte {
	h := layers.Header{Fin: fin, Opcode: op, Masked: true, Mask: [4]byte{1, 2, 3, 4}, Length: int64(len(payload))}
	b := layers.AppendHeader(nil, h)
	start := len(b)
	b = append(b, payload...)
	layers.Mask(h.Mask, 0, b[start:])
	return b
}

// rawClientExt is rawClient offering extensions; it checks they were accepted.
func rawClientExt(t testing.TB, addr, ext string) (net.Conn, *bufio.Reader) {
	t.Helper()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	req := "GET / HTTP/1.1\r\nHost: " + addr + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n" +
		"Sec-WebSocket-Extensions: " + ext + "\r\n\r\n"
	if _, err := nc.Write([]byte(req)); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(nc)
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != 101 || resp.Header.Get("Sec-WebSocket-Extensions") == "" {
		t.Fatalf("handshake: %v %v", resp, err)
	}
	return nc, br
}

// rawConn sends and receives single frames by hand.
type rawConn struct {
	nc net.Conn
	br *bufio.Reader
}

func (r *rawConn) send(t testing.TB, h layers.Header, payload []byte) {
	t.Helper()
	h.Masked, h.Mask, h.Length = true, [4]byte{9, 8, 7, 6}, int64(len(payload))
	b := layers.AppendHeader(nil, h)
	start := len(b)
	b = append(b, payload...)
	layers.Mask(h.Mask, 0, b[start:])
	if _, err := r.nc.Write(b); err != nil {
		t.Fatal(err)
	}
}

func (r *rawConn) recv(t testing.TB) (layers.Header, []byte) {
	t.Helper()
	r.nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	fr := layers.NewFrameReader(r.br, layers.RoleClient)
	fr.MessageRSV = layers.RSV1
	h, err := fr.Next()
	if err != nil {
		t.Fatal(err)
	}
	p, err := io.ReadAll(fr)
	if err != nil {
		t.Fatal(err)
	}
	return h, p
}
