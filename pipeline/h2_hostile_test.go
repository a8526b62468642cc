package pipeline

import (
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"runtime"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/http2"

	"github.com/wspipe/wspipe/handshake"
)

// rawH2 is a hand-driven WebSocket over an HTTP/2 stream: the client's
// frames are written raw, nothing is checked, so it can misbehave.
type rawH2 struct {
	cc     *http2.ClientConn
	pw     *io.PipeWriter
	resp   *http.Response
	cancel context.CancelFunc
}

// h2cConn opens an h2c connection to s's plain listener, its preface and
// settings exchanged, and returns it with the host it dialled.
func h2cConn(t *testing.T, s *h2Server) (*http2.ClientConn, string) {
	t.Helper()
	u, _ := url.Parse(s.plain.URL)
	nc, err := net.Dial("tcp", u.Host)
	if err != nil {
		t.Fatal(err)
	}
	cc, err := (&http2.Transport{}).NewClientConn(nc)
	if err != nil {
		t.Fatal(err)
	}
	if err := cc.Ping(context.Background()); err != nil {
		t.Fatal(err)
	}
	return cc, u.Host
}

// dialRawH2 opens an h2c connection to s and an extended CONNECT on it.
func dialRawH2(t *testing.T, s *h2Server) *rawH2 {
	t.Helper()
	cc, host := h2cConn(t, s)
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	req := (&http.Request{
		Method: http.MethodConnect,
		URL:    &url.URL{Scheme: "http", Host: host, Path: "/"},
		Host:   host,
		Header: http.Header{":protocol": {"websocket"}, "Sec-WebSocket-Version": {"13"}},
		Body:   pr, ContentLength: -1,
	}).WithContext(ctx)
	resp, err := cc.RoundTrip(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("extended CONNECT: %v %v", resp, err)
	}
	return &rawH2{cc: cc, pw: pw, resp: resp, cancel: cancel}
}

// closeAll ends r's stream and connection and s's listeners, and waits for
// the goroutine count to come back to before.
func (r *rawH2) closeAll(t *testing.T, s *h2Server, before int) {
	t.Helper()
	r.pw.Close()
	r.cancel()
	r.cc.Close()
	s.tls.Close()
	s.plain.Close()
	checkGoroutines(t, before)
}

// frameHead is a masked client frame header with a zero mask key.
func frameHead(fin bool, op byte, n uint64) []byte {
	b := []byte{op, 0x80}
	if fin {
		b[0] |= 0x80
	}
	switch {
	case n < 126:
		b[1] |= byte(n)
	case n < 1<<16:
		b[1] |= 126
		b = binary.BigEndian.AppendUint16(b, uint16(n))
	default:
		b[1] |= 127
		b = binary.BigEndian.AppendUint64(b, n)
	}
	return append(b, 0, 0, 0, 0)
}

// A stream reset in the middle of a frame ends the server's Conn as an
// abnormal closure (1006), and nothing is left running.
func TestHTTP2StreamResetMidFrame(t *testing.T) {
	before := runtime.NumGoroutine()
	ended := make(chan error, 1)
	s := newH2Server(t, streamEchoHandler(ended))
	r := dialRawH2(t, s)
	r.pw.Write(frameHead(true, 2, 1000))
	r.pw.Write(make([]byte, 10))
	// RST_STREAM: the transport resets the stream when its request body
	// fails (cancelling the context alone is not seen while it waits for
	// body bytes).
	r.pw.CloseWithError(errors.New("reset by the test"))
	r.resp.Body.Close()
	r.cancel()
	select {
	case err := <-ended:
		var ce *CloseError
		if !errors.As(err, &ce) || ce.Code != CloseAbnormal {
			t.Fatalf("the server's Conn ended with %v, want 1006", err)
		}
		t.Logf("server: %v", err)
	case <-time.After(30 * time.Second):
		buf := make([]byte, 1<<20)
		buf = buf[:runtime.Stack(buf, true)]
		t.Fatalf("the server's Conn did not end after the stream was reset\n%s", buf)
	}
	r.closeAll(t, s, before)
}

// A lost HTTP/2 connection (the TCP connection closed under it) is an
// abnormal closure for every WebSocket it carried.
func TestHTTP2ConnectionLost(t *testing.T) {
	ended := make(chan error, 2)
	s := newH2Server(t, streamEchoHandler(ended))
	r := dialRawH2(t, s)
	r.pw.Write(frameHead(true, 1, 2))
	r.pw.Write([]byte("hi"))
	r.cc.Close()
	select {
	case err := <-ended:
		if CloseStatus(err) != CloseAbnormal {
			t.Fatalf("ended with %v, want 1006", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the server's Conn did not end after its connection was lost")
	}
}

// A frame that declares an enormous length fails the connection at its
// header, 1009 (too big) with a limit or 1002 past 2^63, without reading
// or allocating its payload.
func TestHTTP2HugeDeclaredLength(t *testing.T) {
	for _, tc := range []struct {
		n    uint64
		want CloseCode
	}{{1 << 40, CloseMessageTooBig}, {1 << 63, CloseProtocolError}} {
		before := runtime.NumGoroutine()
		ended := make(chan error, 1)
		s := newH2Server(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			c, err := Accept(w, r, nil, nil) // default limits
			if err != nil {
				return
			}
			_, _, err = c.ReadMessage(context.Background(), nil)
			c.Wait()
			ended <- err
		}))
		r := dialRawH2(t, s)
		var ms0 runtime.MemStats
		runtime.ReadMemStats(&ms0)
		r.pw.Write(frameHead(true, 2, tc.n))
		// The server answers with a close frame, then ends the stream.
		reply, _ := io.ReadAll(io.LimitReader(r.resp.Body, 1<<20))
		select {
		case err := <-ended:
			if got := CloseStatus(err); got != tc.want {
				t.Fatalf("length %d: ended with %v, want %v", tc.n, err, tc.want)
			}
		case <-time.After(30 * time.Second):
			t.Fatal("no end")
		}
		if len(reply) < 4 || reply[0] != 0x88 || CloseCode(binary.BigEndian.Uint16(reply[2:])) != tc.want {
			t.Fatalf("length %d: the server sent %x, want a close frame with %v", tc.n, reply, tc.want)
		}
		var ms1 runtime.MemStats
		runtime.ReadMemStats(&ms1)
		if ms1.TotalAlloc-ms0.TotalAlloc > 16<<20 {
			t.Errorf("%d MiB allocated for a frame that declared %d bytes", (ms1.TotalAlloc-ms0.TotalAlloc)>>20, tc.n)
		}
		r.closeAll(t, s, before)
	}
}

// A client that never reads: the server's writes stop on flow control,
// the server's heartbeat finds no pong (the client never reads its pings
// either) and fails the connection; everything is released.
func TestHTTP2ClientNeverReads(t *testing.T) {
	before := runtime.NumGoroutine()
	ended := make(chan error, 1)
	s := newH2Server(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := Accept(w, r, nil, &Options{PingInterval: 200 * time.Millisecond})
		if err != nil {
			return
		}
		msg := []byte(strings.Repeat("x", 32<<10))
		for c.WriteMessage(context.Background(), Binary, msg) == nil {
		}
		ended <- c.Wait()
	}))
	r := dialRawH2(t, s)
	select {
	case err := <-ended:
		var ce *CloseError
		if !errors.As(err, &ce) || ce.Remote {
			t.Fatalf("ended with %v, want our own failure", err)
		}
		t.Logf("server: %v", err)
	case <-time.After(60 * time.Second):
		t.Fatal("the server never gave up on a client that does not read")
	}
	r.closeAll(t, s, before)
}

// Refusals over HTTP/2 have the same statuses and reasons as over
// HTTP/1.1, and Accept's error matches the same sentinels.
func TestHTTP2Refusals(t *testing.T) {
	errs := make(chan error, 1)
	s := newH2Server(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, err := Accept(w, r, &handshake.Server{}, nil)
		errs <- err
	}))
	cc, host := h2cConn(t, s)
	defer cc.Close()
	for _, tc := range []struct {
		name   string
		header http.Header
		status int
		want   error
	}{
		{"version", http.Header{"Sec-WebSocket-Version": {"8"}}, 426, handshake.ErrBadVersion},
		{"no version", http.Header{}, 426, handshake.ErrBadVersion},
		{"origin", http.Header{"Sec-WebSocket-Version": {"13"}, "Origin": {"https://evil.example"}}, 403, handshake.ErrForbiddenOrigin},
		{"extensions", http.Header{"Sec-WebSocket-Version": {"13"}, "Sec-WebSocket-Extensions": {"permessage-deflate; x=\\"}}, 400, handshake.ErrBadExtensions},
	} {
		tc.header.Set(":protocol", "websocket")
		resp, err := cc.RoundTrip(&http.Request{
			Method: http.MethodConnect,
			URL:    &url.URL{Scheme: "http", Host: host, Path: "/"},
			Host:   host,
			Header: tc.header,
			Body:   http.NoBody,
		})
		if err != nil {
			t.Fatal(tc.name, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tc.status {
			t.Errorf("%s: status %d (%q), want %d", tc.name, resp.StatusCode, body, tc.status)
		}
		if err := <-errs; !errors.Is(err, tc.want) {
			t.Errorf("%s: Accept returned %v, want %v", tc.name, err, tc.want)
		}
		if tc.status == 426 && resp.Header.Get("Sec-WebSocket-Version") != "13" {
			t.Errorf("%s: no Sec-WebSocket-Version: 13 in the refusal", tc.name)
		}
		if resp.Header.Get("Connection") != "" || resp.Header.Get("Upgrade") != "" {
			t.Errorf("%s: connection-level headers in an HTTP/2 answer: %v", tc.name, resp.Header)
		}
	}
}

// A handler that returns without waiting for its HTTP/2 Conn (against
// Accept's rule) ends the stream; the Conn then ends as an abnormal
// closure instead of writing to a ResponseWriter that is gone (net/http
// panics there). The misuse races inside net/http, so not under -race.
func TestHTTP2HandlerReturnsEarly(t *testing.T) {
	if raceEnabled {
		t.Skip("the misuse this test makes is a data race in net/http")
	}
	ended := make(chan error, 1)
	s := newH2Server(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, err := Accept(w, r, nil, &Options{
			OnMessage: func(c *Conn, typ MessageType, r io.Reader) error {
				msg, _ := io.ReadAll(r)
				c.WriteMessage(context.Background(), typ, msg)
				return nil
			},
			OnClose: func(c *Conn, err error) { ended <- err },
		})
		if err != nil {
			t.Error(err)
		}
		// Returns at once, as it may over HTTP/1.1 in push mode.
	}))
	hc := &handshake.Client{HTTP2: handshake.HTTP2Require}
	defer hc.CloseIdleConnections()
	ctx := context.Background()
	c, _, err := Dial(ctx, s.ws("/"), hc, nil)
	if err != nil {
		t.Fatal(err)
	}
	c.WriteMessage(ctx, Text, []byte("anyone?"))
	_, _, err = c.ReadMessage(ctx, nil)
	if CloseStatus(err) != CloseAbnormal {
		t.Fatalf("client: %v, want 1006", err)
	}
	select {
	case err := <-ended:
		if CloseStatus(err) != CloseAbnormal {
			t.Fatalf("server: %v, want 1006", err)
		}
		t.Logf("server: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("the server's Conn did not end")
	}
}
