package layers

import (
	"errors"
	"io"
	"sync"
	"sync/atomic"

	"github.com/klauspost/compress/flate"
)

// ErrInvalidCompressed is a permessage-deflate message whose payload is not
// valid DEFLATE data (close code 1007, invalid payload data).
var ErrInvalidCompressed = errors.New("websocket: invalid compressed data")

type compressedError string

func (e compressedError) Error() string { return "websocket: invalid compressed data: " + string(e) }
func (e compressedError) Unwrap() error { return ErrInvalidCompressed }

// The errors an Inflater returns for bad input; all match ErrInvalidCompressed.
var (
	errCorrupt   error = compressedError("corrupt deflate stream")
	errTruncated error = compressedError("message ends inside a deflate block")
	errTrailing  error = compressedError("data after the final deflate block")
)

// Errors of the Deflater and TailCutter. They are bugs or misuse, not bad
// input, and map to close code 1011.
var (
	errNoTail         = errors.New("layers: deflate output does not end with 00 00 ff ff")
	errDeflaterClosed = errors.New("layers: write to a closed Deflater")
	errDeflateBits    = errors.New("layers: deflate window bits out of 8..15")
	errDeflateLevel   = errors.New("layers: deflate level out of -2..9")
)

// Deflate levels, as in compress/flate. DeflateDefault is the fastest
// level, as suits a network protocol.
const (
	DeflateHuffmanOnly     = -2 // entropy coding only: no back-references
	DeflateDefault         = -1 // same as DeflateBestSpeed
	DeflateNoCompression   = 0  // stored blocks
	DeflateBestSpeed       = 1
	DeflateBestCompression = 9
)

// flushTail ends every sync flush: the LEN and NLEN of an empty stored
// block. RFC 7692 section 7.2.1 removes it from each message.
var flushTail = [4]byte{0x00, 0x00, 0xff, 0xff}

// TailCutter passes writes through to W but always holds back the last 4
// bytes it was given. Close checks that they are the 00 00 ff ff a sync
// flush ends with and drops them (RFC 7692 section 7.2.1). It does not close W.
type TailCutter struct {
	W    io.Writer
	held [4]byte
	n    int // bytes in held
}

// Reset re-arms t for a new message written to w.
func (t *TailCutter) Reset(w io.Writer) { t.W, t.n = w, 0 }

// Write passes p on to W except for its last 4 bytes (counting those held
// from earlier writes).
func (t *TailCutter) Write(p []byte) (int, error) {
	if t.n+len(p) <= len(t.held) {
		t.n += copy(t.held[t.n:], p)
		return len(p), nil
	}
	if len(p) >= len(t.held) {
		if t.n > 0 {
			if _, err := t.W.Write(t.held[:t.n]); err != nil {
				return 0, err
			}
		}
		k := len(p) - len(t.held)
		if _, err := t.W.Write(p[:k]); err != nil {
			return 0, err
		}
		t.n = copy(t.held[:], p[k:])
		return len(p), nil
	}
	// A short write pushes out some of the held bytes.
	out := t.n + len(p) - len(t.held)
	if _, err := t.W.Write(t.held[:out]); err != nil {
		return 0, err
	}
	copy(t.held[:], t.held[out:t.n])
	t.n = t.n - out + copy(t.held[t.n-out:], p)
	return len(p), nil
}

// Close drops the held 00 00 ff ff, or fails if the bytes held are
// anything else.
func (t *TailCutter) Close() error {
	if t.n != len(t.held) || t.held != flushTail {
		return errNoTail
	}
	t.n = 0
	return nil
}

// deflateOutSize is the size of the chunks a Deflater hands to its
// destination: the compressor itself writes in pieces of about 250 bytes.
const deflateOutSize = 4096

// deflateOut collects the compressor's small writes into chunks for w.
type deflateOut struct {
	w   io.Writer
	buf []byte
}

func (o *deflateOut) Write(p []byte) (int, error) {
	if len(o.buf)+len(p) > cap(o.buf) {
		if err := o.flush(); err != nil {
			return 0, err
		}
		if len(p) >= cap(o.buf) {
			return o.w.Write(p)
		}
	}
	o.buf = append(o.buf, p...)
	return len(p), nil
}

func (o *deflateOut) flush() error {
	if len(o.buf) == 0 {
		return nil
	}
	_, err := o.w.Write(o.buf)
	o.buf = o.buf[:0]
	return err
}

// deflateState is the heavy, pooled part of a Deflater: a compressor, its
// output buffer and room for a copy of the dictionary. Between messages it
// holds no reference to any connection.
type deflateState struct {
	fw   *flate.Writer
	out  deflateOut
	dict []byte
	// stamp is non-zero while the state sits in its pool just as a
	// Deflater with context takeover left it after a complete message: the
	// compressor's history is then that connection's history, and the same
	// Deflater (holding the same stamp) can go on without priming it again.
	stamp uint64
}

// deflateStamps hands out stamps, unique for the life of the process.
var deflateStamps atomic.Uint64

// Compressor pools. A window below 15 bits needs klauspost's window-limited
// encoder (one algorithm, about level 5, whatever the level); 15 bits uses
// the level's encoder; levels 0 and -2 never refer back and so serve any
// window.
var (
	levelPools  [12]sync.Pool // by level+2: 15-bit windows, and levels 0 and -2
	windowPools [7]sync.Pool  // by bits-8: windows of 8..14 bits, levels 1..9
)

func deflatePool(bits, level int) *sync.Pool {
	if bits == 15 || level <= 0 {
		return &levelPools[level+2]
	}
	return &windowPools[bits-8]
}

func newDeflateState(bits, level int) *deflateState {
	st := &deflateState{out: deflateOut{buf: make([]byte, 0, deflateOutSize)}}
	var err error
	if bits == 15 || level <= 0 {
		st.fw, err = flate.NewWriter(&st.out, level)
	} else {
		st.fw, err = flate.NewWriterWindow(&st.out, 1<<bits)
	}
	if err != nil {
		panic("layers: " + err.Error()) // bits and level were checked by Reset
	}
	return st
}

// Deflater compresses one message for permessage-deflate (RFC 7692
// section 7.2.1): write the message's payload to it, then Close it. Its
// output, written to the destination in chunks of up to 4 KiB, is the
// payload to send with RSV1 set on the message's first frame: DEFLATE
// blocks ended by a sync flush whose trailing 00 00 ff ff is removed. No
// block has BFINAL set, so with context takeover the peer's inflater can
// go on from one message to the next.
//
// The compressor is taken from a shared pool when the message's first byte
// is written (or at Close, for an empty message) and goes back at Close:
// an idle connection holds none. What a connection keeps between messages
// is the Window, and only with context takeover.
//
// The window limit: no back-reference goes further than 1<<bits bytes. For
// 15 bits that is DEFLATE's own limit; for 8..14 bits klauspost's
// window-limited encoder (flate.NewWriterWindow) is used, which searches
// matches only that far back, and with context takeover the dictionary
// given to it is only the last 1<<bits bytes of history. An 8-bit window is
// honoured as 8 bits (256 bytes), not raised to 9. Tests check every
// window size with an independent decoder that rejects any longer
// distance.
//
// Cost of context takeover: a compressor taken from the pool must first be
// primed with the window, which costs about as much as compressing the
// window's bytes (some 50 µs for 32 KiB). A Deflater that gets back the
// compressor it released last, untouched, skips that, which is the common
// case for a connection sending a burst; with many busy connections
// sharing the pools, prefer windows of 10 to 12 bits for small messages.
//
// The zero value is ready for Reset.
type Deflater struct {
	tc    TailCutter
	win   *Window
	bits  int
	level int
	pool  *sync.Pool
	st    *deflateState
	err   error
	open  bool   // between Reset and Close
	stamp uint64 // of the compressor last released with our history, or 0
	mods  uint64 // win.mods when it was released
}

// Reset starts a new message compressed to dst with a window of 1<<bits
// bytes (bits 8..15) at the given level (DeflateHuffmanOnly, DeflateDefault,
// DeflateNoCompression or 1..9 as in compress/flate; the level picks the
// speed only with 15-bit windows, smaller windows use one encoder of about
// level 5). With w non-nil (context takeover) the message may refer to the
// history in w and is added to it; with w nil each message stands alone.
// Out-of-range bits or level make Write and Close fail. A compressor still
// held from an unfinished message goes back to its pool.
func (d *Deflater) Reset(dst io.Writer, w *Window, bits, level int) {
	d.release()
	d.tc.Reset(dst)
	if w != d.win {
		d.stamp = 0
	}
	d.win, d.bits, d.level, d.err, d.open = w, bits, level, nil, true
	if level == DeflateDefault {
		d.level = DeflateBestSpeed
	}
	switch {
	case bits < 8 || bits > 15:
		d.err = errDeflateBits
	case d.level < DeflateHuffmanOnly || d.level > DeflateBestCompression:
		d.err = errDeflateLevel
	default:
		d.pool = deflatePool(d.bits, d.level)
	}
}

// acquire takes a compressor from the pool and primes it with the
// dictionary, unless it is the one this Deflater released last, untouched
// since, with the window unchanged: then its state already is that history
// (priming costs about as much as compressing the window's bytes).
func (d *Deflater) acquire() {
	st, _ := d.pool.Get().(*deflateState)
	if st == nil {
		st = newDeflateState(d.bits, d.level)
	}
	resume := d.win != nil && d.stamp != 0 && st.stamp == d.stamp && d.win.mods == d.mods
	st.stamp, d.stamp = 0, 0
	st.out.w = &d.tc
	if !resume {
		var dict []byte
		if d.win != nil {
			// A copy, so the pooled compressor never points at a
			// connection's window; the encoder is given no more history
			// than its window.
			st.dict = d.win.AppendLast(st.dict[:0], 1<<d.bits)
			dict = st.dict
		}
		st.fw.ResetDict(&st.out, dict)
	}
	d.st = st
}

// release returns the compressor to its pool.
func (d *Deflater) release() {
	if d.st == nil {
		return
	}
	d.st.out.w = nil
	d.st.out.buf = d.st.out.buf[:0]
	d.pool.Put(d.st)
	d.st = nil
}

// Write compresses p. Compressed bytes reach the destination as the
// compressor produces them, in chunks of up to 4 KiB; the rest comes at
// Close.
func (d *Deflater) Write(p []byte) (int, error) {
	if d.err != nil {
		return 0, d.err
	}
	if !d.open {
		return 0, errDeflaterClosed
	}
	if len(p) == 0 {
		return 0, nil
	}
	if d.st == nil {
		d.acquire()
	}
	n, err := d.st.fw.Write(p)
	if d.win != nil {
		d.win.Write(p[:n])
	}
	if err != nil {
		d.err = err
		d.release()
	}
	return n, err
}

// Close ends the message: a sync flush, the trailing 00 00 ff ff cut off,
// everything written to the destination (which is not closed), and the
// compressor returned to its pool. An empty message comes out as the single
// byte 0x00 (RFC 7692 section 7.2.3.6). Closing again returns the first
// result.
func (d *Deflater) Close() error {
	if !d.open {
		return d.err
	}
	d.open = false
	if d.err != nil {
		d.release()
		return d.err
	}
	if d.st == nil {
		d.acquire()
	}
	err := d.st.fw.Flush()
	if err == nil {
		err = d.st.out.flush()
	}
	if err == nil {
		err = d.tc.Close()
	}
	if err == nil && d.win != nil {
		// The compressor's history is now exactly ours: mark it, so that
		// if the pool hands it back to us untouched we can go on with it.
		d.stamp = deflateStamps.Add(1)
		d.st.stamp, d.mods = d.stamp, d.win.mods
	}
	d.release()
	d.err = err
	return err
}
