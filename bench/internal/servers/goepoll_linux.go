package servers

import (
	"context"
	"errors"
	"net"
	"sync"
	"syscall"
)

// serveGoEpoll is the Go event-loop ceiling, "go-epoll": a raw TCP echo
// written as c-epoll is, in Go. One goroutine waits in its own blocking
// epoll_wait (level-triggered, up to 512 ready sockets a wake-up) and, for
// each ready socket, reads once into a buffer shared by all and writes
// what it read; only a short write keeps the rest and waits for EPOLLOUT.
// Each accepted socket is taken out of Go's netpoller (a duplicate of its
// descriptor is kept, and the net.Conn closed), so no readiness reaches
// the runtime: what it measures is Go's cost of such a loop (its system
// calls go through the runtime's entersyscall and exitsyscall, and a
// blocking epoll_wait hands the P over) against C's, with no WebSocket
// work at all. It is the fastest a Go server that answers each request
// with its own write can be here, whatever its design.
func serveGoEpoll(ln net.Listener) (Running, error) {
	ep, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		return nil, err
	}
	var wake [2]int
	if err := syscall.Pipe2(wake[:], syscall.O_CLOEXEC|syscall.O_NONBLOCK); err != nil {
		syscall.Close(ep)
		return nil, err
	}
	ev := syscall.EpollEvent{Events: syscall.EPOLLIN, Fd: int32(wake[0])}
	if err := syscall.EpollCtl(ep, syscall.EPOLL_CTL_ADD, wake[0], &ev); err != nil {
		syscall.Close(ep)
		syscall.Close(wake[0])
		syscall.Close(wake[1])
		return nil, err
	}
	r := &goEpollRunning{ln: ln, ep: ep, wake: wake, fds: make(map[int]bool)}
	r.wg.Go(r.accept)
	r.wg.Go(r.loop)
	return r, nil
}

type goEpollRunning struct {
	ln   net.Listener
	ep   int
	wake [2]int
	wg   sync.WaitGroup
	mu   sync.Mutex
	fds  map[int]bool // the duplicated descriptors, for Stop (under mu)
	// pend is the unsent rest of a short write, by descriptor, as
	// c-epoll's array: the loop's alone.
	pend [][]byte
}

// accept takes each connection out of Go's netpoller into the set.
func (r *goEpollRunning) accept() {
	for {
		c, err := r.ln.Accept()
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			return
		}
		// A bare duplicate of the descriptor, which no os.File holds (one
		// made by TCPConn.File would be put in the netpoller again); c's
		// own leaves the netpoller with Close.
		fd := -1
		if rc, err := c.(*net.TCPConn).SyscallConn(); err == nil {
			rc.Control(func(d uintptr) {
				if nfd, err := syscall.Dup(int(d)); err == nil {
					fd = nfd
				}
			})
		}
		c.Close()
		if fd < 0 {
			continue
		}
		syscall.CloseOnExec(fd)
		// Noted before it is in the set, where the loop may drop it at once.
		r.mu.Lock()
		r.fds[fd] = true
		r.mu.Unlock()
		ev := syscall.EpollEvent{Events: syscall.EPOLLIN, Fd: int32(fd)}
		if syscall.SetNonblock(fd, true) != nil || syscall.EpollCtl(r.ep, syscall.EPOLL_CTL_ADD, fd, &ev) != nil {
			r.mu.Lock()
			delete(r.fds, fd)
			r.mu.Unlock()
			syscall.Close(fd)
		}
	}
}

// loop serves ready sockets until Stop writes to the pipe.
func (r *goEpollRunning) loop() {
	var evs [512]syscall.EpollEvent
	buf := make([]byte, 64<<10)
	for {
		n, err := syscall.EpollWait(r.ep, evs[:], -1)
		if err != nil && err != syscall.EINTR {
			return
		}
		for _, ev := range evs[:max(n, 0)] {
			fd := int(ev.Fd)
			switch {
			case fd == r.wake[0]:
				return
			case fd < len(r.pend) && r.pend[fd] != nil:
				r.flush(fd)
			default:
				r.echo(fd, buf)
			}
		}
	}
}

// echo reads the socket once and writes back what it read.
func (r *goEpollRunning) echo(fd int, buf []byte) {
	n, err := syscall.Read(fd, buf)
	if n <= 0 {
		if err != syscall.EAGAIN && err != syscall.EINTR {
			r.drop(fd)
		}
		return
	}
	w, err := syscall.Write(fd, buf[:n])
	if err != nil && err != syscall.EAGAIN {
		r.drop(fd)
		return
	}
	if w = max(w, 0); w < n {
		// Hold the rest and wait until it can go, reading nothing more
		// meanwhile: the back-pressure a blocking echo has.
		if fd >= len(r.pend) {
			r.pend = append(r.pend, make([][]byte, fd+1-len(r.pend))...)
		}
		r.pend[fd] = append([]byte(nil), buf[w:n]...)
		ev := syscall.EpollEvent{Events: syscall.EPOLLOUT, Fd: int32(fd)}
		syscall.EpollCtl(r.ep, syscall.EPOLL_CTL_MOD, fd, &ev)
	}
}

// flush writes what a short write left, and reads again once it is gone.
func (r *goEpollRunning) flush(fd int) {
	p := r.pend[fd]
	w, err := syscall.Write(fd, p)
	if err != nil && err != syscall.EAGAIN {
		r.drop(fd)
		return
	}
	if p = p[max(w, 0):]; len(p) > 0 {
		r.pend[fd] = p
		return
	}
	r.pend[fd] = nil
	ev := syscall.EpollEvent{Events: syscall.EPOLLIN, Fd: int32(fd)}
	syscall.EpollCtl(r.ep, syscall.EPOLL_CTL_MOD, fd, &ev)
}

// drop closes a connection; only the loop calls it.
func (r *goEpollRunning) drop(fd int) {
	syscall.EpollCtl(r.ep, syscall.EPOLL_CTL_DEL, fd, nil)
	if fd < len(r.pend) {
		r.pend[fd] = nil
	}
	r.mu.Lock()
	delete(r.fds, fd)
	r.mu.Unlock()
	syscall.Close(fd)
}

func (r *goEpollRunning) Stop(ctx context.Context) error {
	r.ln.Close()
	syscall.Write(r.wake[1], []byte{0})
	done := make(chan struct{})
	go func() {
		r.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-ctx.Done():
		return ctx.Err()
	}
	r.mu.Lock()
	for fd := range r.fds {
		syscall.Close(fd)
		delete(r.fds, fd)
	}
	r.mu.Unlock()
	syscall.Close(r.ep)
	syscall.Close(r.wake[0])
	syscall.Close(r.wake[1])
	return nil
}
