package conformance

import "testing"

// Masked frames from the server: no Autobahn case sends them, but a client
// must fail the connection with 1002 when a server frame is masked (RFC
// 6455 section 5.1), whatever the frame, and what came before it is still
// echoed.
func TestClientMaskedFrames(t *testing.T) { runClientCases(t, clientMaskedCases()) }

func clientMaskedCases() []clientCase {
	hello := b("Hello, world!")
	return []clientCase{
		{id: "masked-text", desc: "The server sends a masked text message; the client fails the connection with 1002.", run: func(s *fuzzConn) {
			s.write(encodeMaskedServer(text(hello)))
			s.expectFailure(failTimeout, 1002)
		}},
		{id: "masked-binary-empty", desc: "The server sends a masked binary message with an empty payload; the client fails the connection with 1002.", run: func(s *fuzzConn) {
			s.write(encodeMaskedServer(bin(nil)))
			s.expectFailure(failTimeout, 1002)
		}},
		{id: "masked-after-echo", desc: "The server sends a text message, the same masked, then a ping; the client echoes the first, then fails with 1002, with no pong.", run: func(s *fuzzConn) {
			w := encodeServer(text(hello))
			w = append(w, encodeMaskedServer(text(hello))...)
			s.write(append(w, encodeServer(ping(nil))...))
			s.expectFailure(failTimeout, 1002, textMsg(hello))
		}},
		{id: "masked-continuation", desc: "The server sends a text message's first fragment unmasked and its final fragment masked; the client fails the connection with 1002 and echoes nothing.", run: func(s *fuzzConn) {
			s.write(append(encodeServer(data(opText, false, b("fragment1"))), encodeMaskedServer(cont(true, b("fragment2")))...))
			s.expectFailure(failTimeout, 1002)
		}},
		{id: "masked-ping", desc: "The server sends a masked ping; the client fails the connection with 1002 and sends no pong.", run: func(s *fuzzConn) {
			s.write(encodeMaskedServer(ping(hello)))
			s.expectFailure(failTimeout, 1002)
		}},
		{id: "masked-pong", desc: "The server sends a masked unsolicited pong; the client fails the connection with 1002.", run: func(s *fuzzConn) {
			s.write(encodeMaskedServer(pong(hello)))
			s.expectFailure(failTimeout, 1002)
		}},
		{id: "masked-close", desc: "The server sends a masked close frame with code 1000; the client fails the connection with 1002 rather than closing normally.", run: func(s *fuzzConn) {
			s.write(encodeMaskedServer(closeFrame(1000, nil)))
			s.expectFailure(failTimeout, 1002)
		}},
	}
}
