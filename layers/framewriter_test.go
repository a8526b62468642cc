package layers

import (
	"bytes"
	"errors"
	"io"
	"testing"
	"unsafe"
)

// parseAll reads every frame in wire with a FrameReader for role and
// returns the headers and payloads.
func parseAll(t *testing.T, wire []byte, role Role) ([]Header, [][]byte) {
	t.Helper()
	fr := NewFrameReader(bytes.NewReader(wire), role)
	fr.AllowRSV = RSV1 | RSV2 | RSV3
	var hs []Header
	var ps [][]byte
	for {
		h, err := fr.Next()
		if err == io.EOF {
			return hs, ps
		}
		if err != nil {
			t.Fatalf("frame %d: %v", len(hs), err)
		}
		p, err := io.ReadAll(fr)
		if err != nil {
			t.Fatalf("frame %d payload: %v", len(hs), err)
		}
		hs, ps = append(hs, h), append(ps, p)
	}
}

func TestFrameWriterRoundTrip(t *testing.T) {
	sizes := []int{0, 1, 5, 125, 126, 4000, 4081, 4082, 4083, 4096, 10000, 65535, 65536, 200000}
	for _, role := range []Role{RoleServer, RoleClient} {
		for _, bufSize := range []int{0, 139, 1024, 4096, 70000} {
			var buf []byte
			if bufSize > 0 {
				buf = make([]byte, bufSize)
			}
			cw := &countingWriter{}
			fw := NewFrameWriter(cw, role, buf)
			for _, n := range sizes {
				p := pattern(n)
				orig := bytes.Clone(p)
				h := Header{Fin: n%2 == 0, Rsv: RSV1, Opcode: OpBinary}
				if n%2 == 1 {
					h.Opcode = OpText
				}
				if err := fw.WriteFrame(h, p); err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(p, orig) {
					t.Fatalf("role %d size %d: payload modified", role, n)
				}
			}
			// Write them again as final frames and parse them back with
			// the opposite role.
			peer := RoleClient
			if role == RoleClient {
				peer = RoleServer
			}
			cw = &countingWriter{}
			fw.Reset(cw, role, nil)
			for _, n := range sizes {
				if err := fw.WriteFrame(Header{Fin: true, Rsv: RSV1, Opcode: OpBinary}, pattern(n)); err != nil {
					t.Fatal(err)
				}
			}
			hs, ps := parseAll(t, cw.buf.Bytes(), peer)
			if len(hs) != len(sizes) {
				t.Fatalf("role %d buf %d: %d frames, want %d", role, bufSize, len(hs), len(sizes))
			}
			for i, n := range sizes {
				if hs[i].Masked != (role == RoleClient) || hs[i].Length != int64(n) || hs[i].Rsv != RSV1 || !hs[i].Fin {
					t.Fatalf("role %d buf %d frame %d: header %+v", role, bufSize, i, hs[i])
				}
				if !bytes.Equal(ps[i], pattern(n)) {
					t.Fatalf("role %d buf %d frame %d: payload differs", role, bufSize, i)
				}
			}
		}
	}
}

// Client frames are masked on the wire: the payload bytes are not the
// plaintext, and they unmask with the key in the header.
func TestFrameWriterClientMasks(t *testing.T) {
	for _, n := range []int{64, 5000} {
		p := bytes.Repeat([]byte("A"), n)
		var out bytes.Buffer
		fw := NewFrameWriter(&out, RoleClient, nil)
		if err := fw.WriteFrame(Header{Fin: true, Opcode: OpText}, p); err != nil {
			t.Fatal(err)
		}
		b := out.Bytes()
		if b[1]&0x80 == 0 {
			t.Fatalf("size %d: mask bit not set", n)
		}
		hl := len(b) - n
		if bytes.Contains(b[hl:], []byte("AAAAAAAA")) {
			t.Fatalf("size %d: payload sent in the clear", n)
		}
		var key [4]byte
		copy(key[:], b[hl-4:hl])
		Mask(key, 0, b[hl:])
		if !bytes.Equal(b[hl:], p) {
			t.Fatalf("size %d: payload does not unmask to the input", n)
		}
	}
}

func TestFrameWriterServerUnmasked(t *testing.T) {
	for _, n := range []int{0, 5, 5000} {
		var out bytes.Buffer
		fw := NewFrameWriter(&out, RoleServer, nil)
		p := pattern(n)
		if err := fw.WriteFrame(Header{Fin: true, Opcode: OpBinary, Masked: true, Mask: rfcKey}, p); err != nil {
			t.Fatal(err)
		}
		b := out.Bytes()
		if b[1]&0x80 != 0 {
			t.Fatalf("size %d: server frame masked", n)
		}
		if !bytes.Equal(b[len(b)-n:], p) || len(b) != HeaderSize(Header{Length: int64(n)})+n {
			t.Fatalf("size %d: payload not sent as is", n)
		}
	}
}

// A frame that fits the buffer is one Write of header and payload.
func TestFrameWriterSingleWrite(t *testing.T) {
	tests := []struct {
		role Role
		buf  int
		n    int
	}{
		{RoleServer, 4096, 0},
		{RoleServer, 4096, 125},
		{RoleServer, 4096, 4092}, // 4 header bytes + 4092 = 4096
		{RoleClient, 4096, 0},
		{RoleClient, 4096, 125},
		{RoleClient, 4096, 4088}, // 8 header bytes + 4088 = 4096
		{RoleServer, 139, 125},
		{RoleClient, 139, 125},
	}
	for _, tc := range tests {
		cw := &countingWriter{}
		fw := NewFrameWriter(cw, tc.role, make([]byte, tc.buf))
		if err := fw.WriteFrame(Header{Fin: true, Opcode: OpBinary}, pattern(tc.n)); err != nil {
			t.Fatal(err)
		}
		if cw.calls != 1 {
			t.Errorf("role %d buf %d size %d: %d Write calls, want 1", tc.role, tc.buf, tc.n, cw.calls)
		}
		// Control frames always fit the minimum buffer.
		cw = &countingWriter{}
		fw.Reset(cw, tc.role, nil)
		if err := fw.WriteFrame(Header{Fin: true, Opcode: OpClose}, AppendClose(nil, CloseNormal, string(bytes.Repeat([]byte("r"), 200)))); err != nil {
			t.Fatal(err)
		}
		if cw.calls != 1 {
			t.Errorf("role %d buf %d: close frame took %d Write calls", tc.role, tc.buf, cw.calls)
		}
	}
}

// A large server frame hands the caller's slice itself to the writer: it is
// not copied into the buffer.
func TestFrameWriterServerLargeNotCopied(t *testing.T) {
	p := pattern(100000)
	cw := &countingWriter{}
	fw := NewFrameWriter(cw, RoleServer, nil)
	if err := fw.WriteFrame(Header{Fin: true, Opcode: OpBinary}, p); err != nil {
		t.Fatal(err)
	}
	if cw.calls != 2 {
		t.Fatalf("%d Write calls, want 2 (header, payload)", cw.calls)
	}
	if cw.ptrs[1] != unsafe.SliceData(p) || cw.lens[1] != len(p) {
		t.Fatalf("payload Write got a different slice (%p len %d), want the caller's (%p len %d)",
			cw.ptrs[1], cw.lens[1], unsafe.SliceData(p), len(p))
	}
	if cw.lens[0] != 10 {
		t.Fatalf("header write of %d bytes, want 10", cw.lens[0])
	}
	hs, ps := parseAll(t, cw.buf.Bytes(), RoleClient)
	if len(hs) != 1 || !bytes.Equal(ps[0], p) {
		t.Fatal("frame does not parse back")
	}
	// The FrameWriter keeps no reference to the payload afterwards.
	if fw.vec[0] != nil || fw.vec[1] != nil {
		t.Fatal("FrameWriter retains the payload slice")
	}
}

// A large client frame is masked chunk by chunk through the buffer; the
// chunks together form one correctly masked frame.
func TestFrameWriterClientLargeChunked(t *testing.T) {
	for _, bufSize := range []int{139, 1000, 4096} {
		p := pattern(50001)
		orig := bytes.Clone(p)
		cw := &countingWriter{}
		buf := make([]byte, bufSize)
		fw := NewFrameWriter(cw, RoleClient, buf)
		if err := fw.WriteFrame(Header{Fin: true, Opcode: OpBinary}, p); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(p, orig) {
			t.Fatal("payload modified")
		}
		wantCalls := (14 + len(p) + bufSize - 1) / bufSize
		if cw.calls != wantCalls {
			t.Errorf("buf %d: %d Write calls, want %d", bufSize, cw.calls, wantCalls)
		}
		for i, ptr := range cw.ptrs {
			if ptr != unsafe.SliceData(buf) || cw.lens[i] > bufSize {
				t.Fatalf("buf %d: write %d not from the FrameWriter's buffer", bufSize, i)
			}
		}
		hs, ps := parseAll(t, cw.buf.Bytes(), RoleServer)
		if len(hs) != 1 || !hs[0].Masked || !bytes.Equal(ps[0], p) {
			t.Fatalf("buf %d: frame does not parse back", bufSize)
		}
	}
}

type errWriter struct {
	after int // successful writes before failing
	err   error
}

func (w *errWriter) Write(p []byte) (int, error) {
	if w.after == 0 {
		return 0, w.err
	}
	w.after--
	return len(p), nil
}

type shortOnceWriter struct{}

func (shortOnceWriter) Write(p []byte) (int, error) { return len(p) / 2, nil }

func TestFrameWriterErrors(t *testing.T) {
	boom := errors.New("boom")
	for _, role := range []Role{RoleServer, RoleClient} {
		for _, n := range []int{10, 100000} {
			for after := 0; after < 3; after++ {
				fw := NewFrameWriter(&errWriter{after: after, err: boom}, role, nil)
				err := fw.WriteFrame(Header{Fin: true, Opcode: OpBinary}, pattern(n))
				calls := 1
				if n > 4096 {
					calls = 2 // header+payload, or many chunks
					if role == RoleClient {
						calls = 25
					}
				}
				if after < calls && err != boom {
					t.Errorf("role %d size %d after %d: err %v, want boom", role, n, after, err)
				}
				if after >= calls && err != nil {
					t.Errorf("role %d size %d after %d: err %v", role, n, after, err)
				}
			}
		}
		// A writer that writes short without an error is reported.
		fw := NewFrameWriter(shortOnceWriter{}, role, nil)
		if err := fw.WriteFrame(Header{Fin: true, Opcode: OpBinary}, pattern(10)); err != io.ErrShortWrite {
			t.Errorf("role %d: short write gave %v", role, err)
		}
	}
}

func TestFrameWriterReset(t *testing.T) {
	var a, b bytes.Buffer
	buf := make([]byte, 200, 300)
	fw := NewFrameWriter(&a, RoleServer, buf)
	if len(fw.buf) != 300 {
		t.Fatalf("buffer len %d, want its capacity 300", len(fw.buf))
	}
	fw.Reset(&b, RoleClient, nil)
	if &fw.buf[0] != &buf[0] {
		t.Fatal("Reset with a nil buffer dropped the old one")
	}
	if err := fw.WriteFrame(Header{Fin: true, Opcode: OpText}, []byte("x")); err != nil {
		t.Fatal(err)
	}
	if a.Len() != 0 || b.Len() != 2+4+1 || b.Bytes()[1]&0x80 == 0 {
		t.Fatalf("after Reset: a %d bytes, b % x", a.Len(), b.Bytes())
	}
	// A buffer too small for a control frame is replaced.
	fw.Reset(&b, RoleServer, make([]byte, 10))
	if len(fw.buf) != DefaultWriteBufferSize {
		t.Fatalf("small buffer kept (len %d)", len(fw.buf))
	}
}

func TestMaskKeys(t *testing.T) {
	var k MaskKeys
	seen := map[[4]byte]bool{}
	var or [4]byte
	const n = 1000 // spans many refills of the 64-byte batch
	for range n {
		key := k.Next()
		seen[key] = true
		for i := range key {
			or[i] |= key[i]
		}
	}
	// 1000 random 32-bit keys collide with probability about 1e-4.
	if len(seen) < n-1 {
		t.Fatalf("%d distinct keys of %d", len(seen), n)
	}
	if or == ([4]byte{}) {
		t.Fatal("all keys zero")
	}
	// Two generators do not produce the same sequence.
	var k1, k2 MaskKeys
	same := 0
	for range 16 {
		if k1.Next() == k2.Next() {
			same++
		}
	}
	if same > 1 {
		t.Fatalf("two MaskKeys agree on %d of 16 keys", same)
	}
	// Successive frames from a client writer use different keys.
	var out bytes.Buffer
	fw := NewFrameWriter(&out, RoleClient, nil)
	keys := map[[4]byte]bool{}
	for range 40 {
		out.Reset()
		fw.WriteFrame(Header{Fin: true, Opcode: OpPing}, nil)
		var key [4]byte
		copy(key[:], out.Bytes()[2:6])
		keys[key] = true
	}
	if len(keys) < 39 {
		t.Fatalf("only %d distinct keys in 40 frames", len(keys))
	}
}
