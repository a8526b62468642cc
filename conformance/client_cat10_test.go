package conformance

import "testing"

// Client category 10: miscellaneous. 10.1.1 sends a message
// auto-fragmented into frames of 1300 octets: 50 full frames and a final
// one of 536.
func TestClientCategory10(t *testing.T) { runClientCases(t, clientCategory10()) }

func clientCategory10() []clientCase {
	return []clientCase{
		{id: "10.1.1", desc: "The server sends a text message of 65536 octets auto-fragmented into frames of 1300 octets; the client echoes it exactly.", run: func(s *fuzzConn) {
			p := repeatTo("*", 65536)
			fs := fragments(opText, p, 1300)
			if len(fs) != 51 || len(fs[50].payload) != 536 {
				s.errorf("fragmentation: got %d frames, want 51", len(fs))
				return
			}
			s.send(fs...)
			s.echoThenClose(textMsg(p))
		}},
	}
}
