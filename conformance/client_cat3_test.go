package conformance

import "testing"

// Client category 3: reserved bits. With no extension negotiated, an RSV
// bit from the server makes the client fail the connection with 1002;
// what came before it is still echoed.
func TestClientCategory3(t *testing.T) { runClientCases(t, clientCategory3()) }

func clientCategory3() []clientCase {
	hello := b("Hello, world!")
	withRSV := func(f frame, rsv byte) frame { f.rsv = rsv; return f }
	return []clientCase{
		{id: "3.1", desc: "The server sends a small text message with RSV = 1; the client fails the connection with 1002.", run: func(s *fuzzConn) {
			s.send(withRSV(text(hello), 1))
			s.expectFailure(failTimeout, 1002)
		}},
		{id: "3.2", desc: "The server sends a small text message, then the same with RSV = 2, then a ping; the client echoes the first, then fails with 1002, with no pong.", run: func(s *fuzzConn) {
			s.send(text(hello), withRSV(text(hello), 2), ping(nil))
			s.expectFailure(failTimeout, 1002, textMsg(hello))
		}},
		{id: "3.3", desc: "As 3.2 with RSV = 3, each frame written on its own; the client echoes the first, then fails with 1002, with no pong.", run: func(s *fuzzConn) {
			s.sendSync(text(hello), withRSV(text(hello), 3), ping(nil))
			s.expectFailure(failTimeout, 1002, textMsg(hello))
		}},
		{id: "3.4", desc: "As 3.2 with RSV = 4, in octet-wise chops; the client echoes the first, then fails with 1002, with no pong.", run: func(s *fuzzConn) {
			s.sendChopped(1, text(hello), withRSV(text(hello), 4), ping(nil))
			s.expectFailure(failTimeout, 1002, textMsg(hello))
		}},
		{id: "3.5", desc: "The server sends a small binary message with RSV = 5; the client fails the connection with 1002.", run: func(s *fuzzConn) {
			s.send(withRSV(bin(b("\x00\xff\xfe\xfd\xfc\xfb\x00\xff")), 5))
			s.expectFailure(failTimeout, 1002)
		}},
		{id: "3.6", desc: "The server sends a ping with RSV = 6; the client fails the connection with 1002.", run: func(s *fuzzConn) {
			s.send(withRSV(ping(hello), 6))
			s.expectFailure(failTimeout, 1002)
		}},
		{id: "3.7", desc: "The server sends a close frame with RSV = 7; the client fails the connection with 1002.", run: func(s *fuzzConn) {
			s.send(withRSV(closeRaw(nil), 7))
			s.expectFailure(failTimeout, 1002)
		}},
	}
}
