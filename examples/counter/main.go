// Command counter shows a custom layer: an echo server whose connections
// count the bytes of every message in and out, plugged in through
// pipeline.Options.Layers. It starts the server on loopback, sends a few
// messages from a client and prints what the layer counted.
package main

import (
	"context"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"strings"
	"sync/atomic"

	"github.com/wspipe/wspipe/echo"
	"github.com/wspipe/wspipe/pipeline"
)

// Counter is a pipeline.Layer that counts payload bytes per direction.
// Its wrappers are fields, re-armed per message, so counting allocates
// nothing per message.
type Counter struct {
	In, Out  atomic.Int64
	Messages atomic.Int64
	r        countingReader
	w        countingWriter
}

// WrapReader counts the bytes the application reads.
func (c *Counter) WrapReader(_ pipeline.MessageType, r io.Reader) io.Reader {
	c.Messages.Add(1)
	c.r = countingReader{r: r, n: &c.In}
	return &c.r
}

// WrapWriter counts the bytes the application writes.
func (c *Counter) WrapWriter(_ pipeline.MessageType, w io.WriteCloser) io.WriteCloser {
	c.w = countingWriter{w: w, n: &c.Out}
	return &c.w
}

type countingReader struct {
	r io.Reader
	n *atomic.Int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}

type countingWriter struct {
	w io.WriteCloser
	n *atomic.Int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n.Add(int64(n))
	return n, err
}

func (c *countingWriter) Close() error { return c.w.Close() }

func main() {
	counter := &Counter{}
	h := &echo.Handler{}
	// Each connection gets its own layers; this example has one connection.
	h.Options.Layers = func() []pipeline.Layer { return []pipeline.Layer{counter} }

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	srv := &http.Server{Handler: h}
	go srv.Serve(ln)
	defer srv.Close()

	ctx := context.Background()
	c, _, err := pipeline.Dial(ctx, "ws://"+ln.Addr().String()+"/", nil, nil)
	if err != nil {
		log.Fatal(err)
	}
	for _, msg := range []string{"hello", strings.Repeat("x", 1000), "bye"} {
		if err := c.WriteMessage(ctx, pipeline.Text, []byte(msg)); err != nil {
			log.Fatal(err)
		}
		if _, _, err := c.ReadMessage(ctx, nil); err != nil {
			log.Fatal(err)
		}
	}
	c.Close(pipeline.CloseNormal, "")
	fmt.Printf("server saw %d messages, %d bytes in, %d bytes out\n",
		counter.Messages.Load(), counter.In.Load(), counter.Out.Load())
}
