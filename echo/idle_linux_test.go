package echo

import (
	"context"
	"testing"
	"time"

	"github.com/wspipe/wspipe/internal/sockio"
)

// Shutdown reaches connections whose sockets wait in the idle poller, with
// no goroutine of theirs: each gets 1001 and the closing handshake.
func TestShutdownReachesParkedConnections(t *testing.T) {
	h := &Handler{}
	url := serveWS(t, h)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	parked0, _, _ := sockio.IdleStats()
	clients := dialEchoed(t, ctx, url, 3)
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
	shutdownGoingAway(t, ctx, h, clients)
	if parked, _, _ := sockio.IdleStats(); parked > parked0 {
		t.Errorf("%d sockets still parked after Shutdown, %d before the test", parked, parked0)
	}
}
