package interop

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
)

// frameInfo is one frame header seen on the wire.
type frameInfo struct {
	Fin    bool
	Rsv    byte // the RSV1, RSV2, RSV3 bits as 4, 2, 1
	Opcode byte
	Length int64
}

// Rsv1 reports the RSV1 bit, which permessage-deflate sets on the first
// frame of a compressed message.
func (f frameInfo) Rsv1() bool { return f.Rsv&4 != 0 }

func (f frameInfo) String() string {
	names := map[byte]string{0: "cont", 1: "text", 2: "binary", 8: "close", 9: "ping", 10: "pong"}
	name, ok := names[f.Opcode]
	if !ok {
		name = fmt.Sprintf("op%d", f.Opcode)
	}
	fin := ""
	if f.Fin {
		fin = "+fin"
	}
	for i, bit := range []string{"+rsv1", "+rsv2", "+rsv3"} {
		if f.Rsv&(4>>i) != 0 {
			fin += bit
		}
	}
	return fmt.Sprintf("%s%s(%d)", name, fin, f.Length)
}

// frameTap parses the frame headers of one direction of a WebSocket
// connection as bytes go by: first the HTTP head up to the blank line,
// which it keeps (up to maxHead bytes), then frames, whose payloads it
// skips without keeping them.
type frameTap struct {
	mu     sync.Mutex
	inHead bool
	head   []byte // the HTTP head, "\r\n\r\n" included
	tail   []byte // the last bytes of the HTTP head, to find "\r\n\r\n"
	hdr    []byte // an incomplete frame header
	skip   int64  // payload bytes still to skip
	frames []frameInfo
}

func newFrameTap() *frameTap { return &frameTap{inHead: true} }

func (t *frameTap) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	n := len(p)
	if t.inHead {
		buf := append(t.tail, p...)
		i := bytes.Index(buf, []byte("\r\n\r\n"))
		if i < 0 {
			t.keepHead(p)
			t.tail = append([]byte(nil), buf[max(0, len(buf)-3):]...)
			return n, nil
		}
		t.keepHead(p[:i+4-len(t.tail)])
		t.inHead = false
		p = buf[i+4:]
	}
	for len(p) > 0 {
		if t.skip > 0 {
			k := min(int64(len(p)), t.skip)
			t.skip -= k
			p = p[k:]
			continue
		}
		t.hdr = append(t.hdr, p[0])
		p = p[1:]
		if f, ok := parseFrameHeader(t.hdr); ok {
			t.frames = append(t.frames, f)
			t.hdr = t.hdr[:0]
			t.skip = f.Length
		}
	}
	return n, nil
}

// maxHead bounds the HTTP head a frameTap keeps.
const maxHead = 16 << 10

func (t *frameTap) keepHead(p []byte) {
	t.head = append(t.head, p[:min(len(p), maxHead-len(t.head))]...)
}

// headerValues returns the values of the header field name in the HTTP
// head, each line's value trimmed, in order.
func (t *frameTap) headerValues(name string) []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	var vals []string
	for _, line := range strings.Split(string(t.head), "\r\n")[1:] {
		k, v, ok := strings.Cut(line, ":")
		if ok && strings.EqualFold(strings.TrimSpace(k), name) {
			vals = append(vals, strings.TrimSpace(v))
		}
	}
	return vals
}

// parseFrameHeader parses a complete frame header, reporting false while b
// is still too short.
func parseFrameHeader(b []byte) (frameInfo, bool) {
	if len(b) < 2 {
		return frameInfo{}, false
	}
	f := frameInfo{Fin: b[0]&0x80 != 0, Rsv: b[0] >> 4 & 7, Opcode: b[0] & 0x0f}
	size := 2
	n := int64(b[1] & 0x7f)
	switch n {
	case 126:
		size += 2
	case 127:
		size += 8
	}
	if b[1]&0x80 != 0 {
		size += 4
	}
	if len(b) < size {
		return frameInfo{}, false
	}
	switch n {
	case 126:
		n = int64(binary.BigEndian.Uint16(b[2:]))
	case 127:
		n = int64(binary.BigEndian.Uint64(b[2:]))
	}
	f.Length = n
	return f, true
}

func (t *frameTap) snapshot() []frameInfo {
	t.mu.Lock()
	defer t.mu.Unlock()
	return append([]frameInfo(nil), t.frames...)
}

// relay is a loopback TCP relay for one WebSocket connection, between the
// side that connects (the client) and target (the server), recording the
// frame headers each side sends. It lets a test see how a message was
// fragmented on the wire while both ends use their real sockets.
type relay struct {
	ln         net.Listener
	target     string
	fromClient *frameTap
	fromServer *frameTap
	done       chan struct{}

	mu     sync.Mutex
	conns  []net.Conn
	closed bool
}

// newRelay starts a relay to target; its address is r.addr().
func newRelay(t *testing.T, target string) *relay {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := &relay{ln: ln, target: target, fromClient: newFrameTap(), fromServer: newFrameTap(), done: make(chan struct{})}
	go r.serve()
	t.Cleanup(func() {
		// By now the connection through it has ended, or the test failed.
		ln.Close()
		r.mu.Lock()
		r.closed = true
		for _, c := range r.conns {
			c.Close()
		}
		r.mu.Unlock()
		<-r.done
	})
	return r
}

func (r *relay) addr() string { return r.ln.Addr().String() }

func (r *relay) serve() {
	defer close(r.done)
	client, err := r.ln.Accept()
	r.ln.Close() // one connection only
	if err != nil {
		return
	}
	defer client.Close()
	r.track(client)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	server, err := (&net.Dialer{}).DialContext(ctx, "tcp", r.target)
	cancel()
	if err != nil {
		return
	}
	defer server.Close()
	r.track(server)
	var wg sync.WaitGroup
	pipe := func(dst, src net.Conn, tap *frameTap) {
		defer wg.Done()
		// The tap sees bytes before they are passed on, so its record is
		// complete by the time the other end has them.
		io.Copy(io.MultiWriter(tap, dst), src)
		// Pass the end on: a FIN as a FIN, so closing handshakes that
		// half-close still work through the relay.
		dst.(*net.TCPConn).CloseWrite()
	}
	wg.Add(2)
	go pipe(server, client, r.fromClient)
	go pipe(client, server, r.fromServer)
	wg.Wait() // both ends closed, or the test's cleanup closed them
}

func (r *relay) track(c net.Conn) {
	r.mu.Lock()
	r.conns = append(r.conns, c)
	if r.closed {
		c.Close()
	}
	r.mu.Unlock()
}

// dataMessages groups data frames into messages, dropping control frames.
func dataMessages(frames []frameInfo) [][]frameInfo {
	var msgs [][]frameInfo
	var cur []frameInfo
	for _, f := range frames {
		if f.Opcode >= 8 {
			continue
		}
		cur = append(cur, f)
		if f.Fin {
			msgs = append(msgs, cur)
			cur = nil
		}
	}
	if cur != nil {
		msgs = append(msgs, cur)
	}
	return msgs
}

func framesString(frames []frameInfo) string {
	s := make([]string, len(frames))
	for i, f := range frames {
		s[i] = f.String()
	}
	return strings.Join(s, " ")
}
