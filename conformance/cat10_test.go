package conformance

import "testing"

// Category 10: miscellaneous. 10.1.1 sends a message auto-fragmented into
// frames of 1300 octets: 50 full frames and a final one of 536.
func TestCategory10(t *testing.T)       { runCases(t, category10()) }
func TestClientCategory10(t *testing.T) { runClientCases(t, clientCases(category10())) }

func category10() []testCase {
	return []testCase{
		{id: "10.1.1", desc: "Send a text message of 65536 octets auto-fragmented into frames of 1300 octets; expect it echoed exactly.", run: func(c *endpoint) {
			p := repeatTo("*", 65536)
			fs := fragments(opText, p, 1300)
			if len(fs) != 51 || len(fs[50].payload) != 536 {
				c.errorf("fragmentation: got %d frames, want 51", len(fs))
				return
			}
			c.send(fs...)
			c.echoThenClose(textMsg(p))
		}},
	}
}
