package layers

import (
	"bytes"
	"errors"
	"testing"

	it "github.com/wspipe/wspipe/internal/inflate/inflatetest"
)

// Regression: klauspost/compress's decoder (which the Inflater used)
// kept its Huffman tables across blocks and streams, and took an empty
// distance or code-length code (all lengths zero) as the earlier one: a
// crafted message then decoded with the tables of the previous block, or
// of the previous message on the same pooled decoder (perhaps another
// connection's), instead of failing. Every case here decoded without an
// error there.

// carryLit is a complete literal/length code in which the bytes 0-18 have
// short codes, so that a code-length code (symbols 0-18) left over from it
// would decode: bytes 0-18, the end of block and lengths 3-14, 5 bits each.
func carryLit() []uint8 {
	l := make([]uint8, 269)
	for s := range 19 {
		l[s] = 5
	}
	for s := 256; s < 269; s++ {
		l[s] = 5
	}
	return l
}

// syncFlush ends a crafted payload as a sender's sync flush does: the
// header of an empty stored block, padded to a byte (its 00 00 ff ff is
// cut, and the Inflater puts it back).
func syncFlush(w *it.BitWriter) []byte {
	return w.Bits(0, 3).Align().Bytes()
}

// goodBlock writes a dynamic block with distance code it.SimpleDist and
// the literal/length code carryLit, which decodes to "\x01\x02\x01\x02\x01".
func goodBlock(w *it.BitWriter) {
	w.DynBlock(false, carryLit(), it.SimpleDist()).Literal(1).Literal(2).Match(3, 2).End()
}

// emptyDist writes a dynamic block whose distance code is empty and that
// uses a length anyway, with bits that goodBlock's code reads as distance 1.
func emptyDist(w *it.BitWriter) {
	b := w.DynBlock(false, it.SimpleLit(), []uint8{0})
	b.Literal('c')
	b.W.Sym(b.Lit, 257).Code(0, 2)
	b.End()
}

// emptyCodeLengths writes a dynamic block whose code-length code is empty,
// followed by code lengths coded with goodBlock's literal/length code, for
// a block of "cc".
func emptyCodeLengths(w *it.BitWriter) {
	lit, dist := it.SimpleLit(), it.SimpleDist()
	w.DynHeader(false, len(lit), len(dist), make([]uint8, 19), nil)
	stale := it.Canonical(carryLit())
	for _, l := range append(lit, dist...) {
		w.Sym(stale, int(l))
	}
	it.Block{W: w, Lit: it.Canonical(lit), Dist: it.Canonical(dist)}.Literal('c').Literal('c').End()
}

func TestInflaterNoCarryOver(t *testing.T) {
	message := func(blocks ...func(*it.BitWriter)) []byte {
		var w it.BitWriter
		for _, b := range blocks {
			b(&w)
		}
		return syncFlush(&w)
	}
	good := message(goodBlock)
	cases := []struct {
		name  string
		first []byte // a message decoded first, on the same pooled state
		bad   []byte
	}{
		{"empty distance code after a message", good, message(emptyDist)},
		{"empty distance code after a block", nil, message(goodBlock, emptyDist)},
		{"empty code-length code after a message", good, message(emptyCodeLengths)},
		{"empty code-length code after a block", nil, message(goodBlock, emptyCodeLengths)},
	}
	for _, c := range cases {
		for _, takeover := range []bool{false, true} {
			var w *Window
			if takeover {
				w = NewWindow(15)
				w.Write([]byte("some history to refer to"))
			}
			var z Inflater
			if c.first != nil {
				z.Reset(bytes.NewReader(c.first), w)
				if got, err := readAll(t, &z, 100); err != nil || string(got) != "\x01\x02\x01\x02\x01" {
					t.Fatalf("%s: first message: %q, %v", c.name, got, err)
				}
			}
			z.Reset(bytes.NewReader(c.bad), w)
			got, err := readAll(t, &z, 100)
			if !errors.Is(err, ErrInvalidCompressed) {
				t.Errorf("%s (takeover %v): decoded %q, %v; want ErrInvalidCompressed", c.name, takeover, got, err)
			}
		}
		if _, err := stdInflateTail(nil, c.bad); err == nil {
			t.Errorf("%s: compress/flate accepts it", c.name)
		}
	}
}
