package inflate

import (
	"bytes"
	"errors"
	"io"
	"testing"

	it "github.com/wspipe/wspipe/internal/inflate/inflatetest"
)

// rejectCase is a hand-built stream and the error it must fail with.
type rejectCase struct {
	name   string
	stream []byte
	dict   []byte
	want   error
}

// checkRejects decodes each case with d (reused, so state from earlier
// cases would show), in one go and in reads of one byte, and checks that
// compress/flate rejects it too.
func checkRejects(t *testing.T, d *Decoder, cases []rejectCase) {
	t.Helper()
	for _, c := range cases {
		for _, n := range []int{1, 64 << 10} {
			_, err := decode(d, bytes.NewReader(c.stream), c.dict, n)
			if !errors.Is(err, c.want) {
				t.Errorf("%s: %v; want %v", c.name, err, c.want)
			}
			if err == nil || (!errors.Is(err, ErrCorrupt) && err != io.ErrUnexpectedEOF) {
				t.Errorf("%s: %v is neither ErrCorrupt nor io.ErrUnexpectedEOF", c.name, err)
			}
		}
		if out, err := stdDecode(c.stream, c.dict); err == nil {
			t.Errorf("%s: compress/flate accepts it (%q)", c.name, out)
		}
	}
}

func TestRejectHeaders(t *testing.T) {
	var d Decoder
	w := func() *it.BitWriter { return new(it.BitWriter) }
	cases := []rejectCase{
		{"BTYPE 11", w().Bits(1, 1).Bits(3, 2).Bits(0, 13).Bytes(), nil, errBlockType},
		{"BTYPE 11 after a block", func() []byte {
			b := w()
			b.FixedBlock(false).Literal('a').End()
			return b.Bits(1, 1).Bits(3, 2).Bits(0, 13).Bytes()
		}(), nil, errBlockType},
		{"stored LEN/NLEN mismatch", w().Bits(1, 1).Bits(0, 2).Align().Bits(5, 16).Bits(0xfffb, 16).Bits(0, 40).Bytes(), nil, errStoredLen},
		{"stored LEN/NLEN both zero", w().Bits(1, 1).Bits(0, 2).Align().Bits(0, 32).Bytes(), nil, errStoredLen},
		{"HLIT 287", w().DynHeader(true, 287, 1, it.FullCL, nil).Bits(0, 64).Bytes(), nil, errHLIT},
		{"HLIT 288", w().DynHeader(true, 288, 1, it.FullCL, nil).Bits(0, 64).Bytes(), nil, errHLIT},
		{"HDIST 31", w().DynHeader(true, 257, 31, it.FullCL, nil).Bits(0, 64).Bytes(), nil, errHDIST},
		{"HDIST 32", w().DynHeader(true, 257, 32, it.FullCL, nil).Bits(0, 64).Bytes(), nil, errHDIST},
	}
	checkRejects(t, &d, cases)
}

func TestRejectCodeLengths(t *testing.T) {
	var d Decoder
	lit, dist := it.SimpleLit(), it.SimpleDist()
	var syms []int
	for _, l := range append(append([]uint8(nil), lit...), dist...) {
		syms = append(syms, int(l))
	}
	// Code-length codes that are not complete codes.
	emptyCL := make([]uint8, 19)
	overCL := append([]uint8(nil), it.FullCL...)
	overCL[0] = 3
	incompleteCL := append([]uint8(nil), it.FullCL...)
	incompleteCL[18] = 0
	singleCL := make([]uint8, 19)
	singleCL[4] = 1 // a lone one-bit code: only ever length 4
	hdr := func(cl []uint8, syms []int) []byte {
		var w it.BitWriter
		return w.DynHeader(true, len(lit), len(dist), cl, syms).Bits(0, 64).Bytes()
	}
	// Repeats: 16 first, and each repeat code running past the end.
	n := len(lit) + len(dist)
	past16 := append(append([]int(nil), syms[:n-2]...), 16, 0) // 3 of the last
	past17 := append(append([]int(nil), syms[:n-2]...), 17, 0) // 3 zeros
	past18 := append(append([]int(nil), syms[:n-10]...), 18, 0)
	exact := append(append([]int(nil), syms[:n-3]...), 16, 0)
	cases := []rejectCase{
		{"empty code-length code", hdr(emptyCL, nil), nil, errEmptyCode},
		{"over-subscribed code-length code", hdr(overCL, syms), nil, errOverSubscribed},
		{"incomplete code-length code", hdr(incompleteCL, syms), nil, errIncomplete},
		{"single one-bit code-length code", hdr(singleCL, []int{4, 4, 4}), nil, errIncomplete},
		{"repeat with no previous length", hdr(it.FullCL, append([]int{16, 0}, syms[3:]...)), nil, errNoPrevious},
		{"16 past the last length", hdr(it.FullCL, past16), nil, errRepeatPast},
		{"17 past the last length", hdr(it.FullCL, past17), nil, errRepeatPast},
		{"18 past the last length", hdr(it.FullCL, past18), nil, errRepeatPast},
	}
	checkRejects(t, &d, cases)
	// A repeat that ends exactly at the last length is fine: the last
	// three distance code lengths as copies of the first.
	var w it.BitWriter
	w.DynHeader(true, len(lit), len(dist), it.FullCL, exact)
	it.Block{W: &w, Lit: it.Canonical(lit), Dist: it.Canonical(dist)}.Literal('a').Match(3, 1).End()
	if got, err := decode(&d, bytes.NewReader(w.Bytes()), nil, 100); err != nil || string(got) != "aaaa" {
		t.Errorf("repeat up to the last length: %q, %v", got, err)
	}
}

func TestRejectCodes(t *testing.T) {
	var d Decoder
	block := func(lit, dist []uint8, body func(b it.Block)) []byte {
		var w it.BitWriter
		b := w.DynBlock(true, lit, dist)
		body(b)
		return w.Bits(0, 64).Bytes()
	}
	lit, dist := it.SimpleLit(), it.SimpleDist()
	overLit := it.SimpleLit()
	overLit['i'] = 4
	incompleteLit := it.SimpleLit()
	incompleteLit['h'] = 0
	noEnd := it.SimpleLit()
	noEnd[256], noEnd['i'] = 0, 4
	overDist := []uint8{2, 2, 2, 2, 2}
	incompleteDist := []uint8{2, 2, 2}
	singleDist5 := []uint8{5}
	cases := []rejectCase{
		{"over-subscribed literal/length code", block(overLit, dist, func(b it.Block) {}), nil, errOverSubscribed},
		{"incomplete literal/length code", block(incompleteLit, dist, func(b it.Block) {}), nil, errIncomplete},
		{"no end-of-block code", block(noEnd, dist, func(b it.Block) {}), nil, errNoEnd},
		{"over-subscribed distance code", block(lit, overDist, func(b it.Block) {}), nil, errOverSubscribed},
		{"incomplete distance code", block(lit, incompleteDist, func(b it.Block) {}), nil, errIncomplete},
		{"single five-bit distance code", block(lit, singleDist5, func(b it.Block) {}), nil, errIncomplete},
		// An empty distance code: a length then fails, whatever follows.
		{"length with an empty distance code", block(lit, []uint8{0}, func(b it.Block) {
			b.Literal('a')
			b.W.Sym(b.Lit, 257)
		}), nil, errDistCode},
		// A single one-bit distance code: the unused code 1 fails.
		{"unused code of a single distance code", block(lit, []uint8{1}, func(b it.Block) {
			b.Literal('a')
			b.W.Sym(b.Lit, 257).Bits(1, 1)
		}), nil, errDistCode},
	}
	checkRejects(t, &d, cases)

	// Accepted: an empty distance code with literals only, a single
	// one-bit distance code used, a single one-bit literal/length code
	// for the end of block (an empty block, as zlib and compress/flate
	// accept).
	ok := []struct {
		name   string
		stream []byte
		want   string
	}{
		{"empty distance code, literals only", block(lit, []uint8{0}, func(b it.Block) {
			b.Literal('a').Literal('b').End()
		}), "ab"},
		{"single distance code", block(lit, []uint8{1}, func(b it.Block) {
			b.Literal('a').Match(5, 1).End()
		}), "aaaaaa"},
		{"single literal/length code", func() []byte {
			l := make([]uint8, 257)
			l[256] = 1
			var w it.BitWriter
			w.DynBlock(false, l, []uint8{0}).End()
			w.DynBlock(true, l, []uint8{1}).End()
			return w.Bytes()
		}(), ""},
	}
	for _, c := range ok {
		got, err := decode(&d, bytes.NewReader(c.stream), nil, 100)
		if err != nil || string(got) != c.want {
			t.Errorf("%s: %q, %v", c.name, got, err)
		}
		if ref, err := stdDecode(c.stream, nil); err != nil || string(ref) != c.want {
			t.Errorf("%s: compress/flate: %q, %v", c.name, ref, err)
		}
	}
}

func TestRejectSymbols(t *testing.T) {
	var d Decoder
	// fixed writes a final fixed-code block, with body inside and, if pad,
	// 64 bits after it.
	fixed := func(body func(b it.Block), pad bool) []byte {
		var w it.BitWriter
		body(w.FixedBlock(true))
		if pad {
			w.Bits(0, 64)
		}
		return w.Bytes()
	}
	var cases []rejectCase
	// Codes that only the fixed codes have, followed by more bits or as the
	// stream's last ones: whole codes either way, so rejected as such, not
	// taken for a stream cut short.
	for _, c := range []struct {
		name string
		body func(b it.Block)
		want error
	}{
		{"literal/length 286", func(b it.Block) { b.Literal('a').W.Sym(b.Lit, 286) }, errLitCode},
		{"literal/length 287", func(b it.Block) { b.Literal('a').W.Sym(b.Lit, 287) }, errLitCode},
		{"distance code 30", func(b it.Block) { b.Literal('a').W.Sym(b.Lit, 257).Sym(b.Dist, 30) }, errDistCode},
		{"distance code 31", func(b it.Block) { b.Literal('a').W.Sym(b.Lit, 257).Sym(b.Dist, 31) }, errDistCode},
	} {
		cases = append(cases,
			rejectCase{c.name, fixed(c.body, true), nil, c.want},
			rejectCase{c.name + " at the end", fixed(c.body, false), nil, c.want})
	}
	cases = append(cases, []rejectCase{
		{"distance before any output", fixed(func(b it.Block) { b.Match(3, 1) }, true), nil, errDistance},
		{"distance past the output", fixed(func(b it.Block) { b.Literal('a').Literal('b').Match(3, 3) }, true), nil, errDistance},
		{"distance past the dictionary", fixed(func(b it.Block) { b.Literal('a').Match(3, 5) }, true), []byte("abc"), errDistance},
		{"distance 32768 after 32767 bytes", fixed(func(b it.Block) { b.Literal('a').Match(3, 32768) }, true), make([]byte, 32766), errDistance},
	}...)
	checkRejects(t, &d, cases)
}

// Streams cut anywhere fail with io.ErrUnexpectedEOF (or ErrCorrupt,
// where the cut leaves bits that decode to something invalid), never
// succeed, as long as the final block is not complete.
func TestRejectTruncated(t *testing.T) {
	var w it.BitWriter
	w.StoredBlock(false, []byte("stored"))
	w.FixedBlock(false).Literal('a').Match(10, 1).End()
	w.DynBlock(false, it.SimpleLit(), it.SimpleDist()).Literal('b').Match(4, 2).End()
	w.DynBlock(true, it.SimpleLit(), it.SimpleDist()).Literal('c').End()
	stream := w.Bytes()
	var d Decoder
	if _, err := decode(&d, bytes.NewReader(stream), nil, 10); err != nil {
		t.Fatal(err)
	}
	for i := range len(stream) {
		_, err := decode(&d, bytes.NewReader(stream[:i]), nil, 10)
		if err != io.ErrUnexpectedEOF && !errors.Is(err, ErrCorrupt) {
			t.Errorf("cut at %d of %d: %v", i, len(stream), err)
		}
	}
}
