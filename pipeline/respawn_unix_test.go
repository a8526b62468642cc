//go:build unix

package pipeline

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"sync/atomic"
	"testing"
	"time"
)

// setIdleRespawn shortens the idle kick for one test.
func setIdleRespawn(t *testing.T, d time.Duration) {
	was := respawnAfterTest.Swap(int64(d))
	t.Cleanup(func() { respawnAfterTest.Store(was) })
}

// withIdleModes runs test with the idle poller on (an idle reader parks the
// socket and ends) and off (it hands over to a fresh goroutine).
func withIdleModes(t *testing.T, test func(t *testing.T)) {
	for _, mode := range []struct {
		name    string
		readers int
	}{{"poller", 0}, {"goroutine", -1}} {
		t.Run(mode.name, func(t *testing.T) {
			SetIdleReaders(mode.readers)
			t.Cleanup(func() { SetIdleReaders(0) })
			test(t)
		})
	}
}

// A reader goroutine that handled frames and went idle is replaced, by the
// idle poller or a fresh goroutine; the connection goes on as before, and
// closes once.
func TestIdleRespawn(t *testing.T) { withIdleModes(t, testIdleRespawn) }

func testIdleRespawn(t *testing.T) {
	setIdleRespawn(t, 20*time.Millisecond)
	var closes atomic.Int32
	opts := pushEcho()
	opts.OnClose = func(*Conn, error) { closes.Add(1) }
	addr, conns := echoServer(t, opts)
	c := dialRaw(t, addr, nil)
	srv := <-conns
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	before := handovers.Load()
	for round := range 5 {
		if _, err := c.Ping(ctx); err != nil {
			t.Fatalf("round %d: ping: %v", round, err)
		}
		msg := bytes.Repeat([]byte{byte('a' + round)}, 100+round*1000)
		if err := c.WriteMessage(ctx, Binary, msg); err != nil {
			t.Fatal(err)
		}
		if _, got, err := c.ReadMessage(ctx, nil); err != nil || !bytes.Equal(got, msg) {
			t.Fatalf("round %d: echo %d bytes, %v", round, len(got), err)
		}
		// Idle long enough for a kick.
		deadline := time.Now().Add(5 * time.Second)
		for handovers.Load() <= before+int64(round) && time.Now().Before(deadline) {
			time.Sleep(5 * time.Millisecond)
		}
		if handovers.Load() <= before+int64(round) {
			t.Fatalf("round %d: no reader respawned after idling", round)
		}
	}
	c.Close(CloseNormal, "bye")
	select {
	case <-srv.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("server connection did not end")
	}
	time.Sleep(50 * time.Millisecond) // a late kick must not call OnClose again
	if n := closes.Load(); n != 1 {
		t.Fatalf("OnClose ran %d times", n)
	}
}

// Kicks every millisecond while bursts of messages, pings and fragments
// arrive with pauses: every echo arrives whole and in order.
func TestIdleRespawnUnderTraffic(t *testing.T) { withIdleModes(t, testIdleRespawnUnderTraffic) }

func testIdleRespawnUnderTraffic(t *testing.T) {
	setIdleRespawn(t, time.Millisecond)
	addr, _ := echoServer(t, pushEcho())
	c := dialRaw(t, addr, nil)
	defer c.Close(CloseNormal, "")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	rng := rand.New(rand.NewPCG(5, 6))
	before := handovers.Load()
	results := make(chan error, 1)
	const n = 300
	var want [n][]byte
	for i := range want {
		want[i] = []byte(fmt.Sprintf("m%d ", i) + string(bytes.Repeat([]byte{'x'}, rng.IntN(3000))))
	}
	go func() {
		for i := range want {
			_, got, err := c.ReadMessage(ctx, nil)
			if err != nil || !bytes.Equal(got, want[i]) {
				results <- fmt.Errorf("echo %d: %d bytes, %v", i, len(got), err)
				return
			}
		}
		results <- nil
	}()
	for i := range want {
		if rng.IntN(3) == 0 {
			go c.Ping(ctx)
		}
		if err := c.WriteMessage(ctx, Text, want[i]); err != nil {
			t.Fatal(err)
		}
		if rng.IntN(8) == 0 {
			time.Sleep(time.Duration(1+rng.IntN(3)) * time.Millisecond)
		}
	}
	if err := <-results; err != nil {
		t.Fatal(err)
	}
	if handovers.Load() == before {
		t.Fatal("no reader respawned: the test did not test it")
	}
}
