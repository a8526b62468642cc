package pipeline

import "sync/atomic"

// latch is a signal that fires once, like a channel that is closed once,
// except that the channel is made only when somebody waits on it (as
// context.cancelCtx makes its Done channel). An idle connection has four of
// them and waits on none, so it keeps no channels: 112 bytes each.
//
// The zero latch has not fired. It is 8 bytes: a pointer to the channel,
// which becomes firedChan when it fires.
type latch struct{ p atomic.Pointer[chan struct{}] }

// firedChan is the closed channel every fired latch points at.
var firedChan = func() *chan struct{} {
	c := make(chan struct{})
	close(c)
	return &c
}()

// C returns a channel that is closed once the latch has fired.
func (l *latch) C() <-chan struct{} {
	if p := l.p.Load(); p != nil {
		return *p
	}
	return *lazyChan(&l.p)
}

// fired reports whether the latch has fired, without making a channel.
func (l *latch) fired() bool { return l.p.Load() == firedChan }

// fire fires the latch and reports whether this call did; later calls do
// nothing.
func (l *latch) fire() bool {
	for {
		p := l.p.Load()
		if p == firedChan {
			return false
		}
		if l.p.CompareAndSwap(p, firedChan) {
			if p != nil {
				close(*p) // only the winner of the swap closes it
			}
			return true
		}
	}
}

// lazyChan returns the channel *p points at, making it if there is none
// yet; of racing callers, every one gets the same channel.
func lazyChan(p *atomic.Pointer[chan struct{}]) *chan struct{} {
	if q := p.Load(); q != nil {
		return q
	}
	c := make(chan struct{})
	if p.CompareAndSwap(nil, &c) {
		return &c
	}
	return p.Load()
}

// token is a lock that a waiter can give up on (a context ends, the
// connection dies) and that costs no channel while uncontended. It is one
// pointer: nil while free, tokenHeld while held, until somebody has to
// wait. The first waiter then makes a one-slot channel whose slot is
// full while the token is held (its element stands for the holder's
// token) and puts it in; from then on taking is sending and releasing is
// receiving, as with a plain channel. A connection written from one
// goroutine at a time, the usual case, thus keeps no channel.
//
// The zero token is free.
type token struct{ p atomic.Pointer[chan struct{}] }

// tokenHeld marks a held token with no channel.
var tokenHeld = new(chan struct{})

// tryTake takes the token if it is free.
func (t *token) tryTake() bool {
	if t.p.CompareAndSwap(nil, tokenHeld) {
		return true
	}
	if p := t.p.Load(); p != nil && p != tokenHeld {
		select {
		case *p <- struct{}{}:
			return true
		default:
		}
	}
	return false
}

// take waits for the token until it is taken, or until done or dead is
// closed; ok reports that it was taken.
func (t *token) take(done, dead <-chan struct{}) (ok bool) {
	for {
		if t.p.CompareAndSwap(nil, tokenHeld) {
			return true
		}
		p := t.p.Load()
		if p == tokenHeld {
			c := make(chan struct{}, 1)
			c <- struct{}{} // the holder's
			if !t.p.CompareAndSwap(tokenHeld, &c) {
				continue // released meanwhile, or another waiter made one
			}
			p = &c
		} else if p == nil {
			continue
		}
		select {
		case *p <- struct{}{}:
			return true
		case <-done:
			return false
		case <-dead:
			return false
		}
	}
}

// release frees the token.
func (t *token) release() {
	if !t.p.CompareAndSwap(tokenHeld, nil) {
		<-*t.p.Load()
	}
}
