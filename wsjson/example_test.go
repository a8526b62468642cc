package wsjson_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/wspipe/wspipe/handshake"
	"github.com/wspipe/wspipe/pipeline"
	"github.com/wspipe/wspipe/wsjson"
)

type request struct {
	Op   string `json:"op"`
	A, B int
}

type reply struct {
	Result int    `json:"result,omitempty"`
	Error  string `json:"error,omitempty"`
}

// serve starts a server that answers each JSON request with a JSON reply,
// and a bad message with an error reply, on the same connection.
func serve() *httptest.Server {
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := pipeline.Accept(w, r, &handshake.Server{}, nil)
		if err != nil {
			return
		}
		defer c.Close(pipeline.CloseNormal, "")
		ctx := context.Background()
		for {
			var req request
			err := wsjson.Read(ctx, c, &req)
			var de *wsjson.DecodeError
			switch {
			case errors.As(err, &de):
				err = wsjson.Write(ctx, c, reply{Error: "bad request: " + de.Err.Error()})
			case err != nil:
				return // the connection has ended
			case req.Op == "add":
				err = wsjson.Write(ctx, c, reply{Result: req.A + req.B})
			default:
				err = wsjson.Write(ctx, c, reply{Error: "unknown op " + req.Op})
			}
			if err != nil {
				return
			}
		}
	}))
}

func ExampleWrite() {
	srv := serve()
	defer srv.Close()
	ctx := context.Background()
	c, _, err := pipeline.Dial(ctx, "ws"+strings.TrimPrefix(srv.URL, "http"), nil, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Close(pipeline.CloseNormal, "")

	wsjson.Write(ctx, c, request{Op: "add", A: 2, B: 3}) // sends {"op":"add","A":2,"B":3}
	var rep reply
	if err := wsjson.Read(ctx, c, &rep); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("result:", rep.Result)
	// Output: result: 5
}

// A message that is not one JSON value is a DecodeError, and the
// connection goes on: here the server answers it and then the next request.
func ExampleRead() {
	srv := serve()
	defer srv.Close()
	ctx := context.Background()
	c, _, err := pipeline.Dial(ctx, "ws"+strings.TrimPrefix(srv.URL, "http"), nil, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Close(pipeline.CloseNormal, "")

	c.WriteMessage(ctx, pipeline.Text, []byte(`{"op":"add","A":1} trailing`))
	wsjson.Write(ctx, c, request{Op: "add", A: 40, B: 2})
	for range 2 {
		var rep reply
		if err := wsjson.Read(ctx, c, &rep); err != nil {
			fmt.Println(err)
			return
		}
		fmt.Printf("%+v\n", rep)
	}
	// Output:
	// {Result:0 Error:bad request: invalid character 't' after top-level value}
	// {Result:42 Error:}
}
