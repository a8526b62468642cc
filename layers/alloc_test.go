package layers

import (
	"bytes"
	"io"
	"testing"
)

// assertNoAllocs fails if f allocates in the steady state.
func assertNoAllocs(t *testing.T, name string, f func()) {
	t.Helper()
	f() // warm up: lazily allocated state is not steady state
	if n := testing.AllocsPerRun(200, f); n != 0 {
		t.Errorf("%s: %v allocations per run, want 0", name, n)
	}
}

// readFrame reads the whole current frame into buf.
func readFrame(t *testing.T, r io.Reader, buf []byte) int {
	total := 0
	for {
		n, err := r.Read(buf)
		total += n
		if err == io.EOF {
			return total
		}
		if err != nil {
			t.Fatal(err)
		}
	}
}

func TestAllocsFrameReader(t *testing.T) {
	for _, size := range []int{5, 1024, 70000} {
		wire := frameBytes(Header{Fin: true, Opcode: OpBinary, Masked: true, Mask: rfcKey}, pattern(size))
		src := bytes.NewReader(wire)
		fr := NewFrameReader(src, RoleServer)
		buf := make([]byte, 4096)
		assertNoAllocs(t, "FrameReader.Next+Read", func() {
			src.Reset(wire)
			if _, err := fr.Next(); err != nil {
				t.Fatal(err)
			}
			if readFrame(t, fr, buf) != size {
				t.Fatal("short frame")
			}
		})
	}
	// Reset of the reader itself is allocation-free too.
	wire := frameBytes(Header{Fin: true, Opcode: OpText}, []byte("Hello"))
	src := bytes.NewReader(wire)
	fr := NewFrameReader(src, RoleClient)
	buf := make([]byte, 16)
	assertNoAllocs(t, "FrameReader.Reset+Next+Read", func() {
		src.Reset(wire)
		fr.Reset(src, RoleClient)
		fr.Next()
		readFrame(t, fr, buf)
	})
}

// Next skipping an unread payload goes through io.Discard, whose buffer
// pool the race detector empties at random; only check without it.
func TestAllocsFrameReaderSkip(t *testing.T) {
	if raceEnabled {
		t.Skip("sync.Pool drops items under the race detector")
	}
	wire := append(frameBytes(Header{Fin: true, Opcode: OpBinary, Masked: true, Mask: rfcKey}, pattern(10000)),
		frameBytes(Header{Fin: true, Opcode: OpBinary, Masked: true, Mask: rfcKey}, pattern(10))...)
	src := bytes.NewReader(wire)
	fr := NewFrameReader(src, RoleServer)
	assertNoAllocs(t, "FrameReader.Next skipping", func() {
		src.Reset(wire)
		fr.Next()
		fr.Next()
		if _, err := fr.Next(); err != io.EOF {
			t.Fatal(err)
		}
	})
}

func TestAllocsMessageReader(t *testing.T) {
	w := &wireBuilder{masked: true}
	w.frame(false, OpText, string(pattern(100))).
		frame(true, OpPing, "ping").
		frame(false, OpContinuation, "").
		frame(false, OpContinuation, string(pattern(3000))).
		frame(true, OpPong, "pong").
		frame(true, OpContinuation, "end")
	src := bytes.NewReader(w.b)
	fr := NewFrameReader(src, RoleServer)
	controls := 0
	mr := NewMessageReader(fr, func(h Header, p []byte) error { controls++; return nil })
	buf := make([]byte, 512)
	u := NewUTF8Reader(nil)
	assertNoAllocs(t, "MessageReader across fragments", func() {
		src.Reset(w.b)
		fr.Reset(src, RoleServer)
		mr.Reset(fr)
		if _, err := mr.Next(); err != nil {
			t.Fatal(err)
		}
		if n := readFrame(t, mr, buf); n != 3103 {
			t.Fatalf("message of %d bytes", n)
		}
	})
	if controls == 0 {
		t.Fatal("OnControl not called")
	}
	text := (&wireBuilder{masked: true}).frame(false, OpText, "κόσ").frame(true, OpContinuation, "με, "+string(bytes.Repeat([]byte("ascii "), 200))).b
	assertNoAllocs(t, "MessageReader+UTF8Reader", func() {
		src.Reset(text)
		fr.Reset(src, RoleServer)
		mr.Reset(fr)
		mr.Next()
		u.Reset(mr)
		readFrame(t, u, buf)
	})
}

func TestAllocsFrameWriter(t *testing.T) {
	for _, role := range []Role{RoleServer, RoleClient} {
		for _, size := range []int{0, 125, 1024, 4000, 65536, 1 << 20} {
			fw := NewFrameWriter(io.Discard, role, nil)
			p := pattern(size)
			assertNoAllocs(t, "FrameWriter.WriteFrame", func() {
				if err := fw.WriteFrame(Header{Fin: true, Opcode: OpBinary}, p); err != nil {
					t.Fatal(err)
				}
			})
		}
	}
	// MaskKeys refills from crypto/rand without allocating.
	var k MaskKeys
	assertNoAllocs(t, "MaskKeys.Next", func() {
		for range 40 {
			k.Next()
		}
	})
}

func TestAllocsUTF8(t *testing.T) {
	data := []byte("Hello, κόσμε! €𝄞 " + string(bytes.Repeat([]byte("plain ascii "), 100)))
	src := bytes.NewReader(data)
	u := NewUTF8Reader(src)
	buf := make([]byte, 100)
	assertNoAllocs(t, "UTF8Reader", func() {
		src.Reset(data)
		u.Reset(src)
		if readFrame(t, u, buf) != len(data) {
			t.Fatal("short read")
		}
	})
	assertNoAllocs(t, "ValidUTF8", func() {
		if !ValidUTF8(data) {
			t.Fatal("invalid")
		}
	})
}

func TestAllocsMask(t *testing.T) {
	plain := pattern(10000)
	masked := make([]byte, len(plain))
	refMask(masked, plain, rfcKey, 0)
	src := bytes.NewReader(masked)
	u := NewUnmasker(src, rfcKey)
	buf := make([]byte, 333)
	assertNoAllocs(t, "Unmasker", func() {
		src.Reset(masked)
		u.Reset(src, rfcKey)
		readFrame(t, u, buf)
	})
	m := NewMasker(io.Discard, rfcKey, nil)
	assertNoAllocs(t, "Masker", func() {
		m.Reset(io.Discard, rfcKey)
		m.Write(plain)
	})
	lr := &LimitReader{}
	assertNoAllocs(t, "LimitReader", func() {
		src.Reset(masked)
		lr.Reset(src, int64(len(masked)))
		readFrame(t, lr, buf)
	})
}
