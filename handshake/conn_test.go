package handshake

import (
	"bytes"
	"errors"
	"io"
	"net"
	"os"
	"strings"
	"testing"
	"testing/iotest"
	"time"
)

// frameBytes returns n bytes standing in for WebSocket frames.
func frameBytes(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7 + 1)
	}
	return b
}

// readN reads exactly n bytes from c within a few seconds.
func readN(t *testing.T, c net.Conn, n int) []byte {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	defer c.SetReadDeadline(time.Time{})
	b := make([]byte, n)
	if _, err := io.ReadFull(c, b); err != nil {
		t.Fatalf("reading %d bytes: %v", n, err)
	}
	return b
}

// The client writes its request and the first frames in one write; none of
// the frame bytes may be lost or read as part of the request.
func TestUpgradeConnPipelined(t *testing.T) {
	for _, n := range []int{1, 6, 100, 10000} {
		frames := frameBytes(n)
		srv, cli := net.Pipe()
		cli.SetDeadline(time.Now().Add(10 * time.Second))
		go cli.Write(append([]byte(validRequest()), frames...))
		done := make(chan serverResult, 1)
		go func() {
			res, err := (&Server{}).UpgradeConn(srv)
			done <- serverResult{res, err}
		}()
		resp, err := readResponse(cli)
		if err != nil {
			t.Fatal(err)
		}
		sr := <-done
		if sr.err != nil || resp.resp.StatusCode != 101 {
			t.Fatalf("n=%d: %d %v", n, resp.resp.StatusCode, sr.err)
		}
		got := sr.res.Buffered
		if n <= 1000 && !bytes.Equal(got, frames) {
			// net.Pipe delivers the single write in one read, so all of a
			// small tail is read along with the request.
			t.Fatalf("n=%d: Buffered %x, want %x", n, got, frames)
		}
		if len(got) > n {
			t.Fatalf("n=%d: Buffered has %d bytes", n, len(got))
		}
		got = append(got, readN(t, sr.res.Conn, n-len(got))...)
		if !bytes.Equal(got, frames) {
			t.Fatalf("n=%d: Buffered plus the rest of the stream differ from what the client sent", n)
		}
		srv.Close()
		cli.Close()
	}
}

func TestReadRequestBuffered(t *testing.T) {
	req := validRequest()
	tail := []byte("\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58")
	r, buffered, rerr := readRequest(bytes.NewReader(append([]byte(req), tail...)), 8192)
	if rerr != nil {
		t.Fatal(rerr)
	}
	if !bytes.Equal(buffered, tail) {
		t.Fatalf("buffered %x, want %x", buffered, tail)
	}
	if r.Header.Get("Sec-WebSocket-Key") != "dGhlIHNhbXBsZSBub25jZQ==" {
		t.Fatalf("header %v", r.Header)
	}
	// Without a tail, Buffered is nil.
	if _, buffered, rerr := readRequest(strings.NewReader(req), 8192); rerr != nil || buffered != nil {
		t.Fatalf("buffered %q, err %v", buffered, rerr)
	}
}

// The bound is exact: a header block of exactly MaxRequestBytes passes, one
// byte more is refused, and the limit never swallows bytes past the request.
func TestReadRequestLimit(t *testing.T) {
	req := validRequest("X-Pad: " + strings.Repeat("p", 300))
	tail := "TAIL"
	for _, oneByte := range []bool{false, true} {
		src := strings.NewReader(req + tail)
		var r io.Reader = src
		if oneByte {
			r = iotest.OneByteReader(src)
		}
		_, buffered, rerr := readRequest(r, len(req))
		if rerr != nil {
			t.Fatalf("oneByte=%v: request of exactly the limit refused: %v", oneByte, rerr)
		}
		rest, _ := io.ReadAll(src)
		if string(buffered)+string(rest) != tail {
			t.Fatalf("oneByte=%v: buffered %q + unread %q, want %q", oneByte, buffered, rest, tail)
		}

		r = strings.NewReader(req)
		if oneByte {
			r = iotest.OneByteReader(r)
		}
		_, _, rerr = readRequest(r, len(req)-1)
		if rerr == nil || !errors.Is(rerr, ErrRequestTooLarge) || rerr.Status != 431 {
			t.Fatalf("oneByte=%v: one byte over the limit: %v", oneByte, rerr)
		}
	}
}

func TestReadRequestErrors(t *testing.T) {
	cases := []struct {
		name     string
		raw      string
		status   int
		sentinel error
	}{
		{"garbage", "hello\r\n\r\n", 400, ErrMalformedRequest},
		{"bad version", "GET / HTTP/x\r\nHost: a\r\n\r\n", 400, ErrMalformedRequest},
		{"bad header line", "GET / HTTP/1.1\r\nHost a\r\n\r\n", 400, ErrMalformedRequest},
		{"two hosts", "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400, ErrMalformedRequest},
		{"truncated", "GET / HTTP/1.1\r\nHost: a\r\n", 0, ErrMalformedRequest},
		{"empty", "", 0, ErrMalformedRequest},
		{"huge line", "GET /" + strings.Repeat("a", 9000) + " HTTP/1.1\r\n\r\n", 431, ErrRequestTooLarge},
		{"many headers", "GET / HTTP/1.1\r\n" + strings.Repeat("X-A: b\r\n", 2000) + "\r\n", 431, ErrRequestTooLarge},
	}
	for _, c := range cases {
		_, _, rerr := readRequest(strings.NewReader(c.raw), 8192)
		if rerr == nil || rerr.Status != c.status || !errors.Is(rerr, c.sentinel) {
			t.Errorf("%s: got %v, want status %d %v", c.name, rerr, c.status, c.sentinel)
		}
	}
}

// A request over MaxRequestBytes gets a 431 over a real connection, while
// the client is still sending.
func TestUpgradeConnTooLarge(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Skip("no loopback:", err)
	}
	defer ln.Close()
	cli, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	srv, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	go cli.Write([]byte(validRequest("X-Pad: " + strings.Repeat("p", 20000))))
	done := make(chan error, 1)
	go func() {
		_, err := (&Server{}).UpgradeConn(srv)
		done <- err
	}()
	cli.SetDeadline(time.Now().Add(10 * time.Second))
	resp, rerr := readResponse(cli)
	err = <-done
	if !errors.Is(err, ErrRequestTooLarge) {
		t.Fatalf("error %v, want ErrRequestTooLarge", err)
	}
	if rerr != nil {
		t.Fatal(rerr)
	}
	if resp.resp.StatusCode != 431 || requestError(t, err).Status != 431 {
		t.Fatalf("status %d", resp.resp.StatusCode)
	}
}

func TestUpgradeConnSmallLimit(t *testing.T) {
	o := viaConn(t, &Server{MaxRequestBytes: 64}, validRequest())
	if !errors.Is(o.err, ErrRequestTooLarge) || o.status != 431 {
		t.Fatalf("got %d %v", o.status, o.err)
	}
}

// A client that stops half-way gets no response and the caller gets
// ErrTimeout after HandshakeTimeout.
func TestUpgradeConnTimeout(t *testing.T) {
	srv, cli := net.Pipe()
	defer cli.Close()
	go cli.Write([]byte("GET /chat HTTP/1.1\r\nHost: a\r\n"))
	start := time.Now()
	_, err := (&Server{HandshakeTimeout: 50 * time.Millisecond}).UpgradeConn(srv)
	if elapsed := time.Since(start); elapsed > 5*time.Second {
		t.Fatalf("took %v", elapsed)
	}
	if !errors.Is(err, ErrTimeout) || !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("error %v, want ErrTimeout wrapping the deadline error", err)
	}
	if s := requestError(t, err).Status; s != 0 {
		t.Fatalf("status %d, want 0 (no response)", s)
	}
	// Deadlines are cleared and nothing was written: the next read on the
	// server side waits for the client instead of failing at once.
	go func() {
		time.Sleep(20 * time.Millisecond)
		cli.Write([]byte("x"))
	}()
	if b := readN(t, srv, 1); b[0] != 'x' {
		t.Fatalf("read %q", b)
	}
	srv.Close()
	if n, _ := cli.Read(make([]byte, 1)); n != 0 {
		t.Fatal("a response was written after a timeout")
	}
}

// A client that goes away mid-request: no response, ErrMalformedRequest.
func TestUpgradeConnClientGone(t *testing.T) {
	srv, cli := net.Pipe()
	defer srv.Close()
	go func() {
		cli.Write([]byte("GET /chat HTTP/1.1\r\n"))
		cli.Close()
	}()
	_, err := (&Server{}).UpgradeConn(srv)
	if !errors.Is(err, ErrMalformedRequest) || requestError(t, err).Status != 0 {
		t.Fatalf("error %v", err)
	}
}

// After a successful UpgradeConn no deadline is left on the connection.
func TestUpgradeConnClearsDeadlines(t *testing.T) {
	s := &Server{HandshakeTimeout: 30 * time.Millisecond}
	o := viaConn(t, s, validRequest())
	if o.err != nil {
		t.Fatal(o.err)
	}
	time.Sleep(100 * time.Millisecond)
	go o.client.Write([]byte("after"))
	if got := readN(t, o.res.Conn, 5); string(got) != "after" {
		t.Fatalf("read %q", got)
	}
	// readN set and cleared its own deadline; check writes too.
	go io.ReadFull(o.client, make([]byte, 3))
	if _, err := o.res.Conn.Write([]byte("out")); err != nil {
		t.Fatalf("write after the handshake timeout: %v", err)
	}
}

func TestUpgradeConnRequestFields(t *testing.T) {
	o := viaConn(t, &Server{}, buildRequest("GET /path?q=1 HTTP/1.1", baseHeaders...))
	if o.err != nil {
		t.Fatal(o.err)
	}
	r := o.res.Request
	if r.Method != "GET" || r.URL.Path != "/path" || r.URL.RawQuery != "q=1" || r.RemoteAddr == "" {
		t.Fatalf("request %+v", r)
	}
	if n, err := r.Body.Read(make([]byte, 1)); n != 0 || err != io.EOF {
		t.Fatalf("request body read %d, %v", n, err)
	}
}
