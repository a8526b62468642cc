package inflate

import (
	"encoding/binary"
	"io"
)

// inBufSize is the input buffer: what one Read of the source may fill.
const inBufSize = 4096

// maxEmptyReads is how many reads in a row may return nothing and no error
// before the source is taken as stuck (io.ErrNoProgress), as bufio does.
const maxEmptyReads = 100

// bitReader is the decoder's input: bytes read from src into buf, taken
// into a 64-bit buffer of bits, least significant first (RFC 1951 section
// 3.1.1).
//
// The bits of bits above nb are either zero or the input bytes at
// buf[pos:] themselves: refill loads 8 bytes at once but counts only the
// whole bytes that fit, and adding a byte later ORs the same bits again.
// So the bytes read from src but not used are exactly end-pos plus nb/8.
//
// It reads from src only when it has no byte left, so it never reads far
// past the bits the decoder asks for.
type bitReader struct {
	bits uint64 // next input bits, least significant first
	nb   uint   // bits counted in bits
	pos  int    // next byte of buf to take into bits
	end  int    // end of the bytes read into buf
	src  io.Reader
	err  error // src's error, io.EOF once it ended; returned once buf is used up
	buf  [inBufSize]byte
}

func (br *bitReader) reset(src io.Reader) {
	br.bits, br.nb, br.pos, br.end = 0, 0, 0, 0
	br.src, br.err = src, nil
}

// unused returns the number of bytes read from src that the bits taken so
// far do not reach into.
func (br *bitReader) unused() int { return br.end - br.pos + int(br.nb/8) }

// refill tops bits up to at least 56 counted bits from buf, which must
// hold 8 bytes from pos.
func (br *bitReader) refill() {
	br.bits |= binary.LittleEndian.Uint64(br.buf[br.pos:]) << br.nb
	br.pos += int(63-br.nb) >> 3
	br.nb |= 56
}

// want tops bits up to at least n counted bits (n at most 56), reading src
// if need be. At the end of the input it stops short without an error; it
// fails only with an error of src other than io.EOF.
func (br *bitReader) want(n uint) error {
	for br.nb < n {
		switch {
		case br.pos+8 <= br.end:
			br.refill()
		case br.pos < br.end:
			br.bits |= uint64(br.buf[br.pos]) << br.nb
			br.pos++
			br.nb += 8
		default:
			if err := br.read(); err != nil {
				if err == io.EOF {
					return nil
				}
				return err
			}
		}
	}
	return nil
}

// need is want, but the end of the input before n bits is an error:
// io.ErrUnexpectedEOF. Having the bits already is the inlined case.
func (br *bitReader) need(n uint) error {
	if br.nb >= n {
		return nil
	}
	return br.needMore(n)
}

func (br *bitReader) needMore(n uint) error {
	if err := br.want(n); err != nil {
		return err
	}
	if br.nb < n {
		return io.ErrUnexpectedEOF
	}
	return nil
}

// take consumes n counted bits and returns them.
func (br *bitReader) take(n uint) uint {
	v := uint(br.bits) & (1<<n - 1)
	br.bits >>= n
	br.nb -= n
	return v
}

// alignByte drops the bits up to the next byte boundary.
func (br *bitReader) alignByte() {
	br.bits >>= br.nb & 7
	br.nb &^= 7
}

// read fills buf from src; pos must be at end. It returns src's error
// (io.EOF at its end) once src gives nothing more.
func (br *bitReader) read() error {
	n, err := br.srcRead(br.buf[:])
	br.pos, br.end = 0, n
	return err
}

// srcRead reads at least one byte from src into p, or fails with src's
// error (kept, and returned again by later calls).
func (br *bitReader) srcRead(p []byte) (int, error) {
	if br.err != nil {
		return 0, br.err
	}
	for range maxEmptyReads {
		n, err := br.src.Read(p)
		if err != nil {
			br.err = err
		}
		if n > 0 {
			return n, nil
		}
		if err != nil {
			return 0, err
		}
	}
	br.err = io.ErrNoProgress
	return 0, br.err
}

// readBytes fills p with the next bytes of the input, which must start at
// a byte boundary: the whole bytes counted in bits first, then buf, then
// straight from src into p. At the end of the input it fails with
// io.ErrUnexpectedEOF.
func (br *bitReader) readBytes(p []byte) error {
	for len(p) > 0 && br.nb > 0 {
		p[0] = byte(br.take(8))
		p = p[1:]
	}
	if br.nb == 0 {
		br.bits = 0
	}
	n := copy(p, br.buf[br.pos:br.end])
	br.pos += n
	p = p[n:]
	for len(p) > 0 {
		n, err := br.srcRead(p)
		if err != nil {
			return noEOF(err)
		}
		p = p[n:]
	}
	return nil
}

// noEOF turns the end of the input, where more was needed, into
// io.ErrUnexpectedEOF.
func noEOF(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}
