package conformance

import (
	"fmt"
	"testing"
)

// Client category 1: framing. The server sends text and binary messages
// of the lengths around the 7-bit, 16-bit and 64-bit length encodings; the
// client echoes each exactly, masked.
func TestClientCategory1(t *testing.T) { runClientCases(t, clientCategory1()) }

func clientCategory1() []clientCase {
	sizes := []int{0, 125, 126, 127, 128, 65535, 65536}
	var cases []clientCase
	for _, k := range []struct {
		sub     int
		kind    string
		opcode  byte
		pattern string
		want    func([]byte) event
	}{
		{1, "text", opText, "*", textMsg},
		{2, "binary", opBinary, "\xfe", binMsg},
	} {
		for i, n := range sizes {
			p := repeatTo(k.pattern, n)
			cases = append(cases, clientCase{
				id:   fmt.Sprintf("1.%d.%d", k.sub, i+1),
				desc: fmt.Sprintf("The server sends a %s message with a payload of length %d; the client echoes it, then the server closes normally.", k.kind, n),
				run: func(s *fuzzConn) {
					s.send(data(k.opcode, true, p))
					s.echoThenClose(k.want(p))
				},
			})
		}
		p := repeatTo(k.pattern, 65536)
		cases = append(cases, clientCase{
			id:   fmt.Sprintf("1.%d.8", k.sub),
			desc: fmt.Sprintf("The server sends a %s message with a payload of length 65536, written in chops of 997 octets; the client echoes it.", k.kind),
			run: func(s *fuzzConn) {
				s.sendChopped(997, data(k.opcode, true, p))
				s.echoThenClose(k.want(p))
			},
		})
	}
	return cases
}
