package wsjson

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/wspipe/wspipe/pipeline"
)

// pair returns a connected client and server Conn over loopback TCP; the
// server's options are opts.
func pair(t testing.TB, opts *pipeline.Options) (client, server *pipeline.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	type result struct {
		c   *pipeline.Conn
		err error
	}
	accepted := make(chan result, 1)
	go func() {
		raw, err := ln.Accept()
		if err != nil {
			accepted <- result{nil, err}
			return
		}
		c, err := pipeline.AcceptConn(raw, nil, opts)
		if err != nil {
			raw.Close()
		}
		accepted <- result{c, err}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	client, _, err = pipeline.Dial(ctx, "ws://"+ln.Addr().String()+"/", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	r := <-accepted
	if r.err != nil {
		t.Fatal(r.err)
	}
	t.Cleanup(func() {
		// Both at once: a side that is not reading holds the peer's
		// close for up to CloseTimeout, unless it is closing itself.
		done := make(chan struct{})
		go func() {
			client.Close(pipeline.CloseNormal, "")
			close(done)
		}()
		r.c.Close(pipeline.CloseNormal, "")
		<-done
		client.Wait()
		r.c.Wait()
	})
	return client, r.c
}

// testCtx bounds a test's waits.
func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

type point struct {
	X, Y int
	Name string `json:"name,omitempty"`
}

func TestRoundTrip(t *testing.T) {
	ctx := testCtx(t)
	c, s := pair(t, nil)
	for _, p := range []point{{1, 2, "a"}, {-3, 4, ""}, {0, 0, strings.Repeat("é", 40000)}} {
		if err := Write(ctx, c, p); err != nil {
			t.Fatal(err)
		}
		var got point
		if err := Read(ctx, s, &got); err != nil {
			t.Fatal(err)
		}
		if got != p {
			t.Fatalf("got %+v, want %+v", got, p)
		}
	}
}

// Write sends exactly json.Marshal's bytes (HTML escaping included, no
// newline) as one text message in one frame: MessageLen, which knows the
// length only of a single-frame message, tells.
func TestWriteOneFrame(t *testing.T) {
	ctx := testCtx(t)
	c, s := pair(t, nil)
	for _, v := range []any{
		point{1, 2, "<a&b>"},
		map[string]any{"k": []int{1, 2, 3}, "s": "x"},
		"plain",
		bytes.Repeat([]byte{7}, 20000), // base64, 26668 bytes: more than one write buffer
	} {
		want, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		if err := Write(ctx, c, v); err != nil {
			t.Fatal(err)
		}
		typ, r, err := s.NextReader(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if n := s.MessageLen(); n != int64(len(want)) {
			t.Errorf("%T: MessageLen %d, want %d (one frame)", v, n, len(want))
		}
		got, err := io.ReadAll(r)
		if err != nil {
			t.Fatal(err)
		}
		if typ != pipeline.Text || !bytes.Equal(got, want) {
			t.Errorf("%T: got %v %q, want text %q", v, typ, got, want)
		}
	}
}

func TestReadBinary(t *testing.T) {
	ctx := testCtx(t)
	c, s := pair(t, nil)
	if err := c.WriteMessage(ctx, pipeline.Binary, []byte(` {"X":5,"Y":6} `)); err != nil {
		t.Fatal(err)
	}
	var got point
	if err := Read(ctx, s, &got); err != nil {
		t.Fatal(err)
	}
	if got != (point{X: 5, Y: 6}) {
		t.Fatalf("got %+v", got)
	}
}

// A message that is not exactly one JSON value for v is a DecodeError,
// never io.ErrUnexpectedEOF or a connection error, and the next message
// is read as usual.
func TestDecodeError(t *testing.T) {
	ctx := testCtx(t)
	c, s := pair(t, nil)
	for _, bad := range []string{
		`{"X":1`,          // truncated
		`{"X":1} x`,       // trailing data
		`{"X":1} {"X":2}`, // two values
		``,                // empty
		`  `,              // whitespace only
		`"a string"`,      // wrong shape for v
		`{"X":"one"}`,     // wrong field type
	} {
		if err := c.WriteMessage(ctx, pipeline.Text, []byte(bad)); err != nil {
			t.Fatal(err)
		}
		var p point
		err := Read(ctx, s, &p)
		var de *DecodeError
		if !errors.As(err, &de) {
			t.Fatalf("%q: got %v, want a *DecodeError", bad, err)
		}
		if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, pipeline.ErrClosed) {
			t.Errorf("%q: %v looks like a connection error", bad, err)
		}
		var se *json.SyntaxError
		var te *json.UnmarshalTypeError
		if !errors.As(err, &se) && !errors.As(err, &te) {
			t.Errorf("%q: %v does not unwrap to encoding/json's error", bad, err)
		}
		// The connection carries on.
		if err := Write(ctx, c, point{X: 9}); err != nil {
			t.Fatal(err)
		}
		if err := Read(ctx, s, &p); err != nil || p.X != 9 {
			t.Fatalf("after %q: %+v %v", bad, p, err)
		}
	}
}

func TestReadConnectionErrors(t *testing.T) {
	c, s := pair(t, nil)

	// A context that ends first leaves the connection usable.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var p point
	if err := Read(ctx, s, &p); err != context.Canceled {
		t.Fatalf("cancelled read: %v", err)
	}
	ctx = testCtx(t)
	if err := Write(ctx, c, point{X: 1}); err != nil {
		t.Fatal(err)
	}
	if err := Read(ctx, s, &p); err != nil || p.X != 1 {
		t.Fatalf("after cancel: %+v %v", p, err)
	}

	// The peer's close comes back unchanged.
	if err := c.CloseSend(4000, "done"); err != nil {
		t.Fatal(err)
	}
	err := Read(ctx, s, &p)
	var de *DecodeError
	var ce *pipeline.CloseError
	if errors.As(err, &de) || !errors.Is(err, pipeline.ErrClosed) || !errors.As(err, &ce) || ce.Code != 4000 || ce.Reason != "done" || !ce.Remote {
		t.Fatalf("after the peer's close: %v", err)
	}
}

// The message limit applies: a message over it fails the connection
// (1009), and Read says so with the connection's error.
func TestReadLimit(t *testing.T) {
	ctx := testCtx(t)
	c, s := pair(t, &pipeline.Options{MaxMessageSize: 64})
	if err := Write(ctx, c, strings.Repeat("a", 100)); err != nil {
		t.Fatal(err)
	}
	var v string
	err := Read(ctx, s, &v)
	var de *DecodeError
	if errors.As(err, &de) || !errors.Is(err, pipeline.ErrTooBig) {
		t.Fatalf("got %v, want pipeline.ErrTooBig", err)
	}
	_, _, err = c.ReadMessage(ctx, nil)
	if pipeline.CloseStatus(err) != pipeline.CloseMessageTooBig {
		t.Fatalf("client got %v, want a 1009 close", err)
	}
}

// A value encoding/json refuses is not sent at all.
func TestWriteEncodeError(t *testing.T) {
	ctx := testCtx(t)
	c, s := pair(t, nil)
	err := Write(ctx, c, map[string]any{"f": func() {}})
	var ue *json.UnsupportedTypeError
	if !errors.As(err, &ue) {
		t.Fatalf("got %v, want a *json.UnsupportedTypeError", err)
	}
	if err := Write(ctx, c, 42); err != nil {
		t.Fatal(err)
	}
	_, msg, err := s.ReadMessage(ctx, nil)
	if err != nil || string(msg) != "42" {
		t.Fatalf("first message %q %v, want only the good one", msg, err)
	}
}

// Buffers that grew for a large message are not kept in the pools.
func TestPoolRetention(t *testing.T) {
	ctx := testCtx(t)
	c, s := pair(t, nil)
	big := strings.Repeat("x", 2*maxPooled)
	if err := Write(ctx, c, big); err != nil {
		t.Fatal(err)
	}
	var got string
	if err := Read(ctx, s, &got); err != nil || got != big {
		t.Fatalf("big message: %d bytes, %v", len(got), err)
	}
	// Without the race detector a Put followed by a Get on the same P
	// returns the item put, so a kept buffer would show here.
	e := encoders.Get().(*encoder)
	defer putEncoder(e)
	if e.buf.Cap() > maxPooled {
		t.Errorf("pooled encoder buffer of %d bytes", e.buf.Cap())
	}
	bp := readBufs.Get().(*[]byte)
	defer readBufs.Put(bp)
	if cap(*bp) > maxPooled {
		t.Errorf("pooled read buffer of %d bytes", cap(*bp))
	}
}

type record struct {
	ID    int      `json:"id"`
	Name  string   `json:"name"`
	Tags  []string `json:"tags"`
	Score float64  `json:"score"`
}

// Write allocates no more per message than encoding/json: fewer than
// json.Marshal, which also allocates the slice it returns. Read allocates
// no more than json.Unmarshal of the same bytes. The counts cover the
// whole process, the peer's side of each message included.
func TestAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector adds allocations (sync.Pool drops items at random)")
	}
	if testing.Short() {
		t.Skip("allocation count needs a quiet process")
	}
	ctx := context.Background() // no Done channel: WriteMessage then allocates nothing itself
	c, s := pair(t, nil)
	for _, v := range []any{
		&record{ID: 7, Name: "seven", Tags: []string{"a", "b"}, Score: 0.5},
		map[string]int{"b": 2, "a": 1},
	} {
		marshal := testing.AllocsPerRun(200, func() { json.Marshal(v) })
		var buf []byte
		var err error
		write := testing.AllocsPerRun(200, func() {
			if e := Write(ctx, c, v); e != nil {
				err = e
				return
			}
			_, buf, err = s.ReadMessage(ctx, buf)
		})
		if err != nil {
			t.Fatal(err)
		}
		if write > marshal-1 {
			t.Errorf("%T: Write and its reception make %v allocations, json.Marshal %v", v, write, marshal)
		}

		wire, _ := json.Marshal(v)
		dst := new(record)
		unmarshal := testing.AllocsPerRun(200, func() { json.Unmarshal(wire, dst) })
		read := testing.AllocsPerRun(200, func() {
			if e := c.WriteMessage(ctx, pipeline.Text, wire); e != nil {
				err = e
				return
			}
			err = Read(ctx, s, dst)
		})
		if err != nil {
			t.Fatal(err)
		}
		if read > unmarshal {
			t.Errorf("%T: Read and its message make %v allocations, json.Unmarshal %v", v, read, unmarshal)
		}
		t.Logf("%T: Write %v (json.Marshal %v), Read %v (json.Unmarshal %v)", v, write, marshal, read, unmarshal)
	}
}
