package handshake

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// Bytes net/http had already buffered when the handler hijacked come back
// in Result.Buffered, ahead of what is still in the connection.
func TestUpgradeBufferedFromHijack(t *testing.T) {
	pre := []byte("\x81\x05hello")
	o := viaHTTP(t, &Server{}, validRequest(), pre)
	if o.err != nil {
		t.Fatal(o.err)
	}
	if !bytes.Equal(o.res.Buffered, pre) {
		t.Fatalf("Buffered %q, want %q", o.res.Buffered, pre)
	}
	go o.client.Write([]byte("more"))
	if got := readN(t, o.res.Conn, 4); string(got) != "more" {
		t.Fatalf("read %q after Buffered", got)
	}
}

// Against a real net/http server: the client pipelines frames with its
// request, and the server has read and write timeouts that must not leak
// into the WebSocket connection.
func TestUpgradeNetHTTP(t *testing.T) {
	results := make(chan serverResult, 1)
	ts := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		res, err := (&Server{Subprotocols: []string{"chat"}}).Upgrade(w, r)
		results <- serverResult{res, err}
	}))
	ts.Config.ReadTimeout = 50 * time.Millisecond
	ts.Config.WriteTimeout = 50 * time.Millisecond
	ts.Start()
	defer ts.Close()

	cli, err := net.Dial("tcp", ts.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	cli.SetDeadline(time.Now().Add(10 * time.Second))
	frames := frameBytes(300)
	req := validRequest("Sec-WebSocket-Protocol: chat")
	if _, err := cli.Write(append([]byte(req), frames...)); err != nil {
		t.Fatal(err)
	}
	resp, err := readResponse(cli)
	if err != nil {
		t.Fatal(err)
	}
	sr := <-results
	if sr.err != nil || resp.resp.StatusCode != 101 {
		t.Fatalf("%d %v", resp.resp.StatusCode, sr.err)
	}
	defer sr.res.Conn.Close()
	if got := resp.resp.Header.Get("Sec-WebSocket-Accept"); got != "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=" {
		t.Fatalf("accept %q", got)
	}
	if sr.res.Subprotocol != "chat" || sr.res.Request == nil {
		t.Fatalf("result %+v", sr.res)
	}
	got := append([]byte(nil), sr.res.Buffered...)
	got = append(got, readN(t, sr.res.Conn, len(frames)-len(got))...)
	if !bytes.Equal(got, frames) {
		t.Fatal("pipelined frames lost or altered")
	}

	// Past net/http's timeouts, the connection still works both ways.
	time.Sleep(150 * time.Millisecond)
	if _, err := sr.res.Conn.Write([]byte("pong")); err != nil {
		t.Fatalf("server write after net/http WriteTimeout: %v", err)
	}
	if got := readN(t, cli, 4); string(got) != "pong" {
		t.Fatalf("client read %q", got)
	}
	go cli.Write([]byte("ping"))
	if got := readN(t, sr.res.Conn, 4); string(got) != "ping" {
		t.Fatalf("server read %q", got)
	}
}

// A refusal through net/http reaches a real client with the status, the
// extra header and Connection: close.
func TestUpgradeNetHTTPRefusal(t *testing.T) {
	errs := make(chan error, 1)
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, err := (&Server{}).Upgrade(w, r)
		errs <- err
	}))
	defer ts.Close()
	req, _ := http.NewRequest("GET", ts.URL, nil)
	req.Header.Set("Upgrade", "websocket")
	req.Header.Set("Connection", "Upgrade")
	req.Header.Set("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==")
	req.Header.Set("Sec-WebSocket-Version", "8")
	resp, err := ts.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 426 || resp.Header.Get("Sec-WebSocket-Version") != "13" || !resp.Close {
		t.Fatalf("status %d, header %v, close %v", resp.StatusCode, resp.Header, resp.Close)
	}
	if err := <-errs; requestError(t, err).Err != ErrBadVersion {
		t.Fatalf("error %v", err)
	}
}

// Deadlines left on the hijacked connection (stock net/http clears them,
// other servers may not) are cleared before Upgrade returns.
func TestUpgradeClearsDeadlines(t *testing.T) {
	req, err := http.ReadRequest(bufio.NewReader(strings.NewReader(validRequest())))
	if err != nil {
		t.Fatal(err)
	}
	srv, cli := net.Pipe()
	defer srv.Close()
	defer cli.Close()
	w := &hijackRecorder{ResponseRecorder: httptest.NewRecorder(), conn: srv, deadline: 50 * time.Millisecond}
	go readResponse(cli)
	// HandshakeTimeout is also the write deadline of the 101; it must not
	// outlive the handshake either.
	res, err := (&Server{HandshakeTimeout: 50 * time.Millisecond}).Upgrade(w, req)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(150 * time.Millisecond)
	go cli.Write([]byte("late"))
	buf := make([]byte, 4)
	if _, err := io.ReadFull(res.Conn, buf); err != nil || string(buf) != "late" {
		t.Fatalf("read after the stale deadline: %q, %v", buf, err)
	}
	go io.ReadFull(cli, make([]byte, 4))
	if _, err := res.Conn.Write([]byte("back")); err != nil {
		t.Fatalf("write after the stale deadline: %v", err)
	}
}
