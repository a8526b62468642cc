package servers

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/gobwas/ws"
	nblog "github.com/lesismal/nbio/logging"
	"github.com/lesismal/nbio/nbhttp"
	nbws "github.com/lesismal/nbio/nbhttp/websocket"

	"github.com/wspipe/wspipe/echo"
	"github.com/wspipe/wspipe/handshake"
	"github.com/wspipe/wspipe/pipeline"
)

// AllLibs are the names Start accepts, in the order results are printed:
// Libs, the servers that own their listener, and a plain TCP echo (the
// ceiling: no WebSocket framing at all).
var AllLibs = []string{"wspipe", "gorilla", "coder", "gobwas", "gws", "nbio", "tcp"}

// GoEpoll is the Go event-loop ceiling (serveGoEpoll): a raw TCP echo on
// one goroutine's own epoll_wait, with its sockets out of Go's netpoller.
// Start accepts it, but it is not in AllLibs: like the C servers, a run
// asks for it.
const GoEpoll = "go-epoll"

// Running is a server started by Start.
type Running interface {
	// Stop closes the listener and the connections still open, waiting
	// within ctx for them to end.
	Stop(ctx context.Context) error
}

// Start serves lib's echo server on ln, WebSocket endpoint "/". Logs (for
// the libraries that log) go to logw. The net/http based servers run in an
// http.Server with a 10 s ReadHeaderTimeout, as cmd/echo does.
func Start(lib string, ln net.Listener, logw io.Writer) (Running, error) {
	switch lib {
	case "wspipe":
		return serveHTTP(CmdEcho(logw), ln, logw), nil
	case "gorilla", "coder", "gws":
		h, err := New(lib)
		if err != nil {
			return nil, err
		}
		return serveHTTP(h, ln, logw), nil
	case "gobwas":
		return serveConns(ln, serveGobwas), nil
	case "tcp":
		return serveConns(ln, serveTCP), nil
	case "nbio":
		return serveNbio(ln, logw)
	case GoEpoll:
		return serveGoEpoll(ln)
	}
	return nil, fmt.Errorf("unknown library %q (want one of %v or %s)", lib, AllLibs, GoEpoll)
}

// CmdEcho is echo.Handler configured exactly as wspipe's cmd/echo
// configures it with its default flags: any Origin, request heads up to
// 32 KiB, no message limit, the heartbeat every 30 s, permessage-deflate
// accepted, an slog text logger at info level on logw (only its console
// page is left out). Start serves it under the pattern "/{$}" (cmd/echo's
// -path /), so it is cmd/echo in-process, for the measurements that need
// the server's runtime statistics. (cmd/echo's -tidy, which returns memory
// after a burst, is not: idlemem collects before every reading anyway.)
func CmdEcho(logw io.Writer) Server {
	logger := slog.New(slog.NewTextHandler(logw, &slog.HandlerOptions{Level: slog.LevelInfo}))
	return &echo.Handler{
		Handshake: handshake.Server{DangerouslyAllowAnyOrigin: true, MaxRequestBytes: 32 << 10},
		Options: pipeline.Options{
			MaxMessageSize: -1, // -max-message 0
			PingInterval:   30 * time.Second,
			Compression:    &pipeline.Compression{},
		},
		Logger: logger,
	}
}

type httpRunning struct {
	srv  *http.Server
	h    Server
	done chan struct{}
}

func serveHTTP(h Server, ln net.Listener, logw io.Writer) *httpRunning {
	mux := http.NewServeMux()
	mux.Handle("/{$}", h)
	r := &httpRunning{
		srv: &http.Server{
			Handler:           mux,
			ReadHeaderTimeout: 10 * time.Second,
			ErrorLog:          log.New(logw, "http: ", log.LstdFlags),
		},
		h:    h,
		done: make(chan struct{}),
	}
	go func() {
		defer close(r.done)
		r.srv.Serve(ln)
	}()
	return r
}

func (r *httpRunning) Stop(ctx context.Context) error {
	err := r.srv.Close() // the listener and connections not hijacked
	if e := r.h.Shutdown(ctx); err == nil {
		err = e
	}
	<-r.done
	return err
}

// connsRunning accepts connections and serves each in its own goroutine.
type connsRunning struct {
	ln    net.Listener
	mu    sync.Mutex
	conns map[net.Conn]struct{}
	wg    sync.WaitGroup
}

func serveConns(ln net.Listener, serve func(net.Conn)) *connsRunning {
	r := &connsRunning{ln: ln, conns: make(map[net.Conn]struct{})}
	r.wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				var ne net.Error
				if errors.As(err, &ne) && ne.Timeout() {
					continue
				}
				return
			}
			r.mu.Lock()
			r.conns[c] = struct{}{}
			r.mu.Unlock()
			r.wg.Go(func() {
				defer func() {
					r.mu.Lock()
					delete(r.conns, c)
					r.mu.Unlock()
					c.Close()
				}()
				serve(c)
			})
		}
	})
	return r
}

func (r *connsRunning) Stop(ctx context.Context) error {
	r.ln.Close()
	r.mu.Lock()
	for c := range r.conns {
		c.Close()
	}
	r.mu.Unlock()
	return waitGroup(ctx, &r.wg)
}

// serveTCP is the plain TCP echo: io.Copy's loop with its 32 KiB buffer.
// The writer and reader are wrapped so that io.Copy cannot hand the copy
// to (*net.TCPConn).ReadFrom: on Linux that splices through a pipe pair
// the connection would hold while idle (two more descriptors each).
func serveTCP(c net.Conn) {
	io.Copy(struct{ io.Writer }{c}, struct{ io.Reader }{c})
}

// gobwasConn is the per-connection state of the gobwas server: a read
// buffer, header bytes and a payload buffer reused from message to
// message, and the two-element vector that writes a reply.
type gobwasConn struct {
	conn    net.Conn
	br      *bufio.Reader
	hdr     [ws.MaxHeaderSize]byte
	out     headerBuf
	payload []byte
	vec     [2][]byte
	bufs    net.Buffers
}

// headerBuf is where ws.WriteHeaderBuffer writes an outgoing header.
type headerBuf struct {
	b [ws.MaxHeaderSize]byte
	n int
}

func (h *headerBuf) Write(p []byte) (int, error) {
	h.n = copy(h.b[:], p)
	return h.n, nil
}

// serveGobwas is gobwas/ws's low-level echo from its README: ws.Upgrade on
// the raw connection, then per frame ws.ReadHeader, the payload read in
// full and unmasked with ws.Cipher, and ws.WriteHeader with the unmasked
// header followed by the payload. Frames are echoed one by one, so
// fragmented messages come back fragmented alike. As the README advises,
// the header's length is checked against a limit before the payload is
// read. Beyond the README's sketch, which allocates every payload and
// reads the socket unbuffered, the payload buffer is kept and reused (what
// the low-level API is for), reads go through a 4 KiB bufio.Reader
// (gobwas's default server read buffer size), header bytes use
// ReadHeaderBuffer and WriteHeaderBuffer on per-connection arrays, and the
// header and payload leave in one writev (net.Buffers).
func serveGobwas(conn net.Conn) {
	if _, err := ws.Upgrade(conn); err != nil {
		return
	}
	c := &gobwasConn{conn: conn, br: bufio.NewReaderSize(conn, 4096)}
	for {
		h, err := ws.ReadHeaderBuffer(c.br, c.hdr[:])
		if err != nil {
			return
		}
		if h.Length > maxMessage {
			return
		}
		if int64(cap(c.payload)) < h.Length {
			c.payload = make([]byte, h.Length)
		}
		p := c.payload[:h.Length]
		if _, err := io.ReadFull(c.br, p); err != nil {
			return
		}
		if h.Masked {
			ws.Cipher(p, h.Mask, 0)
			h.Masked = false
		}
		switch h.OpCode {
		case ws.OpPong:
			continue
		case ws.OpPing:
			h.OpCode = ws.OpPong
		}
		if err := ws.WriteHeaderBuffer(&c.out, h, c.hdr[:]); err != nil {
			return
		}
		c.vec = [2][]byte{c.out.b[:c.out.n], p}
		c.bufs = c.vec[:]
		if _, err := c.bufs.WriteTo(conn); err != nil {
			return
		}
		if h.OpCode == ws.OpClose {
			return
		}
	}
}

// nbioRunning is lesismal/nbio's nbhttp server in its default,
// non-blocking IO mode (epoll pollers, no goroutine per connection).
type nbioRunning struct {
	srv *nbhttp.Server
}

// serveNbio follows nbio's websocket examples: one websocket.Upgrader from
// NewUpgrader with OnMessage writing the message back, an http.ServeMux
// whose handler calls Upgrade, served by nbhttp.NewServer with default
// options (IOModNonBlocking). CheckOrigin accepts any origin; the listener
// comes through Config.Listen so the caller can choose the port.
func serveNbio(ln net.Listener, logw io.Writer) (*nbioRunning, error) {
	nblog.Output = logw // its default is standard output
	u := nbws.NewUpgrader()
	u.CheckOrigin = func(*http.Request) bool { return true }
	u.OnMessage(func(c *nbws.Conn, typ nbws.MessageType, data []byte) {
		c.WriteMessage(typ, data)
	})
	mux := http.NewServeMux()
	mux.HandleFunc("/{$}", func(w http.ResponseWriter, r *http.Request) {
		if _, err := u.Upgrade(w, r, nil); err != nil {
			return
		}
	})
	given := false
	srv := nbhttp.NewServer(nbhttp.Config{
		Network: "tcp",
		Addrs:   []string{ln.Addr().String()},
		Handler: mux,
		Listen: func(network, addr string) (net.Listener, error) {
			if given {
				return nil, errors.New("nbio asked for a second listener")
			}
			given = true
			return ln, nil
		},
	})
	if err := srv.Start(); err != nil {
		return nil, err
	}
	return &nbioRunning{srv: srv}, nil
}

func (r *nbioRunning) Stop(ctx context.Context) error {
	return r.srv.Shutdown(ctx)
}
