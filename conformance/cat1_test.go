package conformance

import (
	"fmt"
	"testing"
)

// Category 1: framing. Text and binary messages of the lengths around the
// 7-bit, 16-bit and 64-bit length encodings, each echoed exactly: by the
// echo server (TestCategory1), and, masked, by wspipe's client
// (TestClientCategory1).
func TestCategory1(t *testing.T)       { runCases(t, category1()) }
func TestClientCategory1(t *testing.T) { runClientCases(t, clientCases(category1())) }

func category1() []testCase {
	sizes := []int{0, 125, 126, 127, 128, 65535, 65536}
	var cases []testCase
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
			cases = append(cases, testCase{
				id:   fmt.Sprintf("1.%d.%d", k.sub, i+1),
				desc: fmt.Sprintf("Send a %s message with a payload of length %d; expect it echoed, then a clean close.", k.kind, n),
				run: func(c *endpoint) {
					c.send(data(k.opcode, true, p))
					c.echoThenClose(k.want(p))
				},
			})
		}
		p := repeatTo(k.pattern, 65536)
		cases = append(cases, testCase{
			id:   fmt.Sprintf("1.%d.8", k.sub),
			desc: fmt.Sprintf("Send a %s message with a payload of length 65536, written in chops of 997 octets; expect it echoed.", k.kind),
			run: func(c *endpoint) {
				c.sendChopped(997, data(k.opcode, true, p))
				c.echoThenClose(k.want(p))
			},
		})
	}
	return cases
}
