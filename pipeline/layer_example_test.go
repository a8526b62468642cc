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

// counter is a custom layer that counts the payload bytes of the
// messages a connection receives and sends. It keeps one reader and one
// writer, re-armed per message, so it allocates nothing per message.
type counter struct {
	in, out int64
	r       countingReader
	w       countingWriter
}

type countingReader struct {
	r io.Reader
	n *int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	*c.n += int64(n)
	return n, err
}

type countingWriter struct {
	w io.WriteCloser
	n *int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	*c.n += int64(n)
	return n, err
}

func (c *countingWriter) Close() error { return c.w.Close() }

func (l *counter) WrapReader(typ pipeline.MessageType, r io.Reader) io.Reader {
	l.r = countingReader{r: r, n: &l.in}
	return &l.r
}

func (l *counter) WrapWriter(typ pipeline.MessageType, w io.WriteCloser) io.WriteCloser {
	l.w = countingWriter{w: w, n: &l.out}
	return &l.w
}

// A custom layer sits between the connection's own layers and the
// application, in both directions; Options.Layers makes a connection's
// layers when it starts. Here an echo server counts what it receives and
// sends. (One message at a time each way, so one reader and one writer per
// layer are enough.)
func ExampleLayer() {
	stats := make(chan *counter, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		count := &counter{}
		c, err := pipeline.Accept(w, r, &handshake.Server{}, &pipeline.Options{
			Layers: func() []pipeline.Layer { return []pipeline.Layer{count} },
		})
		if err != nil {
			return
		}
		for {
			typ, msg, err := c.ReadMessage(r.Context(), nil)
			if err != nil {
				break
			}
			c.WriteMessage(r.Context(), typ, msg)
		}
		c.Wait()
		stats <- count
	}))
	defer srv.Close()

	ctx := context.Background()
	c, _, err := pipeline.Dial(ctx, "ws"+strings.TrimPrefix(srv.URL, "http"), nil, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, m := range []string{"one", "two", "three"} {
		c.WriteMessage(ctx, pipeline.Text, []byte(m))
		c.ReadMessage(ctx, nil)
	}
	c.Close(pipeline.CloseNormal, "")
	count := <-stats
	fmt.Println("server received", count.in, "bytes and sent", count.out)
	// Output: server received 11 bytes and sent 11
}
