package pipeline_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/wspipe/wspipe/handshake"
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
