package layers_test

import (
	"fmt"

	"github.com/wspipe/wspipe/layers"
)

// FrameSize finds where frames end in bytes already buffered, without
// reading them: here two frames and the start of a third.
func ExampleFrameSize() {
	var buf []byte
	buf = layers.AppendHeader(buf, layers.Header{Fin: true, Opcode: layers.OpText, Length: 5})
	buf = append(buf, "hello"...)
	buf = layers.AppendHeader(buf, layers.Header{Fin: true, Opcode: layers.OpBinary, Length: 300})
	buf = append(buf, make([]byte, 300)...)
	buf = append(buf, 0x82, 126) // a header cut short: its length is missing

	for off := 0; ; {
		hs, length, ok := layers.FrameSize(buf[off:])
		if !ok {
			fmt.Printf("at %d: need %d header bytes, have %d\n", off, hs, len(buf)-off)
			break
		}
		fmt.Printf("at %d: header %d bytes, payload %d\n", off, hs, length)
		off += hs + int(length)
	}
	// Output:
	// at 0: header 2 bytes, payload 5
	// at 7: header 4 bytes, payload 300
	// at 311: need 4 header bytes, have 2
}
