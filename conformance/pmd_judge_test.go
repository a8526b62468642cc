package conformance

import (
	"bufio"
	"bytes"
	"compress/flate"
	"fmt"
	"math/rand/v2"
	"net"
	"strings"
	"testing"
	"time"
)

// TestDeflateJudge checks the permessage-deflate judge of categories 12
// and 13 on its own: RFC 7692's examples inflate as the RFC says, the
// scanner counts what compress/flate inflates, and window overruns,
// context takeover without it negotiated, bad negotiation answers and
// RSV1 misuse are all reported.
func TestDeflateJudge(t *testing.T) {
	t.Run("rfc7692 examples", func(t *testing.T) {
		hello := []byte("Hello")
		for _, tc := range []struct {
			name     string
			takeover bool
			msgs     [][]byte
		}{
			{"7.2.3.1 a message in one fixed block", false, [][]byte{{0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00}}},
			{"7.2.3.2 context takeover", true, [][]byte{{0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00}, {0xf2, 0x00, 0x11, 0x00, 0x00}}},
			{"7.2.3.3 a stored block", false, [][]byte{{0x00, 0x05, 0x00, 0xfa, 0xff, 0x48, 0x65, 0x6c, 0x6c, 0x6f, 0x00}}},
			{"7.2.3.4 a block with BFINAL set", false, [][]byte{{0xf3, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00, 0x00}}},
			{"7.2.3.5 two blocks", false, [][]byte{{0xf2, 0x48, 0x05, 0x00, 0x00, 0x00, 0xff, 0xff, 0xca, 0xc9, 0xc9, 0x07, 0x00}}},
		} {
			z := &pmdInflater{bits: 15, takeover: tc.takeover}
			for i, m := range tc.msgs {
				got, err := z.inflate(m, 1<<20)
				if err != nil || !bytes.Equal(got, hello) {
					t.Errorf("%s: message %d: got %q, %v; want %q", tc.name, i+1, got, err, hello)
				}
			}
		}
		if got, err := (&pmdInflater{bits: 15}).inflate([]byte{0x00}, 1<<20); err != nil || len(got) != 0 {
			t.Errorf("7.2.3.6 the empty message 0x00: got %q, %v; want an empty message", got, err)
		}
		z := &pmdInflater{bits: 15}
		z.inflate([]byte{0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00}, 1<<20)
		if _, err := z.inflate([]byte{0xf2, 0x00, 0x11, 0x00, 0x00}, 1<<20); err == nil || !strings.Contains(err.Error(), "no history") {
			t.Errorf("7.2.3.2's second message without context takeover: got %v, want a reference before the message's start", err)
		}
		for _, bad := range [][]byte{
			{0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07},             // the last block header cut off
			{0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00, 0x00}, // the tail left in
			{0x00, 0x05, 0x00, 0xfa, 0xff, 0x48, 0x65},       // a stored block cut short
			{0xff, 0xff, 0xff},                               // the reserved block type
		} {
			if got, err := (&pmdInflater{bits: 15}).inflate(bad, 1<<20); err == nil {
				t.Errorf("% x: inflated to %q, want an error", bad, got)
			}
		}
	})

	t.Run("scanner agrees with compress/flate", func(t *testing.T) {
		r := rand.New(rand.NewPCG(7, 7))
		src := jsonData.bytes()
		type setup struct{ level, bits int }
		setups := []setup{{flate.HuffmanOnly, 15}, {flate.NoCompression, 15}, {1, 15}, {9, 15}, {0, 9}, {0, 12}}
		for _, su := range setups {
			for _, takeover := range []bool{false, true} {
				d, err := newPMDDeflater(su.bits, takeover)
				if err != nil {
					t.Fatal(err)
				}
				if su.bits == 15 {
					d.w, _ = flate.NewWriter(&d.out, su.level)
				}
				z := &pmdInflater{bits: su.bits, takeover: takeover}
				for range 6 {
					off := r.IntN(len(src) - 40000)
					msg := src[off : off+r.IntN(40000)]
					p, err := d.compress(msg)
					if err != nil {
						t.Fatalf("%+v: %v", su, err)
					}
					got, err := z.inflate(p, 1<<20)
					if err != nil || !bytes.Equal(got, msg) {
						t.Fatalf("%+v, takeover %v: %d bytes back (%v), want %d", su, takeover, len(got), err, len(msg))
					}
				}
			}
		}
	})

	t.Run("window overrun", func(t *testing.T) {
		// compress/flate refers back up to 32 KiB: data that repeats
		// every 1000 bytes overruns a 9-bit window within a message, and
		// a second message referring to the first overruns it across.
		unit := make([]byte, 1000)
		rg := rand.New(rand.NewPCG(1, 2))
		for i := range unit {
			unit[i] = byte(rg.Uint32())
		}
		d, _ := newPMDDeflater(15, true)
		p, err := d.compress(bytes.Repeat(unit, 3))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := (&pmdInflater{bits: 9}).inflate(p, 1<<20); err == nil || !strings.Contains(err.Error(), "beyond the negotiated window of 512 bytes") {
			t.Errorf("a 1000-byte back-reference under a 9-bit window: got %v", err)
		}
		d, _ = newPMDDeflater(15, true)
		p1, _ := d.compress(unit)
		p2, _ := d.compress(unit)
		z := &pmdInflater{bits: 9, takeover: true}
		if _, err := z.inflate(p1, 1<<20); err != nil {
			t.Fatal(err)
		}
		if _, err := z.inflate(p2, 1<<20); err == nil || !strings.Contains(err.Error(), "beyond the negotiated window") {
			t.Errorf("a reference 1000 bytes back into the previous message under a 9-bit window: got %v", err)
		}
		z = &pmdInflater{bits: 15, takeover: false}
		z.inflate(p1, 1<<20)
		if _, err := z.inflate(p2, 1<<20); err == nil {
			t.Errorf("a reference into the previous message without context takeover: no error")
		}
	})

	t.Run("negotiation answers", func(t *testing.T) {
		o13 := autobahnOffer(true, 9)
		for _, tc := range []struct {
			offers []pmdNeg
			answer string
			want   string // in the problem; "" for a valid answer
		}{
			{[]pmdNeg{plainOffer}, "permessage-deflate", ""},
			{[]pmdNeg{plainOffer}, "permessage-deflate; server_max_window_bits=10; server_no_context_takeover; client_no_context_takeover", ""},
			{[]pmdNeg{o13}, "permessage-deflate; server_no_context_takeover; server_max_window_bits=9; client_max_window_bits=12", ""},
			{[]pmdNeg{o13}, `permessage-deflate; server_no_context_takeover; server_max_window_bits="9"`, ""},
			{[]pmdNeg{o13}, "permessage-deflate; server_max_window_bits=9", "server_no_context_takeover was offered but not answered"},
			{[]pmdNeg{o13}, "permessage-deflate; server_no_context_takeover", "server_max_window_bits=9 was offered but not answered"},
			{[]pmdNeg{o13}, "permessage-deflate; server_no_context_takeover; server_max_window_bits=10", "above the offered 9"},
			{[]pmdNeg{o13, plainOffer}, "permessage-deflate; server_max_window_bits=10", ""},
			{[]pmdNeg{plainOffer}, "permessage-deflate; client_max_window_bits=10", "answered but was not offered"},
			{[]pmdNeg{autobahnOffer(false, 0)}, "permessage-deflate; client_max_window_bits", "needs a value"},
			{[]pmdNeg{plainOffer}, "permessage-deflate; server_max_window_bits=09", "invalid value"},
			{[]pmdNeg{plainOffer}, "permessage-deflate; server_max_window_bits=16", "invalid value"},
			{[]pmdNeg{plainOffer}, "permessage-deflate; server_no_context_takeover=1", "takes none"},
			{[]pmdNeg{plainOffer}, "permessage-deflate; server_no_context_takeover; server_no_context_takeover", "twice"},
			{[]pmdNeg{plainOffer}, "permessage-deflate; foo", "unknown parameter"},
			{[]pmdNeg{plainOffer}, "permessage-deflate, permessage-deflate", "2 extensions"},
			{[]pmdNeg{plainOffer}, "x-webkit-deflate-frame", "is not permessage-deflate"},
			{[]pmdNeg{plainOffer}, "", "declined"},
			{[]pmdNeg{plainOffer}, "permessage-deflate;", "parameter name expected"},
		} {
			var header []string
			if tc.answer != "" {
				header = []string{tc.answer}
			}
			_, problem := judgeAnswer(tc.offers, header)
			switch {
			case tc.want == "" && problem != "":
				t.Errorf("%q to %q: %s; want it accepted", tc.answer, formatExts(offerExts(tc.offers)), problem)
			case tc.want != "" && !strings.Contains(problem, tc.want):
				t.Errorf("%q to %q: problem %q, want one saying %q", tc.answer, formatExts(offerExts(tc.offers)), problem, tc.want)
			}
		}
	})

	t.Run("frames", func(t *testing.T) {
		msg := bytes.Repeat([]byte("permessage-deflate "), 20)
		for _, tc := range []struct {
			name  string
			build func(z []byte) []frame
			want  string // in the error; "" for a good message
		}{
			{"compressed in one frame", func(z []byte) []frame { return []frame{{fin: true, rsv: 4, opcode: opText, payload: z}} }, ""},
			{"compressed in fragments", func(z []byte) []frame {
				fs := fragments(opText, z, 7)
				fs[0].rsv = 4
				return fs
			}, ""},
			{"uncompressed", func([]byte) []frame { return []frame{text(msg)} }, ""},
			{"RSV1 on a continuation frame", func(z []byte) []frame {
				fs := fragments(opText, z, 7)
				fs[0].rsv, fs[1].rsv = 4, 4
				return fs
			}, "RSV1 set on continuation frame 2"},
			{"RSV1 on a ping", func(z []byte) []frame {
				return []frame{{fin: true, rsv: 4, opcode: opPing}, {fin: true, rsv: 4, opcode: opText, payload: z}}
			}, "RSV1 set on a ping frame"},
			{"RSV2", func(z []byte) []frame { return []frame{{fin: true, rsv: 6, opcode: opText, payload: z}} }, "RSV bits 110"},
			{"compressed data not flagged", func(z []byte) []frame { return []frame{{fin: true, opcode: opBinary, payload: z}} }, "echo differs"},
		} {
			a, b := net.Pipe()
			p := pmdParams{serverBits: 15, clientBits: 15}
			peer, _ := newPMDConn(a, bufio.NewReader(a), true, p)
			me, _ := newPMDConn(b, bufio.NewReader(b), false, p)
			z, _ := peer.tx.compress(msg)
			go func() {
				for _, f := range tc.build(z) {
					a.Write(encodeServer(f))
				}
			}()
			go func() { // drain pongs and the message
				buf := make([]byte, 4096)
				for {
					if _, err := a.Read(buf); err != nil {
						return
					}
				}
			}()
			b.SetDeadline(time.Now().Add(2 * time.Second))
			var got []string
			op := opText
			if tc.name == "compressed data not flagged" {
				op = opBinary
			}
			me.tx, _ = newPMDDeflater(15, false)
			me.exchange(&pmdData{desc: "test", binary: op == opBinary, bytes: func() []byte { return msg }}, len(msg), 1, 0, func(format string, args ...any) {
				got = append(got, fmt.Sprintf(format, args...))
			})
			a.Close()
			b.Close()
			switch {
			case tc.want == "" && len(got) > 0:
				t.Errorf("%s: %q, want no report", tc.name, got)
			case tc.want != "" && (len(got) == 0 || !strings.Contains(got[0], tc.want)):
				t.Errorf("%s: %q, want a report saying %q", tc.name, got, tc.want)
			}
		}
	})
}
