package layers

import "io"

// LimitReader reads from R but fails with an error matching ErrTooBig once
// more than N bytes arrive. Unlike io.LimitedReader, which stops quietly, it
// tells a message that ends at the limit from one that goes past it: at the
// limit it reads one more byte to find out. Use it where sizes are not known
// up front, such as after decompression.
type LimitReader struct {
	R   io.Reader
	N   int64 // bytes still allowed
	one [1]byte
}

// Reset re-arms l for a new message read from r with a limit of n bytes.
func (l *LimitReader) Reset(r io.Reader, n int64) { l.R, l.N = r, n }

var errLimit error = tooBigError("message over the size limit")

// Read reads at most N bytes from R; if R has more, it returns ErrTooBig.
func (l *LimitReader) Read(p []byte) (int, error) {
	if l.N <= 0 {
		n, err := l.R.Read(l.one[:])
		if n > 0 {
			return 0, errLimit
		}
		return 0, err
	}
	if int64(len(p)) > l.N {
		p = p[:l.N]
	}
	n, err := l.R.Read(p)
	l.N -= int64(n)
	return n, err
}
