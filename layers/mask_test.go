package layers

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"testing"
	"testing/iotest"
)

var maskKeysForTest = [][4]byte{
	{0x37, 0xfa, 0x21, 0x3d},
	{0, 0, 0, 0},
	{0xff, 0xff, 0xff, 0xff},
	{0x01, 0x02, 0x04, 0x80},
}

func TestMaskAgainstReference(t *testing.T) {
	checkMaskAgainstReference(t)
}

// The Go word loop, which MaskCopy uses where there is no assembly, checked
// here on every architecture.
func TestMaskWords(t *testing.T) {
	for _, key := range maskKeysForTest {
		for n := 0; n <= 300; n++ {
			src := pattern(n)
			for pos := range 4 {
				want := make([]byte, n)
				wantPos := refMask(want, src, key, pos)
				dst := make([]byte, n)
				got := maskWords(dst, src, uint32(key[0])|uint32(key[1])<<8|uint32(key[2])<<16|uint32(key[3])<<24, pos)
				if got != wantPos || !bytes.Equal(dst, want) {
					t.Fatalf("key % x n %d pos %d: maskWords differs from the reference", key, n, pos)
				}
			}
		}
	}
}

func checkMaskAgainstReference(t *testing.T) {
	t.Helper()
	for _, key := range maskKeysForTest {
		for n := 0; n <= 300; n++ {
			src := pattern(n)
			for pos := 0; pos < 4; pos++ {
				want := make([]byte, n)
				wantPos := refMask(want, src, key, pos)

				// MaskCopy into a separate, longer dst.
				dst := bytes.Repeat([]byte{0xEE}, n+5)
				srcCopy := bytes.Clone(src)
				if got := MaskCopy(dst, src, key, pos); got != wantPos {
					t.Fatalf("key % x n %d pos %d: MaskCopy pos %d, want %d", key, n, pos, got, wantPos)
				}
				if !bytes.Equal(dst[:n], want) {
					t.Fatalf("key % x n %d pos %d: MaskCopy\n got % x\nwant % x", key, n, pos, dst[:n], want)
				}
				if !bytes.Equal(dst[n:], bytes.Repeat([]byte{0xEE}, 5)) {
					t.Fatalf("n %d pos %d: MaskCopy wrote past len(src)", n, pos)
				}
				if !bytes.Equal(src, srcCopy) {
					t.Fatalf("n %d pos %d: MaskCopy modified src", n, pos)
				}

				// Mask in place.
				b := bytes.Clone(src)
				if got := Mask(key, pos, b); got != wantPos {
					t.Fatalf("n %d pos %d: Mask pos %d, want %d", n, pos, got, wantPos)
				}
				if !bytes.Equal(b, want) {
					t.Fatalf("n %d pos %d: Mask\n got % x\nwant % x", n, pos, b, want)
				}
				// Masking twice restores the input.
				Mask(key, pos, b)
				if !bytes.Equal(b, src) {
					t.Fatalf("n %d pos %d: Mask is not an involution", n, pos)
				}
			}
		}
	}
}

// Unaligned slices, long random lengths, and masking in pieces: splitting a
// slice anywhere and carrying the returned position gives the same result.
func TestMaskRandomLong(t *testing.T) {
	checkMaskRandomLong(t)
}

func checkMaskRandomLong(t *testing.T) {
	t.Helper()
	rng := rand.New(rand.NewPCG(1, 2))
	for iter := 0; iter < 300; iter++ {
		n := rng.IntN(1 << 14)
		if iter < 5 {
			n = 1<<20 + rng.IntN(64)
		}
		off := rng.IntN(8)
		backing := make([]byte, n+off)
		for i := range backing {
			backing[i] = byte(rng.Uint32())
		}
		src := backing[off:]
		var key [4]byte
		for i := range key {
			key[i] = byte(rng.Uint32())
		}
		pos := rng.IntN(4)
		want := make([]byte, n)
		wantPos := refMask(want, src, key, pos)

		dstBacking := make([]byte, n+8)
		dst := dstBacking[rng.IntN(8):][:n]
		if got := MaskCopy(dst, src, key, pos); got != wantPos || !bytes.Equal(dst, want) {
			t.Fatalf("n %d off %d pos %d: MaskCopy mismatch (pos %d want %d)", n, off, pos, got, wantPos)
		}

		// In pieces.
		b := bytes.Clone(src)
		p := pos
		for rest := b; len(rest) > 0; {
			k := min(len(rest), 1+rng.IntN(100))
			p = Mask(key, p, rest[:k])
			rest = rest[k:]
		}
		if p != wantPos || !bytes.Equal(b, want) {
			t.Fatalf("n %d: Mask in pieces mismatch", n)
		}
	}
}

// A dst that overlaps nothing is the only thing MaskCopy writes.
func TestMaskCopyLeavesSrc(t *testing.T) {
	src := pattern(4096)
	orig := bytes.Clone(src)
	dst := make([]byte, len(src))
	for pos := range 4 {
		MaskCopy(dst, src, rfcKey, pos)
		if !bytes.Equal(src, orig) {
			t.Fatalf("pos %d: src modified", pos)
		}
	}
}

func TestMaskCopyShortDstPanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("MaskCopy with a short dst did not panic")
		}
	}()
	MaskCopy(make([]byte, 3), make([]byte, 4), rfcKey, 0)
}

func TestUnmasker(t *testing.T) {
	key := [4]byte{0xa5, 0x5a, 0x0f, 0xf0}
	plain := pattern(10007)
	masked := make([]byte, len(plain))
	refMask(masked, plain, key, 0)
	wraps := []func(io.Reader) io.Reader{
		func(r io.Reader) io.Reader { return r },
		iotest.OneByteReader,
		iotest.HalfReader,
		iotest.DataErrReader,
	}
	for wi, wrap := range wraps {
		for _, bufSize := range []int{1, 2, 3, 5, 8, 33, 4096} {
			u := NewUnmasker(wrap(bytes.NewReader(masked)), key)
			got, err := readAll(t, u, bufSize)
			if err != nil || !bytes.Equal(got, plain) {
				t.Fatalf("wrap %d buf %d: %d bytes, %v", wi, bufSize, len(got), err)
			}
		}
	}
	// Reset restarts the key at position 0.
	u := NewUnmasker(bytes.NewReader(masked[:3]), key)
	io.ReadAll(u)
	u.Reset(bytes.NewReader(masked[:8]), key)
	if got, _ := io.ReadAll(u); !bytes.Equal(got, plain[:8]) {
		t.Fatalf("after Reset: % x, want % x", got, plain[:8])
	}
	// The contract checker.
	u.Reset(bytes.NewReader(masked), key)
	if err := iotest.TestReader(u, plain); err != nil {
		t.Fatal(err)
	}
}

// shortWriter accepts at most max bytes per call, then fails after limit bytes.
type shortWriter struct {
	max   int
	limit int
	buf   bytes.Buffer
}

var errShortWriterFull = errors.New("writer full")

func (w *shortWriter) Write(p []byte) (int, error) {
	n := min(len(p), w.max)
	var err error
	if w.limit >= 0 && w.buf.Len()+n > w.limit {
		n = w.limit - w.buf.Len()
		err = errShortWriterFull
	} else if n < len(p) {
		err = io.ErrShortWrite
	}
	w.buf.Write(p[:n])
	return n, err
}

func TestMasker(t *testing.T) {
	key := [4]byte{0x11, 0x22, 0x33, 0x44}
	plain := pattern(9001)
	want := make([]byte, len(plain))
	refMask(want, plain, key, 0)

	for _, bufSize := range []int{1, 3, 4, 5, 64, 4096, 0} {
		for _, chunk := range []int{1, 2, 7, 100, 9001} {
			var out bytes.Buffer
			var scratch []byte
			if bufSize > 0 {
				scratch = make([]byte, bufSize)
			}
			m := NewMasker(&out, key, scratch)
			src := bytes.Clone(plain)
			for rest := src; len(rest) > 0; {
				k := min(chunk, len(rest))
				n, err := m.Write(rest[:k])
				if n != k || err != nil {
					t.Fatalf("buf %d chunk %d: Write = %d, %v", bufSize, chunk, n, err)
				}
				rest = rest[k:]
			}
			if !bytes.Equal(out.Bytes(), want) {
				t.Fatalf("buf %d chunk %d: masked output differs", bufSize, chunk)
			}
			if !bytes.Equal(src, plain) {
				t.Fatalf("buf %d chunk %d: Masker modified the caller's slice", bufSize, chunk)
			}
			// Round trip through an Unmasker.
			got, err := io.ReadAll(NewUnmasker(bytes.NewReader(out.Bytes()), key))
			if err != nil || !bytes.Equal(got, plain) {
				t.Fatalf("round trip failed: %v", err)
			}
		}
	}
}

// A short write reports how much was written, and only that advances the
// key: retrying the rest continues the mask correctly.
func TestMaskerShortWrite(t *testing.T) {
	key := [4]byte{0x9a, 0xbc, 0xde, 0xf0}
	plain := pattern(103)
	want := make([]byte, len(plain))
	refMask(want, plain, key, 0)

	w := &shortWriter{max: 5, limit: -1}
	m := NewMasker(w, key, make([]byte, 16))
	rest := plain
	for len(rest) > 0 {
		n, err := m.Write(rest)
		if n == 0 || n > len(rest) {
			t.Fatalf("Write = %d, %v", n, err)
		}
		if n < len(rest) && err == nil {
			t.Fatalf("short write %d of %d without an error", n, len(rest))
		}
		rest = rest[n:]
	}
	if !bytes.Equal(w.buf.Bytes(), want) {
		t.Fatalf("masked output after retries differs\n got % x\nwant % x", w.buf.Bytes(), want)
	}

	// A writer that fails: the count is what it accepted.
	fw := &shortWriter{max: 1000, limit: 10}
	m.Reset(fw, key)
	n, err := m.Write(plain)
	if n != 10 || err != errShortWriterFull {
		t.Fatalf("Write to failing writer = %d, %v", n, err)
	}
	if !bytes.Equal(fw.buf.Bytes(), want[:10]) {
		t.Fatalf("bytes before the failure differ")
	}
}

// A Masker set up with Reset rather than NewMasker has no scratch buffer;
// Write must still work (it used to loop forever).
func TestMaskerZeroValue(t *testing.T) {
	key := [4]byte{1, 2, 3, 4}
	var out bytes.Buffer
	var m Masker
	m.Reset(&out, key)
	done := make(chan struct{})
	var n int
	var err error
	go func() {
		defer close(done)
		n, err = m.Write([]byte("Hello"))
	}()
	select {
	case <-done:
	case <-timeAfter():
		t.Fatal("Write on a Masker without a buffer does not return")
	}
	want := make([]byte, 5)
	refMask(want, []byte("Hello"), key, 0)
	if n != 5 || err != nil || !bytes.Equal(out.Bytes(), want) {
		t.Fatalf("Write = %d, %v, % x", n, err, out.Bytes())
	}
}

// The portable word loop MaskCopy uses on architectures without cheap
// unaligned access (not exercised by MaskCopy on this one).
func TestMaskWordsPortable(t *testing.T) {
	for n := 0; n <= 300; n++ {
		src := pattern(n)
		for pos := range 4 {
			want := make([]byte, n)
			refMask(want, src, rfcKey, pos)
			k32 := uint32(rfcKey[pos&3]) | uint32(rfcKey[(pos+1)&3])<<8 | uint32(rfcKey[(pos+2)&3])<<16 | uint32(rfcKey[(pos+3)&3])<<24
			dst := make([]byte, n)
			done := maskWordsPortable(dst, src, uint64(k32)<<32|uint64(k32))
			if done != n&^7 {
				t.Fatalf("n %d: did %d bytes", n, done)
			}
			if !bytes.Equal(dst[:done], want[:done]) {
				t.Fatalf("n %d pos %d: words differ", n, pos)
			}
		}
	}
}
