//go:build linux

package sockio

import (
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// The inline engine serves push-mode sockets whose host promises that
// serving does not block (SetInline) on a few goroutines of its own, each
// a loop over an epoll set: one epoll_wait reports every socket that is
// ready, and the loop reads each one and has its host serve the messages
// right there, with no goroutine woken per message. That is what a C
// server's event loop does, and what the idle poller (idle_linux.go),
// which starts a goroutine per readable socket, does not.
//
// A socket is engaged (in a loop's set) while no goroutine reads it. Its
// membership is level-triggered and lasts across messages, so a socket
// busy with requests costs no epoll_ctl per message: only a read, the
// host's writes, and its share of an epoll_wait. Whatever the loop cannot
// finish without waiting (a message not all there yet, a read that failed,
// the connection's end) goes back to a goroutine: the loop takes the
// socket out of its set and calls the host's Wake, and the goroutine
// engages the socket again once it is drained.
//
// A serve that blocks after all (a write to a peer that does not read, a
// handler that waits) would stop every socket of its loop. A watchdog
// looks at each busy loop every inlineStall: one still in the same serve
// is handed over, as the Go scheduler hands over a thread stuck in a
// system call: the socket leaves the set, a fresh goroutine takes the
// loop on, and the stuck one, once free, hands its socket to a reader
// goroutine and ends. Such a socket is served by goroutines from then on.
//
// Every epoll_ctl on a socket runs inside its RawConn's Control, which
// holds the descriptor open: a socket closed meanwhile is never confused
// with a new one that got its number.

// inlineStall is how long a loop may stay in one serve before the
// watchdog hands the loop to a fresh goroutine.
const inlineStall = 5 * time.Millisecond

// inlineLinger is how long a loop with no socket keeps its epoll set and
// goroutine before it stops, so that a connection coming and going does
// not make and close one each time.
const inlineLinger = time.Second

// engineLoops is SetInlineLoops' setting: 0 for GOMAXPROCS.
var engineLoops atomic.Int64

// SetInlineLoops sets how many loops (each an epoll set and a goroutine)
// the inline engine serves its sockets with: n <= 0 for GOMAXPROCS at the
// first Engage. It applies only before the engine first starts.
func SetInlineLoops(n int) { engineLoops.Store(int64(n)) }

var engine struct {
	once  sync.Once
	loops []*loop
}

// loopFor returns the loop that serves the socket with descriptor fd.
func loopFor(fd int) *loop {
	engine.once.Do(func() {
		n := int(engineLoops.Load())
		if n <= 0 {
			n = runtime.GOMAXPROCS(0)
		}
		engine.loops = make([]*loop, n)
		for i := range engine.loops {
			l := &loop{cur: -1, epfd: -1}
			l.ctlFn = l.doCtl
			engine.loops[i] = l
		}
	})
	return engine.loops[fd%len(engine.loops)]
}

// loop is one of the inline engine's epoll sets with its goroutine.
type loop struct {
	mu    sync.Mutex
	epfd  int       // the epoll set, -1 while stopped
	wake  [2]int    // a pipe whose read end is in the set: a byte wakes the loop
	set   *epset    // the running set's, for its goroutines to see it stopped
	slots []engaged // by descriptor
	n     int       // sockets engaged
	gen   uint32    // engagements, to tell a stale event from a new one
	owner uint32    // the goroutine that runs the loop now (see run)
	cur   int       // descriptor the owner serves, or -1
	// seq is bumped before and after each serve: the watchdog's clock.
	seq      atomic.Uint32
	seen     uint32 // seq at the watchdog's last look
	watching atomic.Bool
	idle     atomic.Bool // the owner waits for events
	watchT   *time.Timer
	stopT    *time.Timer
	// The epoll_ctl that doCtl makes, under mu.
	ctlFn  func(fd uintptr)
	ctlOp  int
	ctlGen uint32
	ctlErr error
}

// epset is a running loop's epoll set: stopped (under the loop's lock)
// tells its goroutine, woken through the pipe, to close it and end.
type epset struct{ stopped bool }

// engaged is a socket in a loop's set.
type engaged struct {
	s    *Socket
	gen  uint32
	busy bool // being served
	back bool // wanted back (Unpark) or handed over (watchdog) while busy
}

// SetInline marks s as served inline: its host's Serve never blocks (if
// it does, the watchdog hands it over), so the socket goes to the inline
// engine as soon as it is drained (see parkNow) and its host parks it with
// Engage. Only for a raw socket, before its reader starts.
func (s *Socket) SetInline() {
	for {
		old := s.state.Load()
		if s.state.CompareAndSwap(old, old|inlineBit) {
			return
		}
	}
}

// Inline reports whether s is served inline: SetInline was called, and no
// serve of s has stalled its loop (see the watchdog). A socket whose serve
// stalled is read by goroutines from then on, as if SetInline had not been
// called: a peer that does not read our replies would otherwise stall the
// loop at each message.
func (s *Socket) Inline() bool { return s.state.Load()&(inlineBit|slowBit) == inlineBit }

// setSlow marks s as one whose serve stalled its loop (see Inline).
func (s *Socket) setSlow() {
	for {
		old := s.state.Load()
		if s.state.CompareAndSwap(old, old|slowBit) {
			return
		}
	}
}

// Engage hands s, drained and read no more for now by the caller, to the
// inline engine, which serves it on a loop of its own when it is readable
// and calls its host's Wake when a goroutine must take over. It reports
// false if s cannot be engaged; the caller then goes on reading it.
func (s *Socket) Engage() bool {
	if !s.ParkOK() {
		return false
	}
	fd := s.fd()
	l := loopFor(fd)
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.epfd < 0 && !l.start() {
		return false
	}
	for len(l.slots) <= fd {
		l.slots = append(l.slots, engaged{})
	}
	if l.slots[fd].s != nil {
		return false // cannot be: its reader owns it
	}
	l.gen++
	if l.gen == 0 {
		l.gen = 1
	}
	l.slots[fd] = engaged{s: s, gen: l.gen}
	if l.ctl(s, syscall.EPOLL_CTL_ADD, l.gen) != nil {
		l.slots[fd] = engaged{}
		return false
	}
	l.n++
	if l.stopT != nil {
		l.stopT.Stop()
	}
	return true
}

// ctl makes the epoll_ctl op for s (its event tagged with gen) inside its
// RawConn's Control. l.mu is held.
func (l *loop) ctl(s *Socket, op int, gen uint32) error {
	l.ctlOp, l.ctlGen, l.ctlErr = op, gen, nil
	if err := s.raw.rc.Control(l.ctlFn); err != nil {
		return err // closed: the kernel has dropped it from the set
	}
	return l.ctlErr
}

func (l *loop) doCtl(fd uintptr) {
	ev := syscall.EpollEvent{Events: syscall.EPOLLIN | syscall.EPOLLRDHUP, Fd: int32(fd), Pad: int32(l.ctlGen)}
	l.ctlErr = syscall.EpollCtl(l.epfd, l.ctlOp, int(fd), &ev)
}

// disengage takes the socket at fd out of l. l.mu is held.
func (l *loop) disengage(fd int) {
	sl := &l.slots[fd]
	if l.epfd >= 0 {
		l.ctl(sl.s, syscall.EPOLL_CTL_DEL, 0)
	}
	*sl = engaged{}
	l.n--
	if l.n == 0 {
		if l.stopT == nil {
			l.stopT = time.AfterFunc(inlineLinger, l.stopIfEmpty)
		} else {
			l.stopT.Reset(inlineLinger)
		}
	}
}

// unengage takes s back from the inline engine if it is engaged there and
// not being served, and reports whether it was. One being served is
// marked: its loop hands it to Wake when the serve ends.
func (s *Socket) unengage() bool {
	fd := s.fd()
	l := loopFor(fd)
	l.mu.Lock()
	defer l.mu.Unlock()
	if fd >= len(l.slots) || l.slots[fd].s != s {
		return false
	}
	if l.slots[fd].busy {
		l.slots[fd].back = true
		return false
	}
	l.disengage(fd)
	return true
}

// start makes the epoll set and starts the loop's goroutine. l.mu is held.
func (l *loop) start() bool {
	epfd, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		return false
	}
	var p [2]int
	if syscall.Pipe2(p[:], syscall.O_CLOEXEC|syscall.O_NONBLOCK) != nil {
		syscall.Close(epfd)
		return false
	}
	ev := syscall.EpollEvent{Events: syscall.EPOLLIN, Fd: int32(p[0]), Pad: 0}
	if syscall.EpollCtl(epfd, syscall.EPOLL_CTL_ADD, p[0], &ev) != nil {
		syscall.Close(epfd)
		syscall.Close(p[0])
		syscall.Close(p[1])
		return false
	}
	l.epfd, l.wake, l.set = epfd, p, new(epset)
	l.owner++
	go l.run(l.owner, epfd, p, l.set)
	return true
}

// stopIfEmpty stops the loop if no socket came since the last left: its
// goroutine, woken, closes the set and the pipe.
func (l *loop) stopIfEmpty() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.n != 0 || l.epfd < 0 {
		return
	}
	l.epfd = -1
	l.set.stopped = true
	l.owner++
	syscall.Write(l.wake[1], []byte{0})
}

// run is the loop's goroutine while it is l's owner me: it waits for
// events in its own epoll_wait (a blocking system call, so a busy loop
// costs one per batch, as a C event loop does, rather than a netpoller
// wake-up and a second epoll_wait), serves them, and ends once the loop
// stops (closing the set and the pipe) or the watchdog gave the loop to
// another goroutine.
func (l *loop) run(me uint32, epfd int, wake [2]int, set *epset) {
	var evs [64]syscall.EpollEvent
	for {
		l.idle.Store(true)
		n, err := syscall.EpollWait(epfd, evs[:], -1)
		l.idle.Store(false)
		if err != nil && err != syscall.EINTR {
			return // cannot be: the set is this goroutine's to close
		}
		if !l.watching.Load() && l.watching.CompareAndSwap(false, true) {
			l.arm()
		}
		for i := range evs[:max(n, 0)] {
			if fd := int(evs[i].Fd); fd == wake[0] && evs[i].Pad == 0 {
				l.mu.Lock()
				stopped := set.stopped
				l.mu.Unlock()
				if stopped {
					syscall.Close(epfd)
					syscall.Close(wake[0])
					syscall.Close(wake[1])
					return
				}
				continue
			}
			if !l.serve(int(evs[i].Fd), uint32(evs[i].Pad), me) {
				return // handed over: another goroutine runs the loop
			}
		}
	}
}

// serve serves the socket an event reported, if it is still engaged with
// that generation, and reports whether me still runs the loop.
func (l *loop) serve(fd int, gen uint32, me uint32) bool {
	l.mu.Lock()
	if l.owner != me {
		l.mu.Unlock()
		return false
	}
	if fd >= len(l.slots) || l.slots[fd].gen != gen || l.slots[fd].s == nil || l.slots[fd].busy {
		l.mu.Unlock()
		return true // stale: its socket left (and the kernel's entry with it)
	}
	s := l.slots[fd].s
	l.slots[fd].busy = true
	l.cur = fd
	l.mu.Unlock()
	l.seq.Add(1)
	keep := s.raw.host.Serve()
	l.seq.Add(1)
	l.mu.Lock()
	sl := &l.slots[fd]
	stolen := sl.s != s // the watchdog took it out
	wake := stolen || !keep || sl.back
	if !stolen {
		if wake {
			l.disengage(fd)
		} else {
			sl.busy = false
		}
	}
	if l.cur == fd && l.owner == me {
		l.cur = -1
	}
	still := l.owner == me
	l.mu.Unlock()
	if wake {
		s.raw.host.Wake()
	}
	return still
}

// watch is the watchdog: it runs every inlineStall while the loop is
// busy, and hands the loop to a fresh goroutine when its owner has stayed
// in one serve since the last look.
func (l *loop) watch() {
	l.mu.Lock()
	seq := l.seq.Load()
	if seq&1 == 1 && seq == l.seen && l.cur >= 0 && l.epfd >= 0 {
		fd := l.cur
		l.slots[fd].s.setSlow()
		l.disengage(fd) // its serve, once done, sees it gone and calls Wake
		l.cur = -1
		l.owner++
		go l.run(l.owner, l.epfd, l.wake, l.set)
		handOvers.Add(1)
	}
	l.seen = seq
	if !l.idle.Load() && l.epfd >= 0 {
		l.watchT.Reset(inlineStall)
		l.mu.Unlock()
		return
	}
	l.mu.Unlock()
	// Stop watching, unless the loop got busy meanwhile: run arms the
	// watchdog only if it finds it stopped, so one of the two sees the
	// other's write.
	l.watching.Store(false)
	if !l.idle.Load() && l.watching.CompareAndSwap(false, true) {
		l.arm()
	}
}

// arm starts the watchdog, which the caller has marked watching.
func (l *loop) arm() {
	l.mu.Lock()
	l.seen = l.seq.Load()
	if l.watchT == nil {
		l.watchT = time.AfterFunc(inlineStall, l.watch)
	} else {
		l.watchT.Reset(inlineStall)
	}
	l.mu.Unlock()
}

// handOvers counts the loops the watchdog handed over, for tests.
var handOvers atomic.Int64

// InlineStats reports how many sockets the inline engine holds and how
// many times its watchdog has handed a loop over.
func InlineStats() (engaged int, handedOver int64) {
	for _, l := range engine.loops {
		l.mu.Lock()
		engaged += l.n
		l.mu.Unlock()
	}
	return engaged, handOvers.Load()
}

// Engaged reports whether s is engaged in the inline engine.
func (s *Socket) Engaged() bool {
	fd := s.fd()
	if fd < 0 || !s.Inline() {
		return false
	}
	l := loopFor(fd)
	l.mu.Lock()
	defer l.mu.Unlock()
	return fd < len(l.slots) && l.slots[fd].s == s
}

// ServeReady serves what the engaged socket holds, on the inline
// engine's goroutine (the host's Serve calls it): it reads the socket and
// has the host Consume the bytes until the socket is drained, without
// ever waiting. It reports whether the socket can stay engaged: drained,
// with nothing of a message left in the buffer and no read failure.
func (s *Socket) ServeReady() bool {
	w := s.raw
	w.host.Lock()
	s.inPump = true
	w.host.Unlock()
	s.serving = true
	w.kick.And(1<<fillShift - 1) // a new turn
	err := w.rc.Read(w.try)
	s.serving = false
	w.host.Lock()
	s.inPump = false
	kicked := w.kick.Load()&kickDone != 0
	if kicked {
		w.kick.And(^uint32(kickDone))
	}
	w.host.Unlock()
	if kicked {
		err = s.afterKick(err)
	}
	done := s.swapYield(yieldDone, yieldNone)
	return done && err == nil && s.Buf == nil && s.Err == nil
}
