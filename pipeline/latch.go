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
	return *lazyChan(&l.p, 0)
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

// lazyChan returns the channel *p points at, making it (with buffer n) if
// there is none yet; of racing callers, every one gets the same channel.
func lazyChan(p *atomic.Pointer[chan struct{}], n int) *chan struct{} {
	if q := p.Load(); q != nil {
		return q
	}
	c := make(chan struct{}, n)
	if p.CompareAndSwap(nil, &c) {
		return &c
	}
	return p.Load()
}
