package layers

import (
	"errors"
	"fmt"
)

// refInflate is a small, slow, independent DEFLATE decoder (RFC 1951) used
// to check the Deflater: it decodes comp as the continuation of the history
// hist and fails on any back-reference further than window bytes, or
// before the start of hist. It stops at a final block or where the input
// ends on a block boundary, so comp is a message's payload with the
// 00 00 ff ff put back. It returns the new bytes only.
func refInflate(hist, comp []byte, window int) (out []byte, err error) {
	defer func() {
		if r := recover(); r != nil {
			if e, ok := r.(refError); ok {
				out, err = nil, e
				return
			}
			panic(r)
		}
	}()
	br := &refBits{in: comp}
	buf := append([]byte(nil), hist...)
	for {
		if br.pos == 8*len(comp) {
			break
		}
		final := br.bits(1) == 1
		switch br.bits(2) {
		case 0:
			br.pos = (br.pos + 7) &^ 7
			n := br.bits(16)
			if nn := br.bits(16); n != ^nn&0xffff {
				refFail("stored block length %04x, complement %04x", n, nn)
			}
			for range n {
				buf = append(buf, byte(br.bits(8)))
			}
		case 1:
			buf = refCodes(br, buf, fixedLit, fixedDist, window)
		case 2:
			lit, dist := refDynamic(br)
			buf = refCodes(br, buf, lit, dist, window)
		default:
			refFail("reserved block type")
		}
		if final {
			break
		}
	}
	return buf[len(hist):], nil
}

type refError string

func (e refError) Error() string { return "refInflate: " + string(e) }

var errRefFar = errors.New("back-reference beyond the window")

func refFail(format string, args ...any) { panic(refError(fmt.Sprintf(format, args...))) }

// refBits reads bits least significant first.
type refBits struct {
	in  []byte
	pos int // in bits
}

func (b *refBits) bits(n int) int {
	v := 0
	for i := range n {
		if b.pos >= 8*len(b.in) {
			refFail("input ends inside a block")
		}
		v |= int(b.in[b.pos/8]>>(b.pos%8)&1) << i
		b.pos++
	}
	return v
}

// refHuff is a canonical Huffman code: how many codes of each length, and
// the symbols in code order.
type refHuff struct {
	count [16]int
	sym   []int
}

func newRefHuff(lengths []int) *refHuff {
	h := &refHuff{}
	for _, l := range lengths {
		h.count[l]++
	}
	left := 1
	for l := 1; l < 16; l++ {
		left = left<<1 - h.count[l]
		if left < 0 {
			refFail("over-subscribed code")
		}
	}
	for l := 1; l < 16; l++ {
		for s, sl := range lengths {
			if sl == l {
				h.sym = append(h.sym, s)
			}
		}
	}
	return h
}

// decode reads one symbol a bit at a time: codes of each length are
// consecutive integers, the first of length l following the last of
// length l-1 shifted left.
func (h *refHuff) decode(b *refBits) int {
	code, first, index := 0, 0, 0
	for l := 1; l < 16; l++ {
		code |= b.bits(1)
		if code-first < h.count[l] {
			return h.sym[index+code-first]
		}
		index += h.count[l]
		first = (first + h.count[l]) << 1
		code <<= 1
	}
	refFail("invalid Huffman code")
	return 0
}

var (
	refLenBase, refLenExtra   [29]int
	refDistBase, refDistExtra [30]int
	fixedLit, fixedDist       *refHuff
)

func init() {
	base := 3
	for i := range 28 {
		if i >= 8 {
			refLenExtra[i] = (i - 4) / 4
		}
		refLenBase[i] = base
		base += 1 << refLenExtra[i]
	}
	refLenBase[28] = 258
	base = 1
	for i := range 30 {
		if i >= 4 {
			refDistExtra[i] = (i - 2) / 2
		}
		refDistBase[i] = base
		base += 1 << refDistExtra[i]
	}
	lit := make([]int, 288)
	for i := range lit {
		switch {
		case i < 144:
			lit[i] = 8
		case i < 256:
			lit[i] = 9
		case i < 280:
			lit[i] = 7
		default:
			lit[i] = 8
		}
	}
	fixedLit = newRefHuff(lit)
	dist := make([]int, 30)
	for i := range dist {
		dist[i] = 5
	}
	fixedDist = newRefHuff(dist)
}

var refOrder = [19]int{16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15}

// refDynamic reads a dynamic block's code descriptions.
func refDynamic(b *refBits) (lit, dist *refHuff) {
	nlen, ndist, ncode := b.bits(5)+257, b.bits(5)+1, b.bits(4)+4
	if nlen > 286 || ndist > 30 {
		refFail("too many codes")
	}
	var cl [19]int
	for i := range ncode {
		cl[refOrder[i]] = b.bits(3)
	}
	clh := newRefHuff(cl[:])
	lengths := make([]int, 0, nlen+ndist)
	for len(lengths) < nlen+ndist {
		sym := clh.decode(b)
		if sym < 16 {
			lengths = append(lengths, sym)
			continue
		}
		val, rep := 0, 0
		switch sym {
		case 16:
			if len(lengths) == 0 {
				refFail("repeat with no previous length")
			}
			val, rep = lengths[len(lengths)-1], 3+b.bits(2)
		case 17:
			rep = 3 + b.bits(3)
		default:
			rep = 11 + b.bits(7)
		}
		if len(lengths)+rep > nlen+ndist {
			refFail("too many lengths")
		}
		for range rep {
			lengths = append(lengths, val)
		}
	}
	if lengths[256] == 0 {
		refFail("no end-of-block code")
	}
	return newRefHuff(lengths[:nlen]), newRefHuff(lengths[nlen:])
}

// refCodes decodes a Huffman block's symbols until end of block.
func refCodes(b *refBits, buf []byte, lit, dist *refHuff, window int) []byte {
	for {
		sym := lit.decode(b)
		switch {
		case sym < 256:
			buf = append(buf, byte(sym))
			continue
		case sym == 256:
			return buf
		case sym > 285:
			refFail("invalid length symbol %d", sym)
		}
		i := sym - 257
		n := refLenBase[i] + b.bits(refLenExtra[i])
		ds := dist.decode(b)
		if ds >= 30 {
			refFail("invalid distance symbol %d", ds)
		}
		d := refDistBase[ds] + b.bits(refDistExtra[ds])
		if d > window {
			panic(refError(fmt.Sprintf("%v: distance %d, window %d", errRefFar, d, window)))
		}
		if d > len(buf) {
			refFail("distance %d before the start of history (%d bytes)", d, len(buf))
		}
		for range n {
			buf = append(buf, buf[len(buf)-d])
		}
	}
}
