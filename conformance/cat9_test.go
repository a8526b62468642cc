package conformance

import (
	"fmt"
	"testing"
	"time"
)

// Category 9: limits and performance. Large messages (up to 16 MiB,
// within the client's default MaxMessageSize of 32 MiB) in one frame, in
// many small frames or in many small writes, and runs of many round
// trips. Every echo must match exactly, not just in length.
func TestCategory9(t *testing.T)       { runCases(t, category9()) }
func TestClientCategory9(t *testing.T) { runClientCases(t, clientCases(category9())) }

// perfCaseTimeout bounds each category 9 case.
const perfCaseTimeout = 60 * time.Second

const (
	kib = 1 << 10
	mib = 1 << 20
)

func category9() []testCase {
	type kind struct {
		name    string
		opcode  byte
		pattern string // what Autobahn repeats to fill a message
		want    func([]byte) event
	}
	textK := kind{"text", opText, "BAsd7&jh23", textMsg}
	binK := kind{"binary", opBinary, "\x00\xfe\x23\xfa\xf0", binMsg}
	size := func(n int) string {
		if n >= mib {
			return fmt.Sprintf("%d MiB", n/mib)
		}
		return fmt.Sprintf("%d KiB", n/kib)
	}
	echo := func(c *endpoint, want event) {
		if c.expect(perfCaseTimeout/2, want) {
			c.closeNormally()
		}
	}
	var cases []testCase

	// 9.1 and 9.2: one frame of 64 KiB to 16 MiB.
	for sub, k := range []kind{textK, binK} {
		for i, n := range []int{64 * kib, 256 * kib, 1 * mib, 4 * mib, 8 * mib, 16 * mib} {
			cases = append(cases, testCase{
				id:      fmt.Sprintf("9.%d.%d", sub+1, i+1),
				desc:    fmt.Sprintf("Send a %s message of %s in one frame; expect it echoed exactly.", k.name, size(n)),
				timeout: perfCaseTimeout,
				run: func(c *endpoint) {
					p := repeatTo(k.pattern, n)
					c.send(data(k.opcode, true, p))
					echo(c, k.want(p))
				},
			})
		}
	}

	// 9.3 and 9.4: a 4 MiB message in fragments of 64 octets to 4 MiB.
	for sub, k := range []kind{{"text", opText, "*", textMsg}, {"binary", opBinary, "\xfe", binMsg}} {
		for i, frag := range []int{64, 256, 1 * kib, 4 * kib, 16 * kib, 64 * kib, 256 * kib, 1 * mib, 4 * mib} {
			cases = append(cases, testCase{
				id:      fmt.Sprintf("9.%d.%d", sub+3, i+1),
				desc:    fmt.Sprintf("Send a %s message of 4 MiB in fragments of %d octets; expect it echoed exactly.", k.name, frag),
				timeout: perfCaseTimeout,
				run: func(c *endpoint) {
					p := repeatTo(k.pattern, 4*mib)
					c.send(fragments(k.opcode, p, frag)...)
					echo(c, k.want(p))
				},
			})
		}
	}

	// 9.5 and 9.6: a 1 MiB message in one frame, written in chops of 64
	// to 2048 octets.
	for sub, k := range []kind{textK, binK} {
		for i, chop := range []int{64, 128, 256, 512, 1024, 2048} {
			cases = append(cases, testCase{
				id:      fmt.Sprintf("9.%d.%d", sub+5, i+1),
				desc:    fmt.Sprintf("Send a %s message of 1 MiB in one frame, written in chops of %d octets; expect it echoed exactly.", k.name, chop),
				timeout: perfCaseTimeout,
				run: func(c *endpoint) {
					p := repeatTo(k.pattern, mib)
					c.sendChopped(chop, data(k.opcode, true, p))
					echo(c, k.want(p))
				},
			})
		}
	}

	// 9.7 and 9.8: 1000 round trips, each message sent once the previous
	// one is echoed.
	for sub, k := range []kind{{"text", opText, "*", textMsg}, {"binary", opBinary, "\xfe", binMsg}} {
		for i, n := range []int{0, 16, 64, 256, 1024, 4096} {
			cases = append(cases, testCase{
				id:      fmt.Sprintf("9.%d.%d", sub+7, i+1),
				desc:    fmt.Sprintf("Send 1000 %s messages of %d octets one after the other, each once the previous is echoed; expect every echo exact.", k.name, n),
				timeout: perfCaseTimeout,
				run: func(c *endpoint) {
					p := repeatTo(k.pattern, n)
					deadline := time.Now().Add(perfCaseTimeout / 2)
					for j := range 1000 {
						c.send(data(k.opcode, true, p))
						if !c.expect(time.Until(deadline), k.want(p)) {
							c.errorf("round trip %d of 1000 failed", j+1)
							return
						}
					}
					c.closeNormally()
				},
			})
		}
	}
	return cases
}
