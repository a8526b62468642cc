package conformance

import (
	"testing"
	"time"

	"github.com/wspipe/wspipe/pipeline"
)

// Closing when the server does not do its part: no Autobahn case covers
// it. After a clean close the client waits for the server to close the TCP
// connection (RFC 6455 section 7.1.1), but not forever; after failing the
// connection it does not wait forever either. clientGiveUp bounds how long
// it may take: wspipe's default CloseTimeout plus the suite's margin.
func TestClientClosing(t *testing.T) { runClientCases(t, clientClosingCases()) }

const clientGiveUp = pipeline.DefaultCloseTimeout + closeTimeout

// clientHold is how long, at least, the client must keep the TCP
// connection open after a clean close when the server keeps it open.
const clientHold = time.Second

func clientClosingCases() []clientCase {
	return []clientCase{
		{id: "close-server-keeps-tcp", desc: "The server sends a close frame with 1000 and, after the client's reply, keeps the TCP connection open. The client keeps it open too for at least 1 s, waiting for the server, then closes it itself within a bounded time.", timeout: 30 * time.Second, run: func(s *fuzzConn) {
			s.send(closeFrame(1000, nil))
			replied := time.Now()
			if !s.expect(closeTimeout, closeEv(1000)) || !s.expectNothing(clientHold) {
				return
			}
			if s.clientEndsWithin(time.Until(replied.Add(clientGiveUp)), "after its close reply") {
				s.r.Logf("the client closed the TCP connection %v after its close reply", time.Since(replied).Round(time.Millisecond))
				s.ended(endsWithPeerClose(1000))
			}
		}},
		{id: "fail-server-silent", desc: "The server sends a text message with RSV = 1; the client fails the connection with 1002. The server neither answers nor closes the TCP connection; the client ends the connection itself within a bounded time.", timeout: 30 * time.Second, run: func(s *fuzzConn) {
			s.send(frame{fin: true, rsv: 1, opcode: opText, payload: b("Hello, world!")})
			if !s.expect(failTimeout, closeEv(1002)) {
				return
			}
			failed := time.Now()
			if s.clientEndsWithin(clientGiveUp, "after its close frame") {
				s.r.Logf("the client ended %v after its close frame", time.Since(failed).Round(time.Millisecond))
				s.ended(endsWithFailure(1002))
			}
		}},
	}
}

// clientEndsWithin requires the client, with the server silent, to end
// its connection within d: its echo loop returns and the server sees the
// TCP connection closed, with nothing sent before.
func (s *fuzzConn) clientEndsWithin(d time.Duration, after string) bool {
	s.r.Helper()
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case s.endErr = <-s.end:
		s.seenEnd = true
	case <-t.C:
		s.errorf("the client still held the connection open %v %s", d, after)
		return false
	}
	ev, ok := s.next(time.Now().Add(closeTimeout))
	switch {
	case !ok:
		s.errorf("the client's echo loop ended, but the TCP connection stayed open")
		return false
	case ev.kind != evTCPClosed:
		s.errorf("got %s, want the client to close the TCP connection", ev)
		return false
	}
	return true
}
