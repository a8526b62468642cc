package layers_test

import (
	"bytes"
	"fmt"
	"io"

	"github.com/wspipe/wspipe/layers"
)

// A server reads the masked "Hello" text frame from RFC 6455 section 5.7.
func ExampleFrameReader() {
	wire := []byte{0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58}
	fr := layers.NewFrameReader(bytes.NewReader(wire), layers.RoleServer)
	h, err := fr.Next()
	if err != nil {
		fmt.Println(err)
		return
	}
	payload, err := io.ReadAll(fr)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("%v fin=%v masked=%v key=% x length=%d\n", h.Opcode, h.Fin, h.Masked, h.Mask, h.Length)
	fmt.Printf("%q\n", payload)
	_, err = fr.Next()
	fmt.Println(err)
	// Output:
	// text fin=true masked=true key=37 fa 21 3d length=5
	// "Hello"
	// EOF
}

// A server writes the two fragments of RFC 6455's "Hel" + "lo" example.
func ExampleFrameWriter() {
	var out bytes.Buffer
	fw := layers.NewFrameWriter(&out, layers.RoleServer, nil)
	fw.WriteFrame(layers.Header{Opcode: layers.OpText}, []byte("Hel"))
	fw.WriteFrame(layers.Header{Fin: true, Opcode: layers.OpContinuation}, []byte("lo"))
	fmt.Printf("% x\n", out.Bytes())

	// A client masks with a random key, so only the header shape is fixed.
	out.Reset()
	fw.Reset(&out, layers.RoleClient, nil)
	fw.WriteFrame(layers.Header{Fin: true, Opcode: layers.OpPing}, []byte("Hello"))
	fmt.Printf("% x, %d bytes\n", out.Bytes()[:2], out.Len())
	// Output:
	// 01 03 48 65 6c 80 02 6c 6f
	// 89 85, 11 bytes
}

// Masking is its own inverse; the key position carries across pieces.
func ExampleMask() {
	key := [4]byte{0x37, 0xfa, 0x21, 0x3d}
	b := []byte("Hello")
	layers.Mask(key, 0, b)
	fmt.Printf("% x\n", b)

	pos := layers.Mask(key, 0, b[:2])
	layers.Mask(key, pos, b[2:])
	fmt.Printf("%s\n", b)
	// Output:
	// 7f 9f 4d 51 58
	// Hello
}

// The validator takes a text message fragment by fragment: a code point
// split between fragments is fine, an invalid byte fails at once.
func ExampleUTF8Validator() {
	msg := []byte("κόσμε")
	var v layers.UTF8Validator
	fmt.Println(v.Valid(msg[:3]), v.Complete()) // ends inside "ό"
	fmt.Println(v.Valid(msg[3:]), v.Complete())

	v.Reset()
	fmt.Println(v.Valid([]byte{0xF4, 0x90})) // above U+10FFFF
	fmt.Println(layers.ValidUTF8([]byte{0xED, 0xA0, 0x80}))
	// Output:
	// true false
	// true true
	// false
	// false
}

func ExampleParseClose() {
	code, reason, err := layers.ParseClose([]byte{0x03, 0xe8, 'b', 'y', 'e'})
	fmt.Println(code, string(reason), err)

	code, _, _ = layers.ParseClose(nil)
	fmt.Println(code)

	_, _, err = layers.ParseClose([]byte{0x03, 0xee}) // 1006 is never sent
	fmt.Println(err, layers.CloseCodeFor(err))

	fmt.Printf("% x\n", layers.AppendClose(nil, layers.CloseGoingAway, "bye"))
	// Output:
	// 1000 normal closure bye <nil>
	// 1005 no status
	// websocket: protocol error: invalid close code 1002 protocol error
	// 03 e9 62 79 65
}
