package conformance

import (
	"fmt"
	"testing"
	"time"
)

// Client category 7: the closing handshake, started by the server. The
// client answers a close frame with a close frame echoing its code (an
// empty one for an empty one), ignores everything after it, answers
// invalid codes and malformed close payloads with 1002 and an invalid
// UTF-8 reason with 1007, and after a clean close leaves closing the TCP
// connection to the server.
func TestClientCategory7(t *testing.T) { runClientCases(t, clientCategory7()) }

func clientCategory7() []clientCase {
	hello := b("Hello World!")
	normal := closeFrame(1000, nil)
	cases := []clientCase{
		{id: "7.1.1", desc: "The server sends a text message, then, once it is echoed, a close frame; the client replies with 1000.", run: func(s *fuzzConn) {
			s.send(text(hello))
			s.echoThenClose(textMsg(hello))
		}},
		{id: "7.1.2", desc: "The server sends two close frames; the client replies once with 1000 and ignores the second.", run: func(s *fuzzConn) {
			s.send(normal, closeRaw(nil))
			s.expectCloseReply(1000, 1000)
		}},
		{id: "7.1.3", desc: "The server sends a ping after its close frame; the client replies with 1000 and sends no pong.", run: func(s *fuzzConn) {
			s.send(normal, ping(nil))
			s.expectCloseReply(1000, 1000)
		}},
		{id: "7.1.4", desc: "The server sends a text message after its close frame; the client replies with 1000 and does not echo it.", run: func(s *fuzzConn) {
			s.send(normal, text(hello))
			s.expectCloseReply(1000, 1000)
		}},
		{id: "7.1.5", desc: "The server sends a message's first fragment, a close frame, then the final fragment; the client replies with 1000 and echoes nothing.", run: func(s *fuzzConn) {
			s.send(data(opText, false, b("fragment1")), normal, cont(true, b("fragment2")))
			s.expectCloseReply(1000, 1000)
		}},
		// Autobahn rates 7.1.6 informational. A client that handles
		// frames in order, as it must, echoes both messages before its
		// close reply; that is required here.
		{id: "7.1.6", desc: "The server sends a 256 KiB text message, a small text message, a close frame and a ping back to back; the client echoes both messages, then replies with 1000 and sends no pong.", timeout: 30 * time.Second, run: func(s *fuzzConn) {
			big := repeatTo("BAsd7&jh23", 256<<10)
			s.send(text(big), text(hello), normal, ping(nil))
			if s.expect(replyTimeout, textMsg(big), textMsg(hello)) {
				s.expectCloseReply(1000, 1000)
			}
		}},
		{id: "7.3.1", desc: "The server sends a close frame with an empty payload; the client replies with an empty close frame.", run: func(s *fuzzConn) {
			s.closeWith(nil, noCode)
		}},
		{id: "7.3.2", desc: "The server sends a close frame with a 1-octet payload; the client fails the connection with 1002.", run: func(s *fuzzConn) {
			s.closeWith(b("a"), 1002)
		}},
		{id: "7.3.3", desc: "The server sends a close frame with code 1000 and no reason; the client replies with 1000.", run: func(s *fuzzConn) {
			s.closeWith(closeBody(1000, nil), 1000)
		}},
		{id: "7.3.4", desc: "The server sends a close frame with code 1000 and a reason; the client replies with 1000.", run: func(s *fuzzConn) {
			s.closeWith(closeBody(1000, hello), 1000)
		}},
		{id: "7.3.5", desc: "The server sends a close frame with code 1000 and a reason of 123 octets, the most that fits; the client replies with 1000.", run: func(s *fuzzConn) {
			s.closeWith(closeBody(1000, repeatTo("*", 123)), 1000)
		}},
		{id: "7.3.6", desc: "The server sends a close frame with code 1000 and a reason of 124 octets, a 126-octet control frame; the client fails the connection with 1002.", run: func(s *fuzzConn) {
			s.closeWith(closeBody(1000, repeatTo("*", 124)), 1002)
		}},
		{id: "7.5.1", desc: "The server sends a close frame with code 1000 and a reason that is not valid UTF-8; the client fails the connection with 1007.", run: func(s *fuzzConn) {
			s.closeWith(closeBody(1000, b(surrogateText)), 1007)
		}},
	}
	for i, code := range []int{1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 3000, 3999, 4000, 4999} {
		cases = append(cases, clientCase{
			id:   fmt.Sprintf("7.7.%d", i+1),
			desc: fmt.Sprintf("The server sends a close frame with the valid code %d; the client's close reply echoes %d.", code, code),
			run: func(s *fuzzConn) {
				s.closeWith(closeBody(code, nil), code)
			},
		})
	}
	for i, code := range []int{0, 999, 1004, 1005, 1006, 1016, 1100, 2000, 2999} {
		cases = append(cases, clientCase{
			id:   fmt.Sprintf("7.9.%d", i+1),
			desc: fmt.Sprintf("The server sends a close frame with the invalid code %d; the client fails the connection with 1002.", code),
			run: func(s *fuzzConn) {
				s.closeWith(closeBody(code, nil), 1002)
			},
		})
	}
	// Autobahn rates 7.13.x informational: RFC 6455 defines no code past
	// 4999. This suite holds such a code invalid, like those of 7.9.x.
	for i, code := range []int{5000, 65535} {
		cases = append(cases, clientCase{
			id:   fmt.Sprintf("7.13.%d", i+1),
			desc: fmt.Sprintf("The server sends a close frame with code %d, outside every range RFC 6455 defines; the client fails the connection with 1002.", code),
			run: func(s *fuzzConn) {
				s.closeWith(closeBody(code, nil), 1002)
			},
		})
	}
	return cases
}
