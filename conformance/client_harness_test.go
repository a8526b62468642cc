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
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/wspipe/wspipe/layers"
	"github.com/wspipe/wspipe/pipeline"
)

// clientTCPGrace is how long, after the client's reply to the server's
// close frame, the server waits before closing the TCP connection itself,
// watching for the client closing it first. On the loopback interface a
// client that closes right after its close frame is seen well within it.
const clientTCPGrace = 25 * time.Millisecond

// reporter is what the client harness reports to: a *testing.T, or the
// recorder of the sanity test that runs the harness on broken clients.
type reporter interface {
	Helper()
	Errorf(format string, args ...any)
	Logf(format string, args ...any)
}

// clientCase is one Autobahn case in the client direction.
type clientCase struct {
	id      string        // the Autobahn case number
	desc    string        // what the server sends and what the client must do
	timeout time.Duration // deadline of the whole case; 0 means defaultCaseTimeout
	run     func(s *fuzzConn)
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
}

// wspipeClient is the client under test.
var wspipeClient = clientUnderTest{name: "wspipe", run: runClientEcho, apiErrors: true}

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
	defer func() {
		select {
		case <-c.Done():
		case <-ctx.Done():
			c.NetConn().Close()
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
	seen := map[string]bool{}
	for _, tc := range cases {
		if seen[tc.id] {
			t.Fatalf("case %s is listed twice", tc.id)
		}
		seen[tc.id] = true
		t.Run(tc.id, func(t *testing.T) {
			t.Log(tc.desc)
			runClientCase(t, wspipeClient, tc)
		})
	}
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
	ln, err := net.ListenTCP("tcp", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		r.Errorf("listen: %v", err)
		return true
	}
	defer ln.Close()
	ctx, cancel := context.WithDeadline(context.Background(), deadline.Add(2*closeTimeout))
	defer cancel()
	end := make(chan error, 1)
	go func() { end <- sut.run(ctx, "ws://"+ln.Addr().String()+"/") }()

	s := &fuzzConn{
		r:      r,
		sut:    sut,
		end:    end,
		cancel: cancel,
		events: make(chan clientEvent, 64),
		quit:   make(chan struct{}),
		done:   make(chan struct{}),
	}
	if s.accept(ln, deadline) {
		s.reading = true
		go s.readLoop()
		tc.run(s)
	}
	s.finish()
	return s.failed
}

// clientEventKind says what the client did.
type clientEventKind int

const (
	ceMessage   clientEventKind = iota // a complete data message
	cePing                             // a ping frame
	cePong                             // a pong frame
	ceClose                            // a close frame
	ceTCPClosed                        // the client closed the TCP connection (FIN, or RST)
	ceBroken                           // a protocol violation by the client, or a read failure
)

// clientEvent is one thing the client did, as the fuzzing server saw it.
type clientEvent struct {
	kind   clientEventKind
	opcode byte   // ceMessage: opText or opBinary
	data   []byte // message, ping or pong payload; close reason
	code   int    // ceClose: status code, or noCode
	reset  bool   // ceTCPClosed: closed by RST
	err    error  // ceBroken
}

// Expected events.

func cText(p []byte) clientEvent { return clientEvent{kind: ceMessage, opcode: opText, data: p} }
func cBin(p []byte) clientEvent  { return clientEvent{kind: ceMessage, opcode: opBinary, data: p} }
func cPong(p []byte) clientEvent { return clientEvent{kind: cePong, data: p} }

// matches reports whether e is the expected event w: the same message,
// ping or pong, or a close frame with the same code (whatever its reason).
func (e clientEvent) matches(w clientEvent) bool {
	if e.kind == ceClose || w.kind == ceClose {
		return e.kind == w.kind && e.code == w.code
	}
	return e.kind == w.kind && e.opcode == w.opcode && bytesEqual(e.data, w.data)
}

func bytesEqual(a, b []byte) bool { return string(a) == string(b) }

func (e clientEvent) String() string {
	switch e.kind {
	case ceMessage:
		return fmt.Sprintf("%s message %s", opName(e.opcode), preview(e.data))
	case cePing:
		return "ping " + preview(e.data)
	case cePong:
		return "pong " + preview(e.data)
	case ceClose:
		if e.code == noCode {
			return "close frame without status code"
		}
		return fmt.Sprintf("close %d %s", e.code, preview(e.data))
	case ceTCPClosed:
		if e.reset {
			return "TCP connection reset by the client"
		}
		return "TCP connection closed by the client"
	case ceBroken:
		return e.err.Error()
	}
	return "unknown event"
}

func clientEventList(evs []clientEvent) string {
	if len(evs) == 0 {
		return "[]"
	}
	s := make([]string, len(evs))
	for i, e := range evs {
		s[i] = e.String()
	}
	return "[" + strings.Join(s, ", ") + "]"
}

// fuzzConn is the fuzzing server's end of one connection. A reader
// goroutine parses and checks everything the client sends and turns it
// into events; the case, on the test goroutine, writes frames and
// consumes events.
type fuzzConn struct {
	r      reporter
	sut    clientUnderTest
	end    chan error // the client's result
	cancel context.CancelFunc

	nc       net.Conn
	br       *bufio.Reader
	events   chan clientEvent
	quit     chan struct{} // closed by finish
	done     chan struct{} // closed when the reader returns
	reading  bool          // the reader was started
	last     *clientEvent  // the reader's final event, once consumed
	writeErr error

	failed  bool               // an error was reported
	closed  bool               // the case ran the connection to its end
	wantEnd func(error) string // judges the client's result: what it should have been, or ""
	seenEnd bool               // the client's result has been taken
	endErr  error              // the client's result
}

// errorf reports a failure of the client (or of the case).
func (s *fuzzConn) errorf(format string, a ...any) {
	s.r.Helper()
	s.failed = true
	s.r.Errorf(format, a...)
}

// keysSeen holds every Sec-WebSocket-Key seen in this process: a client
// must send a fresh one in each handshake.
var keysSeen = struct {
	sync.Mutex
	m map[string]bool
}{m: map[string]bool{}}

// accept takes the client's connection and runs the server's side of the
// opening handshake, validating the request strictly. It reports whether
// the connection is open.
func (s *fuzzConn) accept(ln *net.TCPListener, deadline time.Time) bool {
	s.r.Helper()
	ln.SetDeadline(time.Now().Add(handshakeTimeout))
	nc, err := ln.Accept()
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
	req, err := http.ReadRequest(s.br)
	if err != nil {
		s.errorf("handshake: reading the client's request: %v", err)
		nc.Write([]byte("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"))
		return false
	}
	key, msg := checkClientRequest(req, ln.Addr().String())
	if msg == "" && s.br.Buffered() > 0 {
		msg = fmt.Sprintf("the client sent %d bytes after its request, before the server's response", s.br.Buffered())
	}
	if msg != "" {
		s.errorf("handshake: %s", msg)
		nc.Write([]byte("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"))
		return false
	}
	resp := "HTTP/1.1 101 Switching Protocols\r\n" +
		"Upgrade: websocket\r\n" +
		"Connection: Upgrade\r\n" +
		"Sec-WebSocket-Accept: " + acceptFor(key) + "\r\n\r\n"
	if _, err := nc.Write([]byte(resp)); err != nil {
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

// maxKeyRepeats is how many times, in one connection, a mask key may be
// one used before. Keys drawn from a good random source repeat that often
// with negligible probability even over thousands of frames; a constant
// or cycling key repeats at once.
const maxKeyRepeats = 2

// readLoop turns the client's frames into events until the connection
// ends or the client breaks the protocol. Beyond framing it checks that
// every frame is masked with a fresh key (never zero, never the previous
// frame's, and repeats of older keys no more than chance allows), that the
// client sends no RSV bits, no reserved opcodes, well-formed control
// frames, proper fragmentation, valid UTF-8 in text messages, valid close
// payloads and nothing after its close frame.
func (s *fuzzConn) readLoop() {
	defer close(s.done)
	var (
		open    bool // a fragmented message is open
		msgOp   byte
		msg     []byte
		closed  bool // the client sent its close frame
		prevKey [4]byte
		keys    = map[[4]byte]bool{}
		repeats int
		frames  int
	)
	broken := func(err error) { s.emit(clientEvent{kind: ceBroken, err: err}) }
	for {
		h, p, err := readClientFrame(s.br, maxMessage)
		if err != nil {
			s.emit(clientReadFailure(err))
			return
		}
		frames++
		switch {
		case h.key == [4]byte{}:
			broken(clientViolationf("frame %d (%s) is masked with the all-zero key, which leaves it unmasked", frames, opName(h.opcode)))
			return
		case frames > 1 && h.key == prevKey:
			broken(clientViolationf("frame %d (%s) reuses the previous frame's mask key %x; keys must be fresh and unpredictable", frames, opName(h.opcode), h.key))
			return
		case keys[h.key]:
			repeats++
			if repeats > maxKeyRepeats {
				broken(clientViolationf("frame %d (%s) reuses mask key %x; %d keys of %d frames were used before, so the keys are not fresh", frames, opName(h.opcode), h.key, repeats, frames))
				return
			}
		}
		prevKey, keys[h.key] = h.key, true
		if closed {
			broken(clientViolationf("a %s frame after the client's close frame", opName(h.opcode)))
			return
		}
		if h.rsv != 0 {
			broken(clientViolationf("RSV bits %03b set on a %s frame, but no extension was negotiated", h.rsv, opName(h.opcode)))
			return
		}
		if h.opcode >= opClose && (!h.fin || len(p) > 125) {
			broken(clientViolationf("a %s frame with FIN=%v and %d bytes of payload; control frames must be final and at most 125 bytes", opName(h.opcode), h.fin, len(p)))
			return
		}
		switch h.opcode {
		case opText, opBinary:
			if open {
				broken(clientViolationf("a new %s frame while a fragmented message is open", opName(h.opcode)))
				return
			}
			open, msgOp, msg = true, h.opcode, p
		case opCont:
			if !open {
				broken(clientViolationf("a continuation frame with no message open"))
				return
			}
			if len(msg)+len(p) > maxMessage {
				broken(clientViolationf("a message over this suite's %d-byte limit", maxMessage))
				return
			}
			msg = append(msg, p...)
		case opPing:
			if !s.emit(clientEvent{kind: cePing, data: p}) {
				return
			}
			continue
		case opPong:
			if !s.emit(clientEvent{kind: cePong, data: p}) {
				return
			}
			continue
		case opClose:
			ev, err := parseClientClose(p)
			if err != nil {
				broken(err)
				return
			}
			if !s.emit(ev) {
				return
			}
			closed = true
			continue
		default:
			broken(clientViolationf("a frame with reserved opcode %#x", h.opcode))
			return
		}
		if !h.fin {
			continue
		}
		if msgOp == opText && !utf8.Valid(msg) {
			broken(clientViolationf("a text message that is not valid UTF-8: %s", preview(msg)))
			return
		}
		if !s.emit(clientEvent{kind: ceMessage, opcode: msgOp, data: msg}) {
			return
		}
		open, msg = false, nil
	}
}

// parseClientClose checks and decodes a close frame payload from the client.
func parseClientClose(p []byte) (clientEvent, error) {
	switch {
	case len(p) == 0:
		return clientEvent{kind: ceClose, code: noCode}, nil
	case len(p) == 1:
		return clientEvent{}, clientViolationf("a close frame with a 1-byte payload")
	}
	code := int(binary.BigEndian.Uint16(p))
	if !validCloseCode(code) {
		return clientEvent{}, clientViolationf("a close frame with code %d, which must not be sent", code)
	}
	if !utf8.Valid(p[2:]) {
		return clientEvent{}, clientViolationf("a close frame whose reason is not valid UTF-8: %s", preview(p[2:]))
	}
	return clientEvent{kind: ceClose, code: code, data: p[2:]}, nil
}

// clientReadFailure turns the error that ended the reader into an event.
func clientReadFailure(err error) clientEvent {
	switch {
	case errors.Is(err, errTruncated):
		return clientEvent{kind: ceBroken, err: clientViolationf("%v", err)}
	case errors.Is(err, io.EOF), errors.Is(err, syscall.ECONNRESET):
		return clientEvent{kind: ceTCPClosed, reset: !errors.Is(err, io.EOF)}
	case errors.Is(err, os.ErrDeadlineExceeded):
		return clientEvent{kind: ceBroken, err: errors.New("the case's deadline passed while reading")}
	}
	var v clientViolation
	if errors.As(err, &v) {
		return clientEvent{kind: ceBroken, err: err}
	}
	return clientEvent{kind: ceBroken, err: fmt.Errorf("read: %w", err)}
}

// emit hands an event to the case; it reports false once the case is over.
func (s *fuzzConn) emit(ev clientEvent) bool {
	select {
	case s.events <- ev:
		return true
	case <-s.quit:
		return false
	}
}

// next returns the next event, or false if none arrives before deadline.
// Once the reader has ended, its final event is returned again and again.
func (s *fuzzConn) next(deadline time.Time) (clientEvent, bool) {
	if s.last != nil {
		return *s.last, true
	}
	timer := time.NewTimer(max(time.Until(deadline), 0))
	defer timer.Stop()
	select {
	case ev := <-s.events:
		if ev.kind == ceTCPClosed || ev.kind == ceBroken {
			s.last = &ev
		}
		return ev, true
	case <-timer.C:
		return clientEvent{}, false
	}
}

// Sending. A write that fails (the client may have failed the connection
// already) is logged and stops all later writes; the expectations then
// say what went wrong.

func (s *fuzzConn) write(p []byte) bool {
	if s.writeErr != nil {
		return false
	}
	if _, err := s.nc.Write(p); err != nil {
		s.writeErr = err
		s.r.Logf("write failed, nothing more is sent: %v", err)
		return false
	}
	return true
}

// send writes frames back to back, unmasked, in a single write.
func (s *fuzzConn) send(frames ...frame) { s.write(encodeServerAll(frames...)) }

// sendSync writes each frame with a write of its own, pausing in between
// (Autobahn's frame-wise chops).
func (s *fuzzConn) sendSync(frames ...frame) {
	for i, f := range frames {
		if i > 0 {
			time.Sleep(syncPause)
		}
		if !s.write(encodeServer(f)) {
			return
		}
	}
}

// sendChopped writes each frame's octets in chops of size bytes, one
// write per chop, pausing between small chops so they arrive as separate
// segments.
func (s *fuzzConn) sendChopped(size int, frames ...frame) {
	for _, f := range frames {
		w := encodeServer(f)
		for len(w) > 0 {
			n := min(size, len(w))
			if !s.write(w[:n]) {
				return
			}
			w = w[n:]
			if size < 16 && len(w) > 0 {
				time.Sleep(50 * time.Microsecond)
			}
		}
	}
}

// sendAs writes frames in one of the write modes of category 5.
func (s *fuzzConn) sendAs(m writeMode, frames ...frame) {
	switch m {
	case oneWrite:
		s.send(frames...)
	case frameWise:
		s.sendSync(frames...)
	case octetWise:
		s.sendChopped(1, frames...)
	}
}

// Expectations. Each reports through errorf and returns false when the
// client fails it, so a case can stop there.

// expect requires the next len(want) events, within d, to be want in order.
func (s *fuzzConn) expect(d time.Duration, want ...clientEvent) bool {
	s.r.Helper()
	deadline := time.Now().Add(d)
	for i, w := range want {
		ev, ok := s.next(deadline)
		if !ok {
			s.errorf("no %s from the client within %v (expected event %d of %d)", w, d, i+1, len(want))
			return false
		}
		if !ev.matches(w) {
			s.errorf("event %d of %d: got %s, want %s", i+1, len(want), ev, w)
			return false
		}
	}
	return true
}

// expectNothing requires that the client stays silent for d.
func (s *fuzzConn) expectNothing(d time.Duration) bool {
	s.r.Helper()
	if ev, ok := s.next(time.Now().Add(d)); ok {
		s.errorf("got %s, want nothing for %v", ev, d)
		return false
	}
	return true
}

// echoThenClose requires want within replyTimeout, then closes normally.
func (s *fuzzConn) echoThenClose(want ...clientEvent) {
	s.r.Helper()
	if s.expect(replyTimeout, want...) {
		s.closeNormally()
	}
}

// closeNormally runs the server-initiated closing handshake with 1000.
func (s *fuzzConn) closeNormally() {
	s.r.Helper()
	s.closeWith(closeBody(1000, nil), 1000)
}

// closeWith sends a close frame with payload p and requires the client's
// close reply with code want (noCode for an empty one), with nothing
// before it; see expectCloseReply.
func (s *fuzzConn) closeWith(p []byte, want int) {
	s.r.Helper()
	s.send(closeRaw(p))
	sent := noCode
	if len(p) >= 2 {
		sent = int(binary.BigEndian.Uint16(p))
	}
	s.expectCloseReply(want, sent)
}

// expectCloseReply requires the next event to be the client's close frame
// with code want (noCode: an empty one), in answer to the server's close
// frame with code sent. A reply echoing the code closes the connection
// cleanly: the client must then wait for the server to close the TCP
// connection (RFC 6455 section 7.1.1), so the server watches for
// clientTCPGrace before it closes it, and the client's connection must
// then end with the server's close. Any other reply (1002, 1007) fails the
// connection, and the client may close TCP after it.
func (s *fuzzConn) expectCloseReply(want, sent int) {
	s.r.Helper()
	ev, ok := s.next(time.Now().Add(closeTimeout))
	if !ok {
		s.errorf("no close frame from the client within %v, want close %s", closeTimeout, codeName(want))
		return
	}
	if ev.kind != ceClose {
		s.errorf("got %s, want the client's close frame with %s", ev, codeName(want))
		return
	}
	if ev.code != want {
		s.errorf("got %s, want the client's close reply with %s", ev, codeName(want))
		return
	}
	if want != sent {
		s.ended(endsWithFailure(want))
		return
	}
	if ev, ok := s.next(time.Now().Add(clientTCPGrace)); ok {
		if ev.kind == ceTCPClosed {
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

// expectFailure requires the client to fail the connection within d: the
// events up to its close frame must be exactly before, and the close
// frame must carry code. The server then answers with its own close frame
// and closes the TCP connection.
func (s *fuzzConn) expectFailure(d time.Duration, code int, before ...clientEvent) {
	s.r.Helper()
	if !s.failsWithin(d, code, before...) {
		s.errorf("the client did not fail the connection within %v (want close %d)", d, code)
	}
}

// failsWithin is expectFailure, except that when no close frame arrives
// within d it only returns false, so the case can report a late failure
// its own way and go on.
func (s *fuzzConn) failsWithin(d time.Duration, code int, before ...clientEvent) bool {
	s.r.Helper()
	deadline := time.Now().Add(d)
	var got []clientEvent
	for {
		ev, ok := s.next(deadline)
		if !ok {
			if len(got) > 0 {
				s.r.Logf("events so far: %s", clientEventList(got))
			}
			return false
		}
		switch ev.kind {
		case ceTCPClosed:
			s.errorf("the client dropped the connection without a close frame (want close %d); events before: %s", code, clientEventList(got))
			return true
		case ceBroken:
			s.errorf("%s (want close %d); events before: %s", ev, code, clientEventList(got))
			return true
		case ceClose:
			if !sameClientEvents(got, before) {
				s.errorf("events before the client's close frame: got %s, want %s", clientEventList(got), clientEventList(before))
			}
			if ev.code != code {
				s.errorf("got %s, want close code %d", ev, code)
			}
			// Answer as a server does, echoing the code. The client may
			// have closed the TCP connection already, so errors are fine.
			reply := closeRaw(nil)
			if ev.code != noCode {
				reply = closeFrame(ev.code, nil)
			}
			s.nc.Write(encodeServer(reply))
			s.ended(endsWithFailure(code))
			return true
		}
		got = append(got, ev)
	}
}

func sameClientEvents(got, want []clientEvent) bool {
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

// failFast requires the client to fail the connection with 1007 within
// failFastWindow of what was just sent (what), before rest is sent. A
// failure that only comes once rest is sent is reported as late.
func (s *fuzzConn) failFast(what string, rest func()) {
	s.r.Helper()
	if s.failsWithin(failFastWindow, 1007) {
		return
	}
	s.errorf("not fail-fast: the client did not fail the connection within %v of %s", failFastWindow, what)
	rest()
	if s.failsWithin(failTimeout, 1007) {
		s.r.Logf("the client failed the connection only after the rest of the message was sent")
	} else {
		s.errorf("the client did not fail the connection even after the rest of the message was sent")
	}
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
	close(s.quit)
	if s.nc != nil {
		s.nc.Close()
	}
	if s.reading {
		<-s.done
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
