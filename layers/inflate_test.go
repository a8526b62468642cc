package layers

import (
	"bytes"
	stdflate "compress/flate"
	"errors"
	"io"
	"runtime"
	"testing"
	"testing/iotest"
)

// finalPayload compresses msg with a final block (as a sender that closes
// its compressor instead of flushing it does; RFC 7692 section 7.2.3.4
// allows it) and returns the bytes as they are.
func finalPayload(t testing.TB, dict, msg []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	fw, err := stdflate.NewWriterDict(&buf, 6, dict)
	if err != nil {
		t.Fatal(err)
	}
	fw.Write(msg)
	fw.Close()
	return buf.Bytes()
}

// inflateAll reads one message through a fresh Inflater.
func inflateAll(t testing.TB, payload []byte, w *Window) ([]byte, error) {
	t.Helper()
	var z Inflater
	z.Reset(bytes.NewReader(payload), w)
	out, err := readAll(t, &z, 777)
	if z.st != nil {
		t.Errorf("decompressor held after the message ended (%v)", err)
	}
	return out, err
}

func TestInflaterBadInput(t *testing.T) {
	msg := jsonText(newRand(10), 5000)
	var d Deflater
	good := deflateMsg(t, &d, nil, 15, 1, msg)
	cases := []struct {
		name    string
		payload []byte
		want    error
	}{
		{"reserved block type", []byte{0x07, 0x00}, errCorrupt},
		{"garbage", []byte("this is not deflate data at all"), ErrInvalidCompressed},
		{"cut in half", good[:len(good)/2], ErrInvalidCompressed},
		{"cut by one", good[:len(good)-1], ErrInvalidCompressed},
		{"stored block length mismatch", []byte{0x00, 0x05, 0x00, 0x00, 0x00, 'a'}, errCorrupt},
		{"distance before any history", dictRef(t), errCorrupt},
		{"final block then garbage", append(finalPayload(t, nil, msg), 0x42), errTrailing},
		{"final block then a whole message", append(finalPayload(t, nil, msg), good...), errTrailing},
	}
	for _, c := range cases {
		out, err := inflateAll(t, c.payload, nil)
		if !errors.Is(err, c.want) || !errors.Is(err, ErrInvalidCompressed) {
			t.Errorf("%s: %d bytes, %v; want %v", c.name, len(out), err, c.want)
		}
		if CloseCodeFor(err) != CloseInvalidPayload {
			t.Errorf("%s: close code %v", c.name, CloseCodeFor(err))
		}
	}
}

// dictRef returns a payload that refers to a dictionary it is not given.
func dictRef(t testing.TB) []byte {
	var buf bytes.Buffer
	dict := []byte("a dictionary the message will refer to")
	fw, _ := stdflate.NewWriterDict(&buf, 9, dict)
	fw.Write(dict)
	fw.Flush()
	return buf.Bytes()[:buf.Len()-4]
}

// Any bytes after a final block are caught, however few: the decoder's
// bit buffer does not swallow them.
func TestInflaterTrailingBytes(t *testing.T) {
	for _, m := range [][]byte{jsonText(newRand(13), 5000), []byte("abc"), nil} {
		for k := 1; k <= 10; k++ {
			for _, b := range []byte{0x00, 0x42, 0xff} {
				p := append(finalPayload(t, nil, m), bytes.Repeat([]byte{b}, k)...)
				if _, err := inflateAll(t, p, nil); !errors.Is(err, ErrInvalidCompressed) {
					t.Errorf("%d-byte message, %d trailing %02x bytes: %v", len(m), k, b, err)
				}
			}
		}
	}
}

func TestInflaterFinalBlock(t *testing.T) {
	r := newRand(11)
	w := NewWindow(15)
	var hist []byte
	// Messages ending with BFINAL, with context takeover: each is a new
	// DEFLATE stream over the same history.
	for i := range 5 {
		msg := jsonText(r, 300+i*1000)
		p := finalPayload(t, lastN(hist, 1<<15), msg)
		got, err := inflateAll(t, p, w)
		if err != nil || !bytes.Equal(got, msg) {
			t.Fatalf("message %d: %v", i, err)
		}
		hist = append(hist, msg...)
	}
	// A flushed message followed by a final block in the same message.
	var buf bytes.Buffer
	fw, _ := stdflate.NewWriter(&buf, 6)
	fw.Write([]byte("hello, "))
	fw.Flush()
	fw.Write([]byte("world"))
	fw.Close()
	if got, err := inflateAll(t, buf.Bytes(), nil); err != nil || string(got) != "hello, world" {
		t.Fatalf("flush then final: %q, %v", got, err)
	}
}

func TestInflaterEmptyAndSmall(t *testing.T) {
	for _, p := range [][]byte{nil, {0x00}} {
		got, err := inflateAll(t, p, nil)
		if err != nil || len(got) != 0 {
			t.Errorf("payload %x: %q, %v", p, got, err)
		}
	}
	// The RFC 7692 section 7.2.3.1 example: "Hello" in one message.
	got, err := inflateAll(t, []byte{0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00}, nil)
	if err != nil || string(got) != "Hello" {
		t.Errorf("RFC example: %q, %v", got, err)
	}
	// Section 7.2.3.2: the second "Hello" with context takeover.
	w := NewWindow(15)
	w.Write([]byte("Hello"))
	got, err = inflateAll(t, []byte{0xf2, 0x00, 0x11, 0x00, 0x00}, w)
	if err != nil || string(got) != "Hello" {
		t.Errorf("RFC takeover example: %q, %v", got, err)
	}
	if string(w.Bytes()) != "HelloHello" {
		t.Errorf("window %q", w.Bytes())
	}
	// Section 7.2.3.3: a stored block.
	got, err = inflateAll(t, []byte{0x00, 0x05, 0x00, 0xfa, 0xff, 0x48, 0x65, 0x6c, 0x6c, 0x6f, 0x00}, nil)
	if err != nil || string(got) != "Hello" {
		t.Errorf("RFC stored example: %q, %v", got, err)
	}
}

// errAfter fails with err after giving n bytes of r.
type errAfter struct {
	r   io.Reader
	n   int
	err error
}

func (e *errAfter) Read(p []byte) (int, error) {
	if e.n <= 0 {
		return 0, e.err
	}
	p = p[:min(len(p), e.n)]
	n, err := e.r.Read(p)
	e.n -= n
	return n, err
}

func TestInflaterSourceError(t *testing.T) {
	var d Deflater
	payload := deflateMsg(t, &d, nil, 15, 1, jsonText(newRand(12), 20000))
	for _, at := range []int{0, 1, len(payload) / 2, len(payload)} {
		var z Inflater
		z.Reset(&errAfter{r: bytes.NewReader(payload), n: at, err: ErrProtocol}, nil)
		_, err := readAll(t, &z, 512)
		if !errors.Is(err, ErrProtocol) || errors.Is(err, ErrInvalidCompressed) {
			t.Errorf("source fails after %d bytes: %v", at, err)
		}
		if z.st != nil {
			t.Error("decompressor held after a failure")
		}
		if _, err2 := z.Read(make([]byte, 1)); err2 != err {
			t.Errorf("error not sticky: %v then %v", err, err2)
		}
	}
	// After a final block the source is probed for more data; its error
	// still comes through.
	fp := finalPayload(t, nil, []byte("abc"))
	var z Inflater
	z.Reset(io.MultiReader(bytes.NewReader(fp), &errAfter{err: ErrTooBig}), nil)
	if _, err := readAll(t, &z, 512); !errors.Is(err, ErrTooBig) {
		t.Errorf("error after the final block: %v", err)
	}
}

func TestInflaterLifecycle(t *testing.T) {
	var d Deflater
	payload := deflateMsg(t, &d, nil, 15, 1, []byte("some text, some text, some text"))
	var z Inflater
	if n, err := z.Read(make([]byte, 10)); n != 0 || err != io.EOF {
		t.Errorf("zero Inflater: %d, %v", n, err)
	}
	z.Reset(bytes.NewReader(payload), nil)
	if z.st != nil {
		t.Error("decompressor taken before the first Read")
	}
	if n, err := z.Read(nil); n != 0 || err != nil {
		t.Errorf("empty Read: %d, %v", n, err)
	}
	buf := make([]byte, 4)
	z.Read(buf)
	if z.st == nil {
		t.Error("no decompressor while reading")
	}
	z.Reset(nil, nil)
	if z.st != nil {
		t.Error("Reset(nil, nil) kept the decompressor")
	}
	if _, err := z.Read(buf); err != io.EOF {
		t.Errorf("after Reset(nil, nil): %v", err)
	}
	z2 := NewInflater(bytes.NewReader(payload), nil)
	if got, err := readAll(t, z2, 3); err != nil || string(got) != "some text, some text, some text" {
		t.Errorf("NewInflater: %q, %v", got, err)
	}
	if _, err := z2.Read(buf); err != io.EOF {
		t.Errorf("after EOF: %v", err)
	}
}

// countReader counts the bytes read through it.
type countReader struct {
	r io.Reader
	n int64
}

func (c *countReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// bitWriter writes bits least significant first, as DEFLATE packs them.
type bitWriter struct {
	out   []byte
	acc   uint64
	nbits uint
}

func (w *bitWriter) bits(v uint64, n uint) {
	w.acc |= v << w.nbits
	w.nbits += n
	for w.nbits >= 8 {
		w.out = append(w.out, byte(w.acc))
		w.acc >>= 8
		w.nbits -= 8
	}
}

// code writes a Huffman code, which DEFLATE packs most significant bit first.
func (w *bitWriter) code(c uint64, n uint) {
	var r uint64
	for i := range n {
		r |= (c >> i & 1) << (n - 1 - i)
	}
	w.bits(r, n)
}

// bombPayload returns a permessage-deflate payload that inflates to
// 1 + matches*258 zero bytes: a fixed-Huffman block with a literal 0, then
// matches copies of (length 258, distance 1) at 13 bits each, then the end
// of block and a sync flush whose 00 00 ff ff is cut, as a sender does.
// Every input byte decodes to the same amount, so what the decoder consumed
// tells what it inflated.
func bombPayload(matches int) []byte {
	w := bitWriter{out: make([]byte, 0, matches*13/8+16)}
	w.bits(0, 1)    // BFINAL 0
	w.bits(1, 2)    // fixed Huffman
	w.code(0x30, 8) // literal 0
	for range matches {
		w.code(0xC5, 8) // length symbol 285: 258
		w.code(0, 5)    // distance symbol 0: 1
	}
	w.code(0, 7) // end of block
	w.bits(0, 3) // empty stored block header of the flush
	w.bits(0, 7) // pad to a byte
	return w.out
}

// bombInflated is what the first n bytes of a bombPayload decode to, at most.
func bombInflated(n int64) int64 { return 1 + (n*8-11)/13*258 + 258 }

// A small payload that inflates to 1 GiB, read through LimitReader(1 MiB):
// it fails with ErrTooBig having inflated about 1 MiB plus one
// decompressor buffer, and allocates little.
func TestInflaterBomb(t *testing.T) {
	const limit = 1 << 20
	const matches = (1<<30 + 257) / 258 // 1 GiB and a little
	payload := bombPayload(matches)
	want := int64(1 + matches*258)
	t.Logf("payload %d bytes inflates to %d bytes (1:%d)", len(payload), want, want/int64(len(payload)))
	for _, w := range []*Window{nil, NewWindow(15)} {
		var z Inflater
		// One byte per Read, so the input buffer does not read ahead and
		// what was consumed measures what was decoded.
		src := &countReader{r: iotest.OneByteReader(bytes.NewReader(payload))}
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		z.Reset(src, w)
		var lr LimitReader
		lr.Reset(&z, limit)
		n, err := io.Copy(io.Discard, &lr)
		runtime.ReadMemStats(&after)
		if !errors.Is(err, ErrTooBig) || n != limit {
			t.Fatalf("copied %d, %v; want %d and ErrTooBig", n, err, limit)
		}
		// The decoder runs ahead of its reader by at most one 32 KiB
		// history, and its bit buffer by a few bytes of input.
		inflated := bombInflated(src.n)
		t.Logf("window %v: consumed %d input bytes (at most %d inflated), allocated %d bytes",
			w != nil, src.n, inflated, after.TotalAlloc-before.TotalAlloc)
		if max := int64(limit+32<<10) + bombInflated(4); inflated > max {
			t.Errorf("consumed %d input bytes, up to %d inflated; want at most %d", src.n, inflated, max)
		}
		if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 4<<20 {
			t.Errorf("allocated %d bytes", alloc)
		}
		z.Reset(nil, nil)
	}
	// Read without a limit, it inflates to all of it (not when short or
	// under the race detector: it takes a second, or ten).
	if testing.Short() || raceEnabled {
		return
	}
	var z Inflater
	z.Reset(bytes.NewReader(payload), nil)
	buf, zeros := make([]byte, 64<<10), make([]byte, 64<<10)
	var total int64
	for {
		n, err := z.Read(buf)
		total += int64(n)
		if !bytes.Equal(buf[:n], zeros[:n]) {
			t.Fatal("non-zero byte")
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if total != want {
		t.Errorf("inflated %d bytes, want %d", total, want)
	}
}
