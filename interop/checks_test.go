package interop

import (
	"fmt"
	"strings"
	"testing"
)

// The checkers the interop tests rely on, checked themselves: what they
// must catch, they catch.

// recorder is a reporter that keeps what is reported.
type recorder struct{ errs []string }

func (r *recorder) Helper()             {}
func (r *recorder) Logf(string, ...any) {}
func (r *recorder) Errorf(format string, a ...any) {
	r.errs = append(r.errs, fmt.Sprintf(format, a...))
}

func TestCheckFrames(t *testing.T) {
	msg := func(n int) []byte { return jsonOfLen(n, n) }
	// Two messages: 10 bytes (below a threshold of 100), and 8000 bytes
	// in two frames; a ping and a close around them.
	msgs := [][]byte{msg(10), msg(8000)}
	good := []frameInfo{
		{Fin: true, Opcode: 1, Length: 10},
		{Fin: true, Opcode: 9, Length: 0},
		{Fin: false, Rsv: 4, Opcode: 2, Length: 300},
		{Fin: true, Opcode: 0, Length: 20},
		{Fin: true, Opcode: 8, Length: 2},
	}
	rule := sendRule{min: 100, minNoCtx: 100}
	expect := func(i int) expectation { return rule.expect(false, msgs[i]) }
	run := func(frames []frameInfo, negotiated bool) []string {
		var r recorder
		checkFrames(&r, "x", frames, msgs, negotiated, expect)
		return r.errs
	}
	if errs := run(good, true); len(errs) != 0 {
		t.Fatalf("good frames: %q", errs)
	}
	tests := []struct {
		name   string
		change func(f []frameInfo)
		neg    bool
		want   string
	}{
		{"rsv1 on a continuation", func(f []frameInfo) { f[3].Rsv = 4 }, true, "continuation frame 3"},
		{"rsv1 on a ping", func(f []frameInfo) { f[1].Rsv = 4 }, true, "control frame 1"},
		{"rsv1 on a close", func(f []frameInfo) { f[4].Rsv = 4 }, true, "control frame 4"},
		{"rsv2", func(f []frameInfo) { f[0].Rsv = 2 }, true, "RSV2 or RSV3"},
		{"rsv3", func(f []frameInfo) { f[2].Rsv = 5 }, true, "RSV2 or RSV3"},
		{"rsv1 without the extension", func(f []frameInfo) {}, false, "without permessage-deflate"},
		{"large message uncompressed", func(f []frameInfo) { f[2].Rsv = 0 }, true, "uncompressed"},
		{"small message compressed", func(f []frameInfo) { f[0].Rsv = 4 }, true, "below its threshold"},
		{"compressed but not smaller", func(f []frameInfo) { f[2].Length = 7000 }, true, "compressible bytes"},
		{"a message missing", func(f []frameInfo) { f[0].Opcode = 9 }, true, "data messages"},
	}
	for _, tc := range tests {
		frames := append([]frameInfo(nil), good...)
		tc.change(frames)
		errs := run(frames, tc.neg)
		if !strings.Contains(strings.Join(errs, "\n"), tc.want) {
			t.Errorf("%s: reported %q, want an error with %q", tc.name, errs, tc.want)
		}
	}
}

func TestFrameTap(t *testing.T) {
	head := "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n" +
		"Sec-WebSocket-Extensions: permessage-deflate; server_max_window_bits=10\r\n" +
		"sec-websocket-extensions:  x-other \r\n\r\n"
	wire := []byte(head)
	wire = append(wire, 0xc1, 3, 'a', 'b', 'c')               // text, fin, rsv1
	wire = append(wire, 0x02, 126, 0x01, 0x00)                // binary, 256 bytes
	wire = append(wire, make([]byte, 256)...)                 //
	wire = append(wire, 0x80, 0x80|2, 1, 2, 3, 4, 0xaa, 0xbb) // masked continuation, fin
	wire = append(wire, 0x89, 0)                              // ping
	// Fed all at once and a byte at a time, the tap sees the same.
	for _, step := range []int{len(wire), 1, 7} {
		tap := newFrameTap()
		for p := wire; len(p) > 0; p = p[min(step, len(p)):] {
			tap.Write(p[:min(step, len(p))])
		}
		got := framesString(tap.snapshot())
		if want := "text+fin+rsv1(3) binary(256) cont+fin(2) ping+fin(0)"; got != want {
			t.Errorf("step %d: frames %s, want %s", step, got, want)
		}
		vals := tap.headerValues("Sec-WebSocket-Extensions")
		if want := []string{"permessage-deflate; server_max_window_bits=10", "x-other"}; fmt.Sprint(vals) != fmt.Sprint(want) {
			t.Errorf("step %d: extensions %q, want %q", step, vals, want)
		}
	}
}

func TestEffectiveDeflateParams(t *testing.T) {
	tests := []struct {
		offer, answer string
		want          deflateParams
	}{
		{"permessage-deflate; client_max_window_bits", "permessage-deflate", deflateParams{ServerBits: 15, ClientBits: 15}},
		// An offered client window binds the client without an answer.
		{"permessage-deflate; client_max_window_bits=10", "permessage-deflate", deflateParams{ServerBits: 15, ClientBits: 10}},
		{"permessage-deflate; client_max_window_bits=10", "permessage-deflate; client_max_window_bits=9", deflateParams{ServerBits: 15, ClientBits: 9}},
		// So does an offered client_no_context_takeover.
		{"permessage-deflate; client_no_context_takeover", "permessage-deflate", deflateParams{ClientNoCtx: true, ServerBits: 15, ClientBits: 15}},
		{"x-foo, permessage-deflate", `permessage-deflate; server_no_context_takeover; server_max_window_bits="12"`,
			deflateParams{ServerNoCtx: true, ServerBits: 12, ClientBits: 15}},
	}
	for _, tc := range tests {
		o, ok1, err1 := findPMD(tc.offer)
		a, ok2, err2 := findPMD(tc.answer)
		if !ok1 || !ok2 || err1 != nil || err2 != nil {
			t.Fatalf("%q / %q: %v %v %v %v", tc.offer, tc.answer, ok1, ok2, err1, err2)
		}
		if got := effective(o, a); got != tc.want {
			t.Errorf("%q / %q: %v, want %v", tc.offer, tc.answer, got, tc.want)
		}
	}
	for _, bad := range []string{"permessage-deflate; server_max_window_bits=16", "permessage-deflate; foo", "permessage-deflate; client_max_window_bits=x"} {
		if _, _, err := findPMD(bad); err == nil {
			t.Errorf("findPMD(%q): no error", bad)
		}
	}
	if _, ok, _ := findPMD("x-foo; a=1"); ok {
		t.Errorf("findPMD found permessage-deflate in another extension")
	}
}
