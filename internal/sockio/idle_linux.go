//go:build linux

package sockio

import (
	"os"
	"sync"
	"sync/atomic"
	"syscall"
)

// The idle poller holds push-mode sockets that wait for their peer with no
// goroutine at all: an epoll set of its own, whose descriptor sits in Go's
// netpoller like any socket, so one goroutine, parked there, waits for all
// of them. A socket stays in Go's netpoller too (its net.Conn keeps working:
// writes, deadlines, Close); it is added to this set only while parked,
// with EPOLLONESHOT, so it is reported once, and level-triggered, so a byte
// that arrived before it was added is reported at once.
//
// Why not take the descriptor out of Go's netpoller (as nbio does)? Then
// every write, deadline and Close would need a poller of ours too, and
// UnderlyingConn could not be a net.Conn. Sharing costs one more readiness
// event per wake-up, for a connection that was idle anyway.

// poller is the process's idle poller. Its goroutine runs while a socket is
// parked, and ends, closing the epoll set, when the last one leaves.
var poller idlePoller

type idlePoller struct {
	mu    sync.Mutex
	file  *os.File // the epoll set, nil while stopped
	epfd  int      // its descriptor (file.Fd would make it blocking)
	slots []slot   // by descriptor
	n     int      // sockets parked or pending
	gen   uint32
	// Woken readers: those Wake started that have not parked again or
	// ended. At most max at once (0: no bound); the sockets that became
	// readable meanwhile wait in pending, in order.
	max     int
	running []*Socket
	pending []uint64 // fd | gen<<32
	waiting atomic.Bool
}

// slot is a parked socket: the generation of its parking (a stale event
// for a descriptor closed and reused meanwhile has another), and whether it
// is pending (readable, waiting for a reader place).
type slot struct {
	gen     uint32
	pending bool
	s       *Socket
}

// ParkOK reports whether [Socket.Park] can be used for s: a TCP or Unix
// socket on Linux.
func (s *Socket) ParkOK() bool { return s.raw != nil && s.fd() >= 0 }

// Park hands s, which the caller reads no more for now (no bytes buffered,
// no message begun), to the idle poller: no goroutine waits for it. When
// it becomes readable the poller calls its host's Wake, once, from the
// poller's goroutine, and the reader Wake starts owns s again. It reports
// false if s cannot be parked; the caller then goes on reading it. A reader
// that Wake started gives up its place among the running ones here. At
// most maxReaders readers the poller starts run at once (the latest
// Park's bound applies; <= 0: none).
func (s *Socket) Park(maxReaders int) bool {
	if !s.ParkOK() {
		return false
	}
	p := &poller
	p.mu.Lock()
	p.max = maxReaders
	if p.file == nil && !p.start() {
		p.mu.Unlock()
		return false
	}
	fd := s.fd()
	for len(p.slots) <= fd {
		p.slots = append(p.slots, slot{})
	}
	p.gen++
	if p.gen == 0 {
		p.gen = 1
	}
	gen := p.gen
	p.slots[fd] = slot{gen: gen, s: s}
	p.n++
	s.leaveLocked(p)
	epfd := p.epfd
	p.mu.Unlock()
	// Outside the lock: the event may come at once, and take the slot.
	ev := syscall.EpollEvent{Events: syscall.EPOLLIN | syscall.EPOLLRDHUP | epollOneShot, Fd: int32(fd), Pad: int32(gen)}
	err := syscall.EpollCtl(epfd, syscall.EPOLL_CTL_MOD, fd, &ev)
	if err == syscall.ENOENT {
		err = syscall.EpollCtl(epfd, syscall.EPOLL_CTL_ADD, fd, &ev)
	}
	if err != nil {
		// Take it back, unless an event already has (it cannot: the
		// socket is in no set). The caller reads it itself.
		p.mu.Lock()
		if sl := &p.slots[fd]; sl.gen == gen {
			*sl = slot{}
			p.n--
			p.stopIfIdleLocked()
		}
		p.mu.Unlock()
		return false
	}
	return true
}

// epollOneShot is EPOLLONESHOT as the EpollEvent field's type wants it.
const epollOneShot = 1 << 30

// Unpark takes s back from the idle poller if it is parked there (or
// pending) and reports whether it was: the caller then owns reading it,
// and Wake will not be called for this parking.
func (s *Socket) Unpark() bool {
	if s.fd() < 0 {
		return false
	}
	p := &poller
	p.mu.Lock()
	defer p.mu.Unlock()
	fd := s.fd()
	if fd >= len(p.slots) || p.slots[fd].s != s {
		return false
	}
	p.slots[fd] = slot{}
	p.n--
	if p.file != nil {
		syscall.EpollCtl(p.epfd, syscall.EPOLL_CTL_DEL, fd, nil)
	}
	p.stopIfIdleLocked()
	return true
}

// Leave gives up the place among the running readers that Wake gave s's
// reader, if it has one: a reader that ends without parking s again, or
// one about to wait for its peer in the middle of a message (outside
// Pump). A peer that sends a large message slowly, or stops halfway, then
// holds a goroutine but not a place, and no number of them keeps the other
// connections waiting. (Waiting for a place to come free would not do:
// such a reader already waits in the netpoller when others come.) A
// reader that reads a message already there keeps its place, so a burst
// of wake-ups still runs at most the bound at once; one that gave its
// place up parks as any other once its socket is drained. Out of line for
// the stack budget: the read callbacks call it.
//
//go:noinline
func (s *Socket) Leave() {
	if !s.woken {
		return
	}
	p := &poller
	p.mu.Lock()
	s.leaveLocked(p)
	p.mu.Unlock()
}

// leaveLocked gives up s's reader's place, if it has one, and passes it on
// to the first socket pending, if any. p.mu is held.
func (s *Socket) leaveLocked(p *idlePoller) {
	if !s.woken {
		return
	}
	s.woken = false
	for i, r := range p.running {
		if r == s {
			last := len(p.running) - 1
			p.running[i] = p.running[last]
			p.running[last] = nil
			p.running = p.running[:last]
			break
		}
	}
	for len(p.pending) > 0 && (p.max <= 0 || len(p.running) < p.max) {
		key := p.pending[0]
		p.pending = p.pending[1:]
		if w := p.takeLocked(int(uint32(key)), uint32(key>>32)); w != nil {
			// Started under the lock: Wake only starts a goroutine.
			w.raw.host.Wake()
		}
	}
	p.waiting.Store(len(p.pending) > 0)
}

// takeLocked takes the socket parked at fd with generation gen, if it is
// still there, and gives it a reader place. p.mu is held.
func (p *idlePoller) takeLocked(fd int, gen uint32) *Socket {
	if fd >= len(p.slots) || p.slots[fd].gen != gen || p.slots[fd].s == nil {
		return nil
	}
	s := p.slots[fd].s
	p.slots[fd] = slot{}
	p.n--
	p.running = append(p.running, s)
	s.woken = true
	return s
}

// IdleStats reports the idle poller's sockets: parked (waiting for bytes),
// running (their readers started by the poller and not parked again) and
// pending (readable, waiting for a reader place).
func IdleStats() (parked, running, pending int) {
	p := &poller
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, k := range p.pending {
		if fd, gen := int(uint32(k)), uint32(k>>32); fd < len(p.slots) && p.slots[fd].gen == gen {
			pending++
		}
	}
	return p.n - pending, len(p.running), pending
}

// ReadersWaiting reports whether sockets are readable and waiting for a
// reader place: a reader that has drained its socket should park it then
// rather than wait for more.
func ReadersWaiting() bool { return poller.waiting.Load() }

// start makes the epoll set and starts the goroutine that waits on it.
// p.mu is held.
func (p *idlePoller) start() bool {
	epfd, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		return false
	}
	if err := syscall.SetNonblock(epfd, true); err != nil {
		syscall.Close(epfd)
		return false
	}
	// Non-blocking, so os.NewFile puts it in Go's netpoller.
	f := os.NewFile(uintptr(epfd), "sockio-idle-epoll")
	rc, err := f.SyscallConn()
	if err != nil {
		f.Close()
		return false
	}
	p.file, p.epfd = f, epfd
	go p.run(f, rc)
	return true
}

// stopIfIdleLocked stops the poller when no socket is parked: its
// goroutine, woken by the close, ends. p.mu is held.
func (p *idlePoller) stopIfIdleLocked() {
	if p.n == 0 && p.file != nil {
		f := p.file
		p.file = nil
		// Close waits for the goroutine to leave its read callback, which
		// may be waiting for p.mu: not under it.
		go f.Close()
	}
}

// run waits for parked sockets to become readable and has their readers
// started, until the set is closed.
func (p *idlePoller) run(f *os.File, rc syscall.RawConn) {
	var evs [128]syscall.EpollEvent
	var kicks []*Socket
	rc.Read(func(epfd uintptr) bool {
		for {
			n, err := syscall.EpollWait(int(epfd), evs[:], 0)
			if err == syscall.EINTR {
				continue
			}
			if n <= 0 {
				return err != nil && err != syscall.EAGAIN // wait, or give up
			}
			p.mu.Lock()
			if p.file != f {
				p.mu.Unlock()
				return true // stopped
			}
			queued := false
			for _, ev := range evs[:n] {
				fd, gen := int(ev.Fd), uint32(ev.Pad)
				if p.max > 0 && len(p.running) >= p.max {
					if fd < len(p.slots) && p.slots[fd].gen == gen && !p.slots[fd].pending {
						p.slots[fd].pending = true
						p.pending = append(p.pending, uint64(fd)|uint64(gen)<<32)
						queued = true
					}
					continue
				}
				if s := p.takeLocked(fd, gen); s != nil {
					s.raw.host.Wake()
				}
			}
			p.waiting.Store(len(p.pending) > 0)
			// Readers waiting for more from their peers give their places
			// up now: kicked out of their wait, they park.
			kick := kicks[:0]
			if queued {
				kick = append(kick, p.running...)
				kicks = kick
			}
			p.stopIfIdleLocked()
			stopped := p.file != f
			p.mu.Unlock()
			for i, s := range kick {
				s.kickIdle()
				kick[i] = nil
			}
			if stopped {
				return true
			}
		}
	})
}
