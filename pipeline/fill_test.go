package pipeline

import (
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/wspipe/wspipe/layers"
)

func TestReadFull(t *testing.T) {
	// Any reader: nil while p fills, io.EOF once the reader ends.
	p := make([]byte, 4)
	r := strings.NewReader("abcdef")
	if n, err := Fill(r, p); n != 4 || err != nil || string(p) != "abcd" {
		t.Fatalf("Fill: %d %q %v, want 4 \"abcd\" nil", n, p[:n], err)
	}
	if n, err := Fill(r, p); n != 2 || err != io.EOF || string(p[:n]) != "ef" {
		t.Fatalf("Fill at the end: %d %q %v, want 2 \"ef\" io.EOF", n, p[:n], err)
	}

	// A message: the same, and a cut connection is an error, not the end.
	a, b := net.Pipe()
	c := NewConn(b, nil, layers.RoleServer, &Options{})
	defer func() { b.Close(); c.Wait() }()
	go func() {
		a.Write(maskedFrame(false, layers.OpText, []byte("hello, ")))
		a.Write(maskedFrame(true, layers.OpContinuation, []byte("world")))
		a.Write(maskedFrame(true, layers.OpBinary, []byte("cut short")[:4]))
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, mr, err := c.NextReader(ctx)
	if err != nil {
		t.Fatal(err)
	}
	p = make([]byte, 9)
	if n, err := Fill(mr, p); n != 9 || err != nil || string(p) != "hello, wo" {
		t.Fatalf("Fill of a message: %d %q %v", n, p[:n], err)
	}
	if n, err := Fill(mr, p); n != 3 || err != io.EOF || string(p[:n]) != "rld" {
		t.Fatalf("Fill to the message's end: %d %q %v", n, p[:n], err)
	}
	if n, err := Fill(mr, p); n != 0 || err != io.EOF {
		t.Fatalf("Fill after the end: %d %v", n, err)
	}
	_, mr, err = c.NextReader(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// A buffer larger than the message: io.EOF at the message's end.
	p = make([]byte, 64)
	n, err := Fill(mr, p)
	if string(p[:n]) != "cut " || err != io.EOF {
		t.Fatalf("Fill of a short message: %d %q %v", n, p[:n], err)
	}
	// The next frame says 10 bytes; 2 come, then the connection ends.
	go func() {
		a.Write(maskedFrame(true, layers.OpBinary, []byte("0123456789"))[:8])
		a.Close()
	}()
	_, mr, err = c.NextReader(ctx)
	if err != nil {
		t.Fatal(err)
	}
	n, err = Fill(mr, p)
	if err == nil || err == io.EOF || !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, ErrClosed) {
		t.Fatalf("Fill of a cut message: %d %q %v, want an error", n, p[:n], err)
	}
}
