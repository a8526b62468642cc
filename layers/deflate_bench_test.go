package layers

import (
	"bytes"
	"fmt"
	"io"
	"testing"
	"unsafe"
)

// Steady state: compressing and decompressing a message allocates nothing
// once the pools hold a compressor and a decompressor and the windows are
// full. Skipped under the race detector, which makes sync.Pool drop items
// at random.
func TestAllocsDeflate(t *testing.T) {
	if raceEnabled {
		t.Skip("sync.Pool drops items under the race detector")
	}
	msg := jsonText(newRand(30), 1000)
	for _, bits := range []int{15, 10, 8} {
		for _, takeover := range []bool{false, true} {
			var w *Window
			if takeover {
				w = NewWindow(bits)
			}
			var d Deflater
			out := bytes.NewBuffer(make([]byte, 0, 4096))
			f := func() {
				out.Reset()
				d.Reset(out, w, bits, DeflateDefault)
				d.Write(msg)
				if err := d.Close(); err != nil {
					t.Fatal(err)
				}
			}
			for range 100 { // fill the window
				f()
			}
			assertNoAllocs(t, fmt.Sprintf("Deflater bits=%d takeover=%v", bits, takeover), f)
		}
	}
}

func TestAllocsInflate(t *testing.T) {
	if raceEnabled {
		t.Skip("sync.Pool drops items under the race detector")
	}
	var d Deflater
	// Without takeover, so the same payload decodes again and again, also
	// over a window (which it then does not refer to).
	payload := deflateMsg(t, &d, nil, 15, 1, jsonText(newRand(31), 5000))
	for _, w := range []*Window{nil, NewWindow(15), NewWindow(10)} {
		var z Inflater
		src := bytes.NewReader(payload)
		buf := make([]byte, 4096)
		f := func() {
			src.Reset(payload)
			z.Reset(src, w)
			if _, err := readAllInto(&z, buf); err != nil {
				t.Fatal(err)
			}
		}
		for range 20 {
			f()
		}
		assertNoAllocs(t, fmt.Sprintf("Inflater window=%v", w != nil), f)
	}
}

// readAllInto reads r to EOF through buf and returns the byte count.
func readAllInto(r io.Reader, buf []byte) (int, error) {
	total := 0
	for {
		n, err := r.Read(buf)
		total += n
		if err == io.EOF {
			return total, nil
		}
		if err != nil {
			return total, err
		}
	}
}

// TestWindowMemory measures what a connection holds between messages with
// context takeover, per direction: the Window after a burst of traffic (its
// struct and its buffer). The pooled compressors are shared, not counted.
// The table in window.go comes from this.
func TestWindowMemory(t *testing.T) {
	r := newRand(32)
	burst := jsonText(r, 200<<10)
	for bits := 8; bits <= 15; bits++ {
		w := NewWindow(bits)
		var d Deflater
		for p := burst; len(p) > 0; {
			n := min(len(p), 100+r.IntN(3000))
			deflateMsg(t, &d, w, bits, DeflateDefault, p[:n])
			p = p[n:]
		}
		held := int(unsafe.Sizeof(*w)) + w.Cap()
		t.Logf("bits %2d: window of %5d bytes holds %5d bytes", bits, w.Size(), held)
		if held != w.Size()+int(unsafe.Sizeof(*w)) {
			t.Errorf("bits %d: %d bytes held", bits, held)
		}
	}
	// A connection that sent 100 bytes holds little.
	w := NewWindow(15)
	var d Deflater
	deflateMsg(t, &d, w, 15, DeflateDefault, burst[:100])
	t.Logf("after one 100-byte message: %d bytes", int(unsafe.Sizeof(*w))+w.Cap())
	if w.Cap() > 128 {
		t.Errorf("100 bytes take %d", w.Cap())
	}
	t.Logf("per-connection structs: Deflater %d bytes, Inflater %d bytes, Window %d bytes",
		unsafe.Sizeof(Deflater{}), unsafe.Sizeof(Inflater{}), unsafe.Sizeof(Window{}))
}

// benchCase is one benchmark configuration.
type benchCase struct {
	size     int
	takeover bool
	bits     int
	conns    int // connections taking turns, each with its own window
}

func (c benchCase) name() string {
	mode := "none"
	if c.takeover {
		mode = "takeover"
		if c.conns > 1 {
			mode += "-" + fmt.Sprint(c.conns) + "conns"
		}
	}
	return fmt.Sprintf("%s/%s/bits=%d", sizeName(c.size), mode, c.bits)
}

func benchCases(interleaved bool) []benchCase {
	var cs []benchCase
	for _, size := range []int{1 << 10, 64 << 10} {
		for _, takeover := range []bool{false, true} {
			for _, bits := range []int{15, 10} {
				cs = append(cs, benchCase{size, takeover, bits, 1})
				if takeover && interleaved {
					cs = append(cs, benchCase{size, takeover, bits, 2})
				}
			}
		}
	}
	return cs
}

// benchMessages returns different JSON-like messages of size bytes, enough
// that a cycle through them does not fit in any window.
func benchMessages(size int) [][]byte {
	r := newRand(33)
	msgs := make([][]byte, max(8, 256<<10/size))
	for i := range msgs {
		msgs[i] = jsonText(r, size)
	}
	return msgs
}

// BenchmarkDeflate compresses JSON-like messages at the default (fastest)
// level; MB/s counts uncompressed bytes. With takeover, one connection
// finds its own compressor back in the pool every time (the history need
// not be primed again); "2conns" alternates two connections on one pool,
// so every message primes the compressor with the window: the cost when
// many busy connections share the pool.
func BenchmarkDeflate(b *testing.B) {
	for _, c := range benchCases(true) {
		b.Run(c.name(), func(b *testing.B) {
			msgs := benchMessages(c.size)
			ws := make([]*Window, c.conns)
			ds := make([]Deflater, c.conns)
			if c.takeover {
				for i := range ws {
					ws[i] = NewWindow(c.bits)
				}
			}
			out := bytes.NewBuffer(make([]byte, 0, 2*c.size+1024))
			var compressed int
			b.SetBytes(int64(c.size))
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				out.Reset()
				d := &ds[i%c.conns]
				d.Reset(out, ws[i%c.conns], c.bits, DeflateDefault)
				d.Write(msgs[i%len(msgs)])
				if err := d.Close(); err != nil {
					b.Fatal(err)
				}
				compressed += out.Len()
				i++
			}
			b.ReportMetric(float64(compressed)/float64(i*c.size), "ratio")
		})
	}
}

// BenchmarkInflate decompresses the same messages, compressed in order
// with the same settings; with takeover the sequence is replayed from an
// empty window. MB/s counts uncompressed bytes.
func BenchmarkInflate(b *testing.B) {
	for _, c := range benchCases(false) {
		b.Run(c.name(), func(b *testing.B) {
			msgs := benchMessages(c.size)
			payloads := make([][]byte, len(msgs))
			var sendWin, w *Window
			if c.takeover {
				sendWin, w = NewWindow(c.bits), NewWindow(c.bits)
			}
			var d Deflater
			for i, m := range msgs {
				payloads[i] = bytes.Clone(deflateMsg(b, &d, sendWin, c.bits, DeflateDefault, m))
			}
			var z Inflater
			src := bytes.NewReader(nil)
			buf := make([]byte, 32<<10)
			b.SetBytes(int64(c.size))
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				k := i % len(payloads)
				if k == 0 && w != nil {
					w.Reset()
				}
				src.Reset(payloads[k])
				z.Reset(src, w)
				if n, err := readAllInto(&z, buf); err != nil || n != c.size {
					b.Fatalf("message %d: %d bytes, %v", k, n, err)
				}
				i++
			}
		})
	}
}
