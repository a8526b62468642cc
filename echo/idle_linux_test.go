package echo

import (
	"context"
	"errors"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/wspipe/wspipe/internal/sockio"
	"github.com/wspipe/wspipe/pipeline"
)

// Shutdown reaches connections whose sockets wait in the idle poller, with
// no goroutine of theirs: each gets 1001 and the closing handshake.
func TestShutdownReachesParkedConnections(t *testing.T) {
	h := &Handler{}
	srv := httptest.NewServer(h)
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	url := "ws" + strings.TrimPrefix(srv.URL, "http") + "/"
	parked0, _, _ := sockio.IdleStats()
	var clients []*pipeline.Conn
	for range 3 {
		c, _, err := pipeline.Dial(ctx, url, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer c.CloseNow()
		if err := c.WriteMessage(ctx, pipeline.Binary, []byte{1}); err != nil {
			t.Fatal(err)
		}
		if _, _, err := c.ReadMessage(ctx, nil); err != nil {
			t.Fatal(err)
		}
		clients = append(clients, c)
	}
	// A used connection parks once it has been idle for a second.
	for deadline := time.Now().Add(15 * time.Second); ; {
		if parked, _, _ := sockio.IdleStats(); parked >= parked0+len(clients) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the connections did not park")
		}
		time.Sleep(20 * time.Millisecond)
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
	if parked, _, _ := sockio.IdleStats(); parked > parked0 {
		t.Errorf("%d sockets still parked after Shutdown, %d before the test", parked, parked0)
	}
}
