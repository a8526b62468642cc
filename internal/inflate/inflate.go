// Package inflate decodes DEFLATE streams (RFC 1951), as permessage-deflate
// (RFC 7692) needs them: streaming from an io.Reader into a fixed 32 KiB
// window, resumable across Reads, allocation-free once its state exists,
// and strict.
//
// Strict means every stream RFC 1951 does not define is rejected with an
// error matching ErrCorrupt, and nothing is carried from one block or
// stream to the next except the history: every table is rebuilt for the
// block that uses it, and a distance may reach only the dictionary and the
// output so far. It accepts exactly what compress/flate accepts, including
// a code with a single one-bit code for literals and lengths (which zlib
// accepts too) as for distances (which RFC 1951 allows).
//
// A Decoder is large (about 50 KiB): keep them in a pool, not one per
// connection.
package inflate

import (
	"errors"
	"io"
)

// ErrCorrupt matches every error for a stream that is not valid DEFLATE
// data. A stream that ends early fails with io.ErrUnexpectedEOF instead.
var ErrCorrupt = errors.New("inflate: corrupt DEFLATE stream")

// corruptError says what is wrong with a stream; it matches ErrCorrupt.
type corruptError struct{ why string }

func (e *corruptError) Error() string { return "inflate: corrupt DEFLATE stream: " + e.why }
func (e *corruptError) Unwrap() error { return ErrCorrupt }

// The ways a stream can be corrupt.
var (
	errBlockType      error = &corruptError{"reserved block type"}
	errStoredLen      error = &corruptError{"stored block length does not match its complement"}
	errHLIT           error = &corruptError{"more than 286 literal/length codes"}
	errHDIST          error = &corruptError{"more than 30 distance codes"}
	errOverSubscribed error = &corruptError{"over-subscribed Huffman code"}
	errIncomplete     error = &corruptError{"incomplete Huffman code"}
	errEmptyCode      error = &corruptError{"empty Huffman code"}
	errNoPrevious     error = &corruptError{"code length repeated with no previous length"}
	errRepeatPast     error = &corruptError{"code length repeat past the last code"}
	errNoEnd          error = &corruptError{"no code for the end of block"}
	errLitCode        error = &corruptError{"invalid literal/length code"}
	errDistCode       error = &corruptError{"invalid distance code"}
	errDistance       error = &corruptError{"distance beyond the history"}
)

// blockState is where a Decoder is in the stream.
type blockState uint8

const (
	stateHeader  blockState = iota // next: a block header
	stateStored                    // inside a stored block
	stateHuffman                   // inside a Huffman-coded block
	stateEnd                       // after the final block
)

// Decoder decodes one DEFLATE stream at a time. Reset it with the source
// and the dictionary, then Read until io.EOF, which comes right after the
// final block (BFINAL). Errors are sticky: ErrCorrupt for bad data,
// io.ErrUnexpectedEOF for a stream cut short, the source's own error
// otherwise.
//
// It reads from its source in chunks of up to 4 KiB, but only when it
// needs more input; Unused tells how many of the bytes it read lie past
// the end of the stream.
//
// A Read decodes at most 32 KiB beyond what it returns. The zero value is
// ready for Reset.
type Decoder struct {
	in    bitReader
	out   history
	state blockState
	final bool // the current block has BFINAL set

	matchLen  int // bytes left of a match cut by the end of the window
	matchDist int
	stored    int // bytes left of a stored block

	// The current block's tables: the fixed ones or litTab and distTab.
	lit  *litTable
	dist *distTable

	err error

	lengths [maxLit + maxDist]uint8 // code lengths of a dynamic block
	litTab  litTable
	distTab distTable
	clTab   clTable
}

// Reset starts a new stream read from src, whose distances may reach into
// dict (its last 32 KiB), which is copied.
func (d *Decoder) Reset(src io.Reader, dict []byte) { d.ResetSplit(src, nil, dict) }

// ResetSplit is Reset with the dictionary in two pieces, older then newer
// (a ring buffer's two halves), so the caller need not join them first.
func (d *Decoder) ResetSplit(src io.Reader, older, newer []byte) {
	d.in.reset(src)
	d.out.reset(older, newer)
	d.state, d.final = stateHeader, false
	d.matchLen, d.matchDist, d.stored = 0, 0, 0
	d.lit, d.dist = nil, nil
	d.err = nil
}

// Read reads decoded bytes, io.EOF after the final block.
func (d *Decoder) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	for {
		if d.out.pending() {
			return d.out.read(p), nil
		}
		if d.err != nil {
			return 0, d.err
		}
		d.out.wrap()
		d.decode()
	}
}

// Unused returns the number of bytes read from the source that are not
// part of the stream: after io.EOF, what followed the final block.
func (d *Decoder) Unused() int { return d.in.unused() }

// decode decodes until the window is full, the stream ends or fails.
func (d *Decoder) decode() {
	for d.err == nil && d.out.room() > 0 {
		switch d.state {
		case stateHeader:
			d.err = d.header()
		case stateStored:
			d.err = d.storedBlock()
		case stateHuffman:
			d.err = d.huffmanBlock()
		case stateEnd:
			d.err = io.EOF
		}
	}
}

// endBlock moves on after a block.
func (d *Decoder) endBlock() {
	if d.final {
		d.state = stateEnd
	} else {
		d.state = stateHeader
	}
}
