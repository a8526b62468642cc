package conformance

import (
	"fmt"
	"testing"
)

// Client category 4: reserved opcodes, non-control (3-7) and control
// (11-15). Each makes the client fail the connection with 1002; a message
// before it is still echoed.
func TestClientCategory4(t *testing.T) { runClientCases(t, clientCategory4()) }

func clientCategory4() []clientCase {
	hello := b("Hello, world!")
	var cases []clientCase
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
			clientCase{id: id(1), desc: fmt.Sprintf("The server sends a frame with reserved %s opcode %d; the client fails the connection with 1002.", kind, ops[0]), run: func(s *fuzzConn) {
				s.send(data(ops[0], true, nil))
				s.expectFailure(failTimeout, 1002)
			}},
			clientCase{id: id(2), desc: fmt.Sprintf("The server sends a frame with reserved %s opcode %d and a payload; the client fails the connection with 1002.", kind, ops[1]), run: func(s *fuzzConn) {
				s.send(data(ops[1], true, b("reserved opcode payload")))
				s.expectFailure(failTimeout, 1002)
			}},
			clientCase{id: id(3), desc: fmt.Sprintf("The server sends a small text message, a frame with reserved %s opcode %d, then a ping; the client echoes the message, then fails with 1002, with no pong.", kind, ops[2]), run: func(s *fuzzConn) {
				s.send(text(hello), data(ops[2], true, nil), ping(nil))
				s.expectFailure(failTimeout, 1002, textMsg(hello))
			}},
			clientCase{id: id(4), desc: fmt.Sprintf("The server sends a small text message, a frame with reserved %s opcode %d and a payload, then a ping; the client echoes the message, then fails with 1002, with no pong.", kind, ops[3]), run: func(s *fuzzConn) {
				s.send(text(hello), data(ops[3], true, hello), ping(nil))
				s.expectFailure(failTimeout, 1002, textMsg(hello))
			}},
			clientCase{id: id(5), desc: fmt.Sprintf("As 4.%d.4 with opcode %d, in octet-wise chops; the client echoes the message, then fails with 1002, with no pong.", sub, ops[4]), run: func(s *fuzzConn) {
				s.sendChopped(1, text(hello), data(ops[4], true, hello), ping(nil))
				s.expectFailure(failTimeout, 1002, textMsg(hello))
			}},
		)
	}
	return cases
}
