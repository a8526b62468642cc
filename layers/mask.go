package layers

import (
	"encoding/binary"
	"io"
	"math/bits"
)

// Mask XORs b in place with the 4-byte key, starting at key position pos
// (0-3), and returns the key position after b. Masking and unmasking are the
// same operation (RFC 6455 section 5.3). It works on 8-byte words.
func Mask(key [4]byte, pos int, b []byte) int {
	return MaskCopy(b, b, key, pos)
}

// MaskCopy writes src XOR key into dst, starting at key position pos, and
// returns the key position after src. dst must be at least as long as src;
// dst and src may be the same slice. This is how a client masks a payload
// without mutating the caller's slice.
func MaskCopy(dst, src []byte, key [4]byte, pos int) int {
	n := len(src)
	dst = dst[:n]
	if n >= 8 {
		k32 := bits.RotateLeft32(binary.LittleEndian.Uint32(key[:]), -8*(pos&3))
		k := uint64(k32)<<32 | uint64(k32)
		for len(src) >= 32 {
			d := dst[:32]
			s := src[:32]
			binary.LittleEndian.PutUint64(d[0:], binary.LittleEndian.Uint64(s[0:])^k)
			binary.LittleEndian.PutUint64(d[8:], binary.LittleEndian.Uint64(s[8:])^k)
			binary.LittleEndian.PutUint64(d[16:], binary.LittleEndian.Uint64(s[16:])^k)
			binary.LittleEndian.PutUint64(d[24:], binary.LittleEndian.Uint64(s[24:])^k)
			dst, src = dst[32:], src[32:]
		}
		for len(src) >= 8 {
			binary.LittleEndian.PutUint64(dst, binary.LittleEndian.Uint64(src)^k)
			dst, src = dst[8:], src[8:]
		}
		// Whole words keep the key position unchanged.
	}
	for i := range src {
		dst[i] = src[i] ^ key[(pos+i)&3]
	}
	return (pos + n) & 3
}

// Unmasker is an io.Reader that unmasks what it reads from R in place, in
// the caller's buffer, keeping its key position across short reads. It is
// the masking analogue of crypto/cipher.StreamReader.
type Unmasker struct {
	R   io.Reader
	key [4]byte
	pos int
}

// NewUnmasker returns an Unmasker reading from r with key.
func NewUnmasker(r io.Reader, key [4]byte) *Unmasker {
	return &Unmasker{R: r, key: key}
}

// Reset re-arms u for a new frame: source r, key, position 0.
func (u *Unmasker) Reset(r io.Reader, key [4]byte) {
	u.R, u.key, u.pos = r, key, 0
}

// Read reads from R and unmasks the bytes read.
func (u *Unmasker) Read(p []byte) (int, error) {
	n, err := u.R.Read(p)
	u.pos = MaskCopy(p[:n], p[:n], u.key, u.pos)
	return n, err
}

// Masker is an io.Writer that masks what it writes to W with a key, without
// mutating the caller's slice: it masks into its own buffer.
type Masker struct {
	W   io.Writer
	key [4]byte
	pos int
	buf []byte
}

// NewMasker returns a Masker writing to w with key, using buf (any non-zero
// length, 4 KiB if nil) as its scratch space.
func NewMasker(w io.Writer, key [4]byte, buf []byte) *Masker {
	if len(buf) == 0 {
		buf = make([]byte, 4096)
	}
	return &Masker{W: w, key: key, buf: buf}
}

// Reset re-arms m for a new frame: destination w, key, position 0.
func (m *Masker) Reset(w io.Writer, key [4]byte) {
	m.W, m.key, m.pos = w, key, 0
}

// Write masks p into the scratch buffer and writes it to W, in chunks.
func (m *Masker) Write(p []byte) (int, error) {
	// Fix: a Masker made by Reset or a struct literal rather than
	// NewMasker has no scratch buffer; chunks of 0 bytes then looped
	// forever. Give it the same default buffer NewMasker would.
	if len(m.buf) == 0 {
		m.buf = make([]byte, 4096)
	}
	written := 0
	for len(p) > 0 {
		chunk := min(len(p), len(m.buf))
		MaskCopy(m.buf, p[:chunk], m.key, m.pos)
		n, err := m.W.Write(m.buf[:chunk])
		// Only what was written advances the key.
		m.pos = (m.pos + n) & 3
		written += n
		if err != nil {
			return written, err
		}
		if n < chunk {
			return written, io.ErrShortWrite
		}
		p = p[chunk:]
	}
	return written, nil
}
