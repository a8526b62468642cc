package main

import (
	"bufio"
	"crypto/rand"
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// rawClient is a minimal WebSocket client for tests: it does the opening
// handshake by hand and reads and writes single, unfragmented frames, so
// that the tests check the server's bytes rather than another library's
// view of them.
type rawClient struct {
	conn net.Conn
	br   *bufio.Reader
}

// frame is one frame as read from the server.
type frame struct {
	fin     bool
	opcode  byte
	payload []byte
}

const (
	opContinuation = 0x0
	opText         = 0x1
	opBinary       = 0x2
	opClose        = 0x8
)

// dialRaw connects to wsURL and sends an opening handshake with the extra
// header lines given as "Name: value". It returns the server's response; the
// client is nil unless the server answered 101 with the right
// Sec-WebSocket-Accept.
func dialRaw(t *testing.T, wsURL string, extra ...string) (*rawClient, *http.Response) {
	t.Helper()
	u, err := url.Parse(wsURL)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := net.DialTimeout("tcp", u.Host, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	conn.SetDeadline(time.Now().Add(10 * time.Second))

	var nonce [16]byte
	rand.Read(nonce[:])
	key := base64.StdEncoding.EncodeToString(nonce[:])
	var req strings.Builder
	fmt.Fprintf(&req, "GET %s HTTP/1.1\r\nHost: %s\r\n", u.RequestURI(), u.Host)
	fmt.Fprintf(&req, "Upgrade: websocket\r\nConnection: Upgrade\r\n")
	fmt.Fprintf(&req, "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n", key)
	for _, h := range extra {
		fmt.Fprintf(&req, "%s\r\n", h)
	}
	req.WriteString("\r\n")
	if _, err := io.WriteString(conn, req.String()); err != nil {
		t.Fatal(err)
	}

	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("reading handshake response: %v", err)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		return nil, resp
	}
	sum := sha1.Sum([]byte(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
	if got, want := resp.Header.Get("Sec-WebSocket-Accept"), base64.StdEncoding.EncodeToString(sum[:]); got != want {
		t.Fatalf("Sec-WebSocket-Accept = %q, want %q", got, want)
	}
	conn.SetDeadline(time.Time{})
	return &rawClient{conn: conn, br: br}, resp
}

// writeFrame sends one masked frame with FIN set.
func (c *rawClient) writeFrame(opcode byte, payload []byte) error {
	hdr := []byte{0x80 | opcode}
	switch n := len(payload); {
	case n <= 125:
		hdr = append(hdr, 0x80|byte(n))
	case n <= 0xFFFF:
		hdr = append(hdr, 0x80|126)
		hdr = binary.BigEndian.AppendUint16(hdr, uint16(n))
	default:
		hdr = append(hdr, 0x80|127)
		hdr = binary.BigEndian.AppendUint64(hdr, uint64(n))
	}
	var mask [4]byte
	rand.Read(mask[:])
	hdr = append(hdr, mask[:]...)
	masked := make([]byte, len(payload))
	for i, b := range payload {
		masked[i] = b ^ mask[i%4]
	}
	c.conn.SetWriteDeadline(time.Now().Add(10 * time.Second))
	_, err := c.conn.Write(append(hdr, masked...))
	return err
}

// readFrame reads one frame from the server, waiting at most d.
func (c *rawClient) readFrame(d time.Duration) (frame, error) {
	c.conn.SetReadDeadline(time.Now().Add(d))
	var f frame
	var h [2]byte
	if _, err := io.ReadFull(c.br, h[:]); err != nil {
		return f, err
	}
	f.fin = h[0]&0x80 != 0
	f.opcode = h[0] & 0x0F
	if h[1]&0x80 != 0 {
		return f, errors.New("server sent a masked frame")
	}
	n := uint64(h[1] & 0x7F)
	switch n {
	case 126:
		var b [2]byte
		if _, err := io.ReadFull(c.br, b[:]); err != nil {
			return f, err
		}
		n = uint64(binary.BigEndian.Uint16(b[:]))
	case 127:
		var b [8]byte
		if _, err := io.ReadFull(c.br, b[:]); err != nil {
			return f, err
		}
		n = binary.BigEndian.Uint64(b[:])
	}
	if n > 1<<20 {
		return f, fmt.Errorf("frame of %d bytes is larger than this test client reads", n)
	}
	f.payload = make([]byte, n)
	_, err := io.ReadFull(c.br, f.payload)
	return f, err
}

// readMessage reads frames until a whole data message has arrived and
// returns it as one frame, joining continuation frames. Pings and pongs are
// skipped; a close frame is an error.
func (c *rawClient) readMessage(t *testing.T) frame {
	t.Helper()
	var msg frame
	started := false
	for {
		f, err := c.readFrame(10 * time.Second)
		if err != nil {
			t.Fatalf("reading a message: %v", err)
		}
		switch f.opcode {
		case opText, opBinary:
			if started {
				t.Fatalf("new data frame (opcode %d) inside a fragmented message", f.opcode)
			}
			started = true
			msg.opcode = f.opcode
		case opContinuation:
			if !started {
				t.Fatalf("continuation frame without a message to continue")
			}
		case opClose:
			code, reason := closePayload(f.payload)
			t.Fatalf("server closed the connection: %d %q", code, reason)
		default:
			continue
		}
		msg.payload = append(msg.payload, f.payload...)
		if f.fin {
			msg.fin = true
			return msg
		}
	}
}

// readClose reads frames until a close frame arrives, within d, and returns
// its status code and reason.
func (c *rawClient) readClose(t *testing.T, d time.Duration) (int, string) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		f, err := c.readFrame(time.Until(deadline))
		if err != nil {
			t.Fatalf("waiting for a close frame: %v", err)
		}
		if f.opcode == opClose {
			return closePayload(f.payload)
		}
	}
}

// closePayload decodes a close frame's body; 1005 stands for "no status".
func closePayload(p []byte) (int, string) {
	if len(p) < 2 {
		return 1005, ""
	}
	return int(binary.BigEndian.Uint16(p)), string(p[2:])
}

// closeBody encodes a close frame's body.
func closeBody(code int, reason string) []byte {
	return append(binary.BigEndian.AppendUint16(nil, uint16(code)), reason...)
}
