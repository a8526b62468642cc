package inflate

// histSize is the DEFLATE window: the farthest a distance reaches back
// (RFC 1951 section 2).
const histSize = 1 << 15

// history is the decoder's output and window in one ring: bytes are
// decoded into buf at w, handed to the reader from r, and stay as history
// for back-references until overwritten one lap later. Decoding stops at
// the end of buf until the reader has taken everything, so the decoder is
// never more than histSize bytes ahead of its reader.
type history struct {
	w    int  // where the next byte goes
	r    int  // first byte not yet given to the reader
	full bool // buf has been filled once: all of it is history
	buf  [histSize]byte
}

// reset starts an empty stream over the dictionary older then newer (its
// last histSize bytes).
func (h *history) reset(older, newer []byte) {
	if len(newer) >= histSize {
		older, newer = nil, newer[len(newer)-histSize:]
	} else if len(older)+len(newer) > histSize {
		older = older[len(older)+len(newer)-histSize:]
	}
	h.w = copy(h.buf[:], older)
	h.w += copy(h.buf[h.w:], newer)
	h.r = h.w
	h.full = false
}

// read gives the decoded bytes not yet read to p.
func (h *history) read(p []byte) int {
	n := copy(p, h.buf[h.r:h.w])
	h.r += n
	return n
}

// pending reports whether decoded bytes wait for the reader.
func (h *history) pending() bool { return h.r < h.w }

// wrap starts the next lap once buf is full and read.
func (h *history) wrap() {
	if h.w == histSize && h.r == h.w {
		h.w, h.r, h.full = 0, 0, true
	}
}

// reaches reports whether a distance stays within the history: the
// dictionary and the output so far, at most histSize bytes.
func (h *history) reaches(dist int) bool { return dist <= h.w || h.full }

// copyMatch copies length bytes from dist back (which reaches) to w, as
// many as fit before the end of buf, and returns how many it copied. The
// source may wrap around the ring and overlap the destination.
func (h *history) copyMatch(dist, length int) int {
	length = min(length, histSize-h.w)
	src := h.w - dist
	if src < 0 {
		src += histSize
	}
	switch {
	case src < h.w:
		// The source ends where the copy starts: copy it, then the
		// doubled run, and so on, a whole number of periods each time but
		// the last (one pass when dist >= length).
		end := h.w + length
		for w := h.w; w < end; {
			w += copy(h.buf[w:end], h.buf[src:w])
		}
	case src+length <= histSize:
		// A source ahead, from the last lap: one piece, and no byte
		// copied is a byte written before it is read.
		copy(h.buf[h.w:h.w+length], h.buf[src:src+length])
	default:
		// The source wraps around the ring (rare: only across a lap).
		for i := range length {
			h.buf[h.w+i] = h.buf[(src+i)&(histSize-1)]
		}
	}
	h.w += length
	return length
}

// writeByte appends a literal; buf must have room.
func (h *history) writeByte(c byte) {
	h.buf[h.w] = c
	h.w++
}

// room returns the bytes left before the end of buf.
func (h *history) room() int { return histSize - h.w }
