package layers

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"testing"
	"testing/iotest"
	"unicode/utf8"
)

// utf8Cases are inputs around every boundary UTF-8 validity depends on.
func utf8Cases() [][]byte {
	cases := [][]byte{
		nil, {}, []byte("Hello"), []byte("κόσμε"), []byte("Hello-µ@ßöäüàá-UTF-8!!"),
		[]byte("\u0000"), []byte("\u007f"), []byte("\u0080"), []byte("\u07ff"), []byte("\u0800"),
		[]byte("\ud7ff"), []byte("\ue000"), []byte("\uffff"), []byte("\U00010000"), []byte("\U0010ffff"),
		// Continuation bytes alone and lone leads.
		{0x80}, {0xBF}, {0xC2}, {0xE0}, {0xF0}, {0xF4}, {0xE0, 0xA0}, {0xF0, 0x90, 0x80},
		// Overlong forms.
		{0xC0, 0x80}, {0xC0, 0xAF}, {0xC1, 0xBF}, {0xE0, 0x80, 0x80}, {0xE0, 0x9F, 0xBF},
		{0xF0, 0x80, 0x80, 0x80}, {0xF0, 0x8F, 0xBF, 0xBF},
		// Surrogates.
		{0xED, 0xA0, 0x80}, {0xED, 0xAD, 0xBF}, {0xED, 0xAE, 0x80}, {0xED, 0xBF, 0xBF},
		{0xED, 0xA0, 0x80, 0xED, 0xB0, 0x80}, {0xED, 0x9F, 0xBF},
		// Above U+10FFFF and bytes that never appear.
		{0xF4, 0x90, 0x80, 0x80}, {0xF4, 0x8F, 0xBF, 0xBF}, {0xF5, 0x80, 0x80, 0x80},
		{0xF7, 0xBF, 0xBF, 0xBF}, {0xF8, 0x88, 0x80, 0x80, 0x80}, {0xFC, 0x84, 0x80, 0x80, 0x80, 0x80},
		{0xFE}, {0xFF}, {0xFE, 0xFE, 0xFF, 0xFF},
		// Truncated sequences, at the end and in the middle.
		{0xCE, 0xBA, 0xE1}, {0xCE, 0xBA, 0xE1, 0xBD}, []byte("ab\xe2\x82"), []byte("ab\xe2\x82cd"),
		[]byte("\xf0\x9d\x84"), []byte("\xf0\x9d\x84x"),
		// Continuation byte where a lead is expected and vice versa.
		[]byte("\xe2\x82\xac\x80"), []byte("\xe2\x28\xa1"), []byte("\xc3\x28"), []byte("\xf0\x28\x8c\xbc"),
		// Autobahn 6.x style payloads.
		append([]byte("κόσμε"), 0xED, 0xA0, 0x80, 0x65, 0x64, 0x69, 0x74, 0x65, 0x64),
		[]byte("\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xf4\x90\x80\x80\x65\x64\x69\x74\x65\x64"),
	}
	// Every code point boundary, encoded, alone and inside ASCII runs long
	// enough for the word-at-a-time path.
	for _, r := range []rune{0, 0x7F, 0x80, 0x7FF, 0x800, 0xFFF, 0x1000, 0xCFFF, 0xD000, 0xD7FF, 0xE000, 0xFFFD, 0xFFFF, 0x10000, 0x3FFFF, 0x40000, 0xFFFFF, 0x100000, 0x10FFFF} {
		e := utf8.AppendRune(nil, r)
		cases = append(cases, e, append([]byte("0123456789abcdef"), e...), append(append([]byte("01234567"), e...), "89abcdef"...))
		for i := 1; i < len(e); i++ {
			cases = append(cases, e[:i], append([]byte("01234567"), e[:i]...), append(append([]byte("0123456789"), e[:i]...), "abcdefgh"...))
		}
	}
	// Invalid bytes after long ASCII runs, at every offset within a word.
	for off := 0; off < 9; off++ {
		for _, bad := range []byte{0x80, 0xC0, 0xC1, 0xF5, 0xFF} {
			b := bytes.Repeat([]byte("a"), 16+off)
			cases = append(cases, append(b, bad), append(append(b, bad), "bbbbbbbbbbbbbbb"...))
		}
	}
	return cases
}

// validPrefix is the reference for the validator's incremental verdict:
// b can be extended to valid UTF-8 by at most 3 more bytes. The candidate
// bytes hit every range a continuation byte can be restricted to.
func validPrefix(b []byte) bool {
	if utf8.Valid(b) {
		return true
	}
	cands := []byte{0x80, 0x90, 0xA0, 0xBF}
	buf := append(bytes.Clone(b), 0, 0, 0)
	n := len(b)
	for _, c1 := range cands {
		buf[n] = c1
		if utf8.Valid(buf[:n+1]) {
			return true
		}
		for _, c2 := range cands {
			buf[n+1] = c2
			if utf8.Valid(buf[:n+2]) {
				return true
			}
			for _, c3 := range cands {
				buf[n+2] = c3
				if utf8.Valid(buf[:n+3]) {
					return true
				}
			}
		}
	}
	return false
}

func TestValidUTF8Cases(t *testing.T) {
	for _, b := range utf8Cases() {
		want := utf8.Valid(b)
		if got := ValidUTF8(b); got != want {
			t.Errorf("ValidUTF8(% x) = %v, want %v", b, got, want)
		}
		var v UTF8Validator
		if ok := v.Valid(b); ok != validPrefix(b) {
			t.Errorf("Valid(% x) = %v, want %v", b, ok, validPrefix(b))
		} else if ok && v.Complete() != want {
			t.Errorf("Valid(% x) then Complete = %v, want %v", b, v.Complete(), want)
		}
	}
}

// All 1- and 2-byte inputs, and all 3-byte inputs starting with a
// multi-byte lead, against unicode/utf8, whole and split in two.
func TestValidUTF8Exhaustive(t *testing.T) {
	var b [3]byte
	check := func(p []byte) {
		want := utf8.Valid(p)
		if ValidUTF8(p) != want {
			t.Fatalf("ValidUTF8(% x) = %v, want %v", p, !want, want)
		}
		for i := 1; i < len(p); i++ {
			var v UTF8Validator
			got := v.Valid(p[:i]) && v.Valid(p[i:]) && v.Complete()
			if got != want {
				t.Fatalf("split % x | % x = %v, want %v", p[:i], p[i:], got, want)
			}
		}
	}
	for i := range 256 {
		b[0] = byte(i)
		check(b[:1])
		for j := range 256 {
			b[1] = byte(j)
			check(b[:2])
			if i < 0xC2 || i > 0xF4 || testing.Short() && j&7 != 0 {
				continue
			}
			for k := range 256 {
				b[2] = byte(k)
				check(b[:3])
			}
		}
	}
	// 4-byte sequences: every lead from F0, every second byte, and the
	// edges of the continuation range for the last two.
	edges := []byte{0x00, 0x7F, 0x80, 0x81, 0xBE, 0xBF, 0xC0, 0xFF}
	var q [4]byte
	for l := 0xF0; l <= 0xFF; l++ {
		for s := range 256 {
			for _, c3 := range edges {
				for _, c4 := range edges {
					q = [4]byte{byte(l), byte(s), c3, c4}
					check(q[:])
				}
			}
		}
	}
}

// Splitting an input at every position into two pieces gives the verdict
// of the whole; so do three pieces.
func TestUTF8ValidatorSplits(t *testing.T) {
	for _, b := range utf8Cases() {
		want := utf8.Valid(b)
		for i := 0; i <= len(b); i++ {
			var v UTF8Validator
			got := v.Valid(b[:i]) && v.Valid(b[i:]) && v.Complete()
			if got != want {
				t.Fatalf("% x split at %d: %v, want %v", b, i, got, want)
			}
			if len(b) > 24 {
				continue
			}
			for j := i; j <= len(b); j++ {
				var v UTF8Validator
				got := v.Valid(b[:i]) && v.Valid(b[i:j]) && v.Valid(b[j:]) && v.Complete()
				if got != want {
					t.Fatalf("% x split at %d,%d: %v, want %v", b, i, j, got, want)
				}
			}
		}
	}
}

// The validator fails on the very byte that makes the input invalid: fed
// one byte at a time, the first false comes exactly where the prefix stops
// being completable.
func TestUTF8ValidatorFailFast(t *testing.T) {
	inputs := utf8Cases()
	rng := rand.New(rand.NewPCG(3, 4))
	alphabet := []byte{'a', 0x80, 0x8F, 0x90, 0x9F, 0xA0, 0xBF, 0xC0, 0xC2, 0xDF, 0xE0, 0xED, 0xEF, 0xF0, 0xF4, 0xF5, 0xFF}
	for range 3000 {
		b := make([]byte, rng.IntN(12))
		for i := range b {
			b[i] = alphabet[rng.IntN(len(alphabet))]
		}
		inputs = append(inputs, b)
	}
	for _, b := range inputs {
		var v UTF8Validator
		for k := 0; k < len(b); k++ {
			want := validPrefix(b[:k+1])
			got := v.Valid(b[k : k+1])
			if got != want {
				t.Fatalf("% x: byte %d: Valid = %v, want %v", b, k, got, want)
			}
			// Whole-prefix feeding agrees with byte-by-byte feeding.
			var w UTF8Validator
			if w.Valid(b[:k+1]) != want {
				t.Fatalf("% x: prefix %d: Valid = %v, want %v", b, k+1, !want, want)
			}
			if !got {
				break
			}
		}
	}

	// The examples from the brief, checked explicitly.
	kosme := []byte("κόσμε")
	tests := []struct {
		in      []byte
		failsAt int // index of the first byte that cannot be valid
	}{
		{append(bytes.Clone(kosme), 0xED, 0xA0, 0x80, 'e', 'd'), len(kosme) + 1},
		{[]byte{0xF4, 0x90, 0x80, 0x80}, 1},
		{append(bytes.Clone(kosme), 0xF4, 0x90, 0x80, 0x80), len(kosme) + 1},
		{[]byte{0xC0, 0x80}, 0},
		{[]byte{0xE0, 0x80, 0x80}, 1},
		{[]byte{0xF0, 0x80, 0x80, 0x80}, 1},
		{[]byte{'a', 0xF5}, 1},
	}
	for _, tc := range tests {
		var v UTF8Validator
		if tc.failsAt > 0 && !v.Valid(tc.in[:tc.failsAt]) {
			t.Fatalf("% x: prefix of %d rejected", tc.in, tc.failsAt)
		}
		v.Reset()
		if v.Valid(tc.in[:tc.failsAt+1]) {
			t.Fatalf("% x: not rejected at byte %d", tc.in, tc.failsAt)
		}
	}
}

func TestUTF8ValidatorReset(t *testing.T) {
	var v UTF8Validator
	v.Valid([]byte{0xF0, 0x9D})
	if v.Complete() {
		t.Fatal("Complete inside a code point")
	}
	v.Reset()
	if !v.Complete() || !v.Valid([]byte("a")) {
		t.Fatal("Reset did not forget the partial code point")
	}
	// After a failure, Reset makes it usable again.
	v.Valid([]byte{0xFF})
	v.Reset()
	if !v.Valid([]byte("ok")) || !v.Complete() {
		t.Fatal("Reset after failure")
	}
}

func TestUTF8Reader(t *testing.T) {
	valid := []byte("Hello, κόσμε! €𝄞 " + string(bytes.Repeat([]byte("x"), 100)) + "\U0010FFFF")
	wraps := []func(io.Reader) io.Reader{
		func(r io.Reader) io.Reader { return r }, iotest.OneByteReader, iotest.HalfReader, iotest.DataErrReader,
	}
	for wi, wrap := range wraps {
		for _, bufSize := range []int{1, 2, 3, 5, 1000} {
			got, err := readAll(t, NewUTF8Reader(wrap(bytes.NewReader(valid))), bufSize)
			if err != nil || !bytes.Equal(got, valid) {
				t.Fatalf("wrap %d buf %d: %v", wi, bufSize, err)
			}

			// Invalid in the middle: fails there, never passes the bad byte on.
			bad := append(append(bytes.Clone(valid[:20]), 0xED, 0xA0, 0x80), valid[20:]...)
			got, err = readAll(t, NewUTF8Reader(wrap(bytes.NewReader(bad))), bufSize)
			if !errors.Is(err, ErrInvalidUTF8) || CloseCodeFor(err) != CloseInvalidPayload {
				t.Fatalf("wrap %d buf %d: invalid middle gave %v", wi, bufSize, err)
			}
			if len(got) > 20 || !bytes.Equal(got, bad[:len(got)]) {
				t.Fatalf("wrap %d buf %d: passed on %d bytes (% x) of an invalid message", wi, bufSize, len(got), got)
			}

			// Ends inside a code point: fails at EOF.
			cut := valid[:len(valid)-2]
			got, err = readAll(t, NewUTF8Reader(wrap(bytes.NewReader(cut))), bufSize)
			if !errors.Is(err, ErrInvalidUTF8) {
				t.Fatalf("wrap %d buf %d: truncated gave %v", wi, bufSize, err)
			}
			if !bytes.Equal(got, cut[:len(got)]) {
				t.Fatalf("wrap %d buf %d: wrong bytes before the error", wi, bufSize)
			}
		}
	}
	// The error is sticky, and Reset clears it.
	u := NewUTF8Reader(bytes.NewReader([]byte{'a', 0xFF, 'b'}))
	_, err := io.ReadAll(u)
	if !errors.Is(err, ErrInvalidUTF8) {
		t.Fatalf("err %v", err)
	}
	if n, err2 := u.Read(make([]byte, 4)); n != 0 || err2 != err {
		t.Fatalf("Read after error = %d, %v", n, err2)
	}
	u.Reset(bytes.NewReader([]byte("fine")))
	if got, err := io.ReadAll(u); err != nil || string(got) != "fine" {
		t.Fatalf("after Reset: %q, %v", got, err)
	}
	// Reset forgets a partial code point as well.
	u = NewUTF8Reader(bytes.NewReader([]byte{0xE2, 0x82}))
	buf := make([]byte, 2)
	u.Read(buf)
	u.Reset(bytes.NewReader([]byte("x")))
	if got, err := io.ReadAll(u); err != nil || string(got) != "x" {
		t.Fatalf("after Reset mid code point: %q, %v", got, err)
	}
	// A source error passes through.
	boom := errors.New("boom")
	if _, err := NewUTF8Reader(iotest.ErrReader(boom)).Read(buf); err != boom {
		t.Fatalf("source error %v", err)
	}
	// iotest contract on valid input.
	if err := iotest.TestReader(NewUTF8Reader(bytes.NewReader(valid)), valid); err != nil {
		t.Fatal(err)
	}
}
