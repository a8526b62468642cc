//go:build unix

package sockio

import (
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// rawSock waits for the socket to be readable with syscall.RawConn and
// reads into the pooled buffer only then, so a connection blocked waiting
// for its peer holds no read buffer. Every connection on a socket holds
// one, idle or not: TestRawSockSize keeps it in the 48-byte size class. A
// reader into callers' slices and a writer are taken from pools for each
// call (sockReader, rawWriter), so a connection keeps neither once used.
type rawSock struct {
	rc   syscall.RawConn
	try  func(fd uintptr) bool // the read callback, made once (newTry): no allocation per fill
	host Host
	// The idle kick's state: kickArmed and kickDone.
	kick atomic.Uint32
	// The socket's SO_RCVLOWAT as last set, 1 (the kernel's default)
	// until a whole read raises it (0 stands for 1). Only the goroutine
	// reading the connection touches it.
	lowat int32
}

// The bits of rawSock.kick.
const (
	kickArmed = 1 << iota // the idle wheel holds the socket
	kickDone              // kicked in Pump; guarded by the host's lock
)

// armIdle runs when Pump goes idle after serving bytes. The host's work,
// and any reply, ran on the reader goroutine and may have grown its stack
// to 4 KiB, which the runtime never shrinks back while the goroutine waits
// (it shrinks only stacks less than a quarter used, guard included). So
// the idle wheel, armed once per period, kicks a reader still in Pump: a
// read deadline in the past ends its wait, Pump returns ErrIdle, and the
// host can go on in a fresh goroutine (2 KiB) or park the socket. On a
// busy connection that is one kick a second.
func (w *rawSock) armIdle(s *Socket) {
	if w.kick.Load()&kickArmed != 0 {
		return
	}
	d := w.host.IdleAfter()
	if d <= 0 {
		return
	}
	w.kick.Or(kickArmed)
	kicks.add(s, d)
}

// idleWheel kicks sockets when their idle delay has passed: one timer for
// all of them, not one per connection. A timer of its own per connection
// stays with it, and once stopped it still sits in the runtime's timer
// heap with what its function holds until the heap is tidied: memory that
// a connection that was used once and then idles would keep.
//
// Sockets come in the order they are armed, and every host in a program
// uses the same delay, so the queue is kept in order of due time by
// appending; a socket due before the last ones (a delay changed, as tests
// do) goes in before them.
type idleWheel struct {
	mu    sync.Mutex
	q     []idleEntry // pending kicks, due in order from q[head]; t will fire while any are
	head  int
	t     *time.Timer
	spare []idleEntry // room for a tick's batch, reused
}

type idleEntry struct {
	s   *Socket
	due time.Time
}

var kicks idleWheel

// kickSlack is how late a kick may come.
const kickSlack = 10 * time.Millisecond

func (k *idleWheel) add(s *Socket, d time.Duration) {
	due := time.Now().Add(d)
	k.mu.Lock()
	i := len(k.q)
	for i > k.head && k.q[i-1].due.After(due) {
		i-- // only when the delay changed: else none is due later
	}
	k.q = append(k.q, idleEntry{})
	copy(k.q[i+1:], k.q[i:])
	k.q[i] = idleEntry{s, due}
	if i == k.head {
		// First in line: the timer was idle, or set for one due later.
		if k.t == nil {
			k.t = time.AfterFunc(d, k.tick)
		} else {
			k.t.Reset(d)
		}
	}
	k.mu.Unlock()
}

// tick kicks the sockets that are due, outside the wheel's lock (a kick
// takes the host's), and sets the timer for the next ones, if any:
// kickSlack late, so that one tick takes a batch.
func (k *idleWheel) tick() {
	now := time.Now()
	k.mu.Lock()
	batch := k.spare[:0]
	k.spare = nil // a tick that overlaps this one makes its own
	for k.head < len(k.q) && !k.q[k.head].due.After(now) {
		batch = append(batch, k.q[k.head])
		k.q[k.head] = idleEntry{} // hold no connection longer than due
		k.head++
	}
	switch {
	case k.head == len(k.q):
		k.q, k.head = k.q[:0], 0
		if cap(k.q) > 4096 {
			k.q = nil // a burst is over: let its room go
		}
	default:
		if k.head >= len(k.q)/2 {
			// Sockets armed all the time keep the queue from emptying:
			// drop the kicked front, or appends would carry it on.
			n := copy(k.q, k.q[k.head:])
			clear(k.q[n:])
			k.q, k.head = k.q[:n], 0
		}
		k.t.Reset(k.q[k.head].due.Sub(now) + kickSlack)
	}
	k.mu.Unlock()
	for i := range batch {
		s := batch[i].s
		batch[i] = idleEntry{}
		// Out of the queue: armIdle may queue it again. (Only here: the
		// idle poller's kicks leave the socket queued.)
		s.raw.kick.And(^uint32(kickArmed))
		s.kickIdle()
	}
	k.mu.Lock()
	if k.spare == nil {
		k.spare = batch[:0]
	}
	k.mu.Unlock()
}

// kickIdle ends the reader's wait in Pump, if it waits there: a read
// deadline in the past, after which Pump returns ErrIdle. Under the host's
// lock, so it cannot land after the reader has left Pump.
func (s *Socket) kickIdle() {
	w := s.raw
	w.host.Lock()
	defer w.host.Unlock()
	if s.inPump && w.kick.Load()&kickDone == 0 {
		w.kick.Or(kickDone)
		s.conn.SetReadDeadline(time.Unix(1, 0))
	}
}

// newRawSock returns s's rawSock if conn is a TCP or Unix socket, else
// nil.
func newRawSock(s *Socket, conn net.Conn, host Host) *rawSock {
	sc, ok := conn.(interface {
		SyscallConn() (syscall.RawConn, error)
	})
	if !ok {
		return nil
	}
	switch conn.(type) {
	case *net.TCPConn, *net.UnixConn:
	default:
		return nil // a wrapper (TLS, say) whose bytes are not the socket's
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return nil
	}
	w := &rawSock{rc: rc, host: host}
	w.try = newTry(s)
	return w
}

func (s *Socket) fillRaw() error {
	err := s.raw.rc.Read(s.raw.try)
	if err != nil {
		return err // a deadline or a closed connection
	}
	err, s.Err = s.Err, nil // the read callback's
	return err
}

// newTry returns s's read callback, which runs inside RawConn.Read: a
// non-blocking read into a pooled buffer. On EAGAIN it gives the buffer
// back and asks to wait. In Pump (s.inPump) it also has the host serve
// what it read. (A closure, not a method value: a method value adds a
// wrapper's frame under every message. It holds s alone, in 16 bytes.)
func newTry(s *Socket) func(fd uintptr) bool {
	return func(fd uintptr) bool {
		w := s.raw
		if !s.inPump {
			return w.fillRead(s, fd)
		}
		// Pump's loop, written out here for the stack budget
		// (docs/architecture.md; pipeline's TestReaderFitsStartingStack
		// fails with a call). Every call reads first: RawConn.Read forgets readiness
		// seen before it began. After a read that did not fill the buffer
		// the socket is empty, and any byte arriving later marks it
		// readable anew, so it asks to wait without reading again. It
		// waits only between messages: with part of one buffered, it
		// leaves.
		for {
			s.Acquire()
			buf := *s.Buf
			if s.R > 0 {
				// Keep an unfinished frame at the start, with room after it.
				s.W = copy(buf, buf[s.R:s.W])
				s.R = 0
			}
			if s.W == len(buf) {
				return true // Consume keeps no more than fits; be safe
			}
			n, wait, err := readSocket(fd, buf[s.W:])
			if n == 0 {
				s.ReleaseIfEmpty()
				if wait {
					if s.Buf == nil && s.parkNow(fd) {
						return true
					}
					w.lowerLowat(fd)
					return false
				}
				s.Err = err
				return true
			}
			s.W += n
			drained := s.W < len(buf)
			if !w.host.Consume() {
				s.ReleaseIfEmpty()
				return true
			}
			if drained {
				if s.R < s.W {
					// A message has begun but the rest is not here: the
					// host's ordinary path streams it, answering pings
					// inside it and failing bad UTF-8 without waiting for
					// its end.
					return true
				}
				s.Release()
				if s.parkNow(fd) {
					return true
				}
				w.armIdle(s)
				return false
			}
		}
	}
}

// parkNow reports whether Pump, about to wait with nothing buffered,
// returns ErrIdle instead for the host to park the socket: when sockets
// wait for a reader place in the idle poller, and for a new connection
// (see IdleFromStart) at its first wait when many new ones wait already.
//
// It also notes the socket's descriptor, for Park, which only a reader
// that stopped here calls. Out of line for the stack budget (it would
// swell the read callback's frame).
//
//go:noinline
func (s *Socket) parkNow(fd uintptr) bool {
	s.noteFd(fd)
	if s.swapYield(yieldNew, yieldNone) {
		if newWaiting.Load() >= newMax && s.ParkOK() {
			s.setYield(yieldDone)
			return true
		}
		s.setYoung()
	}
	if ReadersWaiting() && s.ParkOK() {
		s.setYield(yieldDone)
		return true
	}
	return false
}

// The yield states (Socket.state's bits 28 to 30).
const (
	yieldNone = iota
	yieldNew  // IdleFromStart: not waited yet
	yieldDone // the read callback stopped at a wait: Pump returns ErrIdle
)

// newWaiting counts the new connections whose readers are still in their
// first Pump, waiting or serving (youngBit): from their first wait until
// they leave it (the idle kick, a message left for the host's ordinary
// path, the end); newMax is how many may be. Beyond it, a new
// connection parks at its first wait, whether its peer has sent something
// already or not. A burst of connections thus holds at most newMax
// goroutines, also when every client sends a message at once and then
// idles (the runtime keeps every goroutine record it ever made, for
// reuse: a goroutine per connection at once would stay as memory, 0.44
// KiB each), while a connection that closes right away, the usual case
// when few are new, costs no wake-up.
var newWaiting atomic.Int64

const newMax = 128

// setYoung counts s in newWaiting, once.
func (s *Socket) setYoung() {
	if s.state.Or(youngBit)&youngBit == 0 {
		newWaiting.Add(1)
	}
}

// endYoung stops counting s in newWaiting, if it is. (The load first:
// most calls find it not counted, and skip the atomic write.)
func (s *Socket) endYoung() {
	if s.state.Load()&youngBit != 0 && s.state.And(^uint32(youngBit))&youngBit != 0 {
		newWaiting.Add(-1)
	}
}

// IdleFromStart marks a new connection: its reader parks at its first
// wait if many new connections are in their first Pump already (see
// parkNow and newWaiting); else it counts among them until it leaves its
// first Pump. A connection that never
// sends and came while few were new keeps its reader goroutine.
func (s *Socket) IdleFromStart() { s.setYield(yieldNew) }

// Forget is for a connection that ends: it stops counting it among the
// new ones waiting.
func (s *Socket) Forget() { s.endYoung() }

// fillRead is the read callback outside Pump.
func (w *rawSock) fillRead(s *Socket, fd uintptr) bool {
	s.Acquire()
	n, wait, err := readSocket(fd, *s.Buf)
	if n > 0 {
		s.R, s.W = 0, n
		return true
	}
	s.Release()
	if wait {
		s.Leave() // a wait outside Pump: the reader's place goes to another
		w.lowerLowat(fd)
		return false
	}
	s.Err = err
	return true
}

// lowerLowat puts SO_RCVLOWAT back to one byte, if a whole read raised it,
// before a wait for whatever comes next.
func (w *rawSock) lowerLowat(fd uintptr) {
	if w.lowat > 1 {
		setLowat(fd, 1)
		w.lowat = 1
	}
}

// readSocket reads fd into p once, retrying on EINTR: n > 0 bytes, or wait
// when the socket has nothing yet, or err (io.EOF at the end).
func readSocket(fd uintptr, p []byte) (n int, wait bool, err error) {
	for {
		n, errno := sysRead(fd, p)
		switch {
		case n > 0:
			return n, false, nil
		case errno == syscall.EINTR:
			continue
		case errno == syscall.EAGAIN:
			return 0, true, nil
		case errno != 0:
			return 0, false, os.NewSyscallError("read", errno)
		}
		return 0, false, io.EOF
	}
}

// Pump runs the push-mode fast path: the reader stays inside one
// RawConn.Read, reads into the buffer whenever the socket is readable and
// has the host Consume it, until Consume returns false or reading fails
// (the failure is kept in Err). After a read that did not fill the buffer
// the socket is empty, so it waits at once instead of reading again only
// to be told EAGAIN, and it waits only with no message begun: with
// unread bytes left it returns, for the host's ordinary path. Pump
// returns what ended the wait itself: a closed connection, or ErrIdle
// after its idle kick (see armIdle). Only for a raw socket ([Socket.Raw]).
//
// It marks its run in InPump, and leaves it and learns of a kick in one
// step under the host's lock, so no kick lands once it has left: its
// deadline would fail the host's ordinary path.
func (s *Socket) Pump() error {
	w := s.raw
	w.host.Lock()
	s.inPump = true
	w.host.Unlock()
	err := w.rc.Read(w.try)
	w.host.Lock()
	s.inPump = false
	kicked := w.kick.Load()&kickDone != 0
	if kicked {
		w.kick.And(^uint32(kickDone))
	}
	w.host.Unlock()
	s.endYoung() // out of its first Pump: no longer new
	if kicked {
		return s.afterKick(err)
	}
	if s.swapYield(yieldDone, yieldNone) {
		return ErrIdle
	}
	return err
}

// InPump reports whether the reader is inside Pump, where closing the
// socket would wait for it to leave (or, called from the host's Consume,
// wait forever). The caller holds the host's lock.
func (s *Socket) InPump() bool { return s.inPump }

// afterKick clears the deadline of an idle kick, and turns the read error
// it caused into ErrIdle.
func (s *Socket) afterKick(err error) error {
	s.conn.SetReadDeadline(time.Time{})
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return ErrIdle
	}
	return err
}

// Bounds of the SO_RCVLOWAT a whole read asks for: below lowatMin bytes a
// wait is worth no system call to save wakeups, and no mark goes above
// lowatMax, so a large message is still read in pieces of that size as it
// arrives, and the kernel grows a socket's receive buffer (to about twice
// the mark) no further for it.
const (
	lowatMin = 16 << 10
	lowatMax = 1 << 20
)

// read reads the socket straight into p, a read as large as the buffer or
// larger. With whole, the caller wants all of p, p is no more than the
// peer must send anyway (the rest of a frame) and the socket is TCP on a
// kernel that takes the mark (lowatOK): a wait then asks the kernel, by
// SO_RCVLOWAT, not to report the socket readable before len(p) bytes (at
// most lowatMax) are there. A large message otherwise arrives in many small
// pieces, each a wakeup, a read and a wait; with the mark it is one or two.
func (w *rawSock) read(sock *Socket, p []byte, whole bool) (int, error) {
	want := 1
	if whole && len(p) >= lowatMin {
		want = min(len(p), lowatMax)
	}
	r, _ := readers.Get().(*sockReader)
	if r == nil {
		r = new(sockReader)
		r.try = r.tryRead
	}
	r.rc, r.sock, r.lowat = w.rc, sock, max(int(w.lowat), 1)
	n, err := r.read(p, want)
	w.lowat = int32(r.lowat)
	r.rc, r.sock = nil, nil
	readers.Put(r)
	return n, err
}

// readers holds sockReaders between reads, with their callbacks made.
var readers sync.Pool

// sockReader reads a socket into the caller's slice inside RawConn.Read,
// which waits in the netpoller (with the read deadline) until the socket
// is readable. It serves one read at a time, for any socket.
type sockReader struct {
	rc    syscall.RawConn
	sock  *Socket               // whose read this is
	try   func(fd uintptr) bool // cached method value: no allocation per read
	p     []byte
	n     int
	err   error
	want  int // the SO_RCVLOWAT to wait with
	lowat int // the socket's SO_RCVLOWAT, from and back to rawSock.lowat
}

// read reads the socket into p, waiting with SO_RCVLOWAT set to want.
func (s *sockReader) read(p []byte, want int) (int, error) {
	s.p, s.n, s.err, s.want = p, 0, nil, want
	err := s.rc.Read(s.try)
	if err == nil {
		err = s.err
	}
	n := s.n
	s.p, s.err = nil, nil
	return n, err
}

func (s *sockReader) tryRead(fd uintptr) bool {
	n, wait, err := readSocket(fd, s.p)
	s.n, s.err = n, err
	if wait {
		s.sock.Leave() // a wait outside Pump: the reader's place goes to another
	}
	if wait && s.want != s.lowat {
		// Set only now, when there is a wait to save: a read that finds
		// all it wants costs no system call more.
		setLowat(fd, s.want)
		s.lowat = s.want
	}
	return !wait
}
