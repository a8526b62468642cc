package conformance

import (
	"bufio"
	"bytes"
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"
	"unicode/utf8"
)

// Time bounds. The server under test runs on the loopback interface, so
// they are generous for a loaded 2-core machine running with -race, yet
// bounded: every wait in the suite ends.
const (
	handshakeTimeout = 5 * time.Second
	// replyTimeout bounds the wait for echoes and pongs in the small cases.
	replyTimeout = 5 * time.Second
	// failTimeout bounds how long the server may take to fail the
	// connection (send its close frame) once the offending bytes are sent.
	failTimeout = 2 * time.Second
	// closeTimeout bounds each step of the end of a connection: the
	// server's close reply, and the TCP close after the close handshake.
	closeTimeout = 2 * time.Second
	// defaultCaseTimeout is the read and write deadline of a whole case.
	defaultCaseTimeout = 20 * time.Second
	// maxMessage bounds what the suite accepts from the server.
	maxMessage = 64 << 20
)

// urlEnv names the environment variable that points the suite at an
// external echo server, e.g. ws://127.0.0.1:9001/.
const urlEnv = "WSPIPE_CONFORMANCE_URL"

// testCase is one Autobahn case.
type testCase struct {
	id      string        // the Autobahn case number, e.g. "6.4.1"
	desc    string        // what the case sends and expects
	timeout time.Duration // deadline of the whole case; 0 means defaultCaseTimeout
	run     func(c *client)
}

// serverURL returns the URL of the server under test: the one named by
// WSPIPE_CONFORMANCE_URL, or else wspipe's echo server started for t.
func serverURL(t *testing.T) string {
	if u := os.Getenv(urlEnv); u != "" {
		return u
	}
	return startEchoServer(t)
}

// runCases runs each case as a subtest named by its number, on a fresh
// connection. A case passes only if it also ends with the server closing
// the TCP connection.
func runCases(t *testing.T, cases []testCase) {
	t.Helper()
	u := serverURL(t)
	seen := map[string]bool{}
	for _, tc := range cases {
		if seen[tc.id] {
			t.Fatalf("case %s is listed twice", tc.id)
		}
		seen[tc.id] = true
		t.Run(tc.id, func(t *testing.T) {
			t.Log(tc.desc)
			timeout := tc.timeout
			if timeout == 0 {
				timeout = defaultCaseTimeout
			}
			c := dial(t, u, time.Now().Add(timeout))
			defer c.shutdown()
			tc.run(c)
			if !t.Failed() && !c.tcpClosed {
				t.Errorf("the case ended without the server closing the TCP connection")
			}
		})
	}
}

// eventKind says what the server did.
type eventKind int

const (
	evMessage   eventKind = iota // a complete data message
	evPing                       // a ping frame
	evPong                       // a pong frame
	evClose                      // a close frame
	evTCPClosed                  // the server closed the TCP connection (FIN, or RST)
	evBroken                     // a protocol violation by the server, or a read failure
)

// noCode is the code of a close frame with an empty payload.
const noCode = -1

// event is one thing the server did, as the client saw it.
type event struct {
	kind   eventKind
	opcode byte   // evMessage: opText or opBinary
	data   []byte // message, ping or pong payload; close reason
	code   int    // evClose: status code, or noCode
	reset  bool   // evTCPClosed: closed by RST
	err    error  // evBroken
}

// Expected events.

func textMsg(p []byte) event { return event{kind: evMessage, opcode: opText, data: p} }
func binMsg(p []byte) event  { return event{kind: evMessage, opcode: opBinary, data: p} }
func pongEv(p []byte) event  { return event{kind: evPong, data: p} }

// matches reports whether e is the data event w. Close and connection
// events are judged by the helpers, not compared this way.
func (e event) matches(w event) bool {
	return e.kind == w.kind && e.opcode == w.opcode && bytes.Equal(e.data, w.data)
}

func (e event) String() string {
	switch e.kind {
	case evMessage:
		return fmt.Sprintf("%s message %s", opName(e.opcode), preview(e.data))
	case evPing:
		return "ping " + preview(e.data)
	case evPong:
		return "pong " + preview(e.data)
	case evClose:
		if e.code == noCode {
			return "close frame without status code"
		}
		return fmt.Sprintf("close %d %s", e.code, preview(e.data))
	case evTCPClosed:
		if e.reset {
			return "TCP connection reset by the server"
		}
		return "TCP connection closed by the server"
	case evBroken:
		return e.err.Error()
	}
	return "unknown event"
}

// preview shows a payload briefly: its length and, quoted, its start.
func preview(p []byte) string {
	const show = 40
	if len(p) <= show {
		return fmt.Sprintf("(%d bytes) %q", len(p), p)
	}
	return fmt.Sprintf("(%d bytes) %q...", len(p), p[:show])
}

func list(evs []event) string {
	if len(evs) == 0 {
		return "[]"
	}
	s := make([]string, len(evs))
	for i, e := range evs {
		s[i] = e.String()
	}
	return "[" + strings.Join(s, ", ") + "]"
}

// client is the suite's end of one connection. A reader goroutine parses
// and checks everything the server sends and turns it into events; the
// case, on the test goroutine, writes frames and consumes events.
type client struct {
	t         testing.TB
	nc        net.Conn
	br        *bufio.Reader
	events    chan event
	quit      chan struct{} // closed by shutdown
	done      chan struct{} // closed when the reader returns
	last      *event        // the reader's final event, once consumed
	writeErr  error
	tcpClosed bool // the server closed the TCP connection
}

// dial opens a connection to the server at rawURL with the suite's own
// handshake. deadline bounds every read and write of the case.
func dial(t testing.TB, rawURL string, deadline time.Time) *client {
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
	if err := nc.SetDeadline(time.Now().Add(handshakeTimeout)); err != nil {
		nc.Close()
		t.Fatalf("set deadline: %v", err)
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
		"Sec-WebSocket-Version: 13\r\n\r\n"
	if _, err := nc.Write([]byte(req)); err != nil {
		nc.Close()
		t.Fatalf("write handshake: %v", err)
	}
	br := bufio.NewReaderSize(nc, 64<<10)
	resp, err := http.ReadResponse(br, &http.Request{Method: http.MethodGet})
	if err != nil {
		nc.Close()
		t.Fatalf("read handshake response: %v", err)
	}
	if msg := checkHandshake(resp, key); msg != "" {
		nc.Close()
		t.Fatalf("handshake: %s", msg)
	}
	if err := nc.SetDeadline(deadline); err != nil {
		nc.Close()
		t.Fatalf("set deadline: %v", err)
	}
	c := &client{
		t:      t,
		nc:     nc,
		br:     br,
		events: make(chan event, 64),
		quit:   make(chan struct{}),
		done:   make(chan struct{}),
	}
	go c.readLoop()
	return c
}

// checkHandshake judges the server's opening handshake response (RFC 6455
// section 4.2.2). The suite offers no extension and no subprotocol, so the
// server must select none.
func checkHandshake(resp *http.Response, key string) string {
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
	if v := resp.Header.Get("Sec-WebSocket-Extensions"); v != "" {
		return fmt.Sprintf("Sec-WebSocket-Extensions: %q, but the client offered none", v)
	}
	if v := resp.Header.Get("Sec-WebSocket-Protocol"); v != "" {
		return fmt.Sprintf("Sec-WebSocket-Protocol: %q, but the client offered none", v)
	}
	return ""
}

// shutdown closes the connection and waits for the reader to return.
func (c *client) shutdown() {
	close(c.quit)
	c.nc.Close()
	<-c.done
}

// readLoop turns the server's frames into events until the connection
// ends or the server breaks the protocol. Beyond framing it checks that
// the server sends no RSV bits, no reserved opcodes, well-formed control
// frames, proper fragmentation, valid UTF-8 in text messages, valid close
// payloads and nothing after its close frame.
func (c *client) readLoop() {
	defer close(c.done)
	var (
		open   bool // a fragmented message is open
		msgOp  byte
		msg    []byte
		closed bool // the server sent its close frame
	)
	broken := func(err error) { c.emit(event{kind: evBroken, err: err}) }
	for {
		h, p, err := readServerFrame(c.br, maxMessage)
		if err != nil {
			c.emit(readFailure(err))
			return
		}
		if closed {
			broken(violationf("a %s frame after the server's close frame", opName(h.opcode)))
			return
		}
		if h.rsv != 0 {
			broken(violationf("RSV bits %03b set on a %s frame, but no extension was negotiated", h.rsv, opName(h.opcode)))
			return
		}
		if h.opcode >= opClose && (!h.fin || len(p) > 125) {
			broken(violationf("a %s frame with FIN=%v and %d bytes of payload; control frames must be final and at most 125 bytes", opName(h.opcode), h.fin, len(p)))
			return
		}
		switch h.opcode {
		case opText, opBinary:
			if open {
				broken(violationf("a new %s frame while a fragmented message is open", opName(h.opcode)))
				return
			}
			open, msgOp, msg = true, h.opcode, p
		case opCont:
			if !open {
				broken(violationf("a continuation frame with no message open"))
				return
			}
			if len(msg)+len(p) > maxMessage {
				broken(violationf("a message over this suite's %d-byte limit", maxMessage))
				return
			}
			msg = append(msg, p...)
		case opPing:
			if !c.emit(event{kind: evPing, data: p}) {
				return
			}
			continue
		case opPong:
			if !c.emit(event{kind: evPong, data: p}) {
				return
			}
			continue
		case opClose:
			ev, err := parseClose(p)
			if err != nil {
				broken(err)
				return
			}
			if !c.emit(ev) {
				return
			}
			closed = true
			continue
		default:
			broken(violationf("a frame with reserved opcode %#x", h.opcode))
			return
		}
		if !h.fin {
			continue
		}
		if msgOp == opText && !utf8.Valid(msg) {
			broken(violationf("a text message that is not valid UTF-8: %s", preview(msg)))
			return
		}
		if !c.emit(event{kind: evMessage, opcode: msgOp, data: msg}) {
			return
		}
		open, msg = false, nil
	}
}

// parseClose checks and decodes a close frame payload from the server.
func parseClose(p []byte) (event, error) {
	switch {
	case len(p) == 0:
		return event{kind: evClose, code: noCode}, nil
	case len(p) == 1:
		return event{}, violationf("a close frame with a 1-byte payload")
	}
	code := int(binary.BigEndian.Uint16(p))
	if !validCloseCode(code) {
		return event{}, violationf("a close frame with code %d, which must not be sent", code)
	}
	if !utf8.Valid(p[2:]) {
		return event{}, violationf("a close frame whose reason is not valid UTF-8: %s", preview(p[2:]))
	}
	return event{kind: evClose, code: code, data: p[2:]}, nil
}

// readFailure turns the error that ended the reader into an event.
func readFailure(err error) event {
	switch {
	case errors.Is(err, errTruncated):
		return event{kind: evBroken, err: violationf("%v", err)}
	case errors.Is(err, io.EOF), errors.Is(err, syscall.ECONNRESET):
		return event{kind: evTCPClosed, reset: !errors.Is(err, io.EOF)}
	case errors.Is(err, os.ErrDeadlineExceeded):
		return event{kind: evBroken, err: errors.New("the case's deadline passed while reading")}
	}
	var v violation
	if errors.As(err, &v) {
		return event{kind: evBroken, err: err}
	}
	return event{kind: evBroken, err: fmt.Errorf("read: %w", err)}
}

// emit hands an event to the case; it reports false once the case is over.
func (c *client) emit(ev event) bool {
	select {
	case c.events <- ev:
		return true
	case <-c.quit:
		return false
	}
}

// next returns the next event, or false if none arrives before deadline.
// Once the reader has ended, its final event is returned again and again.
func (c *client) next(deadline time.Time) (event, bool) {
	if c.last != nil {
		return *c.last, true
	}
	timer := time.NewTimer(max(time.Until(deadline), 0))
	defer timer.Stop()
	select {
	case ev := <-c.events:
		if ev.kind == evTCPClosed || ev.kind == evBroken {
			c.last = &ev
			c.tcpClosed = ev.kind == evTCPClosed
		}
		return ev, true
	case <-timer.C:
		return event{}, false
	}
}

// Sending. A write that fails (the server may have failed the connection
// already) is logged and stops all later writes; the expectations then say
// what went wrong.

func (c *client) write(p []byte) bool {
	if c.writeErr != nil {
		return false
	}
	if _, err := c.nc.Write(p); err != nil {
		c.writeErr = err
		c.t.Logf("write failed, nothing more is sent: %v", err)
		return false
	}
	return true
}

// send writes frames back to back in a single write.
func (c *client) send(frames ...frame) { c.write(encodeAll(frames...)) }

// syncPause separates the writes of sendSync, so that each frame reaches
// the server on its own ("frame-wise chops" in Autobahn's terms).
const syncPause = time.Millisecond

// sendSync writes each frame with a write of its own, pausing in between.
func (c *client) sendSync(frames ...frame) {
	for i, f := range frames {
		if i > 0 {
			time.Sleep(syncPause)
		}
		if !c.write(f.encode()) {
			return
		}
	}
}

// sendChopped writes each frame's octets in chops of size bytes, one write
// per chop, as Autobahn's chopsize does. Small chops are paused between so
// that they arrive as separate segments.
func (c *client) sendChopped(size int, frames ...frame) {
	for _, f := range frames {
		w := f.encode()
		for len(w) > 0 {
			n := min(size, len(w))
			if !c.write(w[:n]) {
				return
			}
			w = w[n:]
			if size < 16 && len(w) > 0 {
				time.Sleep(50 * time.Microsecond)
			}
		}
	}
}

// Expectations. Each one reports through t.Errorf and returns false when
// the server fails it, so a case can stop there.

// expect requires the next len(want) events, within d, to be want in order.
func (c *client) expect(d time.Duration, want ...event) bool {
	c.t.Helper()
	deadline := time.Now().Add(d)
	for i, w := range want {
		ev, ok := c.next(deadline)
		if !ok {
			c.t.Errorf("no %s within %v (expected event %d of %d)", w, d, i+1, len(want))
			return false
		}
		if !ev.matches(w) {
			c.t.Errorf("event %d of %d: got %s, want %s", i+1, len(want), ev, w)
			return false
		}
	}
	return true
}

// expectNothing requires that the server stays silent for d.
func (c *client) expectNothing(d time.Duration) bool {
	c.t.Helper()
	if ev, ok := c.next(time.Now().Add(d)); ok {
		c.t.Errorf("got %s, want nothing for %v", ev, d)
		return false
	}
	return true
}

// echoThenClose requires want within replyTimeout, then closes normally.
func (c *client) echoThenClose(want ...event) {
	c.t.Helper()
	if c.expect(replyTimeout, want...) {
		c.closeNormally()
	}
}

// closeNormally runs the closing handshake with code 1000.
func (c *client) closeNormally() {
	c.t.Helper()
	c.closeWith(closeBody(1000, nil), 1000)
}

// closeWith sends a close frame with payload p and requires the server to
// answer, with nothing before, with a close frame carrying one of codes,
// and then to close the TCP connection.
func (c *client) closeWith(p []byte, codes ...int) {
	c.t.Helper()
	c.send(closeRaw(p))
	c.expectCloseReply(codes...)
}

// expectCloseReply requires the next event to be the server's close frame
// with one of codes (noCode for an empty one), then the TCP close.
func (c *client) expectCloseReply(codes ...int) {
	c.t.Helper()
	ev, ok := c.next(time.Now().Add(closeTimeout))
	if !ok {
		c.t.Errorf("no close frame from the server within %v, want close %v", closeTimeout, codes)
		return
	}
	if ev.kind != evClose {
		c.t.Errorf("got %s, want the server's close frame with code %v", ev, codes)
		return
	}
	if !codeIn(ev.code, codes) {
		c.t.Errorf("got %s, want close code %v", ev, codes)
		return
	}
	c.expectTCPClose()
}

func codeIn(code int, codes []int) bool {
	for _, c := range codes {
		if c == code {
			return true
		}
	}
	return false
}

// expectFailure requires the server to fail the connection within d: the
// events up to its close frame must be exactly before, the close frame
// must carry code, and after the client's close reply the server must
// close the TCP connection.
func (c *client) expectFailure(d time.Duration, code int, before ...event) {
	c.t.Helper()
	if !c.failsWithin(d, code, before...) {
		c.t.Errorf("the server did not fail the connection within %v (want close %d)", d, code)
	}
}

// failsWithin is expectFailure, except that when no close frame arrives
// within d it only returns false, so the case can report a late failure
// its own way and go on.
func (c *client) failsWithin(d time.Duration, code int, before ...event) bool {
	c.t.Helper()
	deadline := time.Now().Add(d)
	var got []event
	for {
		ev, ok := c.next(deadline)
		if !ok {
			if len(got) > 0 {
				c.t.Logf("events so far: %s", list(got))
			}
			return false
		}
		switch ev.kind {
		case evTCPClosed:
			c.t.Errorf("the server dropped the connection without a close frame (want close %d); events before: %s", code, list(got))
			return true
		case evBroken:
			c.t.Errorf("%s (want close %d); events before: %s", ev, code, list(got))
			return true
		case evClose:
			if !sameEvents(got, before) {
				c.t.Errorf("events before the server's close frame: got %s, want %s", list(got), list(before))
			}
			if ev.code != code {
				c.t.Errorf("got %s, want close code %d", ev, code)
			}
			// Answer as a client does, echoing the code. The server may
			// have closed the TCP connection already, so errors are fine.
			reply := closeRaw(nil)
			if ev.code != noCode {
				reply = closeFrame(ev.code, nil)
			}
			c.nc.Write(reply.encode())
			c.expectTCPClose()
			return true
		}
		got = append(got, ev)
	}
}

func sameEvents(got, want []event) bool {
	if len(got) != len(want) {
		return false
	}
	for i := range got {
		if !got[i].matches(want[i]) {
			return false
		}
	}
	return true
}

// expectTCPClose requires the server to close the TCP connection within
// closeTimeout, sending nothing more: after the close handshake, or after
// failing the connection, the server must not leave it half-open.
func (c *client) expectTCPClose() {
	c.t.Helper()
	ev, ok := c.next(time.Now().Add(closeTimeout))
	switch {
	case !ok:
		c.t.Errorf("the server left the TCP connection open more than %v after the close handshake", closeTimeout)
	case ev.kind != evTCPClosed:
		c.t.Errorf("got %s, want the server to close the TCP connection", ev)
	case ev.reset:
		c.t.Logf("the server closed the TCP connection with a reset")
	}
}
