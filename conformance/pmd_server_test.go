package conformance

// The server direction of categories 12 and 13: the suite is the client,
// offers permessage-deflate, judges the server's answer and then sends
// compressed messages to wspipe's echo server with compression on.

import (
	"bufio"
	"encoding/base64"
	"encoding/binary"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/wspipe/wspipe/echo"
	"github.com/wspipe/wspipe/pipeline"
)

// startDeflateEchoServer starts wspipe's echo service with
// permessage-deflate on, its server policy left at the default, on a
// loopback port for the life of t and returns its URL.
func startDeflateEchoServer(t testing.TB) string {
	h := &echo.Handler{}
	h.Handshake.DangerouslyAllowAnyOrigin = true
	h.Options.Compression = &pipeline.Compression{}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return "ws://" + srv.Listener.Addr().String() + "/"
}

// runDeflateCases runs each case as a subtest named by its number, on a
// fresh connection to the server under test (WSPIPE_CONFORMANCE_URL, or
// wspipe's echo server with compression).
func runDeflateCases(t *testing.T, specs []pmdCaseSpec) {
	t.Helper()
	u := os.Getenv(urlEnv)
	if u == "" {
		u = startDeflateEchoServer(t)
	}
	seen := map[string]bool{}
	for _, s := range specs {
		if seen[s.id] {
			t.Fatalf("case %s is listed twice", s.id)
		}
		seen[s.id] = true
		t.Run(s.id, func(t *testing.T) {
			t.Log(s.desc("the client offers " + formatExts(offerExts(s.offers)) + " (Autobahn's client offers " + s.set + "); the server answers with its default policy"))
			runDeflateCase(t, u, s)
		})
	}
}

// runDeflateCase runs one case: the handshake with the case's offers, the
// messages, and the closing handshake.
func runDeflateCase(t *testing.T, rawURL string, s pmdCaseSpec) {
	deadline := time.Now().Add(pmdCaseTimeout)
	nc, br, resp := dialDeflate(t, rawURL, s.offers, deadline)
	params, problem := judgeAnswer(s.offers, resp.Header.Values("Sec-WebSocket-Extensions"))
	if problem != "" {
		nc.Close()
		t.Fatalf("handshake: %s", problem)
	}
	t.Logf("the server answered %q", resp.Header.Values("Sec-WebSocket-Extensions"))
	pc, err := newPMDConn(nc, br, false, params)
	if err != nil {
		nc.Close()
		t.Fatalf("the suite's compressor: %v", err)
	}
	ok := pc.exchange(s.data, s.size.size, pmdCount(s.size.size), s.size.frag, t.Errorf)
	t.Log(pc.summary())
	if !ok {
		nc.Close()
		return
	}
	// The closing handshake has nothing of compression: the harness's
	// client judges it, RSV bits included.
	c := &client{t: t, nc: nc, br: br, events: make(chan event, 64), quit: make(chan struct{}), done: make(chan struct{})}
	go c.readLoop()
	defer c.shutdown()
	c.closeNormally()
	if !t.Failed() && !c.tcpClosed {
		t.Errorf("the case ended without the server closing the TCP connection")
	}
}

// dialDeflate opens a connection as dial does, offering permessage-deflate
// with offers, and returns it with the server's response. The response is
// judged as dial judges it, except for Sec-WebSocket-Extensions, which is
// left to judgeAnswer.
func dialDeflate(t *testing.T, rawURL string, offers []pmdNeg, deadline time.Time) (net.Conn, *bufio.Reader, *http.Response) {
	t.Helper()
	u, err := url.Parse(rawURL)
	if err != nil || u.Scheme != "ws" || u.Host == "" {
		t.Fatalf("%s=%q: want ws://127.0.0.1:PORT/path", urlEnv, rawURL)
	}
	if h := u.Hostname(); h != "localhost" && !net.ParseIP(h).IsLoopback() {
		t.Fatalf("%s=%q: the suite only talks to loopback addresses", urlEnv, rawURL)
	}
	addr := u.Host
	if u.Port() == "" {
		addr = net.JoinHostPort(u.Hostname(), "80")
	}
	nc, err := net.DialTimeout("tcp", addr, handshakeTimeout)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	fail := func(format string, a ...any) {
		t.Helper()
		nc.Close()
		t.Fatalf(format, a...)
	}
	if err := nc.SetDeadline(time.Now().Add(handshakeTimeout)); err != nil {
		fail("set deadline: %v", err)
	}
	var raw [16]byte
	binary.LittleEndian.PutUint64(raw[:8], rand.Uint64())
	binary.LittleEndian.PutUint64(raw[8:], rand.Uint64())
	key := base64.StdEncoding.EncodeToString(raw[:])
	req := "GET " + u.RequestURI() + " HTTP/1.1\r\n" +
		"Host: " + u.Host + "\r\n" +
		"Upgrade: websocket\r\n" +
		"Connection: Upgrade\r\n" +
		"Sec-WebSocket-Key: " + key + "\r\n" +
		"Sec-WebSocket-Version: 13\r\n" +
		"Sec-WebSocket-Extensions: " + formatExts(offerExts(offers)) + "\r\n\r\n"
	if _, err := nc.Write([]byte(req)); err != nil {
		fail("write handshake: %v", err)
	}
	br := bufio.NewReaderSize(nc, 64<<10)
	resp, err := http.ReadResponse(br, &http.Request{Method: http.MethodGet})
	if err != nil {
		fail("read handshake response: %v", err)
	}
	rest := &http.Response{Status: resp.Status, StatusCode: resp.StatusCode, Header: resp.Header.Clone()}
	rest.Header.Del("Sec-WebSocket-Extensions")
	if msg := checkHandshake(rest, key); msg != "" {
		fail("handshake: %s", msg)
	}
	if err := nc.SetDeadline(deadline); err != nil {
		fail("set deadline: %v", err)
	}
	return nc, br, resp
}
