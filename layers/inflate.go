package layers

import (
	"io"
	"sync"

	"github.com/wspipe/wspipe/internal/inflate"
)

// inflateTail follows every message's payload into the decompressor: the
// 00 00 ff ff that RFC 7692 section 7.2.2 appends (completing the empty
// stored block of the sender's sync flush), then an empty final stored
// block, so a message that ends properly ends the DEFLATE stream cleanly
// and one cut inside a block does not.
var inflateTail = [...]byte{0x00, 0x00, 0xff, 0xff, 0x01, 0x00, 0x00, 0xff, 0xff}

// emptyTail replaces it for an empty payload, which is taken as an empty
// message: the 0x00 byte an empty compressed message should have been
// (RFC 7692 section 7.2.3.6), then the same tail.
var emptyTail = [...]byte{0x00, 0x00, 0x00, 0xff, 0xff, 0x01, 0x00, 0x00, 0xff, 0xff}

// msgSource yields one message's compressed payload from src, then the tail.
type msgSource struct {
	src    io.Reader
	n      int64  // payload bytes read from src
	srcEOF bool   // src is exhausted
	tail   []byte // the tail to give once srcEOF
	given  int    // tail bytes given
	err    error  // src's error, other than io.EOF
	one    [1]byte
}

func (m *msgSource) reset(src io.Reader) {
	*m = msgSource{src: src}
}

func (m *msgSource) Read(p []byte) (int, error) {
	if !m.srcEOF {
		n, err := m.src.Read(p)
		m.n += int64(n)
		switch {
		case err == io.EOF:
			m.endOfSource()
			if n > 0 {
				return n, nil
			}
		case err != nil:
			m.err = err
			return n, err
		default:
			return n, nil
		}
	}
	if m.given == len(m.tail) {
		return 0, io.EOF
	}
	n := copy(p, m.tail[m.given:])
	m.given += n
	return n, nil
}

func (m *msgSource) endOfSource() {
	m.srcEOF = true
	if m.n == 0 {
		m.tail = emptyTail[:]
	} else {
		m.tail = inflateTail[:]
	}
}

// atEnd reports whether src has nothing left, reading at most one byte.
func (m *msgSource) atEnd() (bool, error) {
	for i := 0; !m.srcEOF; i++ {
		n, err := m.src.Read(m.one[:])
		switch {
		case n > 0:
			return false, nil
		case err == io.EOF:
			m.endOfSource()
		case err != nil:
			m.err = err
			return false, err
		case i >= 100:
			return false, io.ErrNoProgress
		}
	}
	return true, nil
}

// inflateState is the heavy, pooled part of an Inflater: a decoder (with
// its own 32 KiB history and input buffer) and its source. Between
// messages it holds no reference to any connection.
type inflateState struct {
	dec inflate.Decoder
	in  msgSource
}

var inflatePool sync.Pool

// Inflater decompresses one permessage-deflate message (RFC 7692 section
// 7.2.2): Reset it with the message's payload (RSV1 was set on its first
// frame), then Read the uncompressed bytes until io.EOF.
//
// The decompressor is taken from a shared pool at the first Read and goes
// back when the message ends (io.EOF or an error): an idle connection holds
// none. With context takeover the connection keeps only its Window, which
// the Inflater gives the decompressor as dictionary and extends with what
// it reads.
//
// It never runs far ahead of its reader: a Read decodes at most one
// decompressor history (32 KiB) beyond what it returns, so a size limit
// placed on top (a LimitReader) stops a decompression bomb after about
// limit + 32 KiB of output.
//
// Outcomes: bad DEFLATE data, a payload that ends inside a block, or
// payload bytes after a block with BFINAL set fail with an error matching
// ErrInvalidCompressed (close code 1007); an error from src is returned as
// it is. A message ending with a final block (BFINAL, which RFC 7692 allows)
// is fine; the next message starts a new DEFLATE stream with the same
// history. An empty payload is read as an empty message.
//
// The zero value is ready for Reset.
type Inflater struct {
	src io.Reader
	win *Window
	st  *inflateState
	err error // sticky: io.EOF at the end of the message
}

// NewInflater returns an Inflater reading the message in src with history
// w (nil: no context takeover).
func NewInflater(src io.Reader, w *Window) *Inflater {
	z := new(Inflater)
	z.Reset(src, w)
	return z
}

// Reset re-arms z for a message whose compressed payload is read from src
// until io.EOF. With w non-nil (context takeover) w is the history the
// message may refer to, and what is read is added to it; its size must be
// at least the peer's window (1<<bits for the negotiated bits; NewWindow
// does this, taking 8 as 9). A decompressor still held from an unfinished
// message goes back to the pool; Reset(nil, nil) only does that.
func (z *Inflater) Reset(src io.Reader, w *Window) {
	z.release()
	z.src, z.win, z.err = src, w, nil
	if src == nil {
		z.err = io.EOF
	}
}

func (z *Inflater) acquire() {
	st, _ := inflatePool.Get().(*inflateState)
	if st == nil {
		st = new(inflateState)
	}
	st.in.reset(z.src)
	var older, newer []byte
	if z.win != nil {
		// The decoder copies the dictionary at once, so the window's
		// own buffer is lent, in its ring's two pieces.
		older, newer = z.win.pieces()
	}
	st.dec.ResetSplit(&st.in, older, newer)
	z.st = st
}

func (z *Inflater) release() {
	if z.st == nil {
		return
	}
	z.st.in.reset(nil)
	z.st.dec.Reset(nil, nil) // drops the source's error, if any
	inflatePool.Put(z.st)
	z.st = nil
}

// Read reads uncompressed bytes of the message, io.EOF at its end.
func (z *Inflater) Read(p []byte) (int, error) {
	if z.err != nil {
		return 0, z.err
	}
	if len(p) == 0 {
		return 0, nil
	}
	if z.st == nil {
		if z.src == nil { // the zero value
			return 0, io.EOF
		}
		z.acquire()
	}
	n, err := z.st.dec.Read(p)
	if n > 0 && z.win != nil {
		z.win.Write(p[:n])
	}
	if err != nil {
		z.err = z.finish(err)
		z.release()
		return n, z.err
	}
	return n, nil
}

// finish turns the decoder's final error into the message's outcome.
func (z *Inflater) finish(err error) error {
	in := &z.st.in
	if in.err != nil {
		return in.err // src failed: pass its error on
	}
	switch err {
	case io.EOF:
	case io.ErrUnexpectedEOF:
		return errTruncated
	default:
		return errCorrupt
	}
	// The stream ended at a final block. Only bytes of our tail may be
	// left of what the decoder read.
	if z.st.dec.Unused() > in.given {
		return errTrailing
	}
	end, err := in.atEnd()
	if err != nil {
		return err
	}
	if !end {
		return errTrailing
	}
	return io.EOF
}
