package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/wspipe/wspipe/pipeline"
)

func TestCompressionNegotiated(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want bool
	}{
		{[]string{"-addr", "127.0.0.1:0"}, true},
		{[]string{"-addr", "127.0.0.1:0", "-compress=false"}, false},
	} {
		s := startRun(t, tc.args...)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		c, resp, err := pipeline.Dial(ctx, s.url, nil, &pipeline.Options{Compression: &pipeline.Compression{}})
		if err != nil {
			t.Fatal(err)
		}
		got := strings.Contains(resp.Header.Get("Sec-WebSocket-Extensions"), "permessage-deflate")
		if got != tc.want {
			t.Errorf("%v: permessage-deflate accepted = %v, want %v", tc.args, got, tc.want)
		}
		msg := strings.Repeat("squeeze me ", 1000)
		if err := c.WriteMessage(ctx, pipeline.Text, []byte(msg)); err != nil {
			t.Fatal(err)
		}
		if _, echo, err := c.ReadMessage(ctx, nil); err != nil || string(echo) != msg {
			t.Fatalf("%v: echo %d bytes, %v", tc.args, len(echo), err)
		}
		c.Close(pipeline.CloseNormal, "")
		cancel()
	}
}
