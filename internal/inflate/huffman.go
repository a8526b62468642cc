package inflate

import "math/bits"

// An entry is one slot of a decoding table, looked up with the next input
// bits (least significant first, so codes appear bit-reversed):
//
//	bits 0-3    length of the code in bits (all of it, also in a subtable)
//	bits 4-7    extra bits after the code; in a subtable pointer, the
//	            subtable's index bits
//	bits 8-11   flags: what the entry is; none for a length or distance
//	bits 16-31  value: a literal byte, a length or distance base, a
//	            code-length symbol, or a subtable's offset in the table
type entry uint32

const (
	codeLenMask = 0xf // bits 0-3
	extraShift  = 4   // bits 4-7
	valueShift  = 16  // bits 16-31

	flagLit entry = 1 << 8  // a literal byte
	flagEnd entry = 1 << 9  // end of block
	flagSub entry = 1 << 10 // the code goes on in a subtable
	flagBad entry = 1 << 11 // no code starts with these bits

	// badEntry fills the slots of bits that start no code. It claims the
	// longest code length, so a decoder short of input reads on (and hits
	// the end of the input) rather than taking bits it does not have as
	// corrupt.
	badEntry = flagBad | maxCodeLen
)

// codeLen returns the length of the entry's code in bits.
func (e entry) codeLen() uint { return uint(e & codeLenMask) }

// extra returns the number of extra bits after the code (or a subtable
// pointer's index bits).
func (e entry) extra() uint { return uint(e>>extraShift) & 0xf }

// value returns the entry's value.
func (e entry) value() uint { return uint(e >> valueShift) }

const (
	maxCodeLen = 15 // RFC 1951 section 3.2.7: code lengths 0-15

	numLitCodes  = 288 // literal/length alphabet with the two unused symbols
	numDistCodes = 32  // distance alphabet with the two unused symbols
	maxLit       = 286 // HLIT + 257 may not exceed this
	maxDist      = 30  // HDIST + 1 may not exceed this
	numCLCodes   = 19  // code-length alphabet
	endOfBlock   = 256

	// Primary table index bits. Longer codes continue in subtables.
	litBits  = 10
	distBits = 8
	clBits   = 7 // code-length codes are at most 7 bits: no subtables

	// Table sizes: the primary table plus room for the subtable slots
	// any valid code needs. A subtable whose longest code is d bits past
	// the primary index has 1<<d slots and, the code being complete below
	// it, at least d+1 codes; d is at most 15 - primary bits. That bounds
	// 286 literal/length codes by 47 subtables of 32 slots and one of 8,
	// and 30 distance codes by 3 of 128 and one of 32; the bound is loose
	// (the codes that fill the rest of the primary table count too), and
	// TestBuildDeepest builds the most valid codes need: 46 of 32 and one
	// of 8, and 2 of 128 and one of 64.
	litTableSize  = 1<<litBits + 47*32 + 8
	distTableSize = 1<<distBits + 3*128 + 32
	clTableSize   = 1 << clBits
)

type (
	litTable  [litTableSize]entry
	distTable [distTableSize]entry
	clTable   [clTableSize]entry
)

// Symbol templates: an entry for each symbol without its code length.
var (
	litSyms  [numLitCodes]entry
	distSyms [numDistCodes]entry
	clSyms   [numCLCodes]entry
)

// The fixed Huffman codes of RFC 1951 section 3.2.6, built once.
var (
	fixedLit  litTable
	fixedDist distTable
)

func init() {
	for s := range 256 {
		litSyms[s] = flagLit | entry(s)<<valueShift
	}
	litSyms[endOfBlock] = flagEnd
	// Lengths (section 3.2.5): 257-264 are 3-10 with no extra bits; then
	// each group of four doubles the step, with one more extra bit.
	for s := 257; s < 265; s++ {
		litSyms[s] = entry(s-254) << valueShift
	}
	for s := 265; s < 285; s++ {
		i := s - 261
		extra := i / 4
		base := 3 + (4+i%4)<<extra
		litSyms[s] = entry(base)<<valueShift | entry(extra)<<extraShift
	}
	litSyms[285] = 258 << valueShift
	// 286, 287 and distances 30, 31 have codes in the fixed codes only,
	// and are invalid there: whole codes, so flagBad with the code's own
	// length (the table adds it), not badEntry's longest, which would
	// take them, as the stream's last bits, for a stream cut short.
	litSyms[286], litSyms[287] = flagBad, flagBad
	// Distances: 0-3 are 1-4; then pairs with one more extra bit each.
	for s := range 4 {
		distSyms[s] = entry(s+1) << valueShift
	}
	for s := 4; s < 30; s++ {
		extra := (s - 2) / 2
		base := 1 + (2+s%2)<<extra
		distSyms[s] = entry(base)<<valueShift | entry(extra)<<extraShift
	}
	distSyms[30], distSyms[31] = flagBad, flagBad
	for s := range numCLCodes {
		clSyms[s] = entry(s) << valueShift
	}
	clSyms[16] |= 2 << extraShift // repeat the previous length 3-6 times
	clSyms[17] |= 3 << extraShift // 3-10 zeros
	clSyms[18] |= 7 << extraShift // 11-138 zeros

	var lengths [numLitCodes]uint8
	for s := range lengths {
		switch {
		case s < 144:
			lengths[s] = 8
		case s < 256:
			lengths[s] = 9
		case s < 280:
			lengths[s] = 7
		default:
			lengths[s] = 8
		}
	}
	if build(fixedLit[:], lengths[:], litSyms[:], litBits) != nil {
		panic("inflate: fixed literal/length code")
	}
	for s := range numDistCodes {
		lengths[s] = 5
	}
	if build(fixedDist[:], lengths[:numDistCodes], distSyms[:], distBits) != nil {
		panic("inflate: fixed distance code")
	}
}

// reverse returns the n low bits of c in reverse order: a Huffman code is
// sent most significant bit first, into a bit buffer read least
// significant bit first.
func reverse(c, n uint) uint {
	return uint(bits.Reverse16(uint16(c))) >> (16 - n)
}

// build fills t with the decoding table of the canonical Huffman code
// with the given code lengths (RFC 1951 section 3.2.2), primary bits
// wide, taking each symbol's entry from syms. Every slot a lookup can
// reach is written, so nothing of an earlier table survives.
//
// It fails with errOverSubscribed or errIncomplete unless the code is
// complete, with two exceptions that leave the slots of unused bit
// patterns as badEntry: a code with a single code of one bit (RFC 1951
// allows it for distances; zlib and compress/flate for literals too)
// returns nil, and an empty code (all lengths zero) errEmptyCode, for the
// caller to decide.
func build(t []entry, lengths []uint8, syms []entry, primary uint) error {
	count := countLengths(lengths)
	// Kraft: left is the number of unused codes at each depth.
	left, total, maxLen := 1, 0, uint(0)
	for l := uint(1); l <= maxCodeLen; l++ {
		left = left<<1 - int(count[l])
		if left < 0 {
			return errOverSubscribed
		}
		if count[l] != 0 {
			maxLen = l
		}
		total += int(count[l])
	}
	var err error
	switch {
	case left == 0:
	case total == 0:
		err = errEmptyCode
	case total == 1 && count[1] == 1:
	default:
		return errIncomplete
	}

	// Symbols sorted by code length, then by value: canonical order.
	var offs [maxCodeLen + 1]uint16
	for l := 1; l < maxCodeLen; l++ {
		offs[l+1] = offs[l] + count[l]
	}
	var sorted [numLitCodes]uint16
	for s, l := range lengths {
		if l != 0 {
			sorted[offs[l]] = uint16(s)
			offs[l]++
		}
	}

	// Short codes: after the codes of length l are placed, t[:1<<l] is the
	// table for l-bit lookups; doubling it extends every shorter code to
	// l+1 bits, leaving the slots of the longer codes to fill.
	t[0], t[1] = badEntry, badEntry
	code, i := uint(0), 0
	for l := uint(1); l <= primary; l++ {
		if l > 1 {
			copy(t[1<<(l-1):1<<l], t[:1<<(l-1)])
		}
		for n := count[l]; n > 0; n-- {
			t[reverse(code, l)] = syms[sorted[i]] | entry(l)
			i++
			code++
		}
		code <<= 1
	}
	if maxLen <= primary {
		return err
	}

	// Long codes: those sharing their first primary bits go into one
	// subtable, just deep enough for the longest of them.
	remaining := count
	next := uint(1) << primary
	prefix, sub, subBits := ^uint(0), uint(0), uint(0)
	for l := primary + 1; l <= maxLen; l++ {
		for n := count[l]; n > 0; n-- {
			if p := code >> (l - primary); p != prefix {
				prefix = p
				// The codes from here on fill the prefix's subtree in
				// order; find the depth at which they fill it.
				subBits = l - primary
				room := 1 << subBits
				for {
					room -= int(remaining[subBits+primary])
					if room <= 0 || subBits+primary >= maxLen {
						break
					}
					subBits++
					room <<= 1
				}
				if next+1<<subBits > uint(len(t)) {
					return errIncomplete // cannot happen for a complete code
				}
				t[reverse(p, primary)] = flagSub | entry(subBits)<<extraShift | entry(next)<<valueShift
				sub = next
				next += 1 << subBits
			}
			e := syms[sorted[i]] | entry(l)
			drop := l - primary
			for k := reverse(code, drop); k < 1<<subBits; k += 1 << drop {
				t[sub+k] = e
			}
			remaining[l]--
			i++
			code++
		}
		code <<= 1
	}
	return err
}

// countLengths counts the codes of each length. Four sets of counters
// split the chain of increments of one counter (runs of equal lengths are
// the rule), which otherwise waits on each store.
func countLengths(lengths []uint8) [maxCodeLen + 1]uint16 {
	var c [4][maxCodeLen + 1]uint16
	i := 0
	for ; i+4 <= len(lengths); i += 4 {
		c[0][lengths[i]&maxCodeLen]++
		c[1][lengths[i+1]&maxCodeLen]++
		c[2][lengths[i+2]&maxCodeLen]++
		c[3][lengths[i+3]&maxCodeLen]++
	}
	for ; i < len(lengths); i++ {
		c[0][lengths[i]&maxCodeLen]++
	}
	var count [maxCodeLen + 1]uint16
	for l := 1; l <= maxCodeLen; l++ {
		count[l] = c[0][l] + c[1][l] + c[2][l] + c[3][l]
	}
	return count
}
