package pipeline_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/wspipe/wspipe/handshake"
	"github.com/wspipe/wspipe/layers"
	"github.com/wspipe/wspipe/pipeline"
)

// A streaming echo server: each message is copied back as it arrives, with
// io.Copy between the message's reader and a new message's writer.
func ExampleConn_NextReader() {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := pipeline.Accept(w, r, &handshake.Server{}, nil)
		if err != nil {
			return
		}
		defer c.Close(pipeline.CloseNormal, "")
		for {
			typ, msg, err := c.NextReader(r.Context())
			if err != nil {
				return
			}
			w, err := c.NextWriter(r.Context(), typ)
			if err != nil {
				return
			}
			if _, err := io.Copy(w, msg); err != nil {
				return
			}
			w.Close()
		}
	}))
	defer srv.Close()

	ctx := context.Background()
	c, _, err := pipeline.Dial(ctx, "ws"+strings.TrimPrefix(srv.URL, "http"), nil, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Close(pipeline.CloseNormal, "")
	w, _ := c.NextWriter(ctx, pipeline.Text)
	io.Copy(w, strings.NewReader("streamed "+strings.Repeat("and streamed ", 2)))
	w.Close()
	_, reply, _ := c.ReadMessage(ctx, nil)
	fmt.Println(string(reply))
	// Output: streamed and streamed and streamed
}

// Push mode: the connection's reader goroutine calls OnMessage, and the
// HTTP handler returns right after the upgrade.
func ExampleOptions_onMessage() {
	opts := &pipeline.Options{
		OnMessage: func(c *pipeline.Conn, typ pipeline.MessageType, r io.Reader) error {
			msg, err := io.ReadAll(r)
			if err != nil {
				return nil // the connection is failing already
			}
			return c.WriteMessage(context.Background(), typ, []byte(strings.ToUpper(string(msg))))
		},
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		pipeline.Accept(w, r, &handshake.Server{}, opts) // returns at once
	}))
	defer srv.Close()

	ctx := context.Background()
	c, _, err := pipeline.Dial(ctx, "ws"+strings.TrimPrefix(srv.URL, "http"), nil, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Close(pipeline.CloseNormal, "")
	c.WriteMessage(ctx, pipeline.Text, []byte("shout"))
	_, reply, _ := c.ReadMessage(ctx, nil)
	fmt.Println(string(reply))
	// Output: SHOUT
}

// A server that knows each message's length before reading it reads it
// into a buffer of just that size, placed so that the echo goes out in
// place, uncopied (this is how cmd/echo serves).
func ExampleConn_MessageLen() {
	opts := &pipeline.Options{
		OnMessage: func(c *pipeline.Conn, typ pipeline.MessageType, r io.Reader) error {
			n := c.MessageLen() // -1: fragmented or compressed, read to the end instead
			if n < 0 {
				return nil
			}
			buf := make([]byte, n+layers.MaxHeaderSize+64)
			off := pipeline.PayloadOffset(buf, int(n))
			msg := buf[off : off+int(n)]
			// Binary only: a text message's UTF-8 is checked up to its
			// end, so one is read to io.EOF before the reply (as
			// echo.Handler does), not just to its length.
			if _, err := io.ReadFull(r, msg); err != nil || typ == pipeline.Text {
				return nil
			}
			fmt.Println("server read", n, "bytes")
			return c.WriteMessage(context.Background(), typ, msg)
		},
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		pipeline.Accept(w, r, &handshake.Server{}, opts)
	}))
	defer srv.Close()

	ctx := context.Background()
	c, _, err := pipeline.Dial(ctx, "ws"+strings.TrimPrefix(srv.URL, "http"), nil, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Close(pipeline.CloseNormal, "")
	c.WriteMessage(ctx, pipeline.Binary, make([]byte, 100000))
	_, reply, _ := c.ReadMessage(ctx, nil)
	fmt.Println("client got", len(reply), "bytes")
	// Output:
	// server read 100000 bytes
	// client got 100000 bytes
}

// Fill reads a message into a buffer, to the buffer's end or the
// message's. On Linux TCP the connection then waits for a large message in
// big pieces rather than waking for each one the network delivers.
func ExampleFill() {
	done := make(chan struct{})
	opts := &pipeline.Options{
		OnMessage: func(c *pipeline.Conn, typ pipeline.MessageType, r io.Reader) error {
			defer close(done)
			buf := make([]byte, 1<<20)
			n, err := pipeline.Fill(r, buf)
			switch err {
			case io.EOF:
				fmt.Println("the whole message:", n, "bytes")
			case nil:
				fmt.Println("the first", n, "bytes of a larger message")
			default:
				fmt.Println(err)
			}
			return nil
		},
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		pipeline.Accept(w, r, &handshake.Server{}, opts)
	}))
	defer srv.Close()

	ctx := context.Background()
	c, _, err := pipeline.Dial(ctx, "ws"+strings.TrimPrefix(srv.URL, "http"), nil, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Close(pipeline.CloseNormal, "")
	c.WriteMessage(ctx, pipeline.Binary, make([]byte, 300000))
	<-done
	// Output: the whole message: 300000 bytes
}

// Err tells whether a connection has ended, and why, without a select on
// Done: nil while it is open; here, after the server's close, its code and
// reason.
func ExampleConn_Err() {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := pipeline.Accept(w, r, &handshake.Server{}, nil)
		if err != nil {
			return
		}
		c.ReadMessage(r.Context(), nil) // one message, then goodbye
		c.Close(pipeline.CloseGoingAway, "bye")
	}))
	defer srv.Close()

	ctx := context.Background()
	c, _, err := pipeline.Dial(ctx, "ws"+strings.TrimPrefix(srv.URL, "http"), nil, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("open:", c.Err())
	c.WriteMessage(ctx, pipeline.Text, []byte("hello"))
	_, _, err = c.ReadMessage(ctx, nil) // returns once the server's close arrives
	fmt.Println("read:", err)
	<-c.Done()
	fmt.Println("ended:", c.Err())
	// Output:
	// open: <nil>
	// read: websocket: closed by peer: 1001 going away: bye
	// ended: websocket: closed by peer: 1001 going away: bye
}

// CloseStatus tells a normal end from the rest, whichever call reported
// it; errors.As gives the whole story: who closed, the reason, the cause.
func ExampleCloseStatus() {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := pipeline.Accept(w, r, &handshake.Server{}, nil)
		if err != nil {
			return
		}
		c.Close(4000, "kicked") // an application's own code
	}))
	defer srv.Close()

	ctx := context.Background()
	c, _, err := pipeline.Dial(ctx, "ws"+strings.TrimPrefix(srv.URL, "http"), nil, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	_, _, err = c.ReadMessage(ctx, nil)
	switch pipeline.CloseStatus(err) {
	case pipeline.CloseNormal, pipeline.CloseGoingAway:
		fmt.Println("a normal end")
	case pipeline.CloseNone:
		fmt.Println("not an end:", err)
	default:
		var ce *pipeline.CloseError
		errors.As(err, &ce)
		fmt.Println("code", int(ce.Code), "reason", ce.Reason, "from the peer:", ce.Remote)
	}
	fmt.Println(errors.Is(err, pipeline.ErrClosed), c.Err() == err)
	// Output:
	// code 4000 reason kicked from the peer: true
	// true true
}

// A server that only pushes calls CloseRead: pings are answered, the
// peer's messages discarded, and the returned context ends with the
// connection, its cause the *CloseError.
func ExampleConn_CloseRead() {
	done := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer close(done)
		c, err := pipeline.Accept(w, r, &handshake.Server{}, nil)
		if err != nil {
			return
		}
		ctx := c.CloseRead(context.Background())
		for i := 1; ; i++ {
			select {
			case <-ctx.Done():
				fmt.Println("server:", context.Cause(ctx))
				return
			case <-time.After(10 * time.Millisecond):
				c.WriteMessage(ctx, pipeline.Text, []byte(fmt.Sprint("tick ", i)))
			}
		}
	}))
	defer srv.Close()

	ctx := context.Background()
	c, _, err := pipeline.Dial(ctx, "ws"+strings.TrimPrefix(srv.URL, "http"), nil, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	for range 3 {
		_, msg, _ := c.ReadMessage(ctx, nil)
		fmt.Println(string(msg))
	}
	c.CloseSend(pipeline.CloseNormal, "enough")
	<-done
	// Output:
	// tick 1
	// tick 2
	// tick 3
	// server: websocket: closed by peer: 1000 normal closure: enough
}

// A WebSocket over HTTP/2 (RFC 8441): the server is configured with
// handshake.ConfigureHTTP2 (here for cleartext HTTP/2, h2c) and its
// handler waits for the Conn, since the stream ends when the handler
// returns; the client asks for HTTP/2 and shares one connection among
// all its WebSockets to the same origin.
func ExampleDial_http2() {
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := pipeline.Accept(w, r, &handshake.Server{}, nil)
		if err != nil {
			return
		}
		defer c.Wait() // over HTTP/2, return only once the Conn has ended
		typ, msg, err := c.ReadMessage(r.Context(), nil)
		if err != nil {
			return
		}
		c.WriteMessage(r.Context(), typ, append([]byte(r.Proto+": "), msg...))
		c.ReadMessage(r.Context(), nil) // until the client closes
	}))
	if err := handshake.ConfigureHTTP2(srv.Config, true); err != nil {
		fmt.Println(err) // GODEBUG=http2xconnect=1 missing: HTTP/1.1 only
	}
	srv.Start()
	defer srv.Close()

	ctx := context.Background()
	hc := &handshake.Client{HTTP2: handshake.HTTP2Prefer}
	defer hc.CloseIdleConnections()
	c, _, err := pipeline.Dial(ctx, "ws"+strings.TrimPrefix(srv.URL, "http"), hc, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	c.WriteMessage(ctx, pipeline.Text, []byte("hello"))
	_, reply, _ := c.ReadMessage(ctx, nil)
	fmt.Println(string(reply))
	c.Close(pipeline.CloseNormal, "bye")
	// Output: HTTP/2.0: hello
}
