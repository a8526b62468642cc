package layers

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"strings"
	"testing"
	"unicode/utf8"
)

func FuzzFrameReader(f *testing.F) {
	for _, tc := range rfcExamples() {
		f.Add(tc.wire)
	}
	f.Add([]byte{0x01, 0x03, 0x48, 0x65, 0x6c, 0x89, 0x00, 0x80, 0x02, 0x6c, 0x6f})
	f.Add(frameBytes(Header{Opcode: OpText, Masked: true, Mask: rfcKey}, []byte("Hel")))
	f.Add(append(frameBytes(Header{Opcode: OpText, Masked: true, Mask: rfcKey}, []byte("Hel")),
		frameBytes(Header{Fin: true, Opcode: OpContinuation, Masked: true, Mask: [4]byte{1, 2, 3, 4}}, []byte("lo"))...))
	f.Add(frameBytes(Header{Fin: true, Rsv: RSV1, Opcode: OpBinary, Masked: true, Mask: rfcKey}, pattern(300)))
	f.Add([]byte{0x82, 0x7F, 0x80, 0, 0, 0, 0, 0, 0, 0})
	f.Add([]byte{0x82, 0x7E, 0x00, 0x10})
	f.Add([]byte{0x88, 0x82, 1, 2, 3, 4, 0x02, 0xEA})
	f.Add([]byte{0x83, 0x00, 0x80})

	f.Fuzz(func(t *testing.T, data []byte) {
		for _, role := range []Role{RoleServer, RoleClient} {
			for _, allow := range []byte{0, RSV1 | RSV2 | RSV3} {
				checkFrames(t, data, role, allow)
				skipFrames(t, data, role, allow)
				readMessages(t, data, role, allow)
			}
		}
	})
}

// checkFrames parses every frame of data, reading each payload, and checks
// the headers and payloads against the raw bytes.
func checkFrames(t *testing.T, data []byte, role Role, allow byte) {
	src := bytes.NewReader(data)
	fr := NewFrameReader(src, role)
	fr.AllowRSV = allow
	for {
		start := len(data) - src.Len()
		h, err := fr.Next()
		if err != nil {
			if err != io.EOF && err != io.ErrUnexpectedEOF && !errors.Is(err, ErrProtocol) {
				t.Fatalf("Next: unexpected error %v", err)
			}
			if err == io.EOF && start != len(data) {
				t.Fatalf("io.EOF with %d bytes left", len(data)-start)
			}
			return
		}
		end := len(data) - src.Len()
		raw := data[start:end]
		if re := AppendHeader(nil, h); !bytes.Equal(re, raw) {
			t.Fatalf("header % x re-encodes to % x", raw, re)
		}
		if HeaderSize(h) != len(raw) {
			t.Fatalf("HeaderSize %d, header is %d bytes", HeaderSize(h), len(raw))
		}
		if h.Masked != (role == RoleServer) || h.Opcode.IsReserved() || h.Rsv&^allow != 0 ||
			h.Opcode.IsControl() && (h.Length > MaxControlPayload || !h.Fin) || h.Length < 0 {
			t.Fatalf("accepted an invalid header %+v", h)
		}
		payload, err := io.ReadAll(fr)
		avail := min(int64(src.Len()+len(payload)), h.Length)
		if int64(len(payload)) != avail {
			t.Fatalf("read %d payload bytes, %d available", len(payload), avail)
		}
		if avail < h.Length && err != io.ErrUnexpectedEOF {
			t.Fatalf("truncated payload: err %v", err)
		}
		if avail == h.Length && err != nil {
			t.Fatalf("payload: %v", err)
		}
		want := bytes.Clone(data[end : end+len(payload)])
		if h.Masked {
			refMask(want, want, h.Mask, 0)
		}
		if !bytes.Equal(payload, want) {
			t.Fatal("payload differs from the raw bytes unmasked")
		}
		if err != nil {
			return
		}
	}
}

// skipFrames parses every frame with Next alone, skipping payloads, under
// a frame size limit; it must agree with checkFrames on the frame count.
func skipFrames(t *testing.T, data []byte, role Role, allow byte) {
	fr := NewFrameReader(bytes.NewReader(data), role)
	fr.AllowRSV = allow
	fr.MaxFrameSize = 1000
	for range len(data) + 1 {
		h, err := fr.Next()
		if err != nil {
			if errors.Is(err, ErrTooBig) && h.Length <= 1000 {
				t.Fatalf("ErrTooBig for length %d", h.Length)
			}
			return
		}
		if h.Length > 1000 {
			t.Fatalf("length %d over MaxFrameSize accepted", h.Length)
		}
	}
	t.Fatal("more frames than bytes")
}

// readMessages runs a MessageReader with a UTF8Reader over data.
func readMessages(t *testing.T, data []byte, role Role, allow byte) {
	fr := NewFrameReader(bytes.NewReader(data), role)
	fr.AllowRSV = allow
	mr := NewMessageReader(fr, func(h Header, p []byte) error {
		if !h.Opcode.IsControl() || int64(len(p)) != h.Length {
			t.Fatalf("OnControl(%+v, %d bytes)", h, len(p))
		}
		if h.Opcode == OpClose {
			ParseClose(p)
		}
		return nil
	})
	mr.MaxMessageSize = 4000
	var u UTF8Reader
	buf := make([]byte, 7)
	for range len(data) + 1 {
		op, err := mr.Next()
		if err != nil {
			return
		}
		var r io.Reader = mr
		if op == OpText {
			u.Reset(mr)
			r = &u
		}
		total := 0
		for {
			n, err := r.Read(buf)
			total += n
			if total > 4000 {
				t.Fatalf("read %d bytes, over MaxMessageSize", total)
			}
			if err == io.EOF {
				break
			}
			if err != nil {
				return
			}
		}
	}
	t.Fatal("more messages than bytes")
}

func FuzzUTF8(f *testing.F) {
	for _, b := range utf8Cases() {
		f.Add(b, len(b)/2)
	}
	f.Add([]byte("κόσμε\xed\xa0\x80edited"), 11)
	f.Add([]byte("\xf4\x90\x80\x80"), 2)
	f.Fuzz(func(t *testing.T, data []byte, split int) {
		want := utf8.Valid(data)
		if ValidUTF8(data) != want {
			t.Fatalf("ValidUTF8(% x) = %v, want %v", data, !want, want)
		}
		if len(data) > 0 {
			split = int(uint(split) % uint(len(data)+1))
		} else {
			split = 0
		}
		var v UTF8Validator
		if got := v.Valid(data[:split]) && v.Valid(data[split:]) && v.Complete(); got != want {
			t.Fatalf("% x split at %d: %v, want %v", data, split, got, want)
		}
		// Fed byte by byte, the first rejection is at the first byte that
		// makes the prefix impossible to complete.
		v.Reset()
		k := 0
		for k < len(data) && v.Valid(data[k:k+1]) {
			k++
		}
		if !validPrefix(data[:k]) {
			t.Fatalf("% x: prefix %d accepted but cannot be completed", data, k)
		}
		if k < len(data) && validPrefix(data[:k+1]) {
			t.Fatalf("% x: rejected at byte %d, but the prefix can be completed", data, k)
		}
		if k == len(data) && v.Complete() != want {
			t.Fatalf("% x: Complete %v, want %v", data, v.Complete(), want)
		}
		// UTF8Reader gives the same verdict.
		got, err := io.ReadAll(NewUTF8Reader(bytes.NewReader(data)))
		if want != (err == nil) || err != nil && !errors.Is(err, ErrInvalidUTF8) {
			t.Fatalf("UTF8Reader: %v, want valid %v", err, want)
		}
		if !bytes.HasPrefix(data, got) {
			t.Fatal("UTF8Reader output is not a prefix of the input")
		}
	})
}

func FuzzParseClose(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte{0x03})
	f.Add([]byte{0x03, 0xe8})
	f.Add([]byte("\x03\xe8bye"))
	f.Add([]byte("\x0f\xa0κόσμε"))
	f.Add([]byte("\x03\xed\xff"))
	f.Add([]byte("\x03\xe8\xed\xa0\x80"))
	f.Add(append([]byte{0x13, 0x87}, strings.Repeat("€", 60)...))
	f.Fuzz(func(t *testing.T, payload []byte) {
		code, reason, err := ParseClose(payload)
		if err != nil {
			if !errors.Is(err, ErrProtocol) && !errors.Is(err, ErrInvalidUTF8) {
				t.Fatalf("error %v", err)
			}
			if errors.Is(err, ErrInvalidUTF8) && utf8.Valid(payload[2:]) {
				t.Fatal("ErrInvalidUTF8 for a valid reason")
			}
			return
		}
		if len(payload) == 0 {
			if code != CloseNoStatus || len(AppendClose(nil, code, "")) != 0 {
				t.Fatalf("empty payload: code %d", code)
			}
			return
		}
		if !code.ValidOnWire() || !utf8.Valid(reason) || uint16(code) != binary.BigEndian.Uint16(payload) {
			t.Fatalf("accepted code %d reason %q", code, reason)
		}
		out := AppendClose(nil, code, string(reason))
		if len(payload) <= MaxControlPayload {
			if !bytes.Equal(out, payload) {
				t.Fatalf("AppendClose = % x, want % x", out, payload)
			}
			return
		}
		if len(out) > MaxControlPayload || !bytes.HasPrefix(payload, out) || !utf8.Valid(out[2:]) {
			t.Fatalf("long reason: AppendClose = % x", out)
		}
		if _, _, err := ParseClose(out); err != nil {
			t.Fatalf("truncated payload does not parse: %v", err)
		}
	})
}

func FuzzMask(f *testing.F) {
	f.Add([]byte("Hello"), uint32(0x3d21fa37), 0)
	f.Add(pattern(100), uint32(0xdeadbeef), 3)
	f.Add(pattern(33), uint32(1), 1)
	f.Add([]byte{}, uint32(0), 2)
	f.Fuzz(func(t *testing.T, data []byte, k uint32, pos int) {
		var key [4]byte
		binary.LittleEndian.PutUint32(key[:], k)
		pos &= 3
		want := make([]byte, len(data))
		wantPos := refMask(want, data, key, pos)

		orig := bytes.Clone(data)
		dst := make([]byte, len(data)+3)
		if got := MaskCopy(dst, data, key, pos); got != wantPos || !bytes.Equal(dst[:len(data)], want) {
			t.Fatalf("MaskCopy(pos %d) differs from the reference", pos)
		}
		if !bytes.Equal(data, orig) {
			t.Fatal("MaskCopy modified src")
		}
		b := bytes.Clone(data)
		if got := Mask(key, pos, b); got != wantPos || !bytes.Equal(b, want) {
			t.Fatalf("Mask(pos %d) differs from the reference", pos)
		}
		// Split in two, carrying the position.
		if len(data) > 0 {
			s := int(k>>8) % len(data)
			c := bytes.Clone(data)
			p := Mask(key, pos, c[:s])
			Mask(key, p, c[s:])
			if !bytes.Equal(c, want) {
				t.Fatalf("Mask split at %d differs", s)
			}
		}
	})
}
