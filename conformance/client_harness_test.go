package conformance

// The client direction: Autobahn's "fuzzingserver" role. Each case starts
// a strict fuzzing server on a fresh loopback port; the client under test,
// wspipe's client running an echo loop (runClientEcho), dials it. The
// server checks the client's opening handshake, answers 101, sends the
// case's frames unmasked as a server does (some deliberately invalid), and
// parses every frame the client sends with its own codec, which requires
// masking and fresh mask keys. Judging is as strict as in the server
// direction, and also covers what only a client must do: mask, and leave
// closing the TCP connection to the server after a clean close (RFC 6455
// section 7.1.1).
//
//	go test -race -run 'TestClient' ./conformance

import (
	"bufio"
	"context"
	"crypto/sha1"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wspipe/wspipe/handshake"
	"github.com/wspipe/wspipe/layers"
	"github.com/wspipe/wspipe/pipeline"
)

// clientTCPGrace is how long, after the client's reply to the server's
// close frame, the server waits before closing the TCP connection itself,
// watching for the client closing it first. On the loopback interface a
// client that closes right after its close frame is seen well within it.
const clientTCPGrace = 25 * time.Millisecond

// clientCase is a case in the client direction. The Autobahn cases are
// the shared tables (testCase), run through clientCases; the client-only
// ones (TestClientMaskedFrames, TestClientClosing) use the fuzzing
// server's own means.
type clientCase struct {
	id      string        // the Autobahn case number, or the case's name
	desc    string        // what the server sends and what the client must do
	timeout time.Duration // deadline of the whole case; 0 means defaultCaseTimeout
	run     func(s *fuzzConn)
}

// clientCases runs the shared cases with the suite as the fuzzing server.
func clientCases(cases []testCase) []clientCase {
	out := make([]clientCase, len(cases))
	for i, tc := range cases {
		out[i] = clientCase{id: tc.id, desc: tc.desc, timeout: tc.timeout, run: func(s *fuzzConn) { tc.run(s.endpoint) }}
	}
	return out
}

// clientUnderTest is a WebSocket client that runs an echo loop against a
// URL until its connection ends, returning why it ended.
type clientUnderTest struct {
	name string
	run  func(ctx context.Context, url string) error
	// apiErrors says that the returned error is wspipe's, to be judged
	// against the pipeline API: a *pipeline.CloseError after the server's
	// close, an error matching ErrProtocol or ErrInvalidUTF8 after a
	// failure.
	apiErrors bool
	// h2 says that the client comes over HTTP/2 (RFC 8441, h2c): the
	// fuzzing server is then an HTTP/2 server that advertises extended
	// CONNECT.
	h2 bool
}

// wspipeClient is the client under test.
var wspipeClient = clientUnderTest{name: "wspipe", run: runClientEcho, apiErrors: true}

// wspipeH2Client is the client under test opening its WebSocket over
// HTTP/2 (handshake.HTTP2Require).
var wspipeH2Client = clientUnderTest{name: "wspipe over HTTP/2", run: runClientEchoH2, apiErrors: true, h2: true}

// runClientEchoH2 is runClientEcho over HTTP/2; the client's HTTP/2
// connection is closed once the echo loop has ended.
func runClientEchoH2(ctx context.Context, url string) error {
	hc := &handshake.Client{HTTP2: handshake.HTTP2Require}
	defer hc.CloseIdleConnections()
	c, _, err := pipeline.Dial(ctx, url, hc, &pipeline.Options{})
	if err != nil {
		return err
	}
	return echoLoop(ctx, c)
}

// runClientEcho is wspipe's client as an echo client, the way Autobahn's
// client tests drive a library: it dials url with the default options (a
// MaxMessageSize of 32 MiB admits category 9's 16 MiB messages) and echoes
// every message as it comes, until reading fails. It returns that error
// once the connection's goroutines have ended.
func runClientEcho(ctx context.Context, url string) error {
	c, _, err := pipeline.Dial(ctx, url, nil, &pipeline.Options{})
	if err != nil {
		return err
	}
	return echoLoop(ctx, c)
}

// echoLoop echoes every message of c as it comes, until reading fails,
// and returns that error once the connection's goroutines have ended.
func echoLoop(ctx context.Context, c *pipeline.Conn) error {
	defer func() {
		select {
		case <-c.Done():
		case <-ctx.Done():
			c.UnderlyingConn().Close()
		}
		c.Wait()
	}()
	for {
		typ, r, err := c.NextReader(ctx)
		if err != nil {
			return err
		}
		w, err := c.NextWriter(ctx, typ)
		if err != nil {
			return err
		}
		if _, err := io.Copy(w, r); err != nil {
			return err
		}
		if err := w.Close(); err != nil {
			return err
		}
	}
}

// runClientCases runs each case against wspipe's client as a subtest
// named by its number, then checks that no goroutine outlived them.
func runClientCases(t *testing.T, cases []clientCase) {
	t.Helper()
	before := runtime.NumGoroutine()
	forEachCase(t, cases, func(tc clientCase) string { return tc.id }, func(t *testing.T, tc clientCase) {
		t.Log(tc.desc)
		runClientCase(t, wspipeClient, tc)
	})
	checkGoroutines(t, before)
}

// checkGoroutines requires the number of goroutines to come back to
// before within a few seconds.
func checkGoroutines(t *testing.T, before int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before {
		if time.Now().After(deadline) {
			buf := make([]byte, 64<<10)
			buf = buf[:runtime.Stack(buf, true)]
			t.Errorf("goroutine leak: %d goroutines, %d before the cases:\n%s", runtime.NumGoroutine(), before, buf)
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// runClientCase runs one case: it listens on a loopback port, starts the
// client, accepts its connection, runs the case and ends the connection.
// It reports whether the case failed.
func runClientCase(r reporter, sut clientUnderTest, tc clientCase) (failed bool) {
	r.Helper()
	timeout := tc.timeout
	if timeout == 0 {
		timeout = defaultCaseTimeout
	}
	deadline := time.Now().Add(timeout)
	s := startClient(r, sut, deadline)
	if s == nil {
		return true
	}
	defer s.release()
	if s.accept(deadline, nil) {
		s.reading = true
		go s.readLoop()
		tc.run(s)
	}
	s.finish()
	return s.failed
}

// fuzzConn is the fuzzing server's end of one connection: the endpoint,
// with the server's role rules, and the client under test.
type fuzzConn struct {
	*endpoint
	sut    clientUnderTest
	ln     *net.TCPListener
	end    chan error // the client's result
	cancel context.CancelFunc

	h2srv  *http.Server    // with a client over HTTP/2: the server
	h2reqs chan *h2Request // its requests

	reading bool               // the reader was started
	closed  bool               // the case ran the connection to its end
	wantEnd func(error) string // judges the client's result: what it should have been, or ""
	seenEnd bool               // the client's result has been taken
	endErr  error              // the client's result
}

// startClient listens on a loopback port and starts sut against it. It
// returns the server's end, not yet connected, or nil after reporting
// why it could not.
func startClient(r reporter, sut clientUnderTest, deadline time.Time) *fuzzConn {
	r.Helper()
	ln, err := net.ListenTCP("tcp", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		r.Errorf("listen: %v", err)
		return nil
	}
	ctx, cancel := context.WithDeadline(context.Background(), deadline.Add(2*closeTimeout))
	end := make(chan error, 1)
	go func() { end <- sut.run(ctx, "ws://"+ln.Addr().String()+"/") }()
	s := &fuzzConn{endpoint: newEndpoint(r, "client"), sut: sut, ln: ln, end: end, cancel: cancel}
	if sut.h2 {
		s.h2srv, s.h2reqs = startH2Server(ln)
	}
	s.encode = encodeServer
	var keys maskKeys
	s.readFrame = func() (frameHeader, []byte, error) {
		h, p, err := readClientFrame(s.br, maxMessage)
		if err == nil {
			if problem := keys.check(h); problem != "" {
				err = s.violationf("%s", problem)
			}
		}
		return h, p, err
	}
	s.onReply = s.judgeCloseReply
	s.onFailed = func(code int) { s.ended(endsWithFailure(code)) }
	return s
}

// release frees the listener and the client's context.
func (s *fuzzConn) release() {
	s.cancel()
	if s.h2srv != nil {
		s.h2srv.Close()
	}
	s.ln.Close()
}

// keysSeen holds every Sec-WebSocket-Key seen in this process: a client
// must send a fresh one in each handshake.
var keysSeen = struct {
	sync.Mutex
	m map[string]bool
}{m: map[string]bool{}}

// accept takes the client's connection and runs the server's side of the
// opening handshake, validating the request strictly. extensions, if not
// nil, judges the request's extension offers and returns the
// Sec-WebSocket-Extensions answer, or what is wrong with them. It reports
// whether the connection is open.
func (s *fuzzConn) accept(deadline time.Time, extensions func(req *http.Request) (answer, problem string)) bool {
	s.r.Helper()
	if s.h2reqs != nil {
		return s.acceptH2(deadline, extensions)
	}
	s.ln.SetDeadline(time.Now().Add(handshakeTimeout))
	nc, err := s.ln.Accept()
	if err != nil {
		select {
		case cerr := <-s.end:
			s.seenEnd, s.endErr = true, cerr
			s.errorf("the client did not connect: it ended with %v", cerr)
		default:
			s.errorf("the client did not connect within %v: %v", handshakeTimeout, err)
		}
		return false
	}
	s.nc = nc
	s.br = bufio.NewReaderSize(nc, 64<<10)
	nc.SetDeadline(time.Now().Add(handshakeTimeout))
	refuse := func(format string, a ...any) bool {
		s.r.Helper()
		s.errorf("handshake: "+format, a...)
		nc.Write([]byte("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"))
		return false
	}
	req, err := http.ReadRequest(s.br)
	if err != nil {
		return refuse("reading the client's request: %v", err)
	}
	key, msg := checkClientRequest(req, s.ln.Addr().String())
	if msg == "" && s.br.Buffered() > 0 {
		msg = fmt.Sprintf("the client sent %d bytes after its request, before the server's response", s.br.Buffered())
	}
	if msg != "" {
		return refuse("%s", msg)
	}
	resp := "HTTP/1.1 101 Switching Protocols\r\n" +
		"Upgrade: websocket\r\n" +
		"Connection: Upgrade\r\n" +
		"Sec-WebSocket-Accept: " + acceptFor(key) + "\r\n"
	if extensions != nil {
		answer, problem := extensions(req)
		if problem != "" {
			return refuse("%s", problem)
		}
		resp += "Sec-WebSocket-Extensions: " + answer + "\r\n"
	}
	if _, err := nc.Write([]byte(resp + "\r\n")); err != nil {
		s.errorf("handshake: writing the 101 response: %v", err)
		return false
	}
	nc.SetDeadline(deadline)
	return true
}

// checkClientRequest judges the client's opening handshake (RFC 6455
// section 4.1) and returns its key, or what is wrong with it. host is the
// address the client was given, which the Host header must name.
func checkClientRequest(req *http.Request, host string) (key, problem string) {
	switch {
	case req.Method != http.MethodGet:
		return "", fmt.Sprintf("method %q, want GET", req.Method)
	case !req.ProtoAtLeast(1, 1):
		return "", fmt.Sprintf("protocol %q, want HTTP/1.1 or later", req.Proto)
	case req.RequestURI != "/":
		return "", fmt.Sprintf("request target %q, want /", req.RequestURI)
	case req.Host != host:
		return "", fmt.Sprintf("Host: %q, want %q", req.Host, host)
	case !hasToken(req.Header.Values("Upgrade"), "websocket"):
		return "", fmt.Sprintf("Upgrade: %q, want the websocket token", req.Header.Values("Upgrade"))
	case !hasToken(req.Header.Values("Connection"), "upgrade"):
		return "", fmt.Sprintf("Connection: %q, want the Upgrade token", req.Header.Values("Connection"))
	case len(req.Header.Values("Sec-WebSocket-Version")) != 1 || req.Header.Get("Sec-WebSocket-Version") != "13":
		return "", fmt.Sprintf("Sec-WebSocket-Version: %q, want exactly 13", req.Header.Values("Sec-WebSocket-Version"))
	case req.ContentLength > 0 || len(req.TransferEncoding) > 0:
		return "", "the request has a body"
	}
	keys := req.Header.Values("Sec-WebSocket-Key")
	if len(keys) != 1 {
		return "", fmt.Sprintf("Sec-WebSocket-Key: %q, want exactly one", keys)
	}
	key = keys[0]
	raw, err := base64.StdEncoding.DecodeString(key)
	if err != nil || len(raw) != 16 || base64.StdEncoding.EncodeToString(raw) != key {
		return "", fmt.Sprintf("Sec-WebSocket-Key: %q is not the base64 of 16 bytes", key)
	}
	keysSeen.Lock()
	defer keysSeen.Unlock()
	if keysSeen.m[key] {
		return "", fmt.Sprintf("Sec-WebSocket-Key: %q was sent before; each handshake needs a fresh random key", key)
	}
	keysSeen.m[key] = true
	return key, ""
}

// hasToken reports whether the comma-separated header values hold token,
// compared case-insensitively.
func hasToken(values []string, token string) bool {
	for _, v := range values {
		for _, tok := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(tok), token) {
				return true
			}
		}
	}
	return false
}

// acceptFor is the Sec-WebSocket-Accept value for key.
func acceptFor(key string) string {
	sum := sha1.Sum([]byte(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
	return base64.StdEncoding.EncodeToString(sum[:])
}

// judgeCloseReply judges the client's close reply ev, in answer to the
// server's close frame with code sent: it must carry codes[0] (noCode: be
// empty) exactly. A reply echoing the code closes the connection cleanly:
// the client must then wait for the server to close the TCP connection
// (RFC 6455 section 7.1.1), so the server watches for clientTCPGrace
// before it closes it, and the client's connection must then end with the
// server's close. Any other reply (1002, 1007) fails the connection, and
// the client may close TCP after it.
func (s *fuzzConn) judgeCloseReply(ev event, codes []int, sent int) {
	s.r.Helper()
	want := codes[0]
	if ev.code != want {
		s.errorf("got %s, want the client's close reply with %s", ev, codeName(want))
		return
	}
	if want != sent {
		s.ended(endsWithFailure(want))
		return
	}
	if ev, ok := s.next(time.Now().Add(clientTCPGrace)); ok {
		if ev.kind == evTCPClosed {
			s.errorf("the client closed the TCP connection first, right after its close reply; after a clean close the server closes it (RFC 6455 section 7.1.1)")
		} else {
			s.errorf("after its close reply the client sent %s", ev)
		}
		return
	}
	s.ended(endsWithPeerClose(sent))
}

func codeName(code int) string {
	if code == noCode {
		return "no status code"
	}
	return fmt.Sprintf("code %d", code)
}

// ended records that the case ran the connection to its end, and how the
// client's echo loop must then end.
func (s *fuzzConn) ended(want func(error) string) {
	s.closed = true
	s.wantEnd = want
}

// endsWithPeerClose wants the *pipeline.CloseError of the server's close
// frame with code (1005, no status, for an empty one).
func endsWithPeerClose(code int) func(error) string {
	if code == noCode {
		code = int(layers.CloseNoStatus)
	}
	return func(err error) string {
		var ce *pipeline.CloseError
		if errors.As(err, &ce) && int(ce.Code) == code {
			return ""
		}
		return fmt.Sprintf("a *pipeline.CloseError with code %d", code)
	}
}

// endsWithFailure wants the error matching the failure behind code.
func endsWithFailure(code int) func(error) string {
	var target error
	switch code {
	case 1002:
		target = pipeline.ErrProtocol
	case 1007:
		target = pipeline.ErrInvalidUTF8
	case 1009:
		target = pipeline.ErrTooBig
	default:
		return func(error) string { return "" }
	}
	return func(err error) string {
		if errors.Is(err, target) {
			return ""
		}
		return fmt.Sprintf("an error matching %q", target)
	}
}

// finish ends the connection from the server's side, closing the TCP
// connection, and requires the client to end its connection within
// closeTimeout, with the result the case expects.
func (s *fuzzConn) finish() {
	s.r.Helper()
	if s.nc != nil {
		s.nc.Close()
	}
	if s.reading {
		s.stop()
		if !s.failed && !s.closed {
			s.errorf("the case ended before the connection's closing handshake")
		}
	}
	if !s.seenEnd {
		closedAt := time.Now()
		t := time.NewTimer(closeTimeout)
		select {
		case s.endErr = <-s.end:
			s.seenEnd = true
		case <-t.C:
		}
		t.Stop()
		if !s.seenEnd {
			s.errorf("the client was still running %v after the server closed the TCP connection", closeTimeout)
			s.cancel()
			t := time.NewTimer(closeTimeout)
			select {
			case s.endErr = <-s.end:
				s.seenEnd = true
			case <-t.C:
				s.errorf("the client was still running %v after its context was cancelled", closeTimeout)
			}
			t.Stop()
		} else if d := time.Since(closedAt); d > closeTimeout/2 {
			s.r.Logf("the client took %v to end after the server closed the TCP connection", d)
		}
	}
	if s.seenEnd {
		s.r.Logf("the client's echo loop ended with: %v", s.endErr)
	}
	if s.seenEnd && !s.failed && s.sut.apiErrors && s.wantEnd != nil {
		if want := s.wantEnd(s.endErr); want != "" {
			s.errorf("the client's echo loop ended with %v (%T); want %s", s.endErr, s.endErr, want)
		}
	}
}
