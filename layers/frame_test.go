package layers

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"testing"
)

var rfcKey = [4]byte{0x37, 0xfa, 0x21, 0x3d}

// rfcFrame is one example frame from RFC 6455 section 5.7.
type rfcFrame struct {
	name    string
	wire    []byte
	hdr     Header
	payload []byte
	reader  Role // the role that receives this frame
}

func rfcExamples() []rfcFrame {
	bin256 := pattern(256)
	bin64k := pattern(65536)
	return []rfcFrame{
		{
			name:    "unmasked Hello",
			wire:    []byte{0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f},
			hdr:     Header{Fin: true, Opcode: OpText, Length: 5},
			payload: []byte("Hello"),
			reader:  RoleClient,
		},
		{
			name:    "masked Hello",
			wire:    []byte{0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58},
			hdr:     Header{Fin: true, Opcode: OpText, Masked: true, Mask: rfcKey, Length: 5},
			payload: []byte("Hello"),
			reader:  RoleServer,
		},
		{
			name:    "fragment Hel",
			wire:    []byte{0x01, 0x03, 0x48, 0x65, 0x6c},
			hdr:     Header{Fin: false, Opcode: OpText, Length: 3},
			payload: []byte("Hel"),
			reader:  RoleClient,
		},
		{
			name:    "unmasked ping",
			wire:    []byte{0x89, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f},
			hdr:     Header{Fin: true, Opcode: OpPing, Length: 5},
			payload: []byte("Hello"),
			reader:  RoleClient,
		},
		{
			name:    "masked pong",
			wire:    []byte{0x8a, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58},
			hdr:     Header{Fin: true, Opcode: OpPong, Masked: true, Mask: rfcKey, Length: 5},
			payload: []byte("Hello"),
			reader:  RoleServer,
		},
		{
			name:    "256-byte binary",
			wire:    append([]byte{0x82, 0x7e, 0x01, 0x00}, bin256...),
			hdr:     Header{Fin: true, Opcode: OpBinary, Length: 256},
			payload: bin256,
			reader:  RoleClient,
		},
		{
			name:    "64KiB binary",
			wire:    append([]byte{0x82, 0x7f, 0, 0, 0, 0, 0, 1, 0, 0}, bin64k...),
			hdr:     Header{Fin: true, Opcode: OpBinary, Length: 65536},
			payload: bin64k,
			reader:  RoleClient,
		},
	}
}

func TestRFCExamplesRead(t *testing.T) {
	for _, tc := range rfcExamples() {
		t.Run(tc.name, func(t *testing.T) {
			fr := NewFrameReader(bytes.NewReader(tc.wire), tc.reader)
			h, err := fr.Next()
			if err != nil {
				t.Fatalf("Next: %v", err)
			}
			if h != tc.hdr {
				t.Fatalf("header = %+v, want %+v", h, tc.hdr)
			}
			if fr.Header() != tc.hdr {
				t.Fatalf("Header() = %+v, want %+v", fr.Header(), tc.hdr)
			}
			if fr.Remaining() != tc.hdr.Length {
				t.Fatalf("Remaining = %d, want %d", fr.Remaining(), tc.hdr.Length)
			}
			got, err := io.ReadAll(fr)
			if err != nil {
				t.Fatalf("ReadAll: %v", err)
			}
			if !bytes.Equal(got, tc.payload) {
				t.Fatalf("payload = %q, want %q", got, tc.payload)
			}
			if _, err := fr.Next(); err != io.EOF {
				t.Fatalf("Next at end = %v, want io.EOF", err)
			}
		})
	}
}

func TestRFCExamplesAppendHeader(t *testing.T) {
	for _, tc := range rfcExamples() {
		t.Run(tc.name, func(t *testing.T) {
			hdrLen := len(tc.wire) - len(tc.payload)
			got := AppendHeader(nil, tc.hdr)
			if !bytes.Equal(got, tc.wire[:hdrLen]) {
				t.Fatalf("AppendHeader = % x, want % x", got, tc.wire[:hdrLen])
			}
			if n := HeaderSize(tc.hdr); n != hdrLen {
				t.Fatalf("HeaderSize = %d, want %d", n, hdrLen)
			}
			// AppendHeader appends; it does not overwrite dst.
			pre := []byte("xy")
			got = AppendHeader(pre, tc.hdr)
			if string(got[:2]) != "xy" || !bytes.Equal(got[2:], tc.wire[:hdrLen]) {
				t.Fatalf("AppendHeader to non-empty dst = % x", got)
			}
			// The full frame, built with the reference mask, matches the RFC bytes.
			if f := frameBytes(tc.hdr, tc.payload); !bytes.Equal(f, tc.wire) {
				t.Fatalf("frame bytes differ from RFC")
			}
		})
	}
}

// The unmasked RFC frames come out of a server FrameWriter byte for byte.
func TestRFCExamplesFrameWriter(t *testing.T) {
	for _, tc := range rfcExamples() {
		if tc.hdr.Masked {
			continue
		}
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			fw := NewFrameWriter(&out, RoleServer, nil)
			if err := fw.WriteFrame(Header{Fin: tc.hdr.Fin, Opcode: tc.hdr.Opcode}, tc.payload); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(out.Bytes(), tc.wire) {
				t.Fatalf("wrote % x..., want % x...", head(out.Bytes()), head(tc.wire))
			}
		})
	}
}

// The masked RFC frames: a client FrameWriter picks its own key, so check
// the header shape and that unmasking with the key it chose gives the RFC
// payload; and masking "Hello" with the RFC key gives the RFC bytes.
func TestRFCExamplesClientWriter(t *testing.T) {
	for _, tc := range rfcExamples() {
		if !tc.hdr.Masked {
			continue
		}
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			fw := NewFrameWriter(&out, RoleClient, nil)
			if err := fw.WriteFrame(Header{Fin: true, Opcode: tc.hdr.Opcode}, tc.payload); err != nil {
				t.Fatal(err)
			}
			b := out.Bytes()
			if len(b) != len(tc.wire) || b[0] != tc.wire[0] || b[1] != tc.wire[1] {
				t.Fatalf("wrote % x, want shape of % x", b, tc.wire)
			}
			var key [4]byte
			copy(key[:], b[2:6])
			p := append([]byte(nil), b[6:]...)
			Mask(key, 0, p)
			if string(p) != string(tc.payload) {
				t.Fatalf("unmasked payload %q, want %q", p, tc.payload)
			}
			q := []byte("Hello")
			Mask(rfcKey, 0, q)
			if !bytes.Equal(q, tc.wire[6:]) {
				t.Fatalf("Mask(RFC key, Hello) = % x, want % x", q, tc.wire[6:])
			}
		})
	}
}

// The fragmented "Hel"+"lo" message, read as one message.
func TestRFCFragmentedHello(t *testing.T) {
	wire := []byte{0x01, 0x03, 0x48, 0x65, 0x6c, 0x80, 0x02, 0x6c, 0x6f}
	fr := NewFrameReader(bytes.NewReader(wire), RoleClient)
	want := []Header{
		{Fin: false, Opcode: OpText, Length: 3},
		{Fin: true, Opcode: OpContinuation, Length: 2},
	}
	var payload []byte
	for i, w := range want {
		h, err := fr.Next()
		if err != nil {
			t.Fatalf("frame %d: %v", i, err)
		}
		if h != w {
			t.Fatalf("frame %d: header %+v, want %+v", i, h, w)
		}
		if got := fr.InMessage(); got != !w.Fin {
			t.Fatalf("frame %d: InMessage = %v", i, got)
		}
		p, err := io.ReadAll(fr)
		if err != nil {
			t.Fatal(err)
		}
		payload = append(payload, p...)
	}
	if string(payload) != "Hello" {
		t.Fatalf("payload %q", payload)
	}

	mr := NewMessageReader(NewFrameReader(bytes.NewReader(wire), RoleClient), nil)
	op, err := mr.Next()
	if err != nil || op != OpText {
		t.Fatalf("MessageReader.Next = %v, %v", op, err)
	}
	if mr.Header().Opcode != OpText || mr.Header().Fin {
		t.Fatalf("MessageReader.Header = %+v", mr.Header())
	}
	p, err := io.ReadAll(mr)
	if err != nil || string(p) != "Hello" {
		t.Fatalf("message = %q, %v", p, err)
	}

	// And produced by a server FrameWriter.
	var out bytes.Buffer
	fw := NewFrameWriter(&out, RoleServer, nil)
	if err := fw.WriteFrame(Header{Opcode: OpText}, []byte("Hel")); err != nil {
		t.Fatal(err)
	}
	if err := fw.WriteFrame(Header{Fin: true, Opcode: OpContinuation}, []byte("lo")); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(out.Bytes(), wire) {
		t.Fatalf("wrote % x, want % x", out.Bytes(), wire)
	}
}

func head(b []byte) []byte { return b[:min(len(b), 16)] }

func TestAppendHeaderLengths(t *testing.T) {
	tests := []struct {
		length int64
		want   []byte // bytes after the first
	}{
		{0, []byte{0x00}},
		{1, []byte{0x01}},
		{125, []byte{0x7d}},
		{126, []byte{0x7e, 0x00, 0x7e}},
		{127, []byte{0x7e, 0x00, 0x7f}},
		{0xFFFF, []byte{0x7e, 0xff, 0xff}},
		{0x10000, []byte{0x7f, 0, 0, 0, 0, 0, 1, 0, 0}},
		{1<<63 - 1, []byte{0x7f, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}},
	}
	for _, tc := range tests {
		for _, masked := range []bool{false, true} {
			h := Header{Fin: true, Rsv: RSV1 | RSV3, Opcode: OpBinary, Length: tc.length, Masked: masked, Mask: [4]byte{1, 2, 3, 4}}
			want := append([]byte{0x80 | RSV1 | RSV3 | 0x2}, tc.want...)
			if masked {
				want[1] |= 0x80
				want = append(want, 1, 2, 3, 4)
			}
			got := AppendHeader(nil, h)
			if !bytes.Equal(got, want) {
				t.Errorf("len %d masked %v: % x, want % x", tc.length, masked, got, want)
			}
			if HeaderSize(h) != len(want) {
				t.Errorf("len %d masked %v: HeaderSize %d, want %d", tc.length, masked, HeaderSize(h), len(want))
			}
		}
	}
	// The mask key is written only when Masked is set.
	if got := AppendHeader(nil, Header{Opcode: OpText, Mask: [4]byte{9, 9, 9, 9}}); len(got) != 2 {
		t.Errorf("unmasked header with a key: % x", got)
	}
}

// Every header FrameReader accepts re-encodes to the same bytes.
func TestAppendHeaderRoundTrip(t *testing.T) {
	for _, op := range []Opcode{OpContinuation, OpText, OpBinary, OpClose, OpPing, OpPong} {
		for _, length := range []int64{0, 5, 125, 126, 300, 0xFFFF, 0x10000, 1 << 40} {
			if op.IsControl() && length > 125 {
				continue
			}
			for _, role := range []Role{RoleServer, RoleClient} {
				h := Header{Fin: true, Rsv: RSV2, Opcode: op, Length: length}
				if role == RoleServer {
					h.Masked, h.Mask = true, [4]byte{0xde, 0xad, 0xbe, 0xef}
				}
				wire := AppendHeader(nil, h)
				fr := NewFrameReader(bytes.NewReader(wire), role)
				fr.AllowRSV = RSV2
				if op == OpContinuation {
					// Open a message first so the continuation is legal.
					open := AppendHeader(nil, Header{Opcode: OpText, Masked: h.Masked, Mask: h.Mask})
					fr.Reset(bytes.NewReader(append(open, wire...)), role)
					if _, err := fr.Next(); err != nil {
						t.Fatal(err)
					}
				}
				got, err := fr.Next()
				if err != nil {
					t.Fatalf("%v len %d role %d: %v", op, length, role, err)
				}
				if got != h {
					t.Fatalf("%v len %d: parsed %+v, want %+v", op, length, got, h)
				}
				if re := AppendHeader(nil, got); !bytes.Equal(re, wire) {
					t.Fatalf("re-encoded % x, want % x", re, wire)
				}
			}
		}
	}
}

func TestOpcode(t *testing.T) {
	for o := Opcode(0); o < 16; o++ {
		wantCtrl := o >= 8
		wantRes := !(o <= 2 || (o >= 8 && o <= 0xA))
		if o.IsControl() != wantCtrl {
			t.Errorf("%d.IsControl() = %v", o, o.IsControl())
		}
		if o.IsReserved() != wantRes {
			t.Errorf("%d.IsReserved() = %v", o, o.IsReserved())
		}
	}
	names := map[Opcode]string{
		OpContinuation: "continuation", OpText: "text", OpBinary: "binary",
		OpClose: "close", OpPing: "ping", OpPong: "pong", 3: "opcode(3)", 0xF: "opcode(15)",
	}
	for o, want := range names {
		if o.String() != want {
			t.Errorf("Opcode(%d).String() = %q, want %q", o, o.String(), want)
		}
	}
}

func TestCloseCodeFor(t *testing.T) {
	tests := []struct {
		err  error
		want CloseCode
	}{
		{ErrProtocol, 1002},
		{errReservedOpcode, 1002},
		{errNonMinimalLength, 1002},
		{fmt.Errorf("wrapped: %w", errMasked), 1002},
		{ErrInvalidUTF8, 1007},
		{errUTF8Invalid, 1007},
		{ErrTooBig, 1009},
		{errLimit, 1009},
		{errFrameTooBig, 1009},
		{io.ErrUnexpectedEOF, 1011},
		{errors.New("other"), 1011},
	}
	for _, tc := range tests {
		if got := CloseCodeFor(tc.err); got != tc.want {
			t.Errorf("CloseCodeFor(%v) = %d, want %d", tc.err, got, tc.want)
		}
	}
	// The typed errors keep their reason in the message.
	if msg := errReservedOpcode.Error(); msg != "websocket: protocol error: reserved opcode" {
		t.Errorf("message %q", msg)
	}
}

// FrameSize measures what AppendHeader writes, and asks for the bytes a
// header still lacks.
func TestFrameSize(t *testing.T) {
	for _, length := range []int64{0, 1, 125, 126, 0xFFFF, 0x10000, 1 << 40} {
		for _, masked := range []bool{false, true} {
			h := Header{Fin: true, Opcode: OpBinary, Length: length, Masked: masked, Mask: [4]byte{1, 2, 3, 4}}
			b := AppendHeader(nil, h)
			hs, n, ok := FrameSize(b)
			if !ok || hs != len(b) || hs != HeaderSize(h) || n != uint64(length) {
				t.Errorf("%d masked=%v: FrameSize = %d, %d, %v; want %d, %d, true", length, masked, hs, n, ok, len(b), length)
			}
			for cut := 0; cut < len(b); cut++ {
				need, _, ok := FrameSize(b[:cut])
				if ok || need > len(b) || need <= cut {
					t.Errorf("%d masked=%v, %d of %d bytes: FrameSize asks for %d, ok %v", length, masked, cut, len(b), need, ok)
				}
			}
		}
	}
}
