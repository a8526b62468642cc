// Package wsjson reads and writes JSON messages on a [pipeline.Conn], one
// JSON value per message: what a browser's JSON.stringify and JSON.parse
// exchange over a WebSocket.
//
// Both directions reuse pooled buffers, so a message costs no allocations
// beyond what [encoding/json] itself makes for the value. Buffers that grew
// past 64 KiB for a large message are dropped rather than pooled, as fmt
// does with its printers, so one large message does not pin its memory.
package wsjson

import (
	"bytes"
	"context"
	"encoding/json"
	"sync"

	"github.com/wspipe/wspipe/pipeline"
)

// maxPooled is the largest buffer the pools keep.
const maxPooled = 64 << 10

// DecodeError is the error [Read] returns for a message it read whole but
// could not decode into v: not one JSON value (malformed, truncated, empty,
// or followed by more than whitespace), or a value of the wrong shape for
// v. The connection is unaffected and the next Read gets the next message;
// errors of the connection itself are never a DecodeError.
type DecodeError struct {
	// Err is the error from [json.Unmarshal], such as a [*json.SyntaxError]
	// or a [*json.UnmarshalTypeError].
	Err error
}

// Error describes the message that failed to decode.
func (e *DecodeError) Error() string { return "wsjson: bad JSON message: " + e.Err.Error() }

// Unwrap returns e.Err, for [errors.As] on encoding/json's error types.
func (e *DecodeError) Unwrap() error { return e.Err }

// readBufs holds the buffers whole messages are read into.
var readBufs = sync.Pool{New: func() any { return new([]byte) }}

// Read reads the next message from c, text or binary, and decodes it into v
// as [json.Unmarshal] does. The message must hold exactly one JSON value,
// with only whitespace around it; otherwise Read returns a [*DecodeError]
// and v may have been partly filled, as with json.Unmarshal. Binary
// messages are accepted because many peers (Node's ws with a Buffer, a
// browser sending an ArrayBuffer) send JSON that way; unlike a text
// message's, their UTF-8 is not checked, and json.Unmarshal turns invalid
// UTF-8 inside strings into U+FFFD.
//
// The message is read whole with [pipeline.Conn.ReadMessage], so it is
// bounded by the connection's read limit (Options.MaxMessageSize, or
// [pipeline.Conn.SetReadLimit]); a larger one fails the connection with
// 1009. ctx bounds the wait for the message as it does for
// [pipeline.Conn.NextReader]: if it ends first, Read returns ctx.Err() and
// the connection stays usable. Any other error is the connection's,
// returned unchanged: once the connection has ended, a
// [*pipeline.CloseError] that matches [pipeline.ErrClosed] and says how.
func Read(ctx context.Context, c *pipeline.Conn, v any) error {
	bp := readBufs.Get().(*[]byte)
	_, msg, err := c.ReadMessage(ctx, *bp)
	if err == nil {
		if uerr := json.Unmarshal(msg, v); uerr != nil {
			err = &DecodeError{Err: uerr}
		}
	}
	if cap(msg) <= maxPooled {
		*bp = msg[:0] // keep what ReadMessage grew
		readBufs.Put(bp)
	}
	return err
}

// encoder is a pooled buffer with a json.Encoder writing into it.
type encoder struct {
	buf bytes.Buffer
	enc *json.Encoder
}

var encoders = sync.Pool{New: func() any {
	e := new(encoder)
	e.enc = json.NewEncoder(&e.buf)
	return e
}}

// putEncoder returns e to the pool unless its buffer grew too large to keep.
func putEncoder(e *encoder) {
	if e.buf.Cap() > maxPooled {
		return
	}
	e.buf.Reset()
	encoders.Put(e)
}

// Write encodes v as [json.Marshal] does (the same bytes, without a
// trailing newline) and sends it as one text message with
// [pipeline.Conn.WriteMessage]: a single frame unless it is very large. If
// v cannot be encoded, Write sends nothing and returns encoding/json's
// error; otherwise it returns WriteMessage's.
func Write(ctx context.Context, c *pipeline.Conn, v any) error {
	e := encoders.Get().(*encoder)
	defer putEncoder(e)
	if err := e.enc.Encode(v); err != nil {
		return err
	}
	b := e.buf.Bytes()
	return c.WriteMessage(ctx, pipeline.Text, b[:len(b)-1]) // Encode ends the value with '\n'
}
