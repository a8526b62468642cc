package layers

import (
	"bytes"
	"errors"
	"io"
	"testing"
	"testing/iotest"
)

func TestLimitReader(t *testing.T) {
	tests := []struct {
		limit, size int64
		ok          bool
	}{
		{0, 0, true},
		{0, 1, false},
		{1, 1, true},
		{10, 9, true},
		{10, 10, true},
		{10, 11, false},
		{4096, 4096, true},
		{4096, 4097, false},
		{4096, 100000, false},
	}
	for _, tc := range tests {
		for _, bufSize := range []int{1, 3, 10, 8192} {
			for wi, wrap := range []func(io.Reader) io.Reader{
				func(r io.Reader) io.Reader { return r }, iotest.OneByteReader, iotest.DataErrReader,
			} {
				data := pattern(int(tc.size))
				l := &LimitReader{}
				l.Reset(wrap(bytes.NewReader(data)), tc.limit)
				got, err := readAll(t, l, bufSize)
				if tc.ok {
					if err != nil || !bytes.Equal(got, data) {
						t.Errorf("limit %d size %d buf %d wrap %d: %d bytes, %v", tc.limit, tc.size, bufSize, wi, len(got), err)
					}
					continue
				}
				if !errors.Is(err, ErrTooBig) || CloseCodeFor(err) != CloseMessageTooBig {
					t.Errorf("limit %d size %d buf %d wrap %d: err %v, want ErrTooBig", tc.limit, tc.size, bufSize, wi, err)
				}
				if int64(len(got)) > tc.limit || !bytes.Equal(got, data[:len(got)]) {
					t.Errorf("limit %d size %d: passed on %d bytes", tc.limit, tc.size, len(got))
				}
			}
		}
	}
}

// Exactly N bytes: all N come through and then io.EOF; N+1: ErrTooBig.
func TestLimitReaderBoundary(t *testing.T) {
	l := &LimitReader{R: bytes.NewReader([]byte("12345")), N: 5}
	p := make([]byte, 5)
	if n, err := io.ReadFull(l, p); n != 5 || err != nil {
		t.Fatalf("ReadFull = %d, %v", n, err)
	}
	if n, err := l.Read(p); n != 0 || err != io.EOF {
		t.Fatalf("Read at limit = %d, %v; want 0, io.EOF", n, err)
	}
	l = &LimitReader{R: bytes.NewReader([]byte("123456")), N: 5}
	if n, err := io.ReadFull(l, p); n != 5 || err != nil {
		t.Fatalf("ReadFull = %d, %v", n, err)
	}
	if n, err := l.Read(p); n != 0 || !errors.Is(err, ErrTooBig) {
		t.Fatalf("Read past limit = %d, %v; want 0, ErrTooBig", n, err)
	}
	// Reads never ask the source for more than the remaining allowance.
	l = &LimitReader{R: bytes.NewReader(pattern(100)), N: 7}
	big := make([]byte, 100)
	if n, _ := l.Read(big); n != 7 {
		t.Fatalf("first Read = %d bytes, want 7", n)
	}
	// A source error passes through.
	boom := errors.New("boom")
	l = &LimitReader{R: iotest.ErrReader(boom), N: 5}
	if _, err := l.Read(p); err != boom {
		t.Fatalf("source error %v", err)
	}
	l.Reset(iotest.ErrReader(boom), 0)
	if _, err := l.Read(p); err != boom {
		t.Fatalf("source error at limit %v", err)
	}
}
