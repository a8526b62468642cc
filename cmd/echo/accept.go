package main

import (
	"crypto/tls"
	"errors"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/wspipe/wspipe/echo"
)

// The server accepts connections itself: a WebSocket upgrade for the path
// goes through the raw, allocation-free handshake, without net/http; any
// other request (the console page, a stray path, an HTTP error) is handed
// to the http.Server through handOffListener, with the bytes already read
// replayed first.

// handOffListener is the net.Listener the http.Server serves: it yields
// the connections the accept loop handed off.
type handOffListener struct {
	addr  net.Addr
	conns chan net.Conn
	done  chan struct{}
	once  sync.Once
}

func newHandOffListener(addr net.Addr) *handOffListener {
	return &handOffListener{addr: addr, conns: make(chan net.Conn), done: make(chan struct{})}
}

// Accept returns the next handed-off connection.
func (l *handOffListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

// Close stops Accept; connections handed off afterwards are closed.
func (l *handOffListener) Close() error {
	l.once.Do(func() { close(l.done) })
	return nil
}

// Addr is the real listener's address.
func (l *handOffListener) Addr() net.Addr { return l.addr }

// handOff passes conn, with head to be read first, to the http.Server.
// Without head, conn is passed as it is: a *tls.Conn whose ALPN chose
// HTTP/2 stays one, for the http.Server to serve HTTP/2 on it.
func (l *handOffListener) handOff(conn net.Conn, head []byte) {
	if len(head) > 0 {
		conn = &replayConn{Conn: conn, head: head}
	}
	select {
	case l.conns <- conn:
	case <-l.done:
		conn.Close()
	}
}

// replayConn is a connection whose first bytes were already read: head.
type replayConn struct {
	net.Conn
	head []byte
}

func (c *replayConn) Read(p []byte) (int, error) {
	if len(c.head) > 0 {
		n := copy(p, c.head)
		c.head = c.head[n:]
		return n, nil
	}
	return c.Conn.Read(p)
}

// acceptLoop serves every connection ln accepts until ln is closed, which
// it reports as http.ErrServerClosed. Like net/http, it backs off on
// temporary accept errors (such as running out of file descriptors).
func acceptLoop(ln net.Listener, h *echo.Handler, path string, hl *handOffListener) error {
	var delay time.Duration
	for {
		conn, err := ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return http.ErrServerClosed
			}
			delay = min(max(2*delay, 5*time.Millisecond), time.Second)
			time.Sleep(delay)
			continue
		}
		delay = 0
		if tc, ok := conn.(*tls.Conn); ok {
			go serveTLS(tc, h, path, hl)
			continue
		}
		go h.ServeConn(conn, path, hl.handOff)
	}
}

// tlsHandshakeTimeout bounds a TLS handshake on the accepted connection.
const tlsHandshakeTimeout = 10 * time.Second

// serveTLS runs the TLS handshake of an accepted connection: if ALPN chose
// HTTP/2, the connection goes to the http.Server whole, which serves its
// requests (the console page, WebSockets as extended CONNECTs) on its
// streams; otherwise it is served like a plain one.
func serveTLS(tc *tls.Conn, h *echo.Handler, path string, hl *handOffListener) {
	tc.SetDeadline(time.Now().Add(tlsHandshakeTimeout))
	err := tc.Handshake()
	tc.SetDeadline(time.Time{})
	if err != nil {
		tc.Close()
		return
	}
	if tc.ConnectionState().NegotiatedProtocol == "h2" {
		hl.handOff(tc, nil)
		return
	}
	h.ServeConn(tc, path, hl.handOff)
}
