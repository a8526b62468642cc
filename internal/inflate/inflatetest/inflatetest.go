// Package inflatetest writes DEFLATE streams (RFC 1951) bit by bit, valid
// or deliberately not, for tests of decoders: raw bits, canonical Huffman
// codes from code lengths, block headers and symbols. It checks nothing:
// a stream is what the test asks for.
package inflatetest

// endOfBlock is the end-of-block symbol.
const endOfBlock = 256

// BitWriter writes bits least significant first, as DEFLATE packs them.
type BitWriter struct {
	out   []byte
	acc   uint64
	nbits uint
}

// Bits writes the n low bits of v.
func (w *BitWriter) Bits(v uint64, n uint) *BitWriter {
	w.acc |= (v & (1<<n - 1)) << w.nbits
	w.nbits += n
	for w.nbits >= 8 {
		w.out = append(w.out, byte(w.acc))
		w.acc >>= 8
		w.nbits -= 8
	}
	return w
}

// Code writes an n-bit Huffman code, which DEFLATE sends most significant
// bit first.
func (w *BitWriter) Code(c uint16, n uint8) *BitWriter {
	var r uint64
	for i := range n {
		r |= uint64(c>>i&1) << (n - 1 - i)
	}
	return w.Bits(r, uint(n))
}

// Align pads with zero bits to a byte boundary.
func (w *BitWriter) Align() *BitWriter {
	if w.nbits > 0 {
		w.Bits(0, 8-w.nbits)
	}
	return w
}

// Bytes returns what was written, the last byte padded with zeros.
func (w *BitWriter) Bytes() []byte {
	out := w.out
	if w.nbits > 0 {
		out = append(out[:len(out):len(out)], byte(w.acc))
	}
	return out
}

// Code is a canonical Huffman code: each symbol's code and length.
type Code struct {
	Codes []uint16 // the code of each symbol, most significant bit first
	Lens  []uint8  // the length of each symbol's code; 0: no code
}

// Canonical assigns codes to lengths as RFC 1951 section 3.2.2 does. It
// does not check that they form a valid code.
func Canonical(lens []uint8) Code {
	var count [16]int
	for _, l := range lens {
		count[l]++
	}
	count[0] = 0
	var next [16]int
	code := 0
	for l := 1; l < 16; l++ {
		code = (code + count[l-1]) << 1
		next[l] = code
	}
	h := Code{Codes: make([]uint16, len(lens)), Lens: lens}
	for s, l := range lens {
		if l != 0 {
			h.Codes[s] = uint16(next[l])
			next[l]++
		}
	}
	return h
}

// Sym writes symbol s of code h; it panics if s has no code.
func (w *BitWriter) Sym(h Code, s int) *BitWriter {
	if h.Lens[s] == 0 {
		panic("symbol without a code")
	}
	return w.Code(h.Codes[s], h.Lens[s])
}

// fixedLitLens returns the fixed literal/length code's lengths (RFC 1951
// section 3.2.6), symbols 286 and 287 included.
func fixedLitLens() []uint8 {
	l := make([]uint8, 288)
	for s := range l {
		switch {
		case s < 144:
			l[s] = 8
		case s < 256:
			l[s] = 9
		case s < 280:
			l[s] = 7
		default:
			l[s] = 8
		}
	}
	return l
}

// fixedDistLens returns the fixed distance code's lengths, codes 30 and 31
// included.
func fixedDistLens() []uint8 {
	l := make([]uint8, 32)
	for s := range l {
		l[s] = 5
	}
	return l
}

// FullCL is a complete code-length code that codes all 19 symbols: 0-12
// in 4 bits, 13-18 in 5.
var FullCL = func() []uint8 {
	l := make([]uint8, 19)
	for s := range l {
		l[s] = 4
		if s > 12 {
			l[s] = 5
		}
	}
	return l
}()

// clOrder is RFC 1951's order of the code-length code lengths.
var clOrder = [19]int{16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15}

// DynHeader writes a dynamic block header: BFINAL, BTYPE 10, HLIT, HDIST,
// HCLEN, the code-length code cl (all 19 lengths) and then the code
// length symbols given (each a symbol, then for 16-18 its extra bits as a
// second number). hlit and hdist are the counts of codes (257.., 1..).
func (w *BitWriter) DynHeader(final bool, hlit, hdist int, cl []uint8, syms []int) *BitWriter {
	w.Bits(b2u(final), 1).Bits(2, 2)
	w.Bits(uint64(hlit-257), 5).Bits(uint64(hdist-1), 5).Bits(19-4, 4)
	for _, s := range clOrder {
		w.Bits(uint64(cl[s]), 3)
	}
	h := Canonical(cl)
	for i := 0; i < len(syms); i++ {
		s := syms[i]
		w.Sym(h, s)
		switch s {
		case 16:
			i++
			w.Bits(uint64(syms[i]), 2)
		case 17:
			i++
			w.Bits(uint64(syms[i]), 3)
		case 18:
			i++
			w.Bits(uint64(syms[i]), 7)
		}
	}
	return w
}

// dynBlockHeader writes a dynamic block header for the given literal/
// length and distance code lengths, one code-length symbol per length.
func (w *BitWriter) dynBlockHeader(final bool, lit, dist []uint8) *BitWriter {
	syms := make([]int, 0, len(lit)+len(dist))
	for _, l := range append(append([]uint8(nil), lit...), dist...) {
		syms = append(syms, int(l))
	}
	return w.DynHeader(final, len(lit), len(dist), FullCL, syms)
}

// b2u is a bit for a flag.
func b2u(b bool) uint64 {
	if b {
		return 1
	}
	return 0
}

// lenCode returns the length symbol for length (3..258), its extra bits
// and their count (RFC 1951 section 3.2.5).
func lenCode(length int) (sym int, extra uint64, n uint) {
	if length == 258 {
		return 285, 0, 0
	}
	for s := 284; s >= 257; s-- {
		base, nb := lenBase(s)
		if length >= base {
			return s, uint64(length - base), nb
		}
	}
	panic("bad length")
}

// lenBase returns length symbol s's base length and extra bit count.
func lenBase(s int) (int, uint) {
	if s < 265 {
		return s - 254, 0
	}
	i := s - 261
	return 3 + (4+i%4)<<(i/4), uint(i / 4)
}

// distCode returns the distance symbol for dist (1..32768), its extra bits
// and their count.
func distCode(dist int) (sym int, extra uint64, n uint) {
	for s := 29; s >= 0; s-- {
		base, nb := distBase(s)
		if dist >= base {
			return s, uint64(dist - base), nb
		}
	}
	panic("bad distance")
}

// distBase returns distance code s's base distance and extra bit count.
func distBase(s int) (int, uint) {
	if s < 4 {
		return s + 1, 0
	}
	nb := (s - 2) / 2
	return 1 + (2+s%2)<<nb, uint(nb)
}

// Block writes the data of a Huffman block with codes Lit and Dist.
type Block struct {
	W         *BitWriter // where the block goes
	Lit, Dist Code
}

// Literal writes literal c.
func (b Block) Literal(c byte) Block {
	b.W.Sym(b.Lit, int(c))
	return b
}

// Match writes a length (3-258) and a distance (1-32768).
func (b Block) Match(length, dist int) Block {
	s, e, n := lenCode(length)
	b.W.Sym(b.Lit, s).Bits(e, n)
	s, e, n = distCode(dist)
	b.W.Sym(b.Dist, s).Bits(e, n)
	return b
}

// End writes the end of block.
func (b Block) End() Block {
	b.W.Sym(b.Lit, endOfBlock)
	return b
}

// FixedBlock starts a fixed-code block.
func (w *BitWriter) FixedBlock(final bool) Block {
	w.Bits(b2u(final), 1).Bits(1, 2)
	return Block{W: w, Lit: fixedLit, Dist: fixedDist}
}

// The fixed codes, made once: FixedBlock hands them out, and nothing
// writes to a Code.
var fixedLit, fixedDist = Canonical(fixedLitLens()), Canonical(fixedDistLens())

// DynBlock starts a dynamic block with the given code lengths.
func (w *BitWriter) DynBlock(final bool, lit, dist []uint8) Block {
	w.dynBlockHeader(final, lit, dist)
	return Block{W: w, Lit: Canonical(lit), Dist: Canonical(dist)}
}

// StoredBlock writes a stored block of p.
func (w *BitWriter) StoredBlock(final bool, p []byte) *BitWriter {
	w.Bits(b2u(final), 1).Bits(0, 2).Align()
	w.Bits(uint64(len(p)), 16).Bits(uint64(^len(p)), 16)
	for _, c := range p {
		w.Bits(uint64(c), 8)
	}
	return w
}

// SimpleLit returns the code lengths of a small complete literal/length
// code, for 265 symbols (HLIT 8): literals 'a'-'h', the end of block and
// lengths 3-8 (257-262) in 4 bits, lengths 9 and 10 (263, 264) in 5.
func SimpleLit() []uint8 {
	l := make([]uint8, 265)
	for c := 'a'; c <= 'h'; c++ {
		l[c] = 4
	}
	for s := 256; s < 263; s++ {
		l[s] = 4
	}
	l[263], l[264] = 5, 5
	return l
}

// SimpleDist returns the code lengths of a small complete distance code:
// codes 0-3 (distances 1-4) in 2 bits.
func SimpleDist() []uint8 { return []uint8{2, 2, 2, 2} }
