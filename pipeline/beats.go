package pipeline

import (
	"sync"
	"time"
)

// beatQueue runs every connection's heartbeat from one timer: a min-heap
// of due times, each connection in it at most once (Conn.hbIndex is its
// place), and a timer set for the earliest. A time.AfterFunc per
// connection costs about 140 bytes of heap for as long as the connection
// lives (the timer, its function value, the runtime's heap slot) and a
// goroutine each time it fires; here a connection costs its 16-byte entry,
// and a tick runs every heartbeat due in one goroutine.
//
// Lock order: a connection's mu, then the queue's (set and stop are called
// with c.mu held); the tick takes no connection's lock while it holds the
// queue's.
type beatQueue struct {
	mu    sync.Mutex
	h     []beat
	t     *time.Timer
	armed int64 // the due time t is set for, 0 if it is not set
	spare []*Conn
}

// beat is a heartbeat due at due, on monotonic nanoseconds (monoNow).
type beat struct {
	due int64
	c   *Conn
}

var beats beatQueue

// beatSlack is how late a heartbeat may come, so that one tick takes
// those due close together.
const beatSlack = 10 * time.Millisecond

// monoBase anchors monoNow: time.Since reads the monotonic clock.
var monoBase = time.Now()

// monoNow is the monotonic time in nanoseconds.
func monoNow() int64 { return int64(time.Since(monoBase)) }

// set (re)schedules c's heartbeat d from now, unless stop was called for
// c. c.mu is held.
func (q *beatQueue) set(c *Conn, d time.Duration) {
	due := monoNow() + int64(d)
	q.mu.Lock()
	defer q.mu.Unlock()
	switch i := int(c.hbIndex.Load()) - 1; {
	case i < -1: // stopped
		return
	case i >= 0:
		q.h[i].due = due
		q.fix(i)
	default:
		q.h = append(q.h, beat{due, c})
		c.hbIndex.Store(int32(len(q.h)))
		q.up(len(q.h) - 1)
	}
	q.armLocked()
}

// stop takes c's heartbeat out of the queue for good. c.mu is held.
func (q *beatQueue) stop(c *Conn) {
	q.mu.Lock()
	if i := int(c.hbIndex.Load()) - 1; i >= 0 {
		q.removeLocked(i)
	}
	c.hbIndex.Store(-1)
	q.mu.Unlock()
}

// armLocked sets the timer for the earliest heartbeat. q.mu is held.
func (q *beatQueue) armLocked() {
	if len(q.h) == 0 {
		return // a stale tick finds nothing and sets nothing
	}
	due := q.h[0].due
	if q.armed != 0 && q.armed <= due {
		return
	}
	q.armed = due
	d := time.Duration(due-monoNow()) + beatSlack
	if q.t == nil {
		q.t = time.AfterFunc(d, q.tick)
	} else {
		q.t.Reset(d)
	}
}

// tick runs the heartbeats that are due, outside the queue's lock, and
// sets the timer for the next.
func (q *beatQueue) tick() {
	now := monoNow()
	q.mu.Lock()
	q.armed = 0
	batch := q.spare[:0]
	q.spare = nil // a tick that overlaps this one makes its own
	for len(q.h) > 0 && q.h[0].due <= now {
		batch = append(batch, q.h[0].c)
		q.removeLocked(0)
	}
	if len(q.h) == 0 && cap(q.h) > 4096 {
		q.h = nil // a crowd has gone: let its room go
	}
	q.armLocked()
	q.mu.Unlock()
	for i, c := range batch {
		batch[i] = nil
		c.heartbeat()
	}
	q.mu.Lock()
	if q.spare == nil && cap(batch) <= 4096 {
		q.spare = batch[:0]
	}
	q.mu.Unlock()
}

// removeLocked takes the entry at i out of the heap. q.mu is held.
func (q *beatQueue) removeLocked(i int) {
	q.h[i].c.hbIndex.Store(0)
	last := len(q.h) - 1
	if i != last {
		q.h[i] = q.h[last]
		q.h[i].c.hbIndex.Store(int32(i + 1))
	}
	q.h[last] = beat{} // hold no connection once it is out
	q.h = q.h[:last]
	if i != last {
		q.fix(i)
	}
}

// fix restores the heap order around i after its due time changed.
func (q *beatQueue) fix(i int) {
	if !q.down(i) {
		q.up(i)
	}
}

func (q *beatQueue) up(i int) {
	for i > 0 {
		p := (i - 1) / 2
		if q.h[p].due <= q.h[i].due {
			return
		}
		q.swap(i, p)
		i = p
	}
}

// down moves i down as far as it goes and reports whether it moved.
func (q *beatQueue) down(i int) bool {
	start := i
	for {
		l := 2*i + 1
		if l >= len(q.h) {
			break
		}
		m := l
		if r := l + 1; r < len(q.h) && q.h[r].due < q.h[l].due {
			m = r
		}
		if q.h[i].due <= q.h[m].due {
			break
		}
		q.swap(i, m)
		i = m
	}
	return i != start
}

func (q *beatQueue) swap(i, j int) {
	q.h[i], q.h[j] = q.h[j], q.h[i]
	q.h[i].c.hbIndex.Store(int32(i + 1))
	q.h[j].c.hbIndex.Store(int32(j + 1))
}
