package conformance

import (
	"fmt"
	"testing"
	"time"
)

// Category 7: the closing handshake. The peer answers a close frame with
// a close frame, ignores everything after it, echoes valid close codes,
// answers invalid codes and malformed close payloads with 1002 and an
// invalid UTF-8 reason with 1007. A server then closes the TCP
// connection; a client, after a clean close, leaves closing it to the
// server (see expectCloseReply).
func TestCategory7(t *testing.T)       { runCases(t, category7()) }
func TestClientCategory7(t *testing.T) { runClientCases(t, clientCases(category7())) }

func category7() []testCase {
	hello := b("Hello World!")
	normal := closeFrame(1000, nil)
	cases := []testCase{
		// As in Autobahn, the close frame follows once the echo is in;
		// 7.1.6 sends a message and a close frame back to back.
		{id: "7.1.1", desc: "Send a text message, then, once it is echoed, a close frame; expect the close reply with 1000.", run: func(c *endpoint) {
			c.send(text(hello))
			c.echoThenClose(textMsg(hello))
		}},
		{id: "7.1.2", desc: "Send two close frames; expect one close reply with 1000, the second close frame ignored.", run: func(c *endpoint) {
			c.send(normal, closeRaw(nil))
			c.expectCloseReply(1000)
		}},
		{id: "7.1.3", desc: "Send a ping after the close frame; expect the close reply with 1000 and no pong.", run: func(c *endpoint) {
			c.send(normal, ping(nil))
			c.expectCloseReply(1000)
		}},
		{id: "7.1.4", desc: "Send a text message after the close frame; expect the close reply with 1000 and no echo.", run: func(c *endpoint) {
			c.send(normal, text(hello))
			c.expectCloseReply(1000)
		}},
		{id: "7.1.5", desc: "Send a message's first fragment, a close frame, then the final fragment; expect the close reply with 1000 and no echo.", run: func(c *endpoint) {
			c.send(data(opText, false, b("fragment1")), normal, cont(true, b("fragment2")))
			c.expectCloseReply(1000)
		}},
		// Autobahn rates 7.1.6 informational. A peer that handles frames
		// in order, as it must, echoes both messages before its close reply;
		// that is required here.
		{id: "7.1.6", desc: "Send a 256 KiB text message, a small text message, a close frame and a ping back to back; expect both messages echoed, then the close reply with 1000 and no pong.", timeout: 30 * time.Second, run: func(c *endpoint) {
			big := repeatTo("BAsd7&jh23", 256<<10)
			c.send(text(big), text(hello), normal, ping(nil))
			if c.expect(replyTimeout, textMsg(big), textMsg(hello)) {
				c.expectCloseReply(1000)
			}
		}},
		// A client echoes the empty close frame exactly; a server may
		// also answer it with 1000.
		{id: "7.3.1", desc: "Send a close frame with an empty payload; expect an empty close reply (from a server, one with 1000 too).", run: func(c *endpoint) {
			c.closeWith(nil, noCode, 1000)
		}},
		{id: "7.3.2", desc: "Send a close frame with a 1-octet payload; the peer must answer 1002.", run: func(c *endpoint) {
			c.closeWith(b("a"), 1002)
		}},
		{id: "7.3.3", desc: "Send a close frame with code 1000 and no reason; expect the close reply with 1000.", run: func(c *endpoint) {
			c.closeWith(closeBody(1000, nil), 1000)
		}},
		{id: "7.3.4", desc: "Send a close frame with code 1000 and a reason; expect the close reply with 1000.", run: func(c *endpoint) {
			c.closeWith(closeBody(1000, hello), 1000)
		}},
		{id: "7.3.5", desc: "Send a close frame with code 1000 and a reason of 123 octets, the most that fits; expect the close reply with 1000.", run: func(c *endpoint) {
			c.closeWith(closeBody(1000, repeatTo("*", 123)), 1000)
		}},
		{id: "7.3.6", desc: "Send a close frame with code 1000 and a reason of 124 octets, a 126-octet control frame; the peer must answer 1002.", run: func(c *endpoint) {
			c.closeWith(closeBody(1000, repeatTo("*", 124)), 1002)
		}},
		{id: "7.5.1", desc: "Send a close frame with code 1000 and a reason that is not valid UTF-8; the peer must answer 1007.", run: func(c *endpoint) {
			c.closeWith(closeBody(1000, b(surrogateText)), 1007)
		}},
	}
	for i, code := range []int{1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 3000, 3999, 4000, 4999} {
		cases = append(cases, testCase{
			id:   fmt.Sprintf("7.7.%d", i+1),
			desc: fmt.Sprintf("Send a close frame with the valid code %d; expect the close reply echoing %d.", code, code),
			run: func(c *endpoint) {
				c.closeWith(closeBody(code, nil), code)
			},
		})
	}
	for i, code := range []int{0, 999, 1004, 1005, 1006, 1016, 1100, 2000, 2999} {
		cases = append(cases, testCase{
			id:   fmt.Sprintf("7.9.%d", i+1),
			desc: fmt.Sprintf("Send a close frame with the invalid code %d; the peer must answer 1002.", code),
			run: func(c *endpoint) {
				c.closeWith(closeBody(code, nil), 1002)
			},
		})
	}
	// Autobahn rates 7.13.x informational: RFC 6455 defines no code past
	// 4999. This suite holds such a code invalid, like those of 7.9.x.
	for i, code := range []int{5000, 65535} {
		cases = append(cases, testCase{
			id:   fmt.Sprintf("7.13.%d", i+1),
			desc: fmt.Sprintf("Send a close frame with code %d, outside every range RFC 6455 defines; the peer must answer 1002.", code),
			run: func(c *endpoint) {
				c.closeWith(closeBody(code, nil), 1002)
			},
		})
	}
	return cases
}
