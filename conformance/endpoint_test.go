package conformance

// The suite's end of one connection, in either direction. The case
// tables (cat1_test.go ... cat10_test.go) are written once, against an
// *endpoint, in role-neutral steps: send frames (in one write, frame-wise,
// chopped), expect the peer's echoes, pongs or silence, close, expect the
// peer to fail the connection. Each direction's driver builds the endpoint
// with its role's rules: how this end encodes its frames (masked as a
// client, unmasked as a server), how it reads and checks the peer's
// framing (a server must not mask, a client must mask with fresh keys),
// how it judges the peer's close reply and how the connection must end
// (the server closes the TCP connection; see harness_test.go and
// client_harness_test.go).

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"syscall"
	"time"
	"unicode/utf8"
)

// reporter is what an endpoint reports to: a *testing.T, or the recorder
// of the sanity test that runs the client harness on broken clients.
type reporter interface {
	Helper()
	Errorf(format string, args ...any)
	Logf(format string, args ...any)
}

// testCase is one Autobahn case, defined once for both directions: the
// server direction runs it with the suite as the client, the client
// direction with the suite as the fuzzing server.
type testCase struct {
	id      string        // the Autobahn case number, e.g. "6.4.1"
	desc    string        // what the suite sends and what the peer must do
	timeout time.Duration // deadline of the whole case; 0 means defaultCaseTimeout
	run     func(c *endpoint)
}

// How a case writes its frames: all in one write, one write per frame, or
// octet-wise chops.
type writeMode int

const (
	oneWrite writeMode = iota
	frameWise
	octetWise
)

// eventKind says what the peer did.
type eventKind int

const (
	evMessage   eventKind = iota // a complete data message
	evPing                       // a ping frame
	evPong                       // a pong frame
	evClose                      // a close frame
	evTCPClosed                  // the peer closed the TCP connection (FIN, or RST)
	evBroken                     // a protocol violation by the peer, or a read failure
)

// noCode is the code of a close frame with an empty payload.
const noCode = -1

// event is one thing the peer did, as the suite saw it.
type event struct {
	kind   eventKind
	opcode byte   // evMessage: opText or opBinary
	data   []byte // message, ping or pong payload; close reason
	code   int    // evClose: status code, or noCode
	reset  bool   // evTCPClosed: closed by RST
	by     string // evTCPClosed: "server" or "client"
	err    error  // evBroken
}

// Expected events.

func textMsg(p []byte) event { return event{kind: evMessage, opcode: opText, data: p} }
func binMsg(p []byte) event  { return event{kind: evMessage, opcode: opBinary, data: p} }
func pongEv(p []byte) event  { return event{kind: evPong, data: p} }
func closeEv(code int) event { return event{kind: evClose, code: code} }

// matches reports whether e is the expected event w: the same message,
// ping or pong, or a close frame with the same code (whatever its reason).
func (e event) matches(w event) bool {
	if e.kind == evClose || w.kind == evClose {
		return e.kind == w.kind && e.code == w.code
	}
	return e.kind == w.kind && e.opcode == w.opcode && string(e.data) == string(w.data)
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
			return "TCP connection reset by the " + e.by
		}
		return "TCP connection closed by the " + e.by
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

// notSent is endpoint.sentClose before this end sent a close frame.
const notSent = -2

// endpoint is the suite's end of one connection. A reader goroutine
// parses and checks everything the peer sends and turns it into events;
// the case, on the test goroutine, writes frames and consumes events.
type endpoint struct {
	r    reporter
	peer string // who is under test: "server" or "client"
	nc   net.Conn
	br   *bufio.Reader

	// The role's rules, set by the driver.
	encode    func(f frame) []byte                  // f's wire form as this end sends it
	readFrame func() (frameHeader, []byte, error)   // the peer's next frame, its framing and masking checked
	onReply   func(ev event, codes []int, sent int) // judges the peer's close reply ev to this end's close frame, and the end of the connection
	onFailed  func(code int)                        // the peer failed the connection with code and this end answered: judges the end of the connection

	events    chan event
	quit      chan struct{} // closed by stop
	done      chan struct{} // closed when the reader returns
	last      *event        // the reader's final event, once consumed
	writeErr  error
	failed    bool // an error was reported
	tcpClosed bool // the peer closed the TCP connection
	sentClose int  // the code of this end's first close frame (noCode: empty), or notSent
}

func newEndpoint(r reporter, peer string) *endpoint {
	return &endpoint{
		r:         r,
		peer:      peer,
		events:    make(chan event, 64),
		quit:      make(chan struct{}),
		done:      make(chan struct{}),
		sentClose: notSent,
	}
}

// errorf reports a failure of the peer (or of the case).
func (c *endpoint) errorf(format string, a ...any) {
	c.r.Helper()
	c.failed = true
	c.r.Errorf(format, a...)
}

func (c *endpoint) violationf(format string, a ...any) error {
	return violation{c.peer, fmt.Sprintf(format, a...)}
}

// stop ends the reader, whose connection the caller has closed, and
// waits for it.
func (c *endpoint) stop() {
	close(c.quit)
	<-c.done
}

// readLoop turns the peer's frames into events until the connection ends
// or the peer breaks the protocol. Beyond framing and masking (readFrame)
// it checks that the peer sends no RSV bits, no reserved opcodes,
// well-formed control frames, proper fragmentation, valid UTF-8 in text
// messages, valid close payloads and nothing after its close frame.
func (c *endpoint) readLoop() {
	defer close(c.done)
	var (
		open   bool // a fragmented message is open
		msgOp  byte
		msg    []byte
		closed bool // the peer sent its close frame
	)
	broken := func(format string, a ...any) { c.emit(event{kind: evBroken, err: c.violationf(format, a...)}) }
	for {
		h, p, err := c.readFrame()
		if err != nil {
			c.emit(readFailure(err, c.peer))
			return
		}
		if closed {
			broken("a %s frame after the %s's close frame", opName(h.opcode), c.peer)
			return
		}
		if h.rsv != 0 {
			broken("RSV bits %03b set on a %s frame, but no extension was negotiated", h.rsv, opName(h.opcode))
			return
		}
		if h.opcode >= opClose && (!h.fin || len(p) > 125) {
			broken("a %s frame with FIN=%v and %d bytes of payload; control frames must be final and at most 125 bytes", opName(h.opcode), h.fin, len(p))
			return
		}
		switch h.opcode {
		case opText, opBinary:
			if open {
				broken("a new %s frame while a fragmented message is open", opName(h.opcode))
				return
			}
			open, msgOp, msg = true, h.opcode, p
		case opCont:
			if !open {
				broken("a continuation frame with no message open")
				return
			}
			if len(msg)+len(p) > maxMessage {
				broken("a message over this suite's %d-byte limit", maxMessage)
				return
			}
			msg = append(msg, p...)
		case opPing, opPong:
			kind := evPing
			if h.opcode == opPong {
				kind = evPong
			}
			if !c.emit(event{kind: kind, data: p}) {
				return
			}
			continue
		case opClose:
			ev, problem := parseClose(p)
			if problem != "" {
				broken("%s", problem)
				return
			}
			if !c.emit(ev) {
				return
			}
			closed = true
			continue
		default:
			broken("a frame with reserved opcode %#x", h.opcode)
			return
		}
		if !h.fin {
			continue
		}
		if msgOp == opText && !utf8.Valid(msg) {
			broken("a text message that is not valid UTF-8: %s", preview(msg))
			return
		}
		if !c.emit(event{kind: evMessage, opcode: msgOp, data: msg}) {
			return
		}
		open, msg = false, nil
	}
}

// parseClose checks and decodes a close frame payload; it returns what is
// wrong with it, if anything.
func parseClose(p []byte) (event, string) {
	switch {
	case len(p) == 0:
		return event{kind: evClose, code: noCode}, ""
	case len(p) == 1:
		return event{}, "a close frame with a 1-byte payload"
	}
	code := int(binary.BigEndian.Uint16(p))
	if !validCloseCode(code) {
		return event{}, fmt.Sprintf("a close frame with code %d, which must not be sent", code)
	}
	if !utf8.Valid(p[2:]) {
		return event{}, fmt.Sprintf("a close frame whose reason is not valid UTF-8: %s", preview(p[2:]))
	}
	return event{kind: evClose, code: code, data: p[2:]}, ""
}

// readFailure turns the error that ended the reader into an event.
func readFailure(err error, peer string) event {
	switch {
	case errors.Is(err, errTruncated):
		return event{kind: evBroken, err: violation{peer, err.Error()}}
	case errors.Is(err, io.EOF), errors.Is(err, syscall.ECONNRESET):
		return event{kind: evTCPClosed, reset: !errors.Is(err, io.EOF), by: peer}
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
func (c *endpoint) emit(ev event) bool {
	select {
	case c.events <- ev:
		return true
	case <-c.quit:
		return false
	}
}

// next returns the next event, or false if none arrives before deadline.
// Once the reader has ended, its final event is returned again and again.
func (c *endpoint) next(deadline time.Time) (event, bool) {
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

// Sending. A write that fails (the peer may have failed the connection
// already) is logged and stops all later writes; the expectations then say
// what went wrong.

func (c *endpoint) write(p []byte) bool {
	if c.writeErr != nil {
		return false
	}
	if _, err := c.nc.Write(p); err != nil {
		c.writeErr = err
		c.r.Logf("write failed, nothing more is sent: %v", err)
		return false
	}
	return true
}

// wire returns the frames' wire form, noting this end's first close frame.
func (c *endpoint) wire(f frame) []byte {
	if f.opcode == opClose && c.sentClose == notSent {
		c.sentClose = noCode
		if len(f.payload) >= 2 {
			c.sentClose = int(binary.BigEndian.Uint16(f.payload))
		}
	}
	return c.encode(f)
}

// send writes frames back to back in a single write.
func (c *endpoint) send(frames ...frame) {
	var w []byte
	for _, f := range frames {
		w = append(w, c.wire(f)...)
	}
	c.write(w)
}

// syncPause separates the writes of sendSync, so that each frame reaches
// the peer on its own ("frame-wise chops" in Autobahn's terms).
const syncPause = time.Millisecond

// sendSync writes each frame with a write of its own, pausing in between.
func (c *endpoint) sendSync(frames ...frame) {
	for i, f := range frames {
		if i > 0 {
			time.Sleep(syncPause)
		}
		if !c.write(c.wire(f)) {
			return
		}
	}
}

// sendChopped writes each frame's octets in chops of size bytes, one write
// per chop, as Autobahn's chopsize does. Small chops are paused between so
// that they arrive as separate segments.
func (c *endpoint) sendChopped(size int, frames ...frame) {
	for _, f := range frames {
		w := c.wire(f)
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

// sendAs writes frames in one of the write modes of category 5.
func (c *endpoint) sendAs(m writeMode, frames ...frame) {
	switch m {
	case oneWrite:
		c.send(frames...)
	case frameWise:
		c.sendSync(frames...)
	case octetWise:
		c.sendChopped(1, frames...)
	}
}

// Expectations. Each one reports through errorf and returns false when
// the peer fails it, so a case can stop there.

// expect requires the next len(want) events, within d, to be want in order.
func (c *endpoint) expect(d time.Duration, want ...event) bool {
	c.r.Helper()
	deadline := time.Now().Add(d)
	for i, w := range want {
		ev, ok := c.next(deadline)
		if !ok {
			c.errorf("no %s from the %s within %v (expected event %d of %d)", w, c.peer, d, i+1, len(want))
			return false
		}
		if !ev.matches(w) {
			c.errorf("event %d of %d: got %s, want %s", i+1, len(want), ev, w)
			return false
		}
	}
	return true
}

// expectNothing requires that the peer stays silent for d.
func (c *endpoint) expectNothing(d time.Duration) bool {
	c.r.Helper()
	if ev, ok := c.next(time.Now().Add(d)); ok {
		c.errorf("got %s, want nothing for %v", ev, d)
		return false
	}
	return true
}

// echoThenClose requires want within replyTimeout, then closes normally.
func (c *endpoint) echoThenClose(want ...event) {
	c.r.Helper()
	if c.expect(replyTimeout, want...) {
		c.closeNormally()
	}
}

// closeNormally runs the closing handshake with code 1000.
func (c *endpoint) closeNormally() {
	c.r.Helper()
	c.closeWith(closeBody(1000, nil), 1000)
}

// closeWith sends a close frame with payload p and requires the peer's
// close reply, with nothing before it; see expectCloseReply.
func (c *endpoint) closeWith(p []byte, codes ...int) {
	c.r.Helper()
	c.send(closeRaw(p))
	c.expectCloseReply(codes...)
}

// expectCloseReply requires the next event to be the peer's close frame,
// in answer to this end's, with code codes[0] (noCode: an empty one). The
// role decides the rest (onReply): a server under test may also answer
// with any of codes[1:] and must then close the TCP connection; a client
// under test must echo codes[0] exactly and, after a clean close, leave
// closing the TCP connection to the server.
func (c *endpoint) expectCloseReply(codes ...int) {
	c.r.Helper()
	ev, ok := c.next(time.Now().Add(closeTimeout))
	if !ok {
		c.errorf("no close frame from the %s within %v, want close %v", c.peer, closeTimeout, codes)
		return
	}
	if ev.kind != evClose {
		c.errorf("got %s, want the %s's close frame with code %v", ev, c.peer, codes)
		return
	}
	c.onReply(ev, codes, c.sentClose)
}

// expectFailure requires the peer to fail the connection within d: the
// events up to its close frame must be exactly before, and the close
// frame must carry code. This end then answers with its own close frame,
// and the role judges the end of the connection (onFailed).
func (c *endpoint) expectFailure(d time.Duration, code int, before ...event) {
	c.r.Helper()
	if !c.failsWithin(d, code, before...) {
		c.errorf("the %s did not fail the connection within %v (want close %d)", c.peer, d, code)
	}
}

// failsWithin is expectFailure, except that when no close frame arrives
// within d it only returns false, so the case can report a late failure
// its own way and go on.
func (c *endpoint) failsWithin(d time.Duration, code int, before ...event) bool {
	c.r.Helper()
	deadline := time.Now().Add(d)
	var got []event
	for {
		ev, ok := c.next(deadline)
		if !ok {
			if len(got) > 0 {
				c.r.Logf("events so far: %s", list(got))
			}
			return false
		}
		switch ev.kind {
		case evTCPClosed:
			c.errorf("the %s dropped the connection without a close frame (want close %d); events before: %s", c.peer, code, list(got))
			return true
		case evBroken:
			c.errorf("%s (want close %d); events before: %s", ev, code, list(got))
			return true
		case evClose:
			if !sameEvents(got, before) {
				c.errorf("events before the %s's close frame: got %s, want %s", c.peer, list(got), list(before))
			}
			if ev.code != code {
				c.errorf("got %s, want close code %d", ev, code)
			}
			// Answer, echoing the code. The peer may have closed the TCP
			// connection already, so errors are fine.
			reply := closeRaw(nil)
			if ev.code != noCode {
				reply = closeFrame(ev.code, nil)
			}
			c.nc.Write(c.encode(reply))
			c.onFailed(code)
			return true
		}
		got = append(got, ev)
	}
}

// failFastWindow is how long after the invalid octet the peer has to fail
// the connection. It is Autobahn's pause between the parts of 6.4.x.
const failFastWindow = time.Second

// failFast requires the peer to fail the connection with 1007 within
// failFastWindow of what was just sent (what), before rest is sent. A
// failure that only comes later, once rest is sent, is reported as late:
// Autobahn calls it NON-STRICT, this suite a failure.
func (c *endpoint) failFast(what string, rest func()) {
	c.r.Helper()
	if c.failsWithin(failFastWindow, 1007) {
		return
	}
	c.errorf("not fail-fast: the %s did not fail the connection within %v of %s", c.peer, failFastWindow, what)
	rest()
	if c.failsWithin(failTimeout, 1007) {
		c.r.Logf("the %s failed the connection only after the rest of the message was sent", c.peer)
	} else {
		c.errorf("the %s did not fail the connection even after the rest of the message was sent", c.peer)
	}
}
