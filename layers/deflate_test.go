package layers

import (
	"bytes"
	stdflate "compress/flate"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"

	"github.com/klauspost/compress/flate"
)

// jsonText returns size bytes of JSON-like text: records with repeated keys
// and varied values, as chat or telemetry traffic looks.
func jsonText(r *rand.Rand, size int) []byte {
	users := []string{"alice", "bob", "carol", "dave", "erin", "frank"}
	actions := []string{"update", "create", "delete", "subscribe", "ping"}
	var b []byte
	for len(b) < size {
		b = append(b, `{"id":`...)
		b = strconv.AppendInt(b, r.Int64N(1e9), 10)
		b = append(b, `,"user":"`...)
		b = append(b, users[r.IntN(len(users))]...)
		b = append(b, `","action":"`...)
		b = append(b, actions[r.IntN(len(actions))]...)
		b = append(b, `","ts":`...)
		b = strconv.AppendInt(b, 1700000000+r.Int64N(1e6), 10)
		b = append(b, `,"value":`...)
		b = strconv.AppendFloat(b, r.Float64()*1000, 'f', 3, 64)
		b = append(b, `,"tags":["`...)
		b = append(b, users[r.IntN(len(users))]...)
		b = append(b, `"]}`...)
		b = append(b, '\n')
	}
	return b[:size]
}

func newRand(seed uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)) }

// deflateMsg compresses one message with d and returns the payload.
func deflateMsg(t testing.TB, d *Deflater, w *Window, bits, level int, msg []byte) []byte {
	t.Helper()
	var out bytes.Buffer
	d.Reset(&out, w, bits, level)
	if _, err := d.Write(msg); err != nil {
		t.Fatalf("Write: %v", err)
	}
	if err := d.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	return out.Bytes()
}

// stdInflate decodes one payload with the standard library's reader, as a
// stock zlib-style peer does: the 00 00 ff ff put back, dict the history.
func stdInflate(dict, payload []byte) ([]byte, error) {
	r := stdflate.NewReaderDict(io.MultiReader(bytes.NewReader(payload), bytes.NewReader(flushTail[:])), dict)
	out, err := io.ReadAll(r)
	if err == io.ErrUnexpectedEOF { // no final block: the end of the message
		err = nil
	}
	return out, err
}

// lastN returns the last n bytes of b.
func lastN(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}

func TestTailCutter(t *testing.T) {
	data := append([]byte("hello, world: some deflate bytes"), flushTail[:]...)
	// Every way of splitting data into three writes.
	for i := 0; i <= len(data); i++ {
		for j := i; j <= len(data); j++ {
			var out bytes.Buffer
			var tc TailCutter
			tc.Reset(&out)
			total := 0
			for _, p := range [][]byte{data[:i], data[i:j], data[j:]} {
				if n, err := tc.Write(p); n != len(p) || err != nil {
					t.Fatalf("Write = %d, %v", n, err)
				}
				total += len(p)
				if out.Len() != max(0, total-4) || tc.n != min(total, 4) {
					t.Fatalf("after %d bytes: holds %d, passed %d", total, tc.n, out.Len())
				}
			}
			if err := tc.Close(); err != nil {
				t.Fatalf("split %d,%d: %v", i, j, err)
			}
			if out.String() != string(data[:len(data)-4]) {
				t.Fatalf("split %d,%d: %q", i, j, out.String())
			}
		}
	}
	for _, bad := range []string{"", "\x00\xff\xff", "abc\x00\x00\xff\xfe", "\x00\x00\xff\xff\x00"} {
		var tc TailCutter
		tc.Reset(io.Discard)
		tc.Write([]byte(bad))
		if err := tc.Close(); err == nil {
			t.Errorf("%q: Close accepted it", bad)
		}
	}
	// A failing destination fails the write.
	var tc TailCutter
	tc.Reset(failWriter{})
	if _, err := tc.Write(make([]byte, 10)); err == nil {
		t.Error("write error lost")
	}
}

type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, errors.New("boom") }

// The reference decoder must catch what it is there to catch.
func TestRefInflate(t *testing.T) {
	r := newRand(1)
	block := make([]byte, 1000)
	for i := range block {
		block[i] = byte(r.Uint32())
	}
	data := append(append([]byte(nil), block...), block...) // a match 1000 back
	var buf bytes.Buffer
	fw, _ := stdflate.NewWriter(&buf, 9)
	fw.Write(data)
	fw.Flush()
	comp := buf.Bytes()
	if out, err := refInflate(nil, comp, 1<<15); err != nil || !bytes.Equal(out, data) {
		t.Fatalf("refInflate: %v (%d bytes)", err, len(out))
	}
	if _, err := refInflate(nil, comp, 512); err == nil || !strings.Contains(err.Error(), errRefFar.Error()) {
		t.Fatalf("a 1000-byte distance passed a 512-byte window: %v", err)
	}
	// With history: the second half refers into the dictionary.
	buf.Reset()
	fw, _ = stdflate.NewWriterDict(&buf, 9, block)
	fw.Write(block)
	fw.Flush()
	if out, err := refInflate(block, buf.Bytes(), 1<<15); err != nil || !bytes.Equal(out, block) {
		t.Fatalf("refInflate with history: %v", err)
	}
	if _, err := refInflate(block[:10], buf.Bytes(), 1<<15); err == nil {
		t.Fatal("reference before the history passed")
	}
	if _, err := refInflate(nil, []byte{0xff, 0xff}, 1<<15); err == nil {
		t.Fatal("garbage passed")
	}
}

// Every window size, with and without context takeover, across many
// messages: byte-exact through the reference decoder limited to the
// window, through the standard library given only the last 1<<bits bytes
// of history, and through our own Inflater.
func TestDeflateRoundTrip(t *testing.T) {
	sizes := []int{0, 1, 37, 300, 1000, 4096, 5000, 20000, 70000, 1, 200}
	levels := []int{DeflateDefault, DeflateNoCompression, DeflateHuffmanOnly, 5, DeflateBestCompression}
	for bits := 8; bits <= 15; bits++ {
		for _, takeover := range []bool{true, false} {
			for _, level := range levels {
				if testing.Short() && level != DeflateDefault {
					continue
				}
				t.Run(fmt.Sprintf("bits=%d/takeover=%v/level=%d", bits, takeover, level), func(t *testing.T) {
					roundTrip(t, bits, takeover, level, sizes, uint64(bits))
				})
			}
		}
	}
}

func roundTrip(t *testing.T, bits int, takeover bool, level int, sizes []int, seed uint64) {
	t.Helper()
	r := newRand(seed)
	var d Deflater
	var z Inflater
	var sendWin, recvWin *Window
	if takeover {
		sendWin, recvWin = NewWindow(bits), NewWindow(bits)
	}
	var hist []byte // everything sent so far
	for i, size := range sizes {
		msg := jsonText(r, size)
		if i%3 == 2 { // some incompressible messages too
			for j := range msg {
				msg[j] = byte(r.Uint32())
			}
		}
		payload := deflateMsg(t, &d, sendWin, bits, level, msg)
		if size == 0 && !bytes.Equal(payload, []byte{0}) {
			t.Fatalf("empty message compressed to %x, want 00", payload)
		}
		var dict []byte
		if takeover {
			dict = lastN(hist, 1<<bits)
		}
		got, err := refInflate(dict, append(payload, flushTail[:]...), 1<<bits)
		if err != nil || !bytes.Equal(got, msg) {
			t.Fatalf("message %d (%d bytes): reference decoder: %v, equal %v", i, size, err, bytes.Equal(got, msg))
		}
		got, err = stdInflate(dict, payload)
		if err != nil || !bytes.Equal(got, msg) {
			t.Fatalf("message %d (%d bytes): compress/flate: %v, equal %v", i, size, err, bytes.Equal(got, msg))
		}
		z.Reset(bytes.NewReader(payload), recvWin)
		got, err = readAll(t, &z, 1000)
		if err != nil || !bytes.Equal(got, msg) {
			t.Fatalf("message %d (%d bytes): Inflater: %v, equal %v", i, size, err, bytes.Equal(got, msg))
		}
		hist = append(hist, msg...)
		if takeover {
			if w := sendWin.AppendLast(nil, 1<<15); !bytes.Equal(w, lastN(hist, sendWin.Size())) {
				t.Fatalf("message %d: send window differs from the history", i)
			}
			if !bytes.Equal(recvWin.Bytes(), lastN(hist, recvWin.Size())) {
				t.Fatalf("message %d: receive window differs from the history", i)
			}
		}
	}
}

// Connections whose messages interleave take each other's pooled
// compressor, which must then be primed with the right history; one that
// finds its own compressor untouched goes on with it. Both ways the streams
// stay exact.
func TestDeflateInterleaved(t *testing.T) {
	for _, bits := range []int{15, 11, 8} {
		const conns = 3
		var ds [conns]Deflater
		var wins [conns]*Window
		var hists [conns][]byte
		for i := range wins {
			wins[i] = NewWindow(bits)
		}
		r := newRand(uint64(40 + bits))
		for i := range 300 {
			c := i % conns
			if i%7 == 3 {
				c = (i / 7) % conns // runs of the same connection too
			}
			msg := jsonText(r, 50+r.IntN(3000))
			level := DeflateDefault
			if i%11 == 5 {
				level = DeflateNoCompression // another pool now and then
			}
			payload := deflateMsg(t, &ds[c], wins[c], bits, level, msg)
			got, err := refInflate(lastN(hists[c], 1<<bits), append(payload, flushTail[:]...), 1<<bits)
			if err != nil || !bytes.Equal(got, msg) {
				t.Fatalf("bits %d message %d on connection %d: %v", bits, i, c, err)
			}
			hists[c] = append(hists[c], msg...)
		}
	}
	// A window changed behind the Deflater's back is noticed: the second
	// message must not refer to the first.
	var d Deflater
	w := NewWindow(15)
	msg := jsonText(newRand(41), 2000)
	deflateMsg(t, &d, w, 15, DeflateDefault, msg)
	w.Reset()
	payload := deflateMsg(t, &d, w, 15, DeflateDefault, msg)
	if got, err := refInflate(nil, append(payload, flushTail[:]...), 1<<15); err != nil || !bytes.Equal(got, msg) {
		t.Fatalf("after the window's Reset: %v", err)
	}
}

// At 15 bits, a message is exactly what a fresh compressor at the same
// level writes, minus the sync flush's 00 00 ff ff.
func TestDeflateTailStripped(t *testing.T) {
	msg := jsonText(newRand(2), 3000)
	for _, level := range []int{1, 6, 9} {
		var full bytes.Buffer
		fw, _ := flate.NewWriter(&full, level)
		fw.Write(msg)
		fw.Flush()
		if !bytes.HasSuffix(full.Bytes(), flushTail[:]) {
			t.Fatalf("flush does not end with 00 00 ff ff")
		}
		var d Deflater
		got := deflateMsg(t, &d, nil, 15, level, msg)
		if want := full.Bytes()[:full.Len()-4]; !bytes.Equal(got, want) {
			t.Errorf("level %d: %d bytes, want the %d of a plain flush minus 4", level, len(got), len(want))
		}
	}
}

// Repetitive traffic compresses better with context takeover, and the more
// so the bigger the window.
func TestDeflateTakeoverSmaller(t *testing.T) {
	total := func(bits int, takeover bool) int {
		r := newRand(3)
		var w *Window
		if takeover {
			w = NewWindow(bits)
		}
		var d Deflater
		n := 0
		for range 200 {
			n += len(deflateMsg(t, &d, w, bits, DeflateDefault, jsonText(r, 150)))
		}
		return n
	}
	for _, bits := range []int{9, 12, 15} {
		with, without := total(bits, true), total(bits, false)
		t.Logf("bits %d: 200 messages of 150 bytes: %d bytes with takeover, %d without", bits, with, without)
		if with*10 > without*7 {
			t.Errorf("bits %d: takeover %d bytes, not much below %d", bits, with, without)
		}
	}
}

func TestDeflaterErrors(t *testing.T) {
	var d Deflater
	if _, err := d.Write([]byte("x")); err == nil {
		t.Error("Write before Reset")
	}
	for _, c := range []struct{ bits, level int }{{7, 1}, {16, 1}, {15, 10}, {15, -3}} {
		d.Reset(io.Discard, nil, c.bits, c.level)
		if _, err := d.Write([]byte("x")); err == nil {
			t.Errorf("bits %d level %d: Write accepted", c.bits, c.level)
		}
		if err := d.Close(); err == nil {
			t.Errorf("bits %d level %d: Close accepted", c.bits, c.level)
		}
	}
	d.Reset(io.Discard, nil, 15, 1)
	d.Write([]byte("x"))
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	if err := d.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if _, err := d.Write([]byte("x")); err == nil {
		t.Error("Write after Close")
	}
	// A failing destination: the error comes back, the compressor goes back.
	d.Reset(failWriter{}, nil, 12, 1)
	_, werr := d.Write(jsonText(newRand(4), 100000))
	cerr := d.Close()
	if werr == nil && cerr == nil {
		t.Error("destination error lost")
	}
	if d.st != nil {
		t.Error("compressor held after a failure")
	}
	// Reset in the middle of a message returns the compressor.
	d.Reset(io.Discard, nil, 15, 1)
	d.Write([]byte("abc"))
	d.Reset(io.Discard, nil, 15, 1)
	if d.st != nil {
		t.Error("compressor held after Reset")
	}
}

// No compressor is held between messages; output reaches the destination
// in chunks, not in the compressor's 250-byte pieces.
func TestDeflaterIdle(t *testing.T) {
	var d Deflater
	w := NewWindow(15)
	cw := &countingWriter{}
	d.Reset(cw, w, 15, 1)
	if d.st != nil {
		t.Error("compressor taken before the first byte")
	}
	msg := make([]byte, 1<<20)
	r := newRand(5)
	for i := range msg {
		msg[i] = byte(r.Uint32())
	}
	d.Write(msg)
	if d.st == nil {
		t.Error("no compressor while writing")
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	if d.st != nil {
		t.Error("compressor held after Close")
	}
	// Each 4 KiB chunk may come as two writes: the 4 bytes the TailCutter
	// held back and the rest.
	if chunks := cw.buf.Len()/deflateOutSize + 1; len(cw.lens) > 2*chunks+2 {
		t.Errorf("%d bytes in %d writes", cw.buf.Len(), len(cw.lens))
	}
}

func TestWindow(t *testing.T) {
	for _, bits := range []int{8, 9, 10, 15} {
		w := NewWindow(bits)
		size := 1 << max(bits, 9)
		if w.Size() != size {
			t.Fatalf("bits %d: size %d, want %d", bits, w.Size(), size)
		}
		r := newRand(uint64(bits))
		var all []byte
		for i := range 400 {
			n := r.IntN(size / 3)
			switch i % 50 {
			case 7:
				n = size
			case 8:
				n = size + 1 + r.IntN(size)
			case 9:
				n = 0
			}
			p := make([]byte, n)
			for j := range p {
				p[j] = byte(r.Uint32())
			}
			w.Write(p)
			all = append(all, p...)
			want := lastN(all, size)
			if w.Len() != len(want) || w.Cap() > size {
				t.Fatalf("bits %d: len %d cap %d, want len %d, cap at most %d", bits, w.Len(), w.Cap(), len(want), size)
			}
			k := r.IntN(size + 10)
			if got := w.AppendLast([]byte("x"), k); !bytes.Equal(got[1:], lastN(want, k)) || got[0] != 'x' {
				t.Fatalf("bits %d write %d: AppendLast(%d) wrong", bits, i, k)
			}
			if older, newer := w.pieces(); !bytes.Equal(append(bytes.Clone(older), newer...), want) {
				t.Fatalf("bits %d write %d: pieces wrong", bits, i)
			}
			if i%5 == 0 && !bytes.Equal(w.Bytes(), want) {
				t.Fatalf("bits %d write %d: Bytes wrong", bits, i)
			}
		}
		w.Reset()
		if w.Len() != 0 || len(w.Bytes()) != 0 {
			t.Fatal("Reset kept history")
		}
		w.Write([]byte("abc"))
		if string(w.Bytes()) != "abc" {
			t.Fatal("after Reset")
		}
	}
	// It grows with the data: 100 bytes hold little memory.
	w := NewWindow(15)
	w.Write(make([]byte, 60))
	w.Write(make([]byte, 40))
	if w.Cap() > 256 {
		t.Errorf("100 bytes in a 15-bit window take %d bytes", w.Cap())
	}
	w.Init(10)
	if w.Size() != 1024 || w.Len() != 0 {
		t.Errorf("Init(10): size %d len %d", w.Size(), w.Len())
	}
}
