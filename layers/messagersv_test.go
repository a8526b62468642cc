package layers

import (
	"bytes"
	"errors"
	"testing"
)

func TestMessageRSV(t *testing.T) {
	frame := func(b0 byte) []byte { return []byte{b0, 0x80, 0, 0, 0, 0} } // masked, empty
	cases := []struct {
		name string
		in   []byte
		ok   bool
	}{
		{"RSV1 on a first text frame", frame(0x80 | RSV1 | byte(OpText)), true},
		{"RSV1 on a first non-final binary frame", frame(RSV1 | byte(OpBinary)), true},
		{"RSV1 on a ping", frame(0x80 | RSV1 | byte(OpPing)), false},
		{"RSV1 on a close", frame(0x80 | RSV1 | byte(OpClose)), false},
		{"RSV2 not negotiated", frame(0x80 | RSV2 | byte(OpText)), false},
	}
	for _, tc := range cases {
		fr := NewFrameReader(bytes.NewReader(tc.in), RoleServer)
		fr.MessageRSV = RSV1
		_, err := fr.Next()
		if (err == nil) != tc.ok || (err != nil && !errors.Is(err, ErrProtocol)) {
			t.Errorf("%s: err = %v", tc.name, err)
		}
	}
	// On a continuation frame.
	in := append(frame(RSV1|byte(OpText)), frame(0x80|RSV1|byte(OpContinuation))...)
	fr := NewFrameReader(bytes.NewReader(in), RoleServer)
	fr.MessageRSV = RSV1
	if _, err := fr.Next(); err != nil {
		t.Fatal(err)
	}
	if _, err := fr.Next(); !errors.Is(err, ErrProtocol) {
		t.Fatalf("RSV1 on a continuation: %v", err)
	}
}
