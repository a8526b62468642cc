package conformance

import "testing"

// Category 3: reserved bits. With no extension negotiated, any RSV bit
// fails the connection with 1002; what came before it is still echoed.
func TestCategory3(t *testing.T)       { runCases(t, category3()) }
func TestClientCategory3(t *testing.T) { runClientCases(t, clientCases(category3())) }

func category3() []testCase {
	hello := b("Hello, world!")
	withRSV := func(f frame, rsv byte) frame { f.rsv = rsv; return f }
	return []testCase{
		{id: "3.1", desc: "Send a small text message with RSV = 1; the peer fails the connection with 1002.", run: func(c *endpoint) {
			c.send(withRSV(text(hello), 1))
			c.expectFailure(failTimeout, 1002)
		}},
		{id: "3.2", desc: "Send a small text message, then the same with RSV = 2, then a ping; expect the first echoed, then failure with 1002 and no pong.", run: func(c *endpoint) {
			c.send(text(hello), withRSV(text(hello), 2), ping(nil))
			c.expectFailure(failTimeout, 1002, textMsg(hello))
		}},
		{id: "3.3", desc: "As 3.2 with RSV = 3, each frame written on its own; expect the first echoed, then failure with 1002 and no pong.", run: func(c *endpoint) {
			c.sendSync(text(hello), withRSV(text(hello), 3), ping(nil))
			c.expectFailure(failTimeout, 1002, textMsg(hello))
		}},
		{id: "3.4", desc: "As 3.2 with RSV = 4, in octet-wise chops; expect the first echoed, then failure with 1002 and no pong.", run: func(c *endpoint) {
			c.sendChopped(1, text(hello), withRSV(text(hello), 4), ping(nil))
			c.expectFailure(failTimeout, 1002, textMsg(hello))
		}},
		{id: "3.5", desc: "Send a small binary message with RSV = 5; the peer fails the connection with 1002.", run: func(c *endpoint) {
			c.send(withRSV(bin(b("\x00\xff\xfe\xfd\xfc\xfb\x00\xff")), 5))
			c.expectFailure(failTimeout, 1002)
		}},
		// Autobahn's code for 3.6 sends a binary frame; its description,
		// followed here, says ping.
		{id: "3.6", desc: "Send a ping with RSV = 6; the peer fails the connection with 1002.", run: func(c *endpoint) {
			c.send(withRSV(ping(hello), 6))
			c.expectFailure(failTimeout, 1002)
		}},
		{id: "3.7", desc: "Send a close frame with RSV = 7; the peer fails the connection with 1002.", run: func(c *endpoint) {
			c.send(withRSV(closeRaw(nil), 7))
			c.expectFailure(failTimeout, 1002)
		}},
	}
}
