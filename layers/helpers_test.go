package layers

import (
	"bytes"
	"io"
	"testing"
	"time"
	"unsafe"
)

// refMask is the byte-by-byte masking of RFC 6455 section 5.3, the
// reference the word-at-a-time MaskCopy is checked against.
func refMask(dst, src []byte, key [4]byte, pos int) int {
	for i := range src {
		dst[i] = src[i] ^ key[(pos+i)%4]
	}
	return (pos + len(src)) % 4
}

// frameBytes builds a complete frame (header and masked payload if h.Masked)
// using the reference masking, independent of FrameWriter.
func frameBytes(h Header, payload []byte) []byte {
	h.Length = int64(len(payload))
	b := AppendHeader(nil, h)
	start := len(b)
	b = append(b, payload...)
	if h.Masked {
		refMask(b[start:], payload, h.Mask, 0)
	}
	return b
}

// countingWriter counts Write calls and keeps what was written, and the
// data pointer and length of every slice it was handed.
type countingWriter struct {
	calls int
	buf   bytes.Buffer
	ptrs  []*byte
	lens  []int
}

func (w *countingWriter) Write(p []byte) (int, error) {
	w.calls++
	if len(p) > 0 {
		w.ptrs = append(w.ptrs, unsafe.SliceData(p))
	} else {
		w.ptrs = append(w.ptrs, nil)
	}
	w.lens = append(w.lens, len(p))
	return w.buf.Write(p)
}

// readAll reads r to EOF with a buffer of size n, so short reads are exercised.
func readAll(t testing.TB, r io.Reader, n int) ([]byte, error) {
	t.Helper()
	var out []byte
	buf := make([]byte, n)
	for i := 0; ; i++ {
		if i > 1<<24 {
			t.Fatal("reader makes no progress")
		}
		k, err := r.Read(buf)
		out = append(out, buf[:k]...)
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return out, err
		}
	}
}

// pattern returns n bytes of a deterministic, non-periodic-by-4 pattern.
func pattern(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7 + i/251)
	}
	return b
}

func timeAfter() <-chan time.Time { return time.After(5 * time.Second) }
