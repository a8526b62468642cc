package pipeline

import (
	"github.com/wspipe/wspipe/handshake"
	"github.com/wspipe/wspipe/layers"
)

// Compression turns on permessage-deflate (RFC 7692) for Accept, AcceptConn
// and Dial. Messages are compressed and decompressed by layers in the
// chain; the heavy compressor and decompressor state comes from shared
// pools for the length of one message, and a connection keeps only the
// history that context takeover needs (layers.Window, at most 32 KiB per
// direction, and only as much as has been sent).
type Compression struct {
	// Policy is the server's policy for the client's offers. Window bits
	// left at zero default to DefaultWindowBits here, not to the 15 of
	// the zero handshake.DeflatePolicy: set 15 for the largest windows.
	Policy handshake.DeflatePolicy
	// Offer is what a client offers.
	Offer handshake.DeflateOffer
	// Level is the compression level, 1 (fastest, the default) to 9, or
	// layers.DeflateHuffmanOnly.
	Level int
	// Threshold is the size under which a message is sent uncompressed;
	// zero means DefaultCompressThreshold, negative compresses every
	// non-empty message. A single message can opt out with Uncompressed.
	Threshold int
}

// DefaultCompressThreshold is the default Compression.Threshold: below it,
// the deflate framing costs more than it saves.
const DefaultCompressThreshold = 128

// DefaultWindowBits is the server's default LZ77 window, both for its own
// compressor and, for clients that allow it (browsers do), for theirs:
// 4 KiB of history per direction keeps an idle connection with context
// takeover light (a 15-bit window costs 32 KiB per direction) and
// re-priming a pooled compressor with it for each message cheap, at a
// small cost in ratio for typical messages.
const DefaultWindowBits = 12

// policy is the server policy with pipeline's defaults filled in.
func (c *Compression) policy() handshake.DeflatePolicy {
	p := c.Policy
	if p.ServerMaxWindowBits == 0 {
		p.ServerMaxWindowBits = DefaultWindowBits
	}
	if p.ClientMaxWindowBits == 0 {
		p.ClientMaxWindowBits = DefaultWindowBits
	}
	return p
}

// Uncompressed, or'ed into a MessageType given to NextWriter or
// WriteMessage, sends that message uncompressed on a connection with
// permessage-deflate.
const Uncompressed MessageType = 0x100

// deflateState is a connection's permessage-deflate state.
type deflateState struct {
	readBits, writeBits int
	readWin, writeWin   *layers.Window // nil: no context takeover that way
	level, threshold    int
	inf                 layers.Inflater
	lim                 layers.LimitReader
	def                 layers.Deflater
	// pending holds an outgoing message's first bytes while it may still
	// go uncompressed (the message writer's modePending).
	pending []byte
}

// newDeflateState sets up compression for role with the negotiated params.
func newDeflateState(role layers.Role, p handshake.DeflateParams, cfg *Compression) *deflateState {
	d := &deflateState{level: cfg.Level, threshold: cfg.Threshold}
	if d.level == 0 {
		d.level = layers.DeflateDefault
	}
	if d.threshold == 0 {
		d.threshold = DefaultCompressThreshold
	}
	if d.threshold < 0 {
		d.threshold = 1
	}
	// What we compress goes the way of our role; what we inflate, the other.
	writeBits, writeNoCtx := p.ServerMaxWindowBits, p.ServerNoContextTakeover
	readBits, readNoCtx := p.ClientMaxWindowBits, p.ClientNoContextTakeover
	if role == layers.RoleClient {
		writeBits, readBits = readBits, writeBits
		writeNoCtx, readNoCtx = readNoCtx, writeNoCtx
	}
	d.writeBits, d.readBits = writeBits, readBits
	if !writeNoCtx {
		d.writeWin = layers.NewWindow(writeBits)
	}
	if !readNoCtx {
		d.readWin = layers.NewWindow(readBits)
	}
	return d
}

// findDeflate returns the accepted permessage-deflate extension, if any.
func findDeflate(exts []handshake.Extension) (handshake.Extension, bool) {
	for _, e := range exts {
		if e.Name == "permessage-deflate" {
			return e, true
		}
	}
	return handshake.Extension{}, false
}

// wireLimit is the bound on a compressed message's wire payload when the
// message limit is max. The exact limit applies to the inflated bytes; the
// wire bound only stops a peer from streaming compressed input without end.
// It must admit every valid encoding of a message within max: stored
// blocks add 5 bytes per 64 KiB, but Huffman-coded literals can take up to
// 15 bits a byte (a fixed-code block of random bytes takes about 8.5; zlib
// with a small window cannot fall back to stored blocks), so it is twice
// max, plus room for block headers.
func wireLimit(max int64) int64 {
	if max > 1<<61 {
		return 1 << 62
	}
	return 2*max + 4096
}
