package layers

// Window is a connection's LZ77 history for permessage-deflate context
// takeover (RFC 7692 section 7.2.3): the last bytes of uncompressed data, up
// to its size of 1<<bits bytes. It is the only compression state a
// connection keeps between messages; the compressors and decompressors
// themselves are pooled and shared (see Deflater and Inflater).
//
// It grows only as data arrives: a connection that has sent 100 bytes holds
// about 100 bytes, never more than its size. Once full it is a ring, so a
// Write costs the bytes written, not the size of the window.
//
// A window of 8 bits is kept as 9 bits (512 bytes): zlib-based peers told
// to use 8 bits compress with 9, and an Inflater must hold what they refer
// to. A Deflater given such a window still refers back at most 1<<bits
// bytes, the bits it is given.
//
// Memory held per idle connection and direction with context takeover, after
// enough traffic to fill the window (measured by TestWindowMemory: the
// Window struct plus its buffer; the pooled compressors are shared):
//
//	bits   8/9   10    11    12    13    14     15
//	bytes  560   1072  2096  4144  8240  16432  32816
//
// (after a single 100-byte message: 148 bytes). Without context takeover
// there is no Window at all. Either way a connection also has its Deflater
// (112 bytes) and Inflater (48 bytes) structs, and holds no compressor or
// decompressor between messages.
type Window struct {
	buf  []byte // the history; once len(buf) == size, a ring starting at head
	head int    // index of the oldest byte when full
	size int    // the most bytes kept
	mods uint64 // counts changes, so a Deflater can tell its history is intact
}

// WindowBits returns bits clamped to the range a Window keeps: 9..15.
func windowBits(bits int) int { return min(max(bits, 9), 15) }

// NewWindow returns an empty window of 1<<bits bytes for bits 8..15 (8 is
// kept as 9, values out of range are clamped).
func NewWindow(bits int) *Window {
	w := new(Window)
	w.Init(bits)
	return w
}

// Init empties w and sets its size to 1<<bits bytes (bits as for
// NewWindow). It releases the buffer if the size changes.
func (w *Window) Init(bits int) {
	size := 1 << windowBits(bits)
	if size != w.size {
		w.buf = nil
	}
	w.size = size
	w.Reset()
}

// Reset forgets the history. It keeps the buffer for reuse.
func (w *Window) Reset() {
	w.buf, w.head = w.buf[:0], 0
	w.mods++
}

// Size returns the most bytes w keeps.
func (w *Window) Size() int { return w.size }

// Len returns the bytes w holds now.
func (w *Window) Len() int { return len(w.buf) }

// Cap returns the bytes w's buffer takes in memory.
func (w *Window) Cap() int { return cap(w.buf) }

// Write appends p to the history, dropping the oldest bytes beyond the
// window's size. It never fails.
func (w *Window) Write(p []byte) (int, error) {
	n := len(p)
	w.mods++
	if n >= w.size {
		// Only the last size bytes of p are kept.
		if cap(w.buf) < w.size {
			w.buf = make([]byte, w.size)
		}
		w.buf = w.buf[:w.size]
		copy(w.buf, p[n-w.size:])
		w.head = 0
		return n, nil
	}
	if len(w.buf) < w.size {
		// Still growing: append, and on overflow linearize into a full ring.
		if room := w.size - len(w.buf); n <= room {
			w.grow(len(w.buf) + n)
			w.buf = append(w.buf, p...)
			return n, nil
		}
		w.grow(w.size)
		room := w.size - len(w.buf)
		w.buf = append(w.buf, p[:room]...)
		p = p[room:]
	}
	// Full: overwrite the oldest bytes, at most two copies.
	k := copy(w.buf[w.head:], p)
	copy(w.buf, p[k:])
	w.head = (w.head + len(p)) % w.size
	return n, nil
}

// grow makes room for n bytes in buf, at least doubling it but never past
// the window's size, so filling a window costs a handful of allocations.
func (w *Window) grow(n int) {
	if n <= cap(w.buf) {
		return
	}
	c := min(max(n, 2*cap(w.buf), 64), w.size)
	buf := make([]byte, len(w.buf), c)
	copy(buf, w.buf)
	w.buf = buf
}

// Bytes returns the history, oldest byte first. When the ring has wrapped
// it rotates the buffer in place first (time proportional to the size).
// The slice is valid until the next Write or Reset.
func (w *Window) Bytes() []byte {
	if w.head != 0 {
		rotate(w.buf, w.head)
		w.head = 0
	}
	return w.buf
}

// AppendLast appends the last n bytes of history (or all of it if shorter)
// to dst, oldest first, and returns the extended slice. It does not change
// w.
func (w *Window) AppendLast(dst []byte, n int) []byte {
	n = min(n, len(w.buf))
	if n == 0 {
		return dst
	}
	// The newest byte is at head-1 (mod len); the wanted span ends there.
	end := w.head
	if end == 0 {
		end = len(w.buf)
	}
	if start := end - n; start >= 0 {
		return append(dst, w.buf[start:end]...)
	}
	start := len(w.buf) + end - n
	dst = append(dst, w.buf[start:]...)
	return append(dst, w.buf[:end]...)
}

// pieces returns the whole history, oldest first, as two slices of w's
// own buffer (the second empty unless head is past 0). It does not
// change w.
func (w *Window) pieces() (older, newer []byte) { return w.buf[w.head:], w.buf[:w.head] }

// rotate turns b left by k in place (b[k:] then b[:k]) with three
// reversals.
func rotate(b []byte, k int) {
	reverse(b[:k])
	reverse(b[k:])
	reverse(b)
}

func reverse(b []byte) {
	for i, j := 0, len(b)-1; i < j; i, j = i+1, j-1 {
		b[i], b[j] = b[j], b[i]
	}
}
