package layers

import (
	"bytes"
	stdflate "compress/flate"
	"errors"
	"io"
	"testing"
)

// FuzzInflate feeds arbitrary payloads, with or without history, to an
// Inflater under a size limit: it never panics, its output stays within the
// limit, it fails only with ErrInvalidCompressed or ErrTooBig, and what it
// accepts the standard library decodes the same way.
func FuzzInflate(f *testing.F) {
	var d Deflater
	msg := jsonText(newRand(20), 3000)
	f.Add(deflateMsg(f, &d, nil, 15, 1, msg), uint16(0))
	f.Add(deflateMsg(f, &d, NewWindow(10), 10, 1, msg), uint16(100))
	f.Add(finalPayload(f, nil, msg), uint16(0))
	f.Add([]byte{0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00}, uint16(0))
	f.Add([]byte{0xf2, 0x00, 0x11, 0x00, 0x00}, uint16(5))
	f.Add(bombPayload(100), uint16(0))
	f.Add([]byte{}, uint16(0))
	f.Add([]byte{0x07}, uint16(0))
	hist := jsonText(newRand(21), 40000)
	f.Fuzz(func(t *testing.T, payload []byte, histLen uint16) {
		const limit = 64 << 10
		var w *Window
		var dict []byte
		if histLen > 0 {
			w = NewWindow(15)
			dict = hist[:min(int(histLen), len(hist))]
			w.Write(dict)
			dict = lastN(dict, w.Size())
		}
		var z Inflater
		z.Reset(bytes.NewReader(payload), w)
		var lr LimitReader
		lr.Reset(&z, limit)
		out, err := readAll(t, &lr, 1000)
		if len(out) > limit {
			t.Fatalf("%d bytes past the limit", len(out))
		}
		if errors.Is(err, ErrTooBig) {
			// The limit above cut the message short, and its reader ends
			// it, as the pipeline does: the Inflater never saw its end.
			z.Reset(nil, nil)
		}
		if z.st != nil {
			t.Fatal("decompressor held after the message ended")
		}
		switch {
		case err == nil:
		case errors.Is(err, ErrTooBig):
			return
		case errors.Is(err, ErrInvalidCompressed):
			return
		default:
			t.Fatalf("unexpected error %v", err)
		}
		if len(payload) == 0 {
			return // an empty payload is taken as an empty message
		}
		// What we accept, another decoder given the same bytes agrees on.
		ref, rerr := stdInflateTail(dict, payload)
		if rerr != nil || !bytes.Equal(ref, out) {
			t.Fatalf("accepted %d bytes; compress/flate: %d bytes, %v", len(out), len(ref), rerr)
		}
		if w != nil && !bytes.Equal(w.Bytes(), lastN(append(dict, out...), w.Size())) {
			t.Fatal("window does not hold the history")
		}
	})
}

// stdInflateTail decodes payload followed by the same tail an Inflater
// appends, with the standard library.
func stdInflateTail(dict, payload []byte) ([]byte, error) {
	src := io.MultiReader(bytes.NewReader(payload), bytes.NewReader(inflateTail[:]))
	return io.ReadAll(stdflate.NewReaderDict(src, dict))
}

// FuzzDeflateWindow compresses random data, repeated up to 8 times and cut
// into messages, at a random window size and level, with or without context takeover, and checks the
// round trip byte for byte through the reference decoder limited to the
// window (so no back-reference goes further than 1<<bits) and through an
// Inflater.
func FuzzDeflateWindow(f *testing.F) {
	f.Add(jsonText(newRand(22), 1000), uint8(0), uint16(700+7<<9), int8(1), true)
	f.Add(jsonText(newRand(23), 600), uint8(1), uint16(3000), int8(-1), true)
	f.Add(bytes.Repeat([]byte("abcdefghij"), 30), uint8(1), uint16(0), int8(9), false)
	f.Add(make([]byte, 400), uint8(7), uint16(1), int8(5), true)
	f.Fuzz(func(t *testing.T, data []byte, bitsSeed uint8, cut uint16, level int8, takeover bool) {
		// Small inputs keep the fuzzer (and its minimizer) fast; repeating
		// them puts matches at distances around and beyond the window.
		if len(data) > 1<<10 {
			data = data[:1<<10]
		}
		reps := 1 + int(cut>>9)%8
		stream := make([]byte, 0, reps*len(data))
		for j := range reps {
			stream = append(stream, data...)
			if len(data) > 0 {
				stream[len(stream)-1-j%len(data)] ^= byte(j)
			}
		}
		data = stream
		bits := 8 + int(bitsSeed%8)
		lvl := int(uint8(level))%12 - 2 // -2..9
		var sendWin, recvWin *Window
		if takeover {
			sendWin, recvWin = NewWindow(bits), NewWindow(bits)
		}
		var d Deflater
		var z Inflater
		var hist []byte
		// Up to 12 messages of about equal size, the second one empty when
		// bit 8 of cut is set.
		nmsg := 1 + int(cut%12)
		each := len(data)/nmsg + 1
		for i := 0; i == 0 || len(data) > 0; i++ {
			n := min(len(data), each)
			if i == 1 && cut&0x100 != 0 {
				n = 0
			}
			msg := data[:n]
			data = data[n:]
			payload := deflateMsg(t, &d, sendWin, bits, lvl, msg)
			var dict []byte
			if takeover {
				dict = lastN(hist, 1<<bits)
			}
			got, err := refInflate(dict, append(payload, flushTail[:]...), 1<<bits)
			if err != nil || !bytes.Equal(got, msg) {
				t.Fatalf("bits %d level %d message %d (%d bytes): reference decoder: %v", bits, lvl, i, n, err)
			}
			z.Reset(bytes.NewReader(payload), recvWin)
			got, err = readAll(t, &z, 4096)
			if err != nil || !bytes.Equal(got, msg) {
				t.Fatalf("bits %d level %d message %d (%d bytes): Inflater: %v", bits, lvl, i, n, err)
			}
			hist = append(hist, msg...)
		}
	})
}
