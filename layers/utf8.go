package layers

import (
	"encoding/binary"
	"io"
)

// UTF8Validator checks UTF-8 incrementally: feed it a message in pieces of
// any size and it fails on the first byte that cannot be part of valid
// UTF-8, so a code point split across fragments is fine but an invalid byte
// is caught as soon as it arrives. Its state is three bytes.
type UTF8Validator struct {
	need   byte // continuation bytes still expected
	lo, hi byte // allowed range of the next continuation byte
}

// Reset forgets any partial code point.
func (v *UTF8Validator) Reset() { *v = UTF8Validator{} }

// Complete reports whether the bytes fed so far end on a code point boundary.
func (v *UTF8Validator) Complete() bool { return v.need == 0 }

// Valid feeds p and reports whether everything fed so far can still be the
// prefix of valid UTF-8. After it returns false the state is meaningless
// until Reset.
func (v *UTF8Validator) Valid(p []byte) bool {
	need, lo, hi := v.need, v.lo, v.hi
	for len(p) > 0 {
		if need == 0 {
			// ASCII runs are checked a word at a time.
			for len(p) >= 8 && binary.LittleEndian.Uint64(p)&0x8080808080808080 == 0 {
				p = p[8:]
			}
			if len(p) == 0 {
				break
			}
			c := p[0]
			p = p[1:]
			lo, hi = 0x80, 0xBF
			switch {
			case c < 0x80:
				continue
			case c < 0xC2: // continuation byte or overlong 2-byte lead
				return false
			case c < 0xE0:
				need = 1
			case c == 0xE0: // no overlong 3-byte forms
				need, lo = 2, 0xA0
			case c == 0xED: // no surrogates
				need, hi = 2, 0x9F
			case c < 0xF0:
				need = 2
			case c == 0xF0: // no overlong 4-byte forms
				need, lo = 3, 0x90
			case c < 0xF4:
				need = 3
			case c == 0xF4: // nothing above U+10FFFF
				need, hi = 3, 0x8F
			default:
				return false
			}
			continue
		}
		c := p[0]
		p = p[1:]
		if c < lo || c > hi {
			return false
		}
		need--
		lo, hi = 0x80, 0xBF
	}
	v.need, v.lo, v.hi = need, lo, hi
	return true
}

// ValidUTF8 reports whether b is entirely valid UTF-8.
func ValidUTF8(b []byte) bool {
	var v UTF8Validator
	return v.Valid(b) && v.Complete()
}

// UTF8Reader passes reads through from R and fails with an error matching
// ErrInvalidUTF8 as soon as the bytes read are not valid UTF-8, or at EOF if
// they end inside a code point.
type UTF8Reader struct {
	R   io.Reader
	v   UTF8Validator
	err error
}

// NewUTF8Reader returns a UTF8Reader reading from r.
func NewUTF8Reader(r io.Reader) *UTF8Reader { return &UTF8Reader{R: r} }

// Reset re-arms u for a new message read from r.
func (u *UTF8Reader) Reset(r io.Reader) {
	u.R, u.err = r, nil
	u.v.Reset()
}

var (
	errUTF8Invalid    error = utf8Error("invalid byte sequence")
	errUTF8Incomplete error = utf8Error("message ends inside a code point")
)

// Read reads from R and validates what it read. On an invalid byte it
// returns 0 and the error, passing on none of the bytes of that read, so
// what the caller has had is always a prefix of valid UTF-8. A message
// that ends inside a code point gets its last bytes with the error.
func (u *UTF8Reader) Read(p []byte) (int, error) {
	if u.err != nil {
		return 0, u.err
	}
	n, err := u.R.Read(p)
	if !u.v.Valid(p[:n]) {
		u.err = errUTF8Invalid
		return 0, u.err
	}
	if err == io.EOF && !u.v.Complete() {
		u.err = errUTF8Incomplete
		return n, u.err
	}
	return n, err
}
