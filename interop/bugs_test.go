package interop

import (
	"bufio"
	"bytes"
	"compress/flate"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/wspipe/wspipe/pipeline"
)

// Minimal reproductions of wspipe bugs the interop tests found, without
// any peer program.

// TestBug_DeflateWireLimit: with permessage-deflate, wspipe bounded a
// compressed message's wire payload by MaxMessageSize + MaxMessageSize/1024
// + 1024, assuming DEFLATE expands incompressible data by 5 bytes per
// 64 KiB stored block. But a compressor may not use stored blocks: zlib
// with a small window cannot (the block's bytes are no longer in its
// window), and Huffman-coded random bytes take more room. Python's
// websockets (zlib, 9- or 10-bit windows, memLevel 5, no context takeover)
// sends 65536 random bytes as 67055 bytes, and wspipe with MaxMessageSize
// 65536 closed the connection with 1009 for a message whose inflated size
// is within the limit (interop: the "limit" scenario of
// TestServerDeflate_PythonWebsockets/policy-limited and
// TestClientDeflate_PythonWebsockets/py-default/offer-bits-10-9-no-context-takeover).
// Fixed in pipeline's wireLimit (fe89484); this stays as a regression test.
//
// Here the message is 65536 random bytes in one fixed-Huffman block (valid
// DEFLATE, 69 KiB), sent by a hand-written client to pipeline.AcceptConn:
// ReadMessage must return the 65536 bytes.
func TestBug_DeflateWireLimit(t *testing.T) {
	const limit = 64 << 10
	msg := randomBytes(limit, 1)
	payload := fixedHuffmanMessage(msg)
	// The payload is sound: Go's inflater gives the message back.
	got, err := io.ReadAll(flate.NewReader(io.MultiReader(bytes.NewReader(payload), bytes.NewReader([]byte{0, 0, 0xff, 0xff, 1, 0, 0, 0xff, 0xff}))))
	if err != nil || !bytes.Equal(got, msg) {
		t.Fatalf("the hand-made payload does not inflate to the message: %d bytes, %v", len(got), err)
	}
	t.Logf("%d bytes compressed to %d (wspipe's wire bound: %d)", len(msg), len(payload), limit+limit/1024+1024)

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	type result struct {
		msg []byte
		err error
	}
	res := make(chan result, 1)
	go func() {
		raw, err := ln.Accept()
		if err != nil {
			res <- result{nil, err}
			return
		}
		c, err := pipeline.AcceptConn(raw, nil, &pipeline.Options{MaxMessageSize: limit, Compression: &pipeline.Compression{}})
		if err != nil {
			raw.Close()
			res <- result{nil, err}
			return
		}
		defer c.UnderlyingConn().Close()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_, m, err := c.ReadMessage(ctx, nil)
		res <- result{m, err}
	}()

	conn, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	io.WriteString(conn, "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"+
		"Sec-WebSocket-Extensions: permessage-deflate; client_no_context_takeover\r\n\r\n")
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil || resp.StatusCode != 101 || resp.Header.Get("Sec-WebSocket-Extensions") == "" {
		t.Fatalf("handshake: %v %v", resp, err)
	}
	// One masked binary frame, FIN and RSV1, with a zero mask key.
	frame := []byte{0x80 | 0x40 | 0x2, 0x80 | 127}
	frame = binary.BigEndian.AppendUint64(frame, uint64(len(payload)))
	frame = append(frame, 0, 0, 0, 0)
	if _, err := conn.Write(append(frame, payload...)); err != nil {
		t.Fatal(err)
	}
	r := <-res
	if errors.Is(r.err, pipeline.ErrTooBig) {
		t.Fatalf("wspipe refused a message of %d bytes (%d compressed) with MaxMessageSize %d: %v", len(msg), len(payload), limit, r.err)
	}
	if r.err != nil || !bytes.Equal(r.msg, msg) {
		t.Fatalf("ReadMessage: %d bytes, %v; want the %d bytes sent", len(r.msg), r.err, len(msg))
	}
}

// fixedHuffmanMessage compresses msg as permessage-deflate does, but into
// one fixed-Huffman block of literals (RFC 1951 3.2.6): the block
// (BFINAL=0), an empty stored block to reach a byte boundary, and the
// stored block's 00 00 ff ff cut off (RFC 7692 7.2.1).
func fixedHuffmanMessage(msg []byte) []byte {
	var out []byte
	var acc uint64
	var nbits uint
	put := func(v uint64, n uint) { // LSB first
		acc |= v << nbits
		nbits += n
		for nbits >= 8 {
			out = append(out, byte(acc))
			acc >>= 8
			nbits -= 8
		}
	}
	// Huffman codes go most significant bit first.
	code := func(c uint64, n uint) {
		var r uint64
		for i := range n {
			r |= (c >> i & 1) << (n - 1 - i)
		}
		put(r, n)
	}
	put(0, 1) // BFINAL
	put(1, 2) // BTYPE 01: fixed Huffman
	for _, b := range msg {
		if b < 144 {
			code(0x30+uint64(b), 8)
		} else {
			code(0x190+uint64(b)-144, 9)
		}
	}
	code(0, 7) // end of block (256)
	put(0, 3)  // an empty stored block, BFINAL=0
	if nbits > 0 {
		put(0, 8-nbits)
	}
	return out // its LEN and NLEN, 00 00 ff ff, are left off
}
