package layers_test

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing/iotest"

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

// A client reads a fragmented message from a server: "Hel", then a ping
// between the fragments, then "lo". OnControl gets the ping; Read yields
// the payload of both fragments as one stream.
func ExampleMessageReader() {
	wire := []byte{
		0x01, 0x03, 'H', 'e', 'l', // text, not final
		0x89, 0x04, 'p', 'i', 'n', 'g', // ping
		0x80, 0x02, 'l', 'o', // continuation, final
	}
	fr := layers.NewFrameReader(bytes.NewReader(wire), layers.RoleClient)
	mr := layers.NewMessageReader(fr, func(h layers.Header, payload []byte) error {
		fmt.Printf("%v %q\n", h.Opcode, payload)
		return nil
	})
	op, err := mr.Next()
	if err != nil {
		fmt.Println(err)
		return
	}
	msg, err := io.ReadAll(mr)
	fmt.Printf("%v %q %v\n", op, msg, err)
	_, err = mr.Next()
	fmt.Println(err)
	// Output:
	// ping "ping"
	// text "Hello" <nil>
	// EOF
}

// An Unmasker wraps a reader of masked payload bytes. It keeps its key
// position from one read to the next, so it unmasks correctly however
// short the reads beneath it are (here one byte each).
func ExampleUnmasker() {
	key := [4]byte{0x37, 0xfa, 0x21, 0x3d}
	masked := []byte{0x7f, 0x9f, 0x4d, 0x51, 0x58} // "Hello" (RFC 6455 section 5.7)
	u := layers.NewUnmasker(iotest.OneByteReader(bytes.NewReader(masked)), key)
	payload, err := io.ReadAll(u)
	fmt.Printf("%q %v\n", payload, err)
	// Output:
	// "Hello" <nil>
}

// A Masker wraps a writer and masks what passes through it. The caller's
// slice is left as it was: the Masker masks into its buffer, here two
// bytes, so "Hello" goes out in three writes.
func ExampleMasker() {
	key := [4]byte{0x37, 0xfa, 0x21, 0x3d}
	var out bytes.Buffer
	m := layers.NewMasker(&out, key, make([]byte, 2))
	p := []byte("Hello")
	if _, err := m.Write(p); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("% x\n", out.Bytes())
	fmt.Printf("%s\n", p)
	// Output:
	// 7f 9f 4d 51 58
	// Hello
}

// A UTF8Reader wraps the reader of a text message. Valid text passes
// through; an invalid byte fails the read with an error matching
// ErrInvalidUTF8, and the bytes of that read are not passed on. Reset
// re-arms the same reader for the next message.
func ExampleUTF8Reader() {
	u := layers.NewUTF8Reader(strings.NewReader("κόσμε"))
	text, err := io.ReadAll(u)
	fmt.Printf("%q %v\n", text, err)

	u.Reset(strings.NewReader("caf\xe9 au lait")) // Latin-1, not UTF-8
	text, err = io.ReadAll(u)
	fmt.Printf("%q %v\n", text, errors.Is(err, layers.ErrInvalidUTF8))
	// Output:
	// "κόσμε" <nil>
	// "" true
}

// A LimitReader wraps a reader whose size is not known up front. A
// message of exactly N bytes reads to io.EOF; one with more fails with an
// error matching ErrTooBig once the first N bytes are read, where
// io.LimitReader would stop quietly.
func ExampleLimitReader() {
	l := &layers.LimitReader{R: strings.NewReader("Hello"), N: 5}
	msg, err := io.ReadAll(l)
	fmt.Printf("%q %v\n", msg, err)

	l.Reset(strings.NewReader("Hello, world"), 5)
	msg, err = io.ReadAll(l)
	fmt.Printf("%q %v\n", msg, errors.Is(err, layers.ErrTooBig))
	// Output:
	// "Hello" <nil>
	// "Hello" true
}

// A client's frame is masked with a random key, but a server's
// FrameReader reads the payload back as it was written.
func ExampleFrameWriter_clientToServer() {
	var wire bytes.Buffer
	fw := layers.NewFrameWriter(&wire, layers.RoleClient, nil)
	if err := fw.WriteFrame(layers.Header{Fin: true, Opcode: layers.OpBinary}, []byte("Hello")); err != nil {
		fmt.Println(err)
		return
	}
	fr := layers.NewFrameReader(&wire, layers.RoleServer)
	h, err := fr.Next()
	if err != nil {
		fmt.Println(err)
		return
	}
	payload, err := io.ReadAll(fr)
	fmt.Printf("%v masked=%v %q %v\n", h.Opcode, h.Masked, payload, err)
	// Output:
	// binary masked=true "Hello" <nil>
}

// The receiving side of RFC 7692 section 7.2.3.2: two "Hello" messages
// compressed with context takeover, the second no more than a
// back-reference into the first. The Window carries the history from one
// message to the next.
func ExampleInflater() {
	w := layers.NewWindow(15)
	var z layers.Inflater
	for _, payload := range [][]byte{
		{0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00},
		{0xf2, 0x00, 0x11, 0x00, 0x00},
	} {
		z.Reset(bytes.NewReader(payload), w)
		msg, err := io.ReadAll(&z)
		fmt.Printf("%q %v\n", msg, err)
	}
	// Output:
	// "Hello" <nil>
	// "Hello" <nil>
}

// A LimitReader on top of an Inflater bounds what a small compressed
// message may expand to: a megabyte of zeros, compressed to about a
// kilobyte, stops at the limit with an error matching ErrTooBig.
func ExampleInflater_limit() {
	var payload bytes.Buffer
	var d layers.Deflater
	d.Reset(&payload, nil, 15, layers.DeflateDefault)
	d.Write(make([]byte, 1<<20))
	if err := d.Close(); err != nil {
		fmt.Println(err)
		return
	}
	l := &layers.LimitReader{R: layers.NewInflater(&payload, nil), N: 64 << 10}
	n, err := io.Copy(io.Discard, l)
	fmt.Println(n, errors.Is(err, layers.ErrTooBig))
	// Output:
	// 65536 true
}

// A sender with context takeover: its Window keeps what it sent, so a
// message that repeats the previous one compresses to less. The receiver
// keeps a Window of its own to read it.
func ExampleDeflater() {
	var d layers.Deflater
	var z layers.Inflater
	sent, received := layers.NewWindow(15), layers.NewWindow(15)
	var sizes []int
	for range 2 {
		var payload bytes.Buffer
		d.Reset(&payload, sent, 15, layers.DeflateDefault)
		io.WriteString(&d, "Hello, Hello, Hello")
		if err := d.Close(); err != nil {
			fmt.Println(err)
			return
		}
		sizes = append(sizes, payload.Len())
		z.Reset(&payload, received)
		msg, err := io.ReadAll(&z)
		fmt.Printf("%q %v\n", msg, err)
	}
	fmt.Println(sizes[1] < sizes[0])
	// Output:
	// "Hello, Hello, Hello" <nil>
	// "Hello, Hello, Hello" <nil>
	// true
}

// A sync flush ends with 00 00 ff ff, which permessage-deflate leaves off
// the wire. A TailCutter wraps the compressor's destination: it holds back
// the last four bytes of what is written, across writes, and Close drops
// them once it has checked them.
func ExampleTailCutter() {
	var out bytes.Buffer
	t := &layers.TailCutter{W: &out}
	t.Write([]byte{0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00, 0x00, 0x00}) // "Hello", RFC 7692 section 7.2.3.1
	t.Write([]byte{0xff, 0xff})
	fmt.Println(t.Close())
	fmt.Printf("% x\n", out.Bytes())

	t.Reset(io.Discard)
	t.Write([]byte{0x01, 0x02, 0x03, 0x04})
	fmt.Println(t.Close() != nil)
	// Output:
	// <nil>
	// f2 48 cd c9 c9 07 00
	// true
}

// A frame built in place: the payload is put in a buffer after room for
// the largest header, and EncodeFrame writes the header in front of it
// (and would mask it there for a client), with no second copy.
func ExampleEncodeFrame() {
	b := make([]byte, layers.MaxHeaderSize+5)
	off := layers.MaxHeaderSize
	copy(b[off:], "Hello")
	h := layers.Header{Fin: true, Opcode: layers.OpText, Length: 5}
	frame := layers.EncodeFrame(b, off, h, b[off:])
	fmt.Printf("% x\n", frame)
	// Output:
	// 81 05 48 65 6c 6c 6f
}

// Each Write is a frame and Close ends the message, so a MessageWriter
// composes with other writers: here io.Copy through a bufio.Writer, whose
// size sets the frames' (RFC 6455's "Hel" + "lo" fragments).
func ExampleMessageWriter() {
	var out bytes.Buffer
	fw := layers.NewFrameWriter(&out, layers.RoleServer, nil)
	m := layers.NewMessageWriter(fw, layers.OpText, 0)
	bw := bufio.NewWriterSize(m, 16)
	io.Copy(bw, strings.NewReader("Hello"))
	bw.Flush()
	m.Close()
	fmt.Printf("% x\n", out.Bytes())
	// Output:
	// 01 05 48 65 6c 6c 6f 80 00
}

// A compressed message (RFC 7692): a Deflater writes into a MessageWriter
// whose first frame has RSV1 set, and the Deflater's Close flushes the
// compressed bytes before the MessageWriter's Close ends the message. The
// receiving end reads the frames back and inflates their payload.
func ExampleMessageWriter_compressed() {
	var wire bytes.Buffer
	fw := layers.NewFrameWriter(&wire, layers.RoleClient, nil)
	m := layers.NewMessageWriter(fw, layers.OpText, layers.RSV1)
	var d layers.Deflater
	d.Reset(m, nil, 15, layers.DeflateDefault)
	io.WriteString(&d, "Hello, Hello, Hello")
	if err := d.Close(); err != nil {
		fmt.Println(err)
		return
	}
	m.Close()

	fr := layers.NewFrameReader(&wire, layers.RoleServer)
	fr.AllowRSV = layers.RSV1
	var payload bytes.Buffer
	for {
		h, err := fr.Next()
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Printf("%v fin=%v rsv1=%v\n", h.Opcode, h.Fin, h.Rsv == layers.RSV1)
		io.Copy(&payload, fr)
		if h.Fin {
			break
		}
	}
	msg, err := io.ReadAll(layers.NewInflater(&payload, nil))
	fmt.Printf("%q %v\n", msg, err)
	// Output:
	// text fin=false rsv1=true
	// continuation fin=true rsv1=false
	// "Hello, Hello, Hello" <nil>
}
