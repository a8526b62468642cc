package inflate

import "encoding/binary"

// maxMatch is the longest match (RFC 1951 section 3.2.5).
const maxMatch = 258

// clOrder is the order of the code-length code lengths in a dynamic block
// header (RFC 1951 section 3.2.7).
var clOrder = [numCLCodes]uint8{16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15}

// header reads a block header (RFC 1951 section 3.2.3) and whatever
// precedes the block's data: a stored block's lengths, a dynamic block's
// codes.
func (d *Decoder) header() error {
	in := &d.in
	if err := in.need(3); err != nil {
		return err
	}
	h := in.take(3)
	d.final = h&1 != 0
	switch h >> 1 {
	case 0:
		in.alignByte()
		if err := in.need(32); err != nil {
			return err
		}
		n := in.take(16)
		if in.take(16) != n^0xffff {
			return errStoredLen
		}
		d.stored, d.state = int(n), stateStored
	case 1:
		d.lit, d.dist, d.state = &fixedLit, &fixedDist, stateHuffman
	case 2:
		if err := d.readCodes(); err != nil {
			return err
		}
		d.lit, d.dist, d.state = &d.litTab, &d.distTab, stateHuffman
	default:
		return errBlockType
	}
	return nil
}

// readCodes reads the codes of a dynamic block (RFC 1951 section 3.2.7)
// and builds litTab and distTab from them.
func (d *Decoder) readCodes() error {
	in := &d.in
	if err := in.need(14); err != nil {
		return err
	}
	nlit := int(in.take(5)) + 257
	ndist := int(in.take(5)) + 1
	nclen := int(in.take(4)) + 4
	if nlit > maxLit {
		return errHLIT
	}
	if ndist > maxDist {
		return errHDIST
	}

	// The code-length code. Unlike the others it must be complete: a
	// single code could only ever give one length, and no valid code
	// comes of that (zlib rejects it too).
	var clLens [numCLCodes]uint8
	for i := range nclen {
		if err := in.need(3); err != nil {
			return err
		}
		clLens[clOrder[i]] = uint8(in.take(3))
	}
	if err := build(d.clTab[:], clLens[:], clSyms[:], clBits); err != nil {
		return err
	}
	if nonZero(clLens[:]) < 2 {
		return errIncomplete
	}

	// The literal/length and distance code lengths, as one sequence: a
	// repeat may run from one into the other.
	n := nlit + ndist
	lens := d.lengths[:n]
	for i := 0; i < n; {
		var e entry
		if in.pos+8 <= in.end {
			// The code is complete: every entry is a code, of at most
			// 7 bits, and 7 extra bits at most follow.
			if in.nb < 2*clBits {
				in.refill()
			}
			e = d.clTab[in.bits&(1<<clBits-1)]
			in.take(e.codeLen())
		} else {
			var err error
			if e, err = in.decodeSym(d.clTab[:], clBits); err != nil {
				return err
			}
		}
		sym := e.value()
		if sym < 16 {
			lens[i] = uint8(sym)
			i++
			continue
		}
		if err := in.need(e.extra()); err != nil {
			return err
		}
		rep := int(in.take(e.extra()))
		var l uint8
		switch sym {
		case 16:
			if i == 0 {
				return errNoPrevious
			}
			l, rep = lens[i-1], rep+3
		case 17:
			rep += 3
		default:
			rep += 11
		}
		if i+rep > n {
			return errRepeatPast
		}
		for range rep {
			lens[i] = l
			i++
		}
	}
	if lens[endOfBlock] == 0 {
		return errNoEnd
	}
	if err := build(d.litTab[:], lens[:nlit], litSyms[:], litBits); err != nil {
		return err
	}
	// An empty distance code is fine as long as no length is used: its
	// table then rejects any distance.
	if err := build(d.distTab[:], lens[nlit:], distSyms[:], distBits); err != nil && err != errEmptyCode {
		return err
	}
	return nil
}

// nonZero counts the non-zero lengths.
func nonZero(lens []uint8) int {
	n := 0
	for _, l := range lens {
		if l != 0 {
			n++
		}
	}
	return n
}

// storedBlock copies a stored block's bytes, as many as the window takes.
func (d *Decoder) storedBlock() error {
	out := &d.out
	n := min(d.stored, out.room())
	if err := d.in.readBytes(out.buf[out.w : out.w+n]); err != nil {
		return err
	}
	out.w += n
	d.stored -= n
	if d.stored == 0 {
		d.endBlock()
	}
	return nil
}

// huffmanBlock decodes a Huffman-coded block until it ends or the window
// is full: with fastLoop while input and room allow, symbol by symbol
// otherwise.
func (d *Decoder) huffmanBlock() error {
	in, out := &d.in, &d.out
	for {
		if d.matchLen > 0 {
			d.matchLen -= out.copyMatch(d.matchDist, d.matchLen)
			if d.matchLen > 0 {
				return nil // the window is full
			}
		}
		if out.room() == 0 {
			return nil
		}
		if in.pos+fastIn <= in.end && out.room() >= fastRoom {
			if err := d.fastLoop(); err != nil || d.state != stateHuffman {
				return err
			}
			continue
		}
		e, err := in.decodeSym(d.lit[:], litBits)
		if err != nil {
			return err
		}
		switch {
		case e&flagLit != 0:
			out.writeByte(byte(e.value()))
			continue
		case e&flagEnd != 0:
			d.endBlock()
			return nil
		case e&flagBad != 0:
			return errLitCode
		}
		if err := in.need(e.extra()); err != nil {
			return err
		}
		length := int(e.value() + in.take(e.extra()))
		if e, err = in.decodeSym(d.dist[:], distBits); err != nil {
			return err
		}
		if e&flagBad != 0 {
			return errDistCode
		}
		if err := in.need(e.extra()); err != nil {
			return err
		}
		dist := int(e.value() + in.take(e.extra()))
		if !out.reaches(dist) {
			return errDistance
		}
		d.matchLen, d.matchDist = length, dist
	}
}

// decodeSym reads one Huffman-coded symbol with table t, whose primary
// index is primary bits wide. Bad codes are returned for the caller to
// reject. It reads from the source only when the bits it has do not hold
// the whole code.
func (br *bitReader) decodeSym(t []entry, primary uint) (entry, error) {
	for {
		// Bits past nb are zero or the input's own, so an entry whose
		// code fits in nb bits is the right one.
		e := t[uint(br.bits)&(1<<primary-1)]
		if e&flagSub != 0 {
			e = t[e.value()+uint(br.bits>>primary)&(1<<e.extra()-1)]
		}
		if n := e.codeLen(); n <= br.nb {
			br.bits >>= n
			br.nb -= n
			return e, nil
		}
		if err := br.need(br.nb + 8); err != nil {
			return 0, err
		}
	}
}

// Margins of fastLoop: the input it may load per step (two refills), and
// the room it keeps for the literals one refill's bits can hold (56 bits,
// codes of at least one bit) plus the longest match.
const (
	fastIn   = 16
	fastRoom = maxMatch + 64
)

// fastLoop decodes symbols while the input buffer holds fastIn bytes and
// the window fastRoom, so no step needs a check for either. A refill gives
// at least 56 bits: literals are taken while 15 remain for the next code,
// and a second refill before a length tops up for the 48 bits of the
// longest length code, distance code and their extra bits. It returns at
// the end of the block, at an error, or when input or room run short.
func (d *Decoder) fastLoop() error {
	in, out := &d.in, &d.out
	bits, nb, pos, w := in.bits, in.nb, in.pos, out.w
	lit, dist := d.lit, d.dist
	buf, hist := &in.buf, &out.buf
	var err error
loop:
	for pos+fastIn <= in.end && w <= histSize-fastRoom {
		bits |= binary.LittleEndian.Uint64(buf[pos:]) << nb
		pos += int(63-nb) >> 3
		nb |= 56

		e := lit[bits&(1<<litBits-1)]
		if e&flagSub != 0 {
			e = lit[e.value()+uint(bits>>litBits)&(1<<e.extra()-1)]
		}
		for e&flagLit != 0 {
			n := e.codeLen()
			bits >>= n
			nb -= n
			hist[w] = byte(e >> valueShift)
			w++
			if nb < maxCodeLen {
				continue loop
			}
			e = lit[bits&(1<<litBits-1)]
			if e&flagSub != 0 {
				e = lit[e.value()+uint(bits>>litBits)&(1<<e.extra()-1)]
			}
		}
		// The bits of e stay where they are: the refill adds above them.
		bits |= binary.LittleEndian.Uint64(buf[pos:]) << nb
		pos += int(63-nb) >> 3
		nb |= 56
		n := e.codeLen()
		bits >>= n
		nb -= n
		if e&(flagEnd|flagBad) != 0 {
			if e&flagBad != 0 {
				err = errLitCode
			} else {
				d.endBlock()
			}
			break
		}
		n = e.extra()
		length := int(e.value() + uint(bits)&(1<<n-1))
		bits >>= n
		nb -= n

		e = dist[bits&(1<<distBits-1)]
		if e&flagSub != 0 {
			e = dist[e.value()+uint(bits>>distBits)&(1<<e.extra()-1)]
		}
		if e&flagBad != 0 {
			err = errDistCode
			break
		}
		n = e.codeLen()
		bits >>= n
		nb -= n
		n = e.extra()
		dst := int(e.value() + uint(bits)&(1<<n-1))
		bits >>= n
		nb -= n

		if src := w - dst; src >= 0 && dst >= length {
			copy(hist[w:w+length], hist[src:src+length])
			w += length
			continue
		}
		if dst > w && !out.full {
			err = errDistance
			break
		}
		out.w = w
		w += out.copyMatch(dst, length)
	}
	in.bits, in.nb, in.pos, out.w = bits, nb, pos, w
	return err
}
