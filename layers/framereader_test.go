package layers

import (
	"bytes"
	"errors"
	"io"
	"testing"
	"testing/iotest"
)

// hdr builds a raw two-byte frame header.
func hdr(b0, b1 byte, rest ...byte) []byte { return append([]byte{b0, b1}, rest...) }

var key4 = []byte{1, 2, 3, 4}

func TestFrameReaderProtocolErrors(t *testing.T) {
	textOpen := hdr(0x01, 0x80, key4...) // masked text, FIN clear, empty
	tests := []struct {
		name     string
		role     Role
		allowRSV byte
		wire     []byte
		want     error // the specific sentinel, also checked against ErrProtocol
	}{
		{"opcode 3", RoleClient, 0, hdr(0x83, 0x00), errReservedOpcode},
		{"opcode 4", RoleClient, 0, hdr(0x84, 0x00), errReservedOpcode},
		{"opcode 5", RoleClient, 0, hdr(0x85, 0x00), errReservedOpcode},
		{"opcode 6", RoleClient, 0, hdr(0x86, 0x00), errReservedOpcode},
		{"opcode 7", RoleServer, 0, hdr(0x87, 0x80, key4...), errReservedOpcode},
		{"opcode B", RoleClient, 0, hdr(0x8B, 0x00), errReservedOpcode},
		{"opcode C", RoleClient, 0, hdr(0x8C, 0x00), errReservedOpcode},
		{"opcode D", RoleClient, 0, hdr(0x8D, 0x00), errReservedOpcode},
		{"opcode E", RoleClient, 0, hdr(0x8E, 0x00), errReservedOpcode},
		{"opcode F", RoleServer, 0, hdr(0x8F, 0x80, key4...), errReservedOpcode},
		{"RSV1 not allowed", RoleClient, 0, hdr(0xC1, 0x00), errReservedBits},
		{"RSV2 not allowed", RoleClient, 0, hdr(0xA1, 0x00), errReservedBits},
		{"RSV3 not allowed", RoleClient, 0, hdr(0x91, 0x00), errReservedBits},
		{"RSV2 with RSV1 allowed", RoleClient, RSV1, hdr(0xE1, 0x00), errReservedBits},
		{"RSV3 on control, RSV1 allowed", RoleClient, RSV1, hdr(0x99, 0x00), errReservedBits},
		{"ping 126", RoleClient, 0, hdr(0x89, 0x7E, 0x00, 0x7E), errControlTooLong},
		{"close 127", RoleClient, 0, hdr(0x88, 0x7F, 0, 0, 0, 0, 0, 1, 0, 0), errControlTooLong},
		{"pong 126 masked", RoleServer, 0, hdr(0x8A, 0xFE, 0x00, 0x7E, 1, 2, 3, 4), errControlTooLong},
		{"fragmented ping", RoleClient, 0, hdr(0x09, 0x00), errControlFragmented},
		{"fragmented close", RoleServer, 0, hdr(0x08, 0x80, key4...), errControlFragmented},
		{"fragmented pong", RoleClient, 0, hdr(0x0A, 0x05, 'H', 'e', 'l', 'l', 'o'), errControlFragmented},
		{"unmasked to server", RoleServer, 0, hdr(0x81, 0x05, 'H', 'e', 'l', 'l', 'o'), errUnmasked},
		{"unmasked ping to server", RoleServer, 0, hdr(0x89, 0x00), errUnmasked},
		{"masked to client", RoleClient, 0, hdr(0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58), errMasked},
		{"masked close to client", RoleClient, 0, hdr(0x88, 0x80, key4...), errMasked},
		{"64-bit top bit", RoleClient, 0, hdr(0x82, 0x7F, 0x80, 0, 0, 0, 0, 0, 0, 0), errLengthTopBit},
		{"64-bit all ones", RoleServer, 0, hdr(0x82, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 1, 2, 3, 4), errLengthTopBit},
		{"16-bit length 0", RoleClient, 0, hdr(0x82, 0x7E, 0x00, 0x00), errNonMinimalLength},
		{"16-bit length 125", RoleClient, 0, hdr(0x82, 0x7E, 0x00, 0x7D), errNonMinimalLength},
		{"64-bit length 0", RoleClient, 0, hdr(0x82, 0x7F, 0, 0, 0, 0, 0, 0, 0, 0), errNonMinimalLength},
		{"64-bit length 125", RoleClient, 0, hdr(0x82, 0x7F, 0, 0, 0, 0, 0, 0, 0, 0x7D), errNonMinimalLength},
		{"64-bit length 126", RoleClient, 0, hdr(0x82, 0x7F, 0, 0, 0, 0, 0, 0, 0, 0x7E), errNonMinimalLength},
		{"64-bit length 65535", RoleServer, 0, hdr(0x82, 0xFF, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF, 1, 2, 3, 4), errNonMinimalLength},
		{"continuation, nothing open", RoleClient, 0, hdr(0x80, 0x00), errNoMessageOpen},
		{"continuation after final frame", RoleServer, 0, append(hdr(0x81, 0x80, key4...), hdr(0x80, 0x80, key4...)...), errNoMessageOpen},
		{"text while text open", RoleServer, 0, append(append([]byte{}, textOpen...), hdr(0x81, 0x80, key4...)...), errMessageOpen},
		{"binary while text open", RoleServer, 0, append(append([]byte{}, textOpen...), hdr(0x02, 0x80, key4...)...), errMessageOpen},
		{"text after ping inside message", RoleServer, 0, append(append(append([]byte{}, textOpen...), hdr(0x89, 0x80, key4...)...), hdr(0x81, 0x80, key4...)...), errMessageOpen},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fr := NewFrameReader(bytes.NewReader(tc.wire), tc.role)
			fr.AllowRSV = tc.allowRSV
			var err error
			for range 10 {
				if _, err = fr.Next(); err != nil {
					break
				}
			}
			if !errors.Is(err, ErrProtocol) {
				t.Fatalf("err = %v, want ErrProtocol", err)
			}
			if err != tc.want {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			if c := CloseCodeFor(err); c != CloseProtocolError {
				t.Fatalf("CloseCodeFor = %d, want 1002", c)
			}
		})
	}
}

// RSV bits are accepted when AllowRSV has them, and reported in Header.Rsv.
func TestFrameReaderAllowRSV(t *testing.T) {
	for _, allow := range []byte{RSV1, RSV2, RSV3, RSV1 | RSV2, RSV1 | RSV2 | RSV3} {
		for _, rsv := range []byte{0, RSV1, RSV2, RSV3, RSV1 | RSV2, RSV1 | RSV3, RSV1 | RSV2 | RSV3} {
			wire := hdr(0x82|rsv, 0x01, 0xAA)
			fr := NewFrameReader(bytes.NewReader(wire), RoleClient)
			fr.AllowRSV = allow
			h, err := fr.Next()
			if rsv&^allow != 0 {
				if err != errReservedBits {
					t.Errorf("allow %#x rsv %#x: err %v, want reserved bits", allow, rsv, err)
				}
				continue
			}
			if err != nil {
				t.Errorf("allow %#x rsv %#x: %v", allow, rsv, err)
				continue
			}
			if h.Rsv != rsv {
				t.Errorf("allow %#x rsv %#x: Header.Rsv %#x", allow, rsv, h.Rsv)
			}
		}
	}
}

func TestFrameReaderMaxFrameSize(t *testing.T) {
	tests := []struct {
		max    int64
		length int
		ok     bool
	}{
		{0, 70000, true}, // no limit
		{100, 100, true},
		{100, 101, false},
		{1000, 70000, false},
		{70000, 70000, true},
	}
	for _, tc := range tests {
		payload := pattern(tc.length)
		wire := frameBytes(Header{Fin: true, Opcode: OpBinary}, payload)
		src := bytes.NewReader(wire)
		fr := NewFrameReader(src, RoleClient)
		fr.MaxFrameSize = tc.max
		h, err := fr.Next()
		if !tc.ok {
			if !errors.Is(err, ErrTooBig) || CloseCodeFor(err) != CloseMessageTooBig {
				t.Errorf("max %d len %d: err %v, want ErrTooBig", tc.max, tc.length, err)
			}
			// Nothing of the payload has been read.
			if got := src.Len(); got != tc.length {
				t.Errorf("max %d len %d: %d bytes left in source, want %d", tc.max, tc.length, got, tc.length)
			}
			continue
		}
		if err != nil || h.Length != int64(tc.length) {
			t.Errorf("max %d len %d: %+v %v", tc.max, tc.length, h, err)
		}
	}
	// The limit survives Reset.
	fr := NewFrameReader(nil, RoleServer)
	fr.MaxFrameSize, fr.AllowRSV = 3, RSV1
	fr.Reset(bytes.NewReader(frameBytes(Header{Fin: true, Rsv: RSV1, Opcode: OpText, Masked: true}, []byte("four"))), RoleServer)
	if _, err := fr.Next(); !errors.Is(err, ErrTooBig) {
		t.Errorf("after Reset: %v, want ErrTooBig", err)
	}
}

func TestFrameReaderTruncated(t *testing.T) {
	full := frameBytes(Header{Fin: true, Opcode: OpBinary, Masked: true, Mask: [4]byte{9, 8, 7, 6}}, pattern(300))
	// full = 2 header + 2 length + 4 key + 300 payload.
	for cut := 0; cut < len(full); cut++ {
		fr := NewFrameReader(bytes.NewReader(full[:cut]), RoleServer)
		_, err := fr.Next()
		switch {
		case cut == 0:
			if err != io.EOF {
				t.Fatalf("cut %d: Next = %v, want io.EOF", cut, err)
			}
			continue
		case cut < 8:
			if err != io.ErrUnexpectedEOF {
				t.Fatalf("cut %d: Next = %v, want io.ErrUnexpectedEOF", cut, err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("cut %d: Next = %v", cut, err)
		}
		got, err := readAll(t, fr, 64)
		if err != io.ErrUnexpectedEOF {
			t.Fatalf("cut %d: Read = %v, want io.ErrUnexpectedEOF", cut, err)
		}
		if want := pattern(300)[:cut-8]; !bytes.Equal(got, want) {
			t.Fatalf("cut %d: got %d payload bytes, want the %d that arrived", cut, len(got), len(want))
		}
		// Next cannot skip a payload that is not there.
		if _, err := fr.Next(); err != io.ErrUnexpectedEOF {
			t.Fatalf("cut %d: Next after truncated payload = %v", cut, err)
		}
	}
	// Skipping a truncated payload without reading it.
	fr := NewFrameReader(bytes.NewReader(full[:100]), RoleServer)
	if _, err := fr.Next(); err != nil {
		t.Fatal(err)
	}
	if _, err := fr.Next(); err != io.ErrUnexpectedEOF {
		t.Fatalf("Next over truncated payload = %v, want io.ErrUnexpectedEOF", err)
	}
	// Truncated unmasked 64-bit length.
	fr = NewFrameReader(bytes.NewReader([]byte{0x82, 0x7F, 0, 0, 0}), RoleClient)
	if _, err := fr.Next(); err != io.ErrUnexpectedEOF {
		t.Fatalf("truncated 64-bit length: %v", err)
	}
}

// A source error other than EOF is returned as is.
func TestFrameReaderSourceError(t *testing.T) {
	boom := errors.New("boom")
	fr := NewFrameReader(iotest.ErrReader(boom), RoleClient)
	if _, err := fr.Next(); err != boom {
		t.Fatalf("Next = %v, want boom", err)
	}
	wire := frameBytes(Header{Fin: true, Opcode: OpBinary}, pattern(10))
	fr = NewFrameReader(io.MultiReader(bytes.NewReader(wire[:5]), iotest.ErrReader(boom)), RoleClient)
	if _, err := fr.Next(); err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadAll(fr); err != boom {
		t.Fatalf("Read = %v, want boom", err)
	}
}

func TestFrameReaderNextSkips(t *testing.T) {
	key := [4]byte{0xa1, 0xb2, 0xc3, 0xd4}
	var wire []byte
	wire = append(wire, frameBytes(Header{Fin: true, Opcode: OpBinary, Masked: true, Mask: key}, pattern(1000))...)
	wire = append(wire, frameBytes(Header{Fin: true, Opcode: OpPing, Masked: true, Mask: key}, []byte("ping"))...)
	wire = append(wire, frameBytes(Header{Fin: true, Opcode: OpText, Masked: true, Mask: key}, []byte("third frame"))...)
	wire = append(wire, frameBytes(Header{Fin: true, Opcode: OpBinary, Masked: true, Mask: key}, nil)...)
	fr := NewFrameReader(bytes.NewReader(wire), RoleServer)

	// Frame 1: read 3 bytes, leave the rest.
	if _, err := fr.Next(); err != nil {
		t.Fatal(err)
	}
	p := make([]byte, 3)
	if _, err := io.ReadFull(fr, p); err != nil || !bytes.Equal(p, pattern(3)) {
		t.Fatalf("first bytes % x, %v", p, err)
	}
	if fr.Remaining() != 997 {
		t.Fatalf("Remaining = %d", fr.Remaining())
	}
	// Frame 2: skipped entirely.
	if h, err := fr.Next(); err != nil || h.Opcode != OpPing {
		t.Fatalf("Next = %+v, %v", h, err)
	}
	// Frame 3: read after a skip, unmasked from key position 0.
	h, err := fr.Next()
	if err != nil || h.Opcode != OpText {
		t.Fatalf("Next = %+v, %v", h, err)
	}
	got, err := io.ReadAll(fr)
	if err != nil || string(got) != "third frame" {
		t.Fatalf("third frame %q, %v", got, err)
	}
	// Frame 4: empty; Read gives io.EOF at once.
	if h, err := fr.Next(); err != nil || h.Length != 0 {
		t.Fatalf("Next = %+v, %v", h, err)
	}
	if n, err := fr.Read(make([]byte, 10)); n != 0 || err != io.EOF {
		t.Fatalf("Read of empty frame = %d, %v", n, err)
	}
	if _, err := fr.Next(); err != io.EOF {
		t.Fatalf("Next at end = %v", err)
	}
}

// Read reports io.EOF together with the last bytes of a frame, and keeps
// returning io.EOF afterwards without touching the next frame.
func TestFrameReaderReadEOF(t *testing.T) {
	wire := append(frameBytes(Header{Fin: true, Opcode: OpBinary}, []byte("abc")),
		frameBytes(Header{Fin: true, Opcode: OpBinary}, []byte("def"))...)
	fr := NewFrameReader(bytes.NewReader(wire), RoleClient)
	if _, err := fr.Next(); err != nil {
		t.Fatal(err)
	}
	p := make([]byte, 10)
	n, err := fr.Read(p)
	if n != 3 || err != io.EOF || string(p[:3]) != "abc" {
		t.Fatalf("Read = %d %v %q", n, err, p[:n])
	}
	for range 3 {
		if n, err := fr.Read(p); n != 0 || err != io.EOF {
			t.Fatalf("Read after end = %d %v", n, err)
		}
	}
	if _, err := fr.Next(); err != nil {
		t.Fatal(err)
	}
	if got, _ := io.ReadAll(fr); string(got) != "def" {
		t.Fatalf("second frame %q", got)
	}
}

// Short reads at every layer give the same payload; the unmasking key
// position must carry across them.
func TestFrameReaderShortReads(t *testing.T) {
	key := [4]byte{0x37, 0xfa, 0x21, 0x3d}
	payloads := [][]byte{nil, []byte("Hello"), pattern(125), pattern(126), pattern(1023), pattern(70001)}
	var wireMasked, wirePlain []byte
	for i, p := range payloads {
		op := OpBinary
		if i%2 == 1 {
			op = OpText
		}
		wireMasked = append(wireMasked, frameBytes(Header{Fin: true, Opcode: op, Masked: true, Mask: key}, p)...)
		wirePlain = append(wirePlain, frameBytes(Header{Fin: true, Opcode: op}, p)...)
	}
	wraps := []struct {
		name string
		wrap func(io.Reader) io.Reader
	}{
		{"plain", func(r io.Reader) io.Reader { return r }},
		{"OneByteReader", iotest.OneByteReader},
		{"HalfReader", iotest.HalfReader},
		{"DataErrReader", iotest.DataErrReader},
	}
	for _, w := range wraps {
		for _, bufSize := range []int{1, 3, 7, 64, 4096} {
			for _, role := range []Role{RoleServer, RoleClient} {
				wire := wireMasked
				if role == RoleClient {
					wire = wirePlain
				}
				fr := NewFrameReader(w.wrap(bytes.NewReader(wire)), role)
				for i, want := range payloads {
					h, err := fr.Next()
					if err != nil {
						t.Fatalf("%s buf %d frame %d: Next %v", w.name, bufSize, i, err)
					}
					if h.Length != int64(len(want)) {
						t.Fatalf("%s buf %d frame %d: length %d", w.name, bufSize, i, h.Length)
					}
					got, err := readAll(t, fr, bufSize)
					if err != nil {
						t.Fatalf("%s buf %d frame %d: %v", w.name, bufSize, i, err)
					}
					if !bytes.Equal(got, want) {
						t.Fatalf("%s buf %d role %d frame %d: payload differs", w.name, bufSize, role, i)
					}
				}
				if _, err := fr.Next(); err != io.EOF {
					t.Fatalf("%s: Next at end = %v", w.name, err)
				}
			}
		}
	}
}

// iotest.TestReader checks the io.Reader contract on a frame's payload.
func TestFrameReaderIOTest(t *testing.T) {
	payload := pattern(5000)
	wire := frameBytes(Header{Fin: true, Opcode: OpBinary, Masked: true, Mask: [4]byte{5, 6, 7, 8}}, payload)
	fr := NewFrameReader(bytes.NewReader(wire), RoleServer)
	if _, err := fr.Next(); err != nil {
		t.Fatal(err)
	}
	if err := iotest.TestReader(fr, payload); err != nil {
		t.Fatal(err)
	}
}

// Reset forgets a message in progress and the current frame.
func TestFrameReaderReset(t *testing.T) {
	open := frameBytes(Header{Opcode: OpText}, []byte("partial"))
	fr := NewFrameReader(bytes.NewReader(open), RoleClient)
	if _, err := fr.Next(); err != nil || !fr.InMessage() {
		t.Fatalf("Next = %v, InMessage %v", err, fr.InMessage())
	}
	fr.Reset(bytes.NewReader(frameBytes(Header{Fin: true, Opcode: OpText}, []byte("new"))), RoleClient)
	if fr.InMessage() || fr.Remaining() != 0 || fr.Header() != (Header{}) {
		t.Fatalf("after Reset: InMessage %v Remaining %d Header %+v", fr.InMessage(), fr.Remaining(), fr.Header())
	}
	if _, err := fr.Next(); err != nil {
		t.Fatalf("new text frame after Reset: %v", err)
	}
	if got, _ := io.ReadAll(fr); string(got) != "new" {
		t.Fatalf("payload %q", got)
	}
	// Switching role on Reset.
	fr.Reset(bytes.NewReader(frameBytes(Header{Fin: true, Opcode: OpText, Masked: true, Mask: rfcKey}, []byte("m"))), RoleServer)
	if _, err := fr.Next(); err != nil {
		t.Fatalf("masked frame after Reset to server: %v", err)
	}
	if got, _ := io.ReadAll(fr); string(got) != "m" {
		t.Fatalf("payload %q", got)
	}
}

// Control frames inside a fragmented message keep it open.
func TestFrameReaderInterleavedControl(t *testing.T) {
	var wire []byte
	wire = append(wire, frameBytes(Header{Opcode: OpBinary}, []byte("a"))...)
	wire = append(wire, frameBytes(Header{Fin: true, Opcode: OpPing}, []byte("p"))...)
	wire = append(wire, frameBytes(Header{Opcode: OpContinuation}, []byte("b"))...)
	wire = append(wire, frameBytes(Header{Fin: true, Opcode: OpPong}, nil)...)
	wire = append(wire, frameBytes(Header{Fin: true, Opcode: OpContinuation}, []byte("c"))...)
	wire = append(wire, frameBytes(Header{Fin: true, Opcode: OpText}, []byte("d"))...)
	fr := NewFrameReader(bytes.NewReader(wire), RoleClient)
	wantOpen := []bool{true, true, true, true, false, false}
	for i, w := range wantOpen {
		if _, err := fr.Next(); err != nil {
			t.Fatalf("frame %d: %v", i, err)
		}
		if fr.InMessage() != w {
			t.Fatalf("frame %d: InMessage %v", i, fr.InMessage())
		}
	}
}
