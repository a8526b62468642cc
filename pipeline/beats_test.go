package pipeline

import (
	"context"
	"errors"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

// checkBeats checks q's heap order and that every connection in it knows
// its place.
func checkBeats(t *testing.T, q *beatQueue) {
	t.Helper()
	for i, b := range q.h {
		if got := int(b.c.hbIndex.Load()); got != i+1 {
			t.Fatalf("entry %d: its connection says %d", i, got-1)
		}
		if i > 0 && q.h[(i-1)/2].due > b.due {
			t.Fatalf("entry %d is due before its parent", i)
		}
	}
}

// The queue keeps its heap through sets that move a connection either
// way, stops and the removals of ticks, and holds no stopped connection.
func TestBeatQueueOrder(t *testing.T) {
	var q beatQueue
	defer func() {
		if q.t != nil {
			q.t.Stop()
		}
	}()
	r := rand.New(rand.NewPCG(1, 2))
	conns := make([]*Conn, 200)
	for i := range conns {
		conns[i] = new(Conn)
	}
	// Hours ahead: the timer never fires during the test, whose removals
	// are done by hand below as a tick does them.
	for range 5000 {
		c := conns[r.IntN(len(conns))]
		switch r.IntN(4) {
		case 0, 1:
			q.set(c, time.Hour+time.Duration(r.IntN(1000))*time.Second)
		case 2:
			q.mu.Lock()
			if len(q.h) > 0 {
				q.removeLocked(0)
			}
			q.mu.Unlock()
		case 3:
			q.stop(c)
		}
		checkBeats(t, &q)
	}
	for _, c := range conns {
		q.stop(c)
		if c.hbIndex.Load() != -1 {
			t.Fatal("stopped connection not marked")
		}
		q.set(c, time.Hour) // after stop: nothing
	}
	if len(q.h) != 0 {
		t.Fatalf("%d entries left after every connection stopped", len(q.h))
	}
	if slices.ContainsFunc(q.h[:cap(q.h)], func(b beat) bool { return b.c != nil }) {
		t.Fatal("the heap's room still holds a connection")
	}
}

// A tick takes what is due, earliest first, and leaves the rest queued
// with the timer set for them.
func TestBeatQueueTickTakesDue(t *testing.T) {
	var q beatQueue
	defer func() {
		if q.t != nil {
			q.t.Stop()
		}
	}()
	due, later := new(Conn), new(Conn)
	q.set(later, time.Hour)
	q.set(due, time.Hour)
	q.mu.Lock()
	q.h[due.hbIndex.Load()-1].due = monoNow() - 1 // due now, without waiting
	q.fix(int(due.hbIndex.Load() - 1))
	q.mu.Unlock()
	checkBeats(t, &q)
	// heartbeat on a Conn that was never started finds it ended: give
	// it a write error so that it returns at once.
	due.writeErr = ErrClosed
	q.tick()
	if due.hbIndex.Load() != 0 || later.hbIndex.Load() != 1 || len(q.h) != 1 {
		t.Fatalf("after the tick: due at %d, later at %d, %d queued", due.hbIndex.Load(), later.hbIndex.Load(), len(q.h))
	}
	if q.armed == 0 {
		t.Fatal("the timer is not set for the entry left")
	}
}

// Heartbeats of many connections share the queue: the silent peers are
// dropped with ErrPeerTimeout, the live ones kept, and no connection that
// ended stays in the queue.
func TestHeartbeatsShareQueue(t *testing.T) {
	addr, conns := echoServer(t, &Options{PingInterval: 20 * time.Millisecond, PongTimeout: 2 * time.Second})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var live, silent []*Conn // server sides
	for i := range 12 {
		if i%2 == 0 {
			c := dialRaw(t, addr, nil)
			defer c.CloseNow()
			go func() {
				for {
					if _, _, err := c.NextReader(ctx); err != nil {
						return
					}
				}
			}()
			live = append(live, <-conns)
		} else {
			rawClient(t, addr) // never answers pings
			silent = append(silent, <-conns)
		}
	}
	for i, s := range silent {
		select {
		case <-s.Done():
		case <-ctx.Done():
			t.Fatalf("silent peer %d not dropped", i)
		}
		if _, _, err := s.NextReader(ctx); !errors.Is(err, ErrPeerTimeout) {
			t.Fatalf("silent peer %d: %v, want ErrPeerTimeout", i, err)
		}
	}
	for i, s := range live {
		if s.Err() != nil {
			t.Fatalf("live peer %d dropped: %v", i, s.Err())
		}
		s.CloseNow()
		<-s.Done()
	}
	beats.mu.Lock()
	defer beats.mu.Unlock()
	for _, s := range append(live, silent...) {
		if s.hbIndex.Load() != -1 || slices.ContainsFunc(beats.h, func(b beat) bool { return b.c == s }) {
			t.Fatal("an ended connection is still in the heartbeat queue")
		}
	}
}
