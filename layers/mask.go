package layers

import (
	"encoding/binary"
	"io"
	"math/bits"
	"runtime"
	"unsafe"
)

// Mask XORs b in place with the 4-byte key, starting at key position pos
// (0-3), and returns the key position after b. Masking and unmasking are the
// same operation (RFC 6455 section 5.3). It works on whole words: 32- or
// 16-byte vectors on amd64, 8-byte words elsewhere.
func Mask(key [4]byte, pos int, b []byte) int {
	return MaskCopy(b, b, key, pos)
}

// MaskCopy writes src XOR key into dst, starting at key position pos, and
// returns the key position after src. dst must be at least as long as src;
// dst and src may be the same slice. This is how a client masks a payload
// without mutating the caller's slice.
func MaskCopy(dst, src []byte, key [4]byte, pos int) int {
	// One call, small enough to inline: on amd64 it is all assembly
	// (mask_amd64.s), which is what lets 128 bytes go near the speed of a
	// copy.
	n := len(src)
	return maskBytes(unsafe.SliceData(dst[:n]), unsafe.SliceData(src), n, binary.LittleEndian.Uint32(key[:]), pos)
}

// keyWord is the 8-byte key word for masking from key position pos, given
// the key as a little-endian word: byte j masks payload bytes j, j+8, ...
func keyWord(key uint32, pos int) uint64 {
	k32 := bits.RotateLeft32(key, -8*(pos&3))
	return uint64(k32)<<32 | uint64(k32)
}

// maskWords is MaskCopy in Go, on 8-byte words; len(dst) == len(src), and
// key is the little-endian word of the key's four bytes.
func maskWords(dst, src []byte, key uint32, pos int) int {
	n := len(src)
	k := keyWord(key, pos)
	i := 0
	if n >= 8 {
		if unalignedWordsOK {
			// Fast path (about 1.6x at 4 KiB on amd64): 8-byte words
			// through unsafe pointers, 64 bytes per iteration, with
			// none of the bounds checks and slice bookkeeping of the
			// portable loop below. Every word touched lies inside
			// dst[:n] and src[:n] (i+64 <= n, then i+8 <= n).
			// unalignedWordsOK holds only on little-endian
			// architectures, so a native load equals a little-endian
			// one and k is in the right byte order.
			d := unsafe.Pointer(unsafe.SliceData(dst))
			s := unsafe.Pointer(unsafe.SliceData(src))
			for ; i+64 <= n; i += 64 {
				dp, sp := unsafe.Add(d, i), unsafe.Add(s, i)
				*(*uint64)(dp) = *(*uint64)(sp) ^ k
				*(*uint64)(unsafe.Add(dp, 8)) = *(*uint64)(unsafe.Add(sp, 8)) ^ k
				*(*uint64)(unsafe.Add(dp, 16)) = *(*uint64)(unsafe.Add(sp, 16)) ^ k
				*(*uint64)(unsafe.Add(dp, 24)) = *(*uint64)(unsafe.Add(sp, 24)) ^ k
				*(*uint64)(unsafe.Add(dp, 32)) = *(*uint64)(unsafe.Add(sp, 32)) ^ k
				*(*uint64)(unsafe.Add(dp, 40)) = *(*uint64)(unsafe.Add(sp, 40)) ^ k
				*(*uint64)(unsafe.Add(dp, 48)) = *(*uint64)(unsafe.Add(sp, 48)) ^ k
				*(*uint64)(unsafe.Add(dp, 56)) = *(*uint64)(unsafe.Add(sp, 56)) ^ k
			}
			for ; i+8 <= n; i += 8 {
				*(*uint64)(unsafe.Add(d, i)) = *(*uint64)(unsafe.Add(s, i)) ^ k
			}
		} else {
			i = maskWordsPortable(dst, src, k)
		}
		// Whole words keep the key position unchanged.
	}
	for ; i < n; i++ {
		dst[i] = src[i] ^ byte(k>>(8*(i&7)))
	}
	return (pos + n) & 3
}

// maskWordsPortable XORs the whole 8-byte words of src with the
// little-endian key word k into dst and returns how many bytes it did.
func maskWordsPortable(dst, src []byte, k uint64) int {
	i := 0
	for ; i+8 <= len(src); i += 8 {
		binary.LittleEndian.PutUint64(dst[i:], binary.LittleEndian.Uint64(src[i:])^k)
	}
	return i
}

// unalignedWordsOK reports whether MaskCopy may use its unsafe fast path:
// the architecture is little-endian and loads and stores 8-byte words at
// any address cheaply and safely. Elsewhere MaskCopy uses encoding/binary.
const unalignedWordsOK = runtime.GOARCH == "amd64" || runtime.GOARCH == "arm64" ||
	runtime.GOARCH == "386" || runtime.GOARCH == "ppc64le"

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
// mutating the caller's slice: it masks into its own buffer. A Masker not
// made by NewMasker gets a 4 KiB buffer at its first Write.
//
// It is for a layer that writes a frame's payload as a stream of its own
// after the header. The library's writers do not use it, because they build
// whole frames in a buffer they already have (FrameWriter's, a connection's
// pooled frame buffers): EncodeFrame masks the payload there while copying
// it in, or in place, so header and payload leave in one write, with no
// second buffer and no second pass over the bytes.
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
	// A Masker not made by NewMasker has no scratch buffer yet; with
	// none, every chunk would be empty and the loop below would never
	// end. It gets the buffer NewMasker gives by default.
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
