package inflate

import (
	"bytes"
	"compress/flate"
	"io"
	"math/rand/v2"
	"slices"
	"testing"
	"testing/iotest"

	it "github.com/wspipe/wspipe/internal/inflate/inflatetest"
)

// fuzzDecoder is reused by every input a fuzzing process runs, as a pooled
// decoder is: state left by one stream would show in the next. The rest is
// reused so that an input costs no allocation: the fuzzer runs more of
// them.
var (
	fuzzDecoder                    Decoder
	fuzzRef                        = flate.NewReader(nil)
	fuzzBuf                        = make([]byte, 40000)
	fuzzRefOut, fuzzOut, fuzzAgain bytes.Buffer
)

// decodeInto reads a whole stream through d into out, in reads of len(buf).
func decodeInto(d *Decoder, out *bytes.Buffer, src io.Reader, dict, buf []byte) error {
	d.Reset(src, dict)
	out.Reset()
	for {
		k, err := d.Read(buf)
		out.Write(buf[:k])
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// FuzzDecoder checks the Decoder against compress/flate: over the same
// dictionary (the first dictLen bytes of data, the rest being the stream)
// both accept the stream or both reject it, an accepted stream decodes to
// the same bytes and ends at the same byte (Unused counts the rest), and
// it decodes the same way again on the reused Decoder. How the input
// arrives (read sizes) and is read out (buffer sizes) varies with shape.
func FuzzDecoder(f *testing.F) {
	r := rand.New(rand.NewPCG(7, 8))
	for i, level := range []int{-2, 0, 1, 5, 9} {
		data := testData(r, []int{50, 1000, 5000}[i%3])
		f.Add(compress(f, data, nil, level), uint16(0), uint8(i))
		dict := testData(r, 2000)
		msg := slices.Concat(dict[1000:], data)
		f.Add(slices.Concat(dict, compress(f, msg, dict, level)), uint16(len(dict)), uint8(i*50))
	}
	// Hand-built streams at the edges of the rules.
	var w it.BitWriter
	w.StoredBlock(false, []byte("stored"))
	w.FixedBlock(false).Literal('a').Match(10, 1).End()
	w.DynBlock(false, it.SimpleLit(), it.SimpleDist()).Literal('b').Match(4, 2).End()
	w.DynBlock(false, it.SimpleLit(), []uint8{0}).Literal('c').End()
	w.DynBlock(false, it.SimpleLit(), []uint8{1}).Literal('d').Match(3, 1).End()
	w.DynBlock(true, it.SimpleLit(), it.SimpleDist()).Literal('e').End()
	f.Add(w.Bytes(), uint16(0), uint8(3))
	var w2 it.BitWriter
	normalBlock(&w2, false)
	emptyDistBlock(&w2)
	f.Add(w2.Bytes(), uint16(0), uint8(0))
	var w3 it.BitWriter
	normalBlock(&w3, false)
	emptyCLBlock(&w3)
	f.Add(w3.Bytes(), uint16(0), uint8(0))
	f.Add([]byte{0x03, 0x00}, uint16(0), uint8(0))
	f.Add([]byte{}, uint16(0), uint8(0))

	f.Fuzz(func(t *testing.T, data []byte, dictLen uint16, shape uint8) {
		k := min(int(dictLen), len(data))
		dict, stream := data[:k], data[k:]
		sr := bytes.NewReader(stream)
		fuzzRef.(flate.Resetter).Reset(sr, dict)
		fuzzRefOut.Reset()
		_, rerr := fuzzRefOut.ReadFrom(fuzzRef)
		ref, refUnused := fuzzRefOut.Bytes(), sr.Len()
		if len(ref) > 1<<20 {
			return // a bomb: slow to compare byte by byte, and not more interesting
		}

		src := &countingReader{r: bytes.NewReader(stream)}
		var in io.Reader = src
		switch shape & 3 {
		case 1:
			in = iotest.OneByteReader(src)
		case 2:
			in = &chunkReader{src, 1 + int(shape>>2)}
		}
		bufSize := []int{1, 100, 4096, 40000}[shape>>2&3]
		if bufSize == 1 && len(ref) > 64<<10 {
			bufSize = 7
		}
		err := decodeInto(&fuzzDecoder, &fuzzOut, in, dict, fuzzBuf[:bufSize])
		got := fuzzOut.Bytes()
		if (err == nil) != (rerr == nil) {
			t.Fatalf("Decoder: %v; compress/flate: %v", err, rerr)
		}
		if err != nil {
			if err != io.ErrUnexpectedEOF && !isCorrupt(err) {
				t.Fatalf("unexpected error %v", err)
			}
			return
		}
		if !bytes.Equal(got, ref) {
			t.Fatalf("decoded %d bytes, compress/flate %d, different", len(got), len(ref))
		}
		if unused := len(stream) - src.n + fuzzDecoder.Unused(); unused != refUnused {
			t.Fatalf("%d bytes after the stream; compress/flate: %d", unused, refUnused)
		}
		sr.Reset(stream)
		err = decodeInto(&fuzzDecoder, &fuzzAgain, sr, dict, fuzzBuf[:32<<10])
		if err != nil || !bytes.Equal(fuzzAgain.Bytes(), got) {
			t.Fatalf("second decoding: %v, equal %v", err, bytes.Equal(fuzzAgain.Bytes(), got))
		}
	})
}

func isCorrupt(err error) bool {
	_, ok := err.(*corruptError)
	return ok
}
