package conformance

// The server direction's driver: the suite is Autobahn's "fuzzingclient".
// It dials the echo server under test with its own handshake, sends the
// cases' frames masked as a client does, requires the server's unmasked,
// and requires the server to close the TCP connection at the end of every
// case (asClient).

import (
	"bufio"
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"
)

// Time bounds, for both directions. The peer under test runs on the
// loopback interface, so they are generous for a loaded 2-core machine running with -race, yet
// bounded: every wait in the suite ends.
const (
	handshakeTimeout = 5 * time.Second
	// replyTimeout bounds the wait for echoes and pongs in the small cases.
	replyTimeout = 5 * time.Second
	// failTimeout bounds how long the peer may take to fail the
	// connection (send its close frame) once the offending bytes are sent.
	failTimeout = 2 * time.Second
	// closeTimeout bounds each step of the end of a connection: the
	// peer's close reply, and the TCP close after the close handshake.
	closeTimeout = 2 * time.Second
	// defaultCaseTimeout is the read and write deadline of a whole case.
	defaultCaseTimeout = 20 * time.Second
	// maxMessage bounds what the suite accepts from the peer.
	maxMessage = 64 << 20
)

// urlEnv names the environment variable that points the suite at an
// external echo server, e.g. ws://127.0.0.1:9001/.
const urlEnv = "WSPIPE_CONFORMANCE_URL"

// serverURL returns the URL of the server under test: the one named by
// WSPIPE_CONFORMANCE_URL, or else wspipe's echo server started for t.
func serverURL(t *testing.T) string {
	if u := os.Getenv(urlEnv); u != "" {
		return u
	}
	return startEchoServer(t)
}

// runCases runs each case as a subtest named by its number, on a fresh
// connection to the server under test. A case passes only if it also ends
// with the server closing the TCP connection.
func runCases(t *testing.T, cases []testCase) {
	t.Helper()
	runCasesWith(t, serverURL(t), dialWith, cases)
}

// dialer opens a connection to the server under test and sends the
// opening handshake (see dialWith): over HTTP/1.1 (dialWith) or as an
// extended CONNECT on an HTTP/2 connection (h2Dialer.dial).
type dialer func(t testing.TB, rawURL, exts string, deadline time.Time) (net.Conn, *bufio.Reader, *http.Response, string)

// runCasesWith is runCases against the server at u, connecting with dial.
func runCasesWith(t *testing.T, u string, dial dialer, cases []testCase) {
	t.Helper()
	forEachCase(t, cases, func(tc testCase) string { return tc.id }, func(t *testing.T, tc testCase) {
		t.Log(tc.desc)
		timeout := tc.timeout
		if timeout == 0 {
			timeout = defaultCaseTimeout
		}
		c := dialCase(t, dial, u, time.Now().Add(timeout))
		defer c.shutdown()
		tc.run(c)
		if !t.Failed() && !c.tcpClosed {
			t.Errorf("the case ended without the server closing the TCP connection")
		}
	})
}

// forEachCase runs run for each case as a subtest named by its id,
// refusing a list that names a case twice.
func forEachCase[C any](t *testing.T, cases []C, id func(C) string, run func(*testing.T, C)) {
	t.Helper()
	seen := map[string]bool{}
	for _, tc := range cases {
		if seen[id(tc)] {
			t.Fatalf("case %s is listed twice", id(tc))
		}
		seen[id(tc)] = true
		t.Run(id(tc), func(t *testing.T) { run(t, tc) })
	}
}

// dialCase opens a connection to the server at rawURL with the suite's
// own handshake, offering no extension, and returns the suite's end of
// it, as the client. deadline bounds every read and write of the case.
func dialCase(t testing.TB, dial dialer, rawURL string, deadline time.Time) *endpoint {
	t.Helper()
	nc, br, resp, key := dial(t, rawURL, "", deadline)
	if msg := checkHandshake(resp, key); msg != "" {
		nc.Close()
		t.Fatalf("handshake: %s", msg)
	}
	return asClient(t, nc, br)
}

// dialWith opens a TCP connection to rawURL and sends the opening
// handshake, with a Sec-WebSocket-Extensions header if exts is not empty.
// It returns the connection, with deadline set, the server's response and
// the key sent; the response is the caller's to judge.
func dialWith(t testing.TB, rawURL, exts string, deadline time.Time) (net.Conn, *bufio.Reader, *http.Response, string) {
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
		"Sec-WebSocket-Version: 13\r\n"
	if exts != "" {
		req += "Sec-WebSocket-Extensions: " + exts + "\r\n"
	}
	if _, err := nc.Write([]byte(req + "\r\n")); err != nil {
		fail("write handshake: %v", err)
	}
	br := bufio.NewReaderSize(nc, 64<<10)
	resp, err := http.ReadResponse(br, &http.Request{Method: http.MethodGet})
	if err != nil {
		fail("read handshake response: %v", err)
	}
	if err := nc.SetDeadline(deadline); err != nil {
		fail("set deadline: %v", err)
	}
	return nc, br, resp, key
}

// checkHandshake judges the server's opening handshake response (RFC 6455
// section 4.2.2; over HTTP/2, RFC 8441 section 5: a 2xx answer, no
// Sec-WebSocket-Accept). The suite offers no extension and no
// subprotocol, so the server must select none.
func checkHandshake(resp *http.Response, key string) string {
	if resp.ProtoMajor == 2 {
		if resp.StatusCode != http.StatusOK {
			return fmt.Sprintf("status %q, want 200 (RFC 8441)", resp.Status)
		}
		if v := resp.Header.Values("Sec-WebSocket-Accept"); len(v) > 0 {
			return fmt.Sprintf("Sec-WebSocket-Accept: %q over HTTP/2, where there is no key to accept", v)
		}
		return checkNegotiated(resp)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		return fmt.Sprintf("status %q, want 101", resp.Status)
	}
	if !strings.EqualFold(resp.Header.Get("Upgrade"), "websocket") {
		return fmt.Sprintf("Upgrade: %q, want websocket", resp.Header.Get("Upgrade"))
	}
	upgrade := false
	for _, v := range resp.Header.Values("Connection") {
		for _, tok := range strings.Split(v, ",") {
			upgrade = upgrade || strings.EqualFold(strings.TrimSpace(tok), "upgrade")
		}
	}
	if !upgrade {
		return fmt.Sprintf("Connection: %q, want the upgrade token", resp.Header.Values("Connection"))
	}
	sum := sha1.Sum([]byte(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
	if got, want := resp.Header.Get("Sec-WebSocket-Accept"), base64.StdEncoding.EncodeToString(sum[:]); got != want {
		return fmt.Sprintf("Sec-WebSocket-Accept: %q, want %q", got, want)
	}
	return checkNegotiated(resp)
}

// checkNegotiated requires a response that selects no extension and no
// subprotocol.
func checkNegotiated(resp *http.Response) string {
	if v := resp.Header.Get("Sec-WebSocket-Extensions"); v != "" {
		return fmt.Sprintf("Sec-WebSocket-Extensions: %q, but the client offered none", v)
	}
	if v := resp.Header.Get("Sec-WebSocket-Protocol"); v != "" {
		return fmt.Sprintf("Sec-WebSocket-Protocol: %q, but the client offered none", v)
	}
	return ""
}

// asClient makes the suite's end of an open connection to the server
// under test, with the client's role rules, and starts its reader: it
// sends masked frames, requires the server's unmasked, accepts a close
// reply with any of the codes a case allows, and requires the server to
// close the TCP connection after the close handshake and after failing
// the connection.
func asClient(t testing.TB, nc net.Conn, br *bufio.Reader) *endpoint {
	c := newEndpoint(t, "server")
	c.nc, c.br = nc, br
	c.encode = frame.encode
	c.readFrame = func() (frameHeader, []byte, error) { return readServerFrame(br, maxMessage) }
	c.onReply = func(ev event, codes []int, _ int) {
		c.r.Helper()
		if !codeIn(ev.code, codes) {
			c.errorf("got %s, want close code %v", ev, codes)
			return
		}
		c.expectTCPClose()
	}
	c.onFailed = func(int) { c.expectTCPClose() }
	go c.readLoop()
	return c
}

// shutdown closes the connection and waits for the reader to return.
func (c *endpoint) shutdown() {
	c.nc.Close()
	c.stop()
}

func codeIn(code int, codes []int) bool {
	for _, c := range codes {
		if c == code {
			return true
		}
	}
	return false
}

// expectTCPClose requires the server to close the TCP connection within
// closeTimeout, sending nothing more: after the close handshake, or after
// failing the connection, the server must not leave it half-open.
func (c *endpoint) expectTCPClose() {
	c.r.Helper()
	ev, ok := c.next(time.Now().Add(closeTimeout))
	switch {
	case !ok:
		c.errorf("the server left the TCP connection open more than %v after the close handshake", closeTimeout)
	case ev.kind != evTCPClosed:
		c.errorf("got %s, want the server to close the TCP connection", ev)
	case ev.reset:
		c.r.Logf("the server closed the TCP connection with a reset")
	}
}
