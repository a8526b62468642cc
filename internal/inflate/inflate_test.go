package inflate

import (
	"bytes"
	"compress/flate"
	"errors"
	"io"
	"math/rand/v2"
	"strings"
	"testing"
	"testing/iotest"

	it "github.com/wspipe/wspipe/internal/inflate/inflatetest"
)

// decode reads a whole stream through d (reused) in reads of n bytes.
func decode(d *Decoder, src io.Reader, dict []byte, n int) ([]byte, error) {
	var out bytes.Buffer
	err := decodeInto(d, &out, src, dict, make([]byte, n))
	return out.Bytes(), err
}

// stdDecode decodes with compress/flate.
func stdDecode(stream, dict []byte) ([]byte, error) {
	return io.ReadAll(flate.NewReaderDict(bytes.NewReader(stream), dict))
}

// compress compresses data with compress/flate at level over dict.
func compress(t testing.TB, data, dict []byte, level int) []byte {
	t.Helper()
	var buf bytes.Buffer
	fw, err := flate.NewWriterDict(&buf, level, dict)
	if err != nil {
		t.Fatal(err)
	}
	fw.Write(data)
	fw.Close()
	return buf.Bytes()
}

// testData returns n bytes of text-like data with repeats near and far.
func testData(r *rand.Rand, n int) []byte {
	words := strings.Fields("the quick brown fox jumps over a lazy dog { } [ ] \"id\": \"name\": 0123456789 true false null")
	var b []byte
	for len(b) < n {
		switch r.IntN(10) {
		case 0:
			b = append(b, byte(r.IntN(256)))
		case 1:
			if len(b) > 100 {
				k := r.IntN(len(b) - 50)
				b = append(b, b[k:k+3+r.IntN(40)]...)
			}
		case 2:
			b = append(b, bytes.Repeat([]byte{byte(r.IntN(256))}, 1+r.IntN(300))...)
		default:
			b = append(b, words[r.IntN(len(words))]...)
			b = append(b, ' ')
		}
	}
	return b[:n]
}

// chunkReader gives at most n bytes per Read.
type chunkReader struct {
	r io.Reader
	n int
}

func (c *chunkReader) Read(p []byte) (int, error) {
	return c.r.Read(p[:min(len(p), c.n)])
}

func TestRoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	var d Decoder
	for i := range 150 {
		data := testData(r, []int{0, 1, 100, 5000, 40000, 200000}[i%6])
		var dict []byte
		if i%3 != 0 {
			dict = testData(r, r.IntN(40000))
			if i%2 == 0 {
				data = append(append([]byte(nil), dict[r.IntN(len(dict)+1):]...), data...)
			}
		}
		level := []int{-2, -1, 0, 1, 2, 5, 9}[r.IntN(7)]
		stream := compress(t, data, dict, level)
		var src io.Reader = bytes.NewReader(stream)
		switch i % 4 {
		case 1:
			src = iotest.OneByteReader(src)
		case 2:
			src = &chunkReader{src, 1 + r.IntN(20)}
		}
		got, err := decode(&d, src, dict, []int{1, 7, 512, 32 << 10, 100 << 10}[r.IntN(5)])
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("case %d (level %d, %d bytes, dict %d): %v, %d bytes decoded", i, level, len(data), len(dict), err, len(got))
		}
		if d.Unused() != 0 {
			t.Fatalf("case %d: %d bytes unused", i, d.Unused())
		}
	}
}

// The bytes after the final block are left unused, however they arrived.
func TestUnused(t *testing.T) {
	data := testData(rand.New(rand.NewPCG(3, 4)), 10000)
	stream := compress(t, data, nil, 6)
	var d Decoder
	for k := range 20 {
		in := append(append([]byte(nil), stream...), bytes.Repeat([]byte{0xa5}, k)...)
		for _, src := range []io.Reader{bytes.NewReader(in), iotest.OneByteReader(bytes.NewReader(in))} {
			rd := &countingReader{r: src}
			got, err := decode(&d, rd, nil, 4096)
			if err != nil || !bytes.Equal(got, data) {
				t.Fatalf("%d trailing bytes: %v", k, err)
			}
			if left := rd.n - len(stream); d.Unused() != left {
				t.Fatalf("%d trailing bytes, %d read past the stream: Unused %d", k, left, d.Unused())
			}
		}
	}
}

type countingReader struct {
	r io.Reader
	n int
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += n
	return n, err
}

// The Decoder is never more than 32 KiB ahead of its reader.
func TestReadsAhead(t *testing.T) {
	// A fixed block of a literal then matches of 258 at distance 1.
	var w it.BitWriter
	b := w.FixedBlock(true).Literal('a')
	for range 1000 {
		b.Match(258, 1)
	}
	b.End()
	stream := w.Bytes()
	var d Decoder
	src := &countingReader{r: iotest.OneByteReader(bytes.NewReader(stream))}
	d.Reset(src, nil)
	buf := make([]byte, 100)
	total := 0
	for range 500 {
		n, err := d.Read(buf)
		if err != nil {
			t.Fatal(err)
		}
		total += n
		// Bits read decode to at most (bits-3-8)/13 matches.
		if decoded := 1 + (src.n*8-11)/13*258; decoded > total+histSize+2*258 {
			t.Fatalf("read %d, %d input bytes decode to %d", total, src.n, decoded)
		}
	}
}

func TestSmallStreams(t *testing.T) {
	cases := []struct {
		name   string
		stream []byte
		dict   string
		want   string
	}{
		// RFC 7692 section 7.2.3.1, with the tail a receiver appends.
		{"hello", []byte{0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00, 0x00, 0x00, 0xff, 0xff, 0x01, 0x00, 0x00, 0xff, 0xff}, "", "Hello"},
		{"hello over history", []byte{0xf2, 0x00, 0x11, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0x01, 0x00, 0x00, 0xff, 0xff}, "Hello", "Hello"},
		{"stored", []byte{0x01, 0x05, 0x00, 0xfa, 0xff, 'H', 'e', 'l', 'l', 'o'}, "", "Hello"},
		{"empty stored", []byte{0x01, 0x00, 0x00, 0xff, 0xff}, "", ""},
		{"empty fixed", []byte{0x03, 0x00}, "", ""},
	}
	var d Decoder
	for _, c := range cases {
		got, err := decode(&d, bytes.NewReader(c.stream), []byte(c.dict), 3)
		if err != nil || string(got) != c.want {
			t.Errorf("%s: %q, %v", c.name, got, err)
		}
	}
}

// Distances reach exactly as far as the dictionary and the output so
// far, across the end of the ring, up to 32768.
func TestHistoryReach(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	var d Decoder
	for _, dictLen := range []int{0, 1, 100, histSize - 1, histSize, histSize + 10} {
		dict := testData(r, dictLen)
		var w it.BitWriter
		b := w.FixedBlock(false)
		var want []byte
		hist := append([]byte(nil), dict...)
		// Literals, then matches reaching the farthest allowed, past the
		// end of the ring a few times.
		for i := range 3*histSize/258 + 5 {
			c := byte('a' + i%26)
			b.Literal(c)
			hist = append(hist, c)
			want = append(want, c)
			dist := min(len(hist), histSize)
			length := 3 + i%256
			b.Match(length, dist)
			for range length {
				hist = append(hist, hist[len(hist)-dist])
				want = append(want, hist[len(hist)-1])
			}
		}
		b.End()
		w.FixedBlock(true).End()
		got, err := decode(&d, bytes.NewReader(w.Bytes()), dict, 1000)
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("dict %d: %v, equal %v", dictLen, err, bytes.Equal(got, want))
		}
		if ref, err := stdDecode(w.Bytes(), dict); err != nil || !bytes.Equal(ref, want) {
			t.Fatalf("dict %d: compress/flate: %v", dictLen, err)
		}
		// One further is too far, as long as the history is short.
		if dictLen+1 < histSize {
			w2 := it.BitWriter{}
			b := w2.FixedBlock(true).Literal('x')
			b.Match(3, dictLen+2)
			_, err := decode(&d, bytes.NewReader(w2.Bytes()), dict, 1000)
			if !errors.Is(err, errDistance) {
				t.Errorf("dict %d: distance %d: %v", dictLen, dictLen+2, err)
			}
		}
	}
}

// A reused Decoder allocates nothing, whatever the stream needs: dynamic
// blocks with long codes, a dictionary, stored blocks, reads of any size.
func TestAllocs(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	dict := testData(r, 40000)
	data := testData(r, 100000)
	streams := [][]byte{compress(t, data, dict, 9), compress(t, data, nil, 0), compress(t, data, nil, -2)}
	var d Decoder
	src := bytes.NewReader(nil)
	buf := make([]byte, 1000)
	for i, s := range streams {
		n := testing.AllocsPerRun(20, func() {
			src.Reset(s)
			d.Reset(src, dict)
			for {
				_, err := d.Read(buf)
				if err == io.EOF {
					return
				}
				if err != nil {
					t.Fatal(err)
				}
			}
		})
		if n != 0 {
			t.Errorf("stream %d: %v allocations", i, n)
		}
	}
}

// A dictionary given in two pieces (a ring's halves) is the same as the
// two joined, whatever the split and however long they are together.
func TestResetSplit(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	var d Decoder
	for i := range 60 {
		dict := testData(r, r.IntN(50000))
		data := append(bytes.Clone(dict[r.IntN(len(dict)+1):]), testData(r, 3000)...)
		stream := compress(t, data, dict, 5)
		cut := r.IntN(len(dict) + 1)
		d.ResetSplit(bytes.NewReader(stream), dict[:cut], dict[cut:])
		got, err := io.ReadAll(&d)
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("case %d (dict %d cut at %d): %v, %d of %d bytes", i, len(dict), cut, err, len(got), len(data))
		}
	}
}
