package layers

import (
	"bytes"
	"testing"
)

// EncodeFrame gives the same bytes whether the payload is copied in or is
// already in place, masked or not, and leaves a copied payload as it was.
func TestEncodeFrame(t *testing.T) {
	for _, n := range []int{0, 1, 125, 126, 4000, 65536} {
		for _, masked := range []bool{false, true} {
			h := Header{Fin: true, Opcode: OpBinary, Length: int64(n), Masked: masked, Mask: rfcKey}
			want := AppendHeader(nil, h)
			p := pattern(n)
			if masked {
				q := bytes.Clone(p)
				Mask(rfcKey, 0, q)
				want = append(want, q...)
			} else {
				want = append(want, p...)
			}
			hs := HeaderSize(h)
			off := hs + 3
			copied := EncodeFrame(make([]byte, off+n), off, h, p)
			if !bytes.Equal(copied, want) {
				t.Fatalf("n %d masked %v: copied frame differs", n, masked)
			}
			if !bytes.Equal(p, pattern(n)) {
				t.Fatalf("n %d masked %v: payload modified", n, masked)
			}
			b := make([]byte, off+n)
			copy(b[off:], p)
			inPlace := EncodeFrame(b, off, h, b[off:])
			if !bytes.Equal(inPlace, want) {
				t.Fatalf("n %d masked %v: in-place frame differs", n, masked)
			}
		}
	}
}

func TestMessageWriter(t *testing.T) {
	for _, role := range []Role{RoleServer, RoleClient} {
		var wire bytes.Buffer
		fw := NewFrameWriter(&wire, role, nil)
		var m MessageWriter
		m.Reset(fw, OpText, RSV1)
		m.Write([]byte("Hel"))
		m.Write(nil) // sends nothing
		m.Write([]byte("lo"))
		if err := m.Close(); err != nil {
			t.Fatal(err)
		}
		if err := m.Close(); err != nil {
			t.Fatal(err)
		}
		if _, err := m.Write([]byte("x")); err == nil {
			t.Fatal("Write after Close succeeded")
		}
		m.Reset(fw, OpBinary, 0)
		m.Close() // an empty message: one final frame
		other := RoleServer
		if role == RoleServer {
			other = RoleClient
		}
		hs, ps := parseAll(t, wire.Bytes(), other)
		type frame struct {
			fin bool
			rsv byte
			op  Opcode
			p   string
		}
		want := []frame{{false, RSV1, OpText, "Hel"}, {false, 0, OpContinuation, "lo"}, {true, 0, OpContinuation, ""}, {true, 0, OpBinary, ""}}
		if len(hs) != len(want) {
			t.Fatalf("role %d: %d frames, want %d", role, len(hs), len(want))
		}
		for i, w := range want {
			got := frame{hs[i].Fin, hs[i].Rsv, hs[i].Opcode, string(ps[i])}
			if got != w {
				t.Errorf("role %d frame %d: %+v, want %+v", role, i, got, w)
			}
		}
	}
}
