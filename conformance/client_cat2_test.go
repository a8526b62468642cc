package conformance

import (
	"fmt"
	"testing"
)

// Client category 2: pings and pongs. The client answers every ping with a
// masked pong echoing its payload, ignores unsolicited pongs, and fails
// the connection on an oversized ping.
func TestClientCategory2(t *testing.T) { runClientCases(t, clientCategory2()) }

func clientCategory2() []clientCase {
	pingPong := func(id, desc string, p []byte) clientCase {
		return clientCase{id: id, desc: desc, run: func(s *fuzzConn) {
			s.send(ping(p))
			s.echoThenClose(pongEv(p))
		}}
	}
	tenPings := func(s *fuzzConn, chop int) {
		var want []event
		for i := range 10 {
			p := b(fmt.Sprintf("payload-%d", i))
			if chop > 0 {
				s.sendChopped(chop, ping(p))
			} else {
				s.send(ping(p))
			}
			want = append(want, pongEv(p))
		}
		s.echoThenClose(want...)
	}
	return []clientCase{
		pingPong("2.1", "The server sends a ping without payload; the client answers with a pong without payload.", nil),
		pingPong("2.2", "The server sends a ping with a small text payload; the client's pong echoes it.", b("Hello, world!")),
		pingPong("2.3", "The server sends a ping with a small binary (non UTF-8) payload; the client's pong echoes it.", b("\x00\xff\xfe\xfd\xfc\xfb\x00\xff")),
		pingPong("2.4", "The server sends a ping with a binary payload of 125 octets; the client's pong echoes it.", repeatTo("\xfe", 125)),
		{id: "2.5", desc: "The server sends a ping with a binary payload of 126 octets; control frames carry at most 125, so the client fails the connection with 1002.", run: func(s *fuzzConn) {
			s.send(ping(repeatTo("\xfe", 126)))
			s.expectFailure(failTimeout, 1002)
		}},
		{id: "2.6", desc: "The server sends a ping with a payload of 125 octets in octet-wise chops; the client's pong echoes it.", run: func(s *fuzzConn) {
			p := repeatTo("\xfe", 125)
			s.sendChopped(1, ping(p))
			s.echoThenClose(pongEv(p))
		}},
		{id: "2.7", desc: "The server sends an unsolicited pong without payload, then closes; the client sends nothing but its close reply.", run: func(s *fuzzConn) {
			s.send(pong(nil))
			s.closeNormally()
		}},
		{id: "2.8", desc: "The server sends an unsolicited pong with payload, then closes; the client sends nothing but its close reply.", run: func(s *fuzzConn) {
			s.send(pong(b("unsolicited pong payload")))
			s.closeNormally()
		}},
		{id: "2.9", desc: "The server sends an unsolicited pong with payload, then a ping with payload; the client answers only the ping.", run: func(s *fuzzConn) {
			s.send(pong(b("unsolicited pong payload")), ping(b("ping payload")))
			s.echoThenClose(pongEv(b("ping payload")))
		}},
		{id: "2.10", desc: "The server sends 10 pings with payloads; the client answers with 10 pongs echoing them, in order.", run: func(s *fuzzConn) {
			tenPings(s, 0)
		}},
		{id: "2.11", desc: "The server sends 10 pings with payloads, in octet-wise chops; the client answers with 10 pongs echoing them, in order.", run: func(s *fuzzConn) {
			tenPings(s, 1)
		}},
	}
}
