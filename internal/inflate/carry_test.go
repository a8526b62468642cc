package inflate

import (
	"bytes"
	"errors"
	"testing"

	it "github.com/wspipe/wspipe/internal/inflate/inflatetest"
)

// Nothing but the history carries from one block or stream to the next:
// a block whose distance or code-length code is empty must fail when it
// would need it, even right after blocks and streams that had one (the
// bug of klauspost/compress's decoder, which kept the earlier tables).

// normalBlock writes a dynamic block with matches: its distance table is
// complete.
func normalBlock(w *it.BitWriter, final bool) {
	w.DynBlock(final, it.SimpleLit(), it.SimpleDist()).Literal('a').Literal('b').Match(3, 2).Match(4, 1).End()
}

// emptyDistBlock writes a dynamic block whose distance code is empty
// (HDIST lengths all zero), then uses a length code with what would be a
// valid distance in normalBlock's code.
func emptyDistBlock(w *it.BitWriter) {
	b := w.DynBlock(true, it.SimpleLit(), []uint8{0, 0, 0, 0})
	b.Literal('c')
	b.W.Sym(b.Lit, 257).Code(0, 2).Bits(0, 64)
}

// emptyCLBlock writes a dynamic block whose code-length code is empty, then
// bits that normalBlock's code-length code would read as lengths.
func emptyCLBlock(w *it.BitWriter) {
	w.DynHeader(true, 265, 4, make([]uint8, 19), nil).Bits(0, 64)
	for range 40 {
		w.Code(0x5, 4)
	}
}

func TestNoCarryWithinStream(t *testing.T) {
	var d Decoder
	for _, c := range []struct {
		name  string
		first func(w *it.BitWriter)
		bad   func(w *it.BitWriter)
		want  error
	}{
		{"empty distance code after a dynamic block", func(w *it.BitWriter) { normalBlock(w, false) }, emptyDistBlock, errDistCode},
		{"empty distance code after a fixed block", func(w *it.BitWriter) { w.FixedBlock(false).Literal('a').Match(3, 1).End() }, emptyDistBlock, errDistCode},
		{"empty code-length code after a dynamic block", func(w *it.BitWriter) { normalBlock(w, false) }, emptyCLBlock, errEmptyCode},
	} {
		var w it.BitWriter
		c.first(&w)
		c.bad(&w)
		_, err := decode(&d, bytes.NewReader(w.Bytes()), nil, 100)
		if !errors.Is(err, c.want) {
			t.Errorf("%s: %v; want %v", c.name, err, c.want)
		}
		if _, err := stdDecode(w.Bytes(), nil); err == nil {
			t.Errorf("%s: compress/flate accepts it", c.name)
		}
	}
}

func TestNoCarryAcrossStreams(t *testing.T) {
	var d Decoder
	var good it.BitWriter
	normalBlock(&good, true)
	for _, c := range []struct {
		name string
		bad  func(w *it.BitWriter)
		want error
	}{
		{"empty distance code", emptyDistBlock, errDistCode},
		{"empty code-length code", emptyCLBlock, errEmptyCode},
	} {
		if got, err := decode(&d, bytes.NewReader(good.Bytes()), nil, 100); err != nil || string(got) != "ababaaaaa" {
			t.Fatalf("%s: normal stream: %q, %v", c.name, got, err)
		}
		var w it.BitWriter
		c.bad(&w)
		// With a dictionary, so the distance is within the history.
		if _, err := decode(&d, bytes.NewReader(w.Bytes()), []byte("xyz"), 100); !errors.Is(err, c.want) {
			t.Errorf("%s after a normal stream: %v; want %v", c.name, err, c.want)
		}
	}
}
