package conformance

import (
	"fmt"
	"testing"
)

// Category 2: pings and pongs. Every ping is answered by a pong with the
// same payload (masked, from a client), unsolicited pongs are ignored,
// oversized pings fail the connection.
func TestCategory2(t *testing.T)       { runCases(t, category2()) }
func TestClientCategory2(t *testing.T) { runClientCases(t, clientCases(category2())) }

func category2() []testCase {
	pingPong := func(id, desc string, p []byte) testCase {
		return testCase{id: id, desc: desc, run: func(c *endpoint) {
			c.send(ping(p))
			c.echoThenClose(pongEv(p))
		}}
	}
	tenPings := func(c *endpoint, chop int) {
		var want []event
		for i := range 10 {
			p := b(fmt.Sprintf("payload-%d", i))
			if chop > 0 {
				c.sendChopped(chop, ping(p))
			} else {
				c.send(ping(p))
			}
			want = append(want, pongEv(p))
		}
		c.echoThenClose(want...)
	}
	return []testCase{
		pingPong("2.1", "Send a ping without payload; expect a pong without payload.", nil),
		pingPong("2.2", "Send a ping with a small text payload; expect the pong to echo it.", b("Hello, world!")),
		pingPong("2.3", "Send a ping with a small binary (non UTF-8) payload; expect the pong to echo it.", b("\x00\xff\xfe\xfd\xfc\xfb\x00\xff")),
		pingPong("2.4", "Send a ping with a binary payload of 125 octets; expect the pong to echo it.", repeatTo("\xfe", 125)),
		{id: "2.5", desc: "Send a ping with a binary payload of 126 octets; control frames carry at most 125, so the peer fails the connection with 1002.", run: func(c *endpoint) {
			c.send(ping(repeatTo("\xfe", 126)))
			c.expectFailure(failTimeout, 1002)
		}},
		{id: "2.6", desc: "Send a ping with a payload of 125 octets in octet-wise chops; expect the pong to echo it.", run: func(c *endpoint) {
			p := repeatTo("\xfe", 125)
			c.sendChopped(1, ping(p))
			c.echoThenClose(pongEv(p))
		}},
		{id: "2.7", desc: "Send an unsolicited pong without payload, then close; expect nothing but the close reply.", run: func(c *endpoint) {
			c.send(pong(nil))
			c.closeNormally()
		}},
		{id: "2.8", desc: "Send an unsolicited pong with payload, then close; expect nothing but the close reply.", run: func(c *endpoint) {
			c.send(pong(b("unsolicited pong payload")))
			c.closeNormally()
		}},
		{id: "2.9", desc: "Send an unsolicited pong with payload, then a ping with payload; expect only the pong for the ping.", run: func(c *endpoint) {
			c.send(pong(b("unsolicited pong payload")), ping(b("ping payload")))
			c.echoThenClose(pongEv(b("ping payload")))
		}},
		{id: "2.10", desc: "Send 10 pings with payloads; expect 10 pongs echoing them, in order.", run: func(c *endpoint) {
			tenPings(c, 0)
		}},
		{id: "2.11", desc: "Send 10 pings with payloads, in octet-wise chops; expect 10 pongs echoing them, in order.", run: func(c *endpoint) {
			tenPings(c, 1)
		}},
	}
}
