package echo_test

import (
	"context"
	"fmt"
	"net/http/httptest"

	"github.com/wspipe/wspipe/echo"
	"github.com/wspipe/wspipe/pipeline"
)

// The echo service on an HTTP server, and a client talking to it.
func ExampleHandler() {
	h := &echo.Handler{Reply: true} // the tutorial's "Received <msg>. Thanks!"
	srv := httptest.NewServer(h)
	defer srv.Close()

	ctx := context.Background()
	c, _, err := pipeline.Dial(ctx, "ws"+srv.URL[len("http"):]+"/", nil, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Close(pipeline.CloseNormal, "")
	c.WriteMessage(ctx, pipeline.Text, []byte("Hello"))
	_, reply, err := c.ReadMessage(ctx, nil)
	fmt.Println(string(reply), err)
	// Output: Received Hello. Thanks! <nil>
}
