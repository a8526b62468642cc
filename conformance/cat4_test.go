package conformance

import (
	"fmt"
	"testing"
)

// Category 4: reserved opcodes, non-control (3-7) and control (11-15).
// Each fails the connection with 1002; a message before it is still echoed.
func TestCategory4(t *testing.T)       { runCases(t, category4()) }
func TestClientCategory4(t *testing.T) { runClientCases(t, clientCases(category4())) }

func category4() []testCase {
	hello := b("Hello, world!")
	var cases []testCase
	for _, g := range []struct {
		sub  int
		kind string
		ops  [5]byte
	}{
		{1, "non-control", [5]byte{3, 4, 5, 6, 7}},
		{2, "control", [5]byte{11, 12, 13, 14, 15}},
	} {
		sub, kind, ops := g.sub, g.kind, g.ops
		id := func(n int) string { return fmt.Sprintf("4.%d.%d", sub, n) }
		cases = append(cases,
			testCase{id: id(1), desc: fmt.Sprintf("Send a frame with reserved %s opcode %d; the peer fails the connection with 1002.", kind, ops[0]), run: func(c *endpoint) {
				c.send(data(ops[0], true, nil))
				c.expectFailure(failTimeout, 1002)
			}},
			testCase{id: id(2), desc: fmt.Sprintf("Send a frame with reserved %s opcode %d and a payload; the peer fails the connection with 1002.", kind, ops[1]), run: func(c *endpoint) {
				c.send(data(ops[1], true, b("reserved opcode payload")))
				c.expectFailure(failTimeout, 1002)
			}},
			testCase{id: id(3), desc: fmt.Sprintf("Send a small text message, a frame with reserved %s opcode %d, then a ping; expect the echo, then failure with 1002 and no pong.", kind, ops[2]), run: func(c *endpoint) {
				c.send(text(hello), data(ops[2], true, nil), ping(nil))
				c.expectFailure(failTimeout, 1002, textMsg(hello))
			}},
			testCase{id: id(4), desc: fmt.Sprintf("Send a small text message, a frame with reserved %s opcode %d and a payload, then a ping; expect the echo, then failure with 1002 and no pong.", kind, ops[3]), run: func(c *endpoint) {
				c.send(text(hello), data(ops[3], true, hello), ping(nil))
				c.expectFailure(failTimeout, 1002, textMsg(hello))
			}},
			testCase{id: id(5), desc: fmt.Sprintf("As 4.%d.4 with opcode %d, in octet-wise chops; expect the echo, then failure with 1002 and no pong.", sub, ops[4]), run: func(c *endpoint) {
				c.sendChopped(1, text(hello), data(ops[4], true, hello), ping(nil))
				c.expectFailure(failTimeout, 1002, textMsg(hello))
			}},
		)
	}
	return cases
}
