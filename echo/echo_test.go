package echo

import (
	"context"
	"errors"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/wspipe/wspipe/pipeline"
)

func TestShutdownClosesConnectionsWithGoingAway(t *testing.T) {
	h := &Handler{}
	srv := httptest.NewServer(h)
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	url := "ws" + strings.TrimPrefix(srv.URL, "http") + "/"
	var clients []*pipeline.Conn
	for range 3 {
		c, _, err := pipeline.Dial(ctx, url, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		// One round trip so the server surely tracks the connection.
		c.WriteMessage(ctx, pipeline.Binary, []byte{1})
		if _, _, err := c.ReadMessage(ctx, nil); err != nil {
			t.Fatal(err)
		}
		clients = append(clients, c)
	}
	errc := make(chan error, len(clients))
	for _, c := range clients {
		go func() { _, _, err := c.ReadMessage(ctx, nil); errc <- err }()
	}
	if err := h.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	for range clients {
		var ce *pipeline.CloseError
		if err := <-errc; !errors.As(err, &ce) || ce.Code != pipeline.CloseGoingAway {
			t.Fatalf("client saw %v, want close 1001", err)
		}
	}
	// New connections are refused after Shutdown.
	if _, resp, err := pipeline.Dial(ctx, url, nil, nil); err == nil || resp == nil || resp.StatusCode != 503 {
		t.Fatalf("dial after Shutdown: %v", err)
	}
}
