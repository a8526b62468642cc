package layers

import (
	"bytes"
	"errors"
	"io"
	"testing"
	"testing/iotest"
)

// wireBuilder writes frames with the reference masking, as a client would
// (masked) for a server reader.
type wireBuilder struct {
	b      []byte
	masked bool
}

func (w *wireBuilder) frame(fin bool, op Opcode, payload string) *wireBuilder {
	h := Header{Fin: fin, Opcode: op, Masked: w.masked}
	if w.masked {
		h.Mask = [4]byte{byte(len(w.b)), 0x5c, 0xa3, 0x17}
	}
	w.b = append(w.b, frameBytes(h, []byte(payload))...)
	return w
}

type ctrlEvent struct {
	op      Opcode
	payload string
}

func TestMessageReaderAssembles(t *testing.T) {
	for _, masked := range []bool{false, true} {
		role := RoleClient
		if masked {
			role = RoleServer
		}
		w := &wireBuilder{masked: masked}
		w.frame(false, OpText, "Hel").
			frame(true, OpPing, "p1").
			frame(false, OpContinuation, "").
			frame(true, OpPong, "").
			frame(true, OpPing, "p2").
			frame(false, OpContinuation, "lo, ").
			frame(true, OpContinuation, "world").
			frame(true, OpClose, "\x03\xe8bye").
			frame(true, OpBinary, "\x00\x01\x02").
			frame(false, OpBinary, "").
			frame(true, OpContinuation, "")
		want := []struct {
			op   Opcode
			data string
		}{
			{OpText, "Hello, world"},
			{OpBinary, "\x00\x01\x02"},
			{OpBinary, ""},
		}
		wantCtrl := []ctrlEvent{{OpPing, "p1"}, {OpPong, ""}, {OpPing, "p2"}, {OpClose, "\x03\xe8bye"}}

		for _, bufSize := range []int{1, 2, 3, 100} {
			for wi, wrap := range []func(io.Reader) io.Reader{
				func(r io.Reader) io.Reader { return r }, iotest.OneByteReader, iotest.HalfReader,
			} {
				var ctrl []ctrlEvent
				mr := NewMessageReader(NewFrameReader(wrap(bytes.NewReader(w.b)), role), func(h Header, p []byte) error {
					if !h.Opcode.IsControl() || int64(len(p)) != h.Length {
						t.Errorf("OnControl got %+v with %d bytes", h, len(p))
					}
					ctrl = append(ctrl, ctrlEvent{h.Opcode, string(p)})
					return nil
				})
				for i, m := range want {
					op, err := mr.Next()
					if err != nil || op != m.op {
						t.Fatalf("masked %v buf %d wrap %d msg %d: Next = %v, %v", masked, bufSize, wi, i, op, err)
					}
					if mr.Header().Opcode != m.op {
						t.Fatalf("Header().Opcode = %v", mr.Header().Opcode)
					}
					got, err := readAll(t, mr, bufSize)
					if err != nil || string(got) != m.data {
						t.Fatalf("masked %v buf %d wrap %d msg %d: %q, %v; want %q", masked, bufSize, wi, i, got, err, m.data)
					}
					// io.EOF is sticky at the end of a message.
					if n, err := mr.Read(make([]byte, 4)); n != 0 || err != io.EOF {
						t.Fatalf("Read after end = %d, %v", n, err)
					}
				}
				if _, err := mr.Next(); err != io.EOF {
					t.Fatalf("Next at end = %v", err)
				}
				if len(ctrl) != len(wantCtrl) {
					t.Fatalf("control frames %v, want %v", ctrl, wantCtrl)
				}
				for i := range ctrl {
					if ctrl[i] != wantCtrl[i] {
						t.Fatalf("control %d = %v, want %v", i, ctrl[i], wantCtrl[i])
					}
				}
			}
		}
	}
}

// A zero-length Read returns at once without touching the stream.
func TestMessageReaderEmptyRead(t *testing.T) {
	w := (&wireBuilder{}).frame(false, OpText, "a").frame(true, OpPing, "x").frame(true, OpContinuation, "b")
	calls := 0
	mr := NewMessageReader(NewFrameReader(bytes.NewReader(w.b), RoleClient), func(Header, []byte) error { calls++; return nil })
	if _, err := mr.Next(); err != nil {
		t.Fatal(err)
	}
	if n, err := mr.Read(nil); n != 0 || err != nil {
		t.Fatalf("Read(nil) = %d, %v", n, err)
	}
	got, err := io.ReadAll(mr)
	if err != nil || string(got) != "ab" || calls != 1 {
		t.Fatalf("%q, %v, %d control calls", got, err, calls)
	}
}

func TestMessageReaderNilOnControl(t *testing.T) {
	w := (&wireBuilder{}).frame(true, OpPing, "x").frame(false, OpText, "a").frame(true, OpPong, "y").frame(true, OpContinuation, "b")
	mr := NewMessageReader(NewFrameReader(bytes.NewReader(w.b), RoleClient), nil)
	if op, err := mr.Next(); err != nil || op != OpText {
		t.Fatalf("Next = %v, %v", op, err)
	}
	if got, err := io.ReadAll(mr); err != nil || string(got) != "ab" {
		t.Fatalf("%q, %v", got, err)
	}
}

func TestMessageReaderMaxMessageSize(t *testing.T) {
	w := &wireBuilder{}
	w.frame(false, OpBinary, "12345").
		frame(false, OpContinuation, "67890").
		frame(true, OpContinuation, "X")
	tests := []struct {
		max      int64
		wantErr  bool
		wantGot  string // bytes read before the error
		wantLeft int    // bytes left unread in the source
	}{
		{0, false, "1234567890X", 0},
		{11, false, "1234567890X", 0},
		{10, true, "1234567890", 1}, // "X" not read
		{7, true, "12345", 5 + 3},   // "67890" and the last frame not read
		{5, true, "12345", 5 + 3},
	}
	for _, tc := range tests {
		src := bytes.NewReader(w.b)
		mr := NewMessageReader(NewFrameReader(src, RoleClient), nil)
		mr.MaxMessageSize = tc.max
		if _, err := mr.Next(); err != nil {
			t.Fatalf("max %d: Next %v", tc.max, err)
		}
		got, err := readAll(t, mr, 100)
		if string(got) != tc.wantGot {
			t.Errorf("max %d: read %q, want %q", tc.max, got, tc.wantGot)
		}
		if !tc.wantErr {
			if err != nil {
				t.Errorf("max %d: %v", tc.max, err)
			}
			continue
		}
		if !errors.Is(err, ErrTooBig) || CloseCodeFor(err) != CloseMessageTooBig {
			t.Errorf("max %d: err %v, want ErrTooBig", tc.max, err)
		}
		// The offending fragment's payload has not been read.
		if src.Len() != tc.wantLeft {
			t.Errorf("max %d: %d bytes left in the source, want %d", tc.max, src.Len(), tc.wantLeft)
		}
	}
	// The first frame alone can be over the limit: Next fails.
	mr := NewMessageReader(NewFrameReader(bytes.NewReader(w.b), RoleClient), nil)
	mr.MaxMessageSize = 4
	if _, err := mr.Next(); !errors.Is(err, ErrTooBig) {
		t.Fatalf("Next with first frame over the limit: %v", err)
	}
}

// Next skips whatever is left of the current message, across fragments
// and control frames (which still reach OnControl).
func TestMessageReaderNextSkips(t *testing.T) {
	w := &wireBuilder{masked: true}
	w.frame(false, OpBinary, "skip me ").
		frame(true, OpPing, "in skipped").
		frame(false, OpContinuation, "entirely").
		frame(true, OpContinuation, "!").
		frame(false, OpText, "partly ").
		frame(true, OpContinuation, "read").
		frame(true, OpText, "kept").
		frame(true, OpBinary, "never opened")
	var ctrl []string
	mr := NewMessageReader(NewFrameReader(bytes.NewReader(w.b), RoleServer), func(h Header, p []byte) error {
		ctrl = append(ctrl, string(p))
		return nil
	})
	// Message 1: not read at all.
	if op, err := mr.Next(); err != nil || op != OpBinary {
		t.Fatalf("Next = %v, %v", op, err)
	}
	// Message 2: read in part.
	if op, err := mr.Next(); err != nil || op != OpText {
		t.Fatalf("Next = %v, %v", op, err)
	}
	p := make([]byte, 3)
	if _, err := io.ReadFull(mr, p); err != nil || string(p) != "par" {
		t.Fatalf("%q, %v", p, err)
	}
	// Message 3: read in full after the skips.
	if op, err := mr.Next(); err != nil || op != OpText {
		t.Fatalf("Next = %v, %v", op, err)
	}
	if got, err := io.ReadAll(mr); err != nil || string(got) != "kept" {
		t.Fatalf("%q, %v", got, err)
	}
	// Message 4: skipped at the end of the stream.
	if op, err := mr.Next(); err != nil || op != OpBinary {
		t.Fatalf("Next = %v, %v", op, err)
	}
	if _, err := mr.Next(); err != io.EOF {
		t.Fatalf("Next at end = %v", err)
	}
	if len(ctrl) != 1 || ctrl[0] != "in skipped" {
		t.Fatalf("control frames %q", ctrl)
	}
}

func TestMessageReaderOnControlError(t *testing.T) {
	stop := errors.New("stop")
	w := &wireBuilder{}
	w.frame(false, OpText, "a").
		frame(true, OpPing, "1").
		frame(true, OpClose, "\x03\xe8").
		frame(true, OpContinuation, "b")
	// The error comes out of Read, inside a message.
	var seen []string
	handler := func(h Header, p []byte) error {
		seen = append(seen, h.Opcode.String())
		if h.Opcode == OpClose {
			return stop
		}
		return nil
	}
	mr := NewMessageReader(NewFrameReader(bytes.NewReader(w.b), RoleClient), handler)
	if _, err := mr.Next(); err != nil {
		t.Fatal(err)
	}
	got, err := readAll(t, mr, 10)
	if err != stop || string(got) != "a" {
		t.Fatalf("Read = %q, %v; want \"a\", stop", got, err)
	}
	if len(seen) != 2 || seen[0] != "ping" || seen[1] != "close" {
		t.Fatalf("handler saw %v", seen)
	}
	// The error comes out of Next, before a message.
	w2 := (&wireBuilder{}).frame(true, OpClose, "").frame(true, OpText, "x")
	mr = NewMessageReader(NewFrameReader(bytes.NewReader(w2.b), RoleClient), handler)
	if _, err := mr.Next(); err != stop {
		t.Fatalf("Next = %v, want stop", err)
	}
	// And out of Next while it skips a message.
	mr = NewMessageReader(NewFrameReader(bytes.NewReader(w.b), RoleClient), handler)
	if _, err := mr.Next(); err != nil {
		t.Fatal(err)
	}
	if _, err := mr.Next(); err != stop {
		t.Fatalf("Next while skipping = %v, want stop", err)
	}
}

func TestMessageReaderErrors(t *testing.T) {
	tests := []struct {
		name string
		wire []byte
		want error
	}{
		{"continuation first", (&wireBuilder{}).frame(true, OpContinuation, "x").b, ErrProtocol},
		{"new message inside one", (&wireBuilder{}).frame(false, OpText, "a").frame(true, OpText, "b").b, ErrProtocol},
		{"truncated fragment", (&wireBuilder{}).frame(false, OpText, "abc").b[:4], io.ErrUnexpectedEOF},
		{"stream ends inside a message", (&wireBuilder{}).frame(false, OpText, "abc").b, io.ErrUnexpectedEOF},
		{"truncated control frame", append((&wireBuilder{}).frame(false, OpText, "a").b, 0x89, 0x05, 'x'), io.ErrUnexpectedEOF},
		{"control too long", append((&wireBuilder{}).frame(false, OpText, "a").b, 0x89, 0x7E, 0x00, 0x7E), ErrProtocol},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			mr := NewMessageReader(NewFrameReader(bytes.NewReader(tc.wire), RoleClient), nil)
			_, err := mr.Next()
			if err == nil {
				_, err = io.ReadAll(mr)
			}
			if !errors.Is(err, tc.want) {
				t.Fatalf("err %v, want %v", err, tc.want)
			}
		})
	}
}

func TestMessageReaderReset(t *testing.T) {
	w := (&wireBuilder{}).frame(false, OpText, "abc")
	mr := NewMessageReader(NewFrameReader(bytes.NewReader(w.b), RoleClient), nil)
	if _, err := mr.Next(); err != nil {
		t.Fatal(err)
	}
	fr := NewFrameReader(bytes.NewReader((&wireBuilder{}).frame(true, OpBinary, "new").b), RoleClient)
	mr.Reset(fr)
	if mr.Header() != (Header{}) {
		t.Fatalf("Header after Reset = %+v", mr.Header())
	}
	if n, err := mr.Read(make([]byte, 4)); n != 0 || err != io.EOF {
		t.Fatalf("Read after Reset = %d, %v", n, err)
	}
	if op, err := mr.Next(); err != nil || op != OpBinary {
		t.Fatalf("Next = %v, %v", op, err)
	}
	if got, _ := io.ReadAll(mr); string(got) != "new" {
		t.Fatalf("%q", got)
	}
}

// A text message through MessageReader and UTF8Reader, fragmented inside a
// code point.
func TestMessageReaderWithUTF8Reader(t *testing.T) {
	msg := "κόσμε €𝄞"
	b := []byte(msg)
	for split := 0; split <= len(b); split++ {
		w := (&wireBuilder{}).frame(false, OpText, string(b[:split])).frame(true, OpContinuation, string(b[split:]))
		mr := NewMessageReader(NewFrameReader(bytes.NewReader(w.b), RoleClient), nil)
		if _, err := mr.Next(); err != nil {
			t.Fatal(err)
		}
		got, err := readAll(t, NewUTF8Reader(mr), 3)
		if err != nil || string(got) != msg {
			t.Fatalf("split %d: %q, %v", split, got, err)
		}
	}
	// The same message cut inside a code point fails at its end.
	w := (&wireBuilder{}).frame(false, OpText, msg).frame(true, OpContinuation, "\xf0\x9d")
	mr := NewMessageReader(NewFrameReader(bytes.NewReader(w.b), RoleClient), nil)
	mr.Next()
	if _, err := io.ReadAll(NewUTF8Reader(mr)); !errors.Is(err, ErrInvalidUTF8) {
		t.Fatalf("err %v, want ErrInvalidUTF8", err)
	}
}

// A stream that ends cleanly after a non-final fragment is a truncated
// message, both when it is read and when Next skips it.
func TestMessageReaderUnfinishedMessage(t *testing.T) {
	w := (&wireBuilder{}).frame(false, OpText, "abc").frame(true, OpPing, "")
	mr := NewMessageReader(NewFrameReader(bytes.NewReader(w.b), RoleClient), nil)
	if _, err := mr.Next(); err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(mr)
	if err != io.ErrUnexpectedEOF || string(got) != "abc" {
		t.Fatalf("ReadAll = %q, %v; want \"abc\", io.ErrUnexpectedEOF", got, err)
	}
	mr = NewMessageReader(NewFrameReader(bytes.NewReader(w.b), RoleClient), nil)
	if _, err := mr.Next(); err != nil {
		t.Fatal(err)
	}
	if _, err := mr.Next(); err != io.ErrUnexpectedEOF {
		t.Fatalf("Next over an unfinished message = %v, want io.ErrUnexpectedEOF", err)
	}
}
