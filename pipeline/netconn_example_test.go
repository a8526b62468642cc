package pipeline_test

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/wspipe/wspipe/handshake"
	"github.com/wspipe/wspipe/pipeline"
)

// A line protocol tunnelled through a WebSocket: the server answers each
// line in upper case, reading and writing a net.Conn as it would a TCP
// connection, until the client's close ends its stream with io.EOF.
func ExampleNetConn() {
	served := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer close(served)
		c, err := pipeline.Accept(w, r, &handshake.Server{}, nil)
		if err != nil {
			return
		}
		nc := pipeline.NetConn(context.Background(), c, pipeline.Binary)
		defer nc.Close()
		lines := bufio.NewScanner(nc)
		for lines.Scan() {
			fmt.Fprintln(nc, strings.ToUpper(lines.Text()))
		}
		fmt.Println("server:", lines.Err()) // nil: the stream ended with io.EOF
	}))
	defer srv.Close()

	ctx := context.Background()
	c, _, err := pipeline.Dial(ctx, "ws"+strings.TrimPrefix(srv.URL, "http"), nil, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	nc := pipeline.NetConn(ctx, c, pipeline.Binary)
	replies := bufio.NewReader(nc)
	for _, line := range []string{"hello", "tunnel"} {
		fmt.Fprintln(nc, line)
		reply, _ := replies.ReadString('\n')
		fmt.Print(reply)
	}
	nc.Close()
	<-served
	// Output:
	// HELLO
	// TUNNEL
	// server: <nil>
}
