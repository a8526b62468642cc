package handshake

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"sync"
	"time"
)

// An HTTP/2 stream seen as a net.Conn: what an RFC 8441 handshake yields
// in Result.Conn, on the server (h2ServerStream, over the request body and
// the ResponseWriter) and on the client (h2ClientStream, over the request
// body's pipe and the response body). The pipeline above treats it as any
// other stream that is not a TCP socket.
//
// Deadlines are kept here rather than handed to net/http or the HTTP/2
// transport, whose expiry ends the stream at once even when no read or
// write is waiting: a deadline that expires while a read (or write) waits
// ends that read (or write) and with it the stream, as a TCP connection
// is unusable after a cut write; one that expires while nothing waits only
// makes the next call fail with a timeout, and clearing it in time leaves
// the stream intact, as on a socket.

// streamDeadline is one direction's deadline of an HTTP/2 stream. Its
// fields are guarded by the stream's mutex.
type streamDeadline struct {
	timer   *time.Timer
	seq     uint64 // bumped by each set, so a stale timer does nothing
	expired bool
	busy    bool // a call is in progress in this direction
}

// streamBase holds what both adapters share: the deadlines, the closed
// state and the wait for calls in progress at Close.
type streamBase struct {
	mu     sync.Mutex
	rd, wd streamDeadline
	closed bool
	calls  sync.WaitGroup // reads and writes in progress
	// abortRead and abortWrite end a read or write in progress for good
	// (the stream is unusable afterwards).
	abortRead, abortWrite func()
	local, remote         net.Addr
}

// errDeadline is the error of a call made or cut short after its deadline.
func errDeadline() error { return os.ErrDeadlineExceeded }

// begin starts a read (write false) or write call; it fails if the stream
// is closed or the direction's deadline has expired.
func (s *streamBase) begin(write bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return net.ErrClosed
	}
	d := &s.rd
	if write {
		d = &s.wd
	}
	if d.expired {
		return errDeadline()
	}
	d.busy = true
	s.calls.Add(1)
	return nil
}

// end ends a call begun by begin, and says what its error err means: a
// timeout if the deadline cut it short, net.ErrClosed if Close did.
func (s *streamBase) end(write bool, err error) error {
	s.mu.Lock()
	d := &s.rd
	if write {
		d = &s.wd
	}
	d.busy = false
	expired, closed := d.expired, s.closed
	s.mu.Unlock()
	s.calls.Done()
	switch {
	case err == nil || err == io.EOF:
		return err
	case expired:
		return errDeadline()
	case closed:
		return net.ErrClosed
	}
	return err
}

// setDeadline sets one direction's deadline. The abort functions run
// outside the mutex: they may wait for the call they end, which takes
// the mutex as it returns.
func (s *streamBase) setDeadline(write bool, t time.Time) {
	if abort := s.setDeadlineLocked(write, t); abort != nil {
		abort()
	}
}

// setDeadlineLocked sets the deadline under the mutex and returns the
// abort function to call at once, if any.
func (s *streamBase) setDeadlineLocked(write bool, t time.Time) func() {
	s.mu.Lock()
	defer s.mu.Unlock()
	d, abort := &s.rd, s.abortRead
	if write {
		d, abort = &s.wd, s.abortWrite
	}
	d.seq++
	if d.timer != nil {
		d.timer.Stop()
		d.timer = nil
	}
	d.expired = false
	if t.IsZero() || s.closed {
		return nil
	}
	wait := time.Until(t)
	if wait <= 0 {
		d.expired = true
		if d.busy {
			return abort
		}
		return nil
	}
	seq := d.seq
	d.timer = time.AfterFunc(wait, func() {
		s.mu.Lock()
		if d.seq != seq || s.closed {
			s.mu.Unlock()
			return
		}
		d.expired = true
		busy := d.busy
		s.mu.Unlock()
		if busy {
			abort()
		}
	})
	return nil
}

// shut marks the stream closed and stops its timers; it reports whether
// it was open, and which directions have a call in progress.
func (s *streamBase) shut() (wasOpen, reading, writing bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false, false, false
	}
	s.closed = true
	for _, d := range []*streamDeadline{&s.rd, &s.wd} {
		if d.timer != nil {
			d.timer.Stop()
		}
	}
	return true, s.rd.busy, s.wd.busy
}

// LocalAddr returns the local address of the HTTP/2 connection.
func (s *streamBase) LocalAddr() net.Addr { return s.local }

// RemoteAddr returns the peer's address of the HTTP/2 connection.
func (s *streamBase) RemoteAddr() net.Addr { return s.remote }

// SetReadDeadline sets the read deadline (see the comment at the top).
func (s *streamBase) SetReadDeadline(t time.Time) error {
	s.setDeadline(false, t)
	return nil
}

// SetWriteDeadline sets the write deadline (see the comment at the top).
func (s *streamBase) SetWriteDeadline(t time.Time) error {
	s.setDeadline(true, t)
	return nil
}

// SetDeadline sets both deadlines.
func (s *streamBase) SetDeadline(t time.Time) error {
	s.setDeadline(false, t)
	s.setDeadline(true, t)
	return nil
}

// h2Addr is the address of one end of an HTTP/2 connection when net/http
// does not say it (the local address of an h2c or TLS connection it
// serves is in the request's context, the remote one in RemoteAddr).
type h2Addr string

func (a h2Addr) Network() string { return "tcp" }
func (a h2Addr) String() string  { return string(a) }

// h2ServerStream is the server's end of a WebSocket over an HTTP/2
// stream: reads come from the request body, writes go to the
// ResponseWriter and are flushed at once. Closing it ends the body and
// releases the handler, which must then return to end the stream (see
// Server.Upgrade).
type h2ServerStream struct {
	streamBase
	body io.ReadCloser
	w    http.ResponseWriter
	rc   *http.ResponseController
	stop func() bool // stops the watch on the request's context
}

func newH2ServerStream(w http.ResponseWriter, r *http.Request, rc *http.ResponseController) *h2ServerStream {
	s := &h2ServerStream{body: r.Body, w: w, rc: rc}
	s.remote = h2Addr(r.RemoteAddr)
	if a, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr); ok {
		s.local = a
	} else {
		s.local = h2Addr("")
	}
	past := time.Unix(1, 0)
	// net/http's HTTP/2 server ends the read (it breaks the body) or
	// resets the stream on a past deadline.
	s.abortRead = func() { safely(func() { rc.SetReadDeadline(past) }) }
	s.abortWrite = func() { safely(func() { rc.SetWriteDeadline(past) }) }
	// The request's context ends when the stream is reset, the connection
	// is lost, or the handler has returned (against Upgrade's rule): from
	// then on the stream is closed and calls fail with net.ErrClosed
	// instead of touching a ResponseWriter that may be gone.
	s.stop = context.AfterFunc(r.Context(), s.gone)
	return s
}

// gone closes the stream without touching the ResponseWriter.
func (s *h2ServerStream) gone() {
	if open, _, _ := s.shut(); open {
		s.body.Close()
	}
}

// errHandlerGone is the error of a write to a ResponseWriter whose
// handler has returned (net/http panics there).
var errHandlerGone = errors.New("handshake: the HTTP/2 handler returned before its WebSocket ended (see Server.Upgrade)")

// recoverGone, deferred, turns a panic of net/http's (a ResponseWriter used
// after its handler returned) into errHandlerGone in *err.
func recoverGone(err *error) {
	if recover() != nil {
		*err = errHandlerGone
	}
}

// safely runs f, dropping the error recoverGone makes of the panic of a
// stream whose handler has returned.
func safely(f func()) {
	var err error
	defer recoverGone(&err)
	f()
}

// Read reads from the request body: the client's WebSocket frames.
func (s *h2ServerStream) Read(p []byte) (int, error) {
	if err := s.begin(false); err != nil {
		return 0, err
	}
	n, err := s.body.Read(p)
	return n, s.end(false, err)
}

// Write writes p to the response and flushes it into DATA frames. It
// returns once the HTTP/2 server has taken the bytes, which it sends as
// the client's flow-control window allows.
func (s *h2ServerStream) Write(p []byte) (int, error) {
	if err := s.begin(true); err != nil {
		return 0, err
	}
	n, err := s.write(p)
	return n, s.end(true, err)
}

// write writes and flushes p; a panic of net/http's (the handler has
// returned) is errHandlerGone.
func (s *h2ServerStream) write(p []byte) (n int, err error) {
	defer recoverGone(&err)
	n, err = s.w.Write(p)
	if err == nil {
		err = s.rc.Flush()
	}
	return n, err
}

// WriteBuffers writes the buffers and flushes them once (a frame's header
// and payload leave in one DATA frame when they fit).
func (s *h2ServerStream) WriteBuffers(bufs [][]byte) (int64, error) {
	if err := s.begin(true); err != nil {
		return 0, err
	}
	n, err := s.writeBuffers(bufs)
	return n, s.end(true, err)
}

// writeBuffers is write for several buffers, flushed once.
func (s *h2ServerStream) writeBuffers(bufs [][]byte) (n int64, err error) {
	defer recoverGone(&err)
	for _, b := range bufs {
		var m int
		m, err = s.w.Write(b)
		n += int64(m)
		if err != nil {
			return n, err
		}
	}
	return n, s.rc.Flush()
}

// CloseWrite returns errors.ErrUnsupported: the server's side of an
// HTTP/2 stream ends (END_STREAM) only when its handler returns.
func (s *h2ServerStream) CloseWrite() error { return errors.ErrUnsupported }

// Close ends the stream from our side: a read in progress returns, a
// write in progress is cut (which resets the stream), and once Close
// returns no call touches the ResponseWriter again, so the handler may
// return. The stream ends (END_STREAM) when the handler returns.
func (s *h2ServerStream) Close() error {
	s.stop()
	open, _, writing := s.shut()
	if !open {
		return nil
	}
	s.body.Close()
	if writing {
		s.abortWrite()
	}
	s.calls.Wait()
	return nil
}

// h2ClientStream is the client's end of a WebSocket over an HTTP/2
// stream: writes go into the request body's pipe, which the HTTP/2
// transport sends as its flow-control window allows; reads come from the
// response body.
type h2ClientStream struct {
	streamBase
	pw      *io.PipeWriter
	body    io.ReadCloser
	release func() // ends the request: cancels its context, frees its slot
	once    sync.Once
}

// Read reads from the response body: the server's WebSocket frames.
func (s *h2ClientStream) Read(p []byte) (int, error) {
	if err := s.begin(false); err != nil {
		return 0, err
	}
	n, err := s.body.Read(p)
	return n, s.end(false, err)
}

// Write writes p into the request body; it returns once the transport
// has taken all of it.
func (s *h2ClientStream) Write(p []byte) (int, error) {
	if err := s.begin(true); err != nil {
		return 0, err
	}
	n, err := s.pw.Write(p)
	if errors.Is(err, io.ErrClosedPipe) {
		err = net.ErrClosed
	}
	return n, s.end(true, err)
}

// CloseWrite ends the request body (END_STREAM): the WebSocket analogue
// of a TCP half-close.
func (s *h2ClientStream) CloseWrite() error {
	return s.pw.Close()
}

// Close ends the stream: the request body is ended, the response body
// closed (a reset if the server has not ended its side) and the stream's
// slot on the shared connection freed.
func (s *h2ClientStream) Close() error {
	open, _, _ := s.shut()
	if !open {
		return nil
	}
	s.pw.Close()
	s.body.Close()
	s.calls.Wait()
	s.once.Do(s.release)
	return nil
}
