// Package echo is the WebSocket echo service behind cmd/echo: it sends
// every message back to its sender, streaming, or in the tutorial's reply
// mode answers "Received <msg>. Thanks!".
//
// It runs its connections in push mode (pipeline.Options.OnMessage): the
// HTTP handler returns right after the upgrade and each connection is
// served by its own reader goroutine alone.
package echo

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync"

	"github.com/wspipe/wspipe/handshake"
	"github.com/wspipe/wspipe/pipeline"
)

// Handler is an http.Handler serving the echo service. The zero value
// echoes text and binary messages exactly, with pipeline's default limits
// and the handshake package's same-origin policy.
type Handler struct {
	// Handshake is the handshake policy (origins, subprotocols).
	Handshake handshake.Server
	// Options configures each connection (limits, queue, heartbeat). Its
	// OnMessage and OnClose are the handler's own and are ignored.
	Options pipeline.Options
	// Reply answers "Received <msg>. Thanks!" instead of echoing.
	Reply bool
	// Page, if set, serves requests that do not come from a WebSocket
	// client (handshake.IsWebSocketRequest), such as a browser's GET of a
	// console page. A client's request whose upgrade headers a proxy
	// dropped gets the handshake's 400, which names the missing header.
	Page http.Handler
	// Logger receives connection events; nil means slog.Default().
	Logger *slog.Logger

	mu       sync.Mutex
	conns    map[*pipeline.Conn]struct{}
	shutdown bool
	idle     chan struct{} // closed when conns empties during Shutdown

	// The callbacks as func values, made once: a method value made per
	// connection is 16 bytes each that the connection keeps.
	funcsOnce         sync.Once
	onMsg, onMsgReply func(*pipeline.Conn, pipeline.MessageType, io.Reader) error
	onCloseFunc       func(*pipeline.Conn, error)
}

func (h *Handler) logger() *slog.Logger {
	if h.Logger != nil {
		return h.Logger
	}
	return slog.Default()
}

// debug returns the logger if it logs at Debug level, else nil. Asking
// first skips building the record's arguments, and Logger.log's frame (a
// whole Record), which would grow a fresh goroutine's stack even with the
// level off.
func (h *Handler) debug() *slog.Logger {
	if l := h.logger(); l.Enabled(context.Background(), slog.LevelDebug) {
		return l
	}
	return nil
}

// ServeHTTP upgrades the request and returns; the connection echoes on
// until it closes. Over HTTP/2 (an RFC 8441 extended CONNECT) the
// WebSocket is the request's stream, which ends when the handler returns,
// so ServeHTTP returns only once the connection has ended.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if h.Page != nil && !handshake.IsWebSocketRequest(r) {
		h.Page.ServeHTTP(w, r)
		return
	}
	h.mu.Lock()
	down := h.shutdown
	h.mu.Unlock()
	if down {
		http.Error(w, "server shutting down", http.StatusServiceUnavailable)
		return
	}
	c, err := pipeline.Accept(w, r, &h.Handshake, h.options())
	if err != nil {
		if l := h.debug(); l != nil {
			l.Debug("handshake refused", "remote", r.RemoteAddr, "proto", r.Proto, "err", err)
		}
		return
	}
	if l := h.debug(); l != nil {
		l.Debug("connected", "remote", r.RemoteAddr, "proto", r.Proto)
	}
	h.track(c, nil)
	if r.ProtoMajor >= 2 {
		c.Wait()
	}
}

// ServeConn serves one connection without net/http, for a server that
// accepts connections itself: a WebSocket upgrade for path goes through
// the allocation-free raw handshake (handshake.Server.UpgradeOrHandOff);
// any other request is passed to handOff with the bytes already read, for
// an HTTP server to answer (a nil handOff closes the connection).
func (h *Handler) ServeConn(conn net.Conn, path string, handOff func(conn net.Conn, head []byte)) {
	// This runs on a fresh goroutine, within the stack budget
	// (docs/architecture.md; TestServeConnFitsStartingStack).
	if h.isShutdown() {
		conn.Close()
		return
	}
	opts := h.options()
	res, err := pipeline.WithCompression(&h.Handshake, opts).UpgradeOrHandOff(conn, path, nil)
	if err != nil {
		h.refused(conn, err, handOff)
		return
	}
	h.start(conn, &res, opts)
}

// isShutdown reports whether Shutdown has begun.
func (h *Handler) isShutdown() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.shutdown
}

// refused deals with a connection whose handshake ServeConn refused or
// hands off.
func (h *Handler) refused(conn net.Conn, err error, handOff func(conn net.Conn, head []byte)) {
	var ho *handshake.HandOffError
	if errors.As(err, &ho) && handOff != nil {
		handOff(conn, ho.Head)
		return
	}
	if l := h.debug(); l != nil {
		l.Debug("handshake refused", "remote", conn.RemoteAddr(), "err", err)
	}
	conn.Close()
}

// start starts echoing on conn after ServeConn's handshake.
func (h *Handler) start(conn net.Conn, res *handshake.RawResult, opts *pipeline.Options) {
	h.track(pipeline.NewRawServerConn(conn, *res, opts), conn.RemoteAddr())
}

// options are the connection options with the handler's callbacks.
// Out of line for the stack budget (docs/architecture.md): the copy
// escapes anyway, and inlined it would swell ServeConn's frame.
//
//go:noinline
func (h *Handler) options() *pipeline.Options {
	h.funcsOnce.Do(func() {
		h.onMsg, h.onMsgReply, h.onCloseFunc = h.onMessage, h.onMessageReply, h.onClose
	})
	opts := h.Options
	opts.OnMessage = h.onMsg
	if h.Reply {
		opts.OnMessage = h.onMsgReply
	}
	opts.OnClose = h.onCloseFunc
	return &opts
}

// track registers a live connection for Shutdown. A nil remote means the
// caller has logged the connection.
func (h *Handler) track(c *pipeline.Conn, remote any) {
	if l := h.debug(); remote != nil && l != nil {
		l.Debug("connected", "remote", remote, "proto", "HTTP/1.1")
	}
	h.mu.Lock()
	if h.shutdown {
		h.mu.Unlock()
		go c.Close(pipeline.CloseGoingAway, "server shutting down")
		return
	}
	// A connection that has already ended is left out: onClose has run or
	// will find nothing. Err, not Done, so idle connections make no channel.
	if c.Err() == nil {
		if h.conns == nil {
			h.conns = make(map[*pipeline.Conn]struct{})
		}
		h.conns[c] = struct{}{}
	}
	h.mu.Unlock()
}

// Echo buffers: a message up to bufSmall, then up to bufLarge, is read
// whole and sent back as one frame in one write; a longer one streams
// through as it arrives, so no message is ever held whole past bufLarge.
// Each buffer has slack bytes more, for the offset that lets the reply go
// out in place (pipeline.PayloadOffset) and one byte to see the end.
const (
	bufSmall = 64 << 10
	bufLarge = 1 << 20
	slack    = 128
)

var (
	smallBufs = sync.Pool{New: func() any { b := make([]byte, slack+bufSmall); return &b }}
	largeBufs = sync.Pool{New: func() any { b := make([]byte, slack+bufLarge); return &b }}
)

// onMessage echoes one message.
func (h *Handler) onMessage(c *pipeline.Conn, typ pipeline.MessageType, r io.Reader) error {
	if n := c.MessageLen(); n >= 0 && n <= bufLarge {
		echoKnown(c, typ, r, int(n))
		return nil
	}
	ctx := context.Background()
	sp := smallBufs.Get().(*[]byte)
	defer smallBufs.Put(sp)
	// The length is unknown: place the message for the header a reply
	// filling the buffer would have.
	small := (*sp)[pipeline.PayloadOffset(*sp, bufSmall-1):][:bufSmall]
	n, done, err := fill(r, small)
	if done {
		c.WriteMessage(ctx, typ, small[:n])
		return nil
	}
	if err != nil {
		// The read failed and the connection is failing with the right
		// code: do not send a message we could not read.
		return nil
	}
	lp := largeBufs.Get().(*[]byte)
	defer largeBufs.Put(lp)
	buf := (*lp)[pipeline.PayloadOffset(*lp, bufLarge):][:bufLarge]
	copy(buf, small)
	m, done, err := fill(r, buf[n:])
	n += m
	if done {
		c.WriteMessage(ctx, typ, buf[:n])
		return nil
	}
	if err != nil {
		return nil
	}
	// Longer still: stream the rest through.
	w, err := c.NextWriter(ctx, typ)
	if err != nil {
		return nil // closing
	}
	if _, err := w.Write(buf[:n]); err != nil {
		return nil
	}
	if _, err := io.Copy(w, r); err != nil {
		return nil
	}
	w.Close()
	return nil
}

// echoKnown echoes a message whose length n the frame header gave: read
// into a buffer of just the right size and place, so that the reply goes
// out in place. It reads to the message's end before replying, so a text
// message is known to be valid UTF-8 first.
func echoKnown(c *pipeline.Conn, typ pipeline.MessageType, r io.Reader, n int) {
	pool := &smallBufs
	if n > bufSmall {
		pool = &largeBufs
	}
	bp := pool.Get().(*[]byte)
	defer pool.Put(bp)
	off := pipeline.PayloadOffset(*bp, n)
	buf := (*bp)[off : off+n+1] // the extra byte finds the end
	if m, done, _ := fill(r, buf); done && m == n {
		c.WriteMessage(context.Background(), typ, buf[:n])
	}
}

// fill reads r into buf until the message ends (done) or buf is full, with
// pipeline.Fill, which on TCP waits for a large message in big pieces.
// Any error but the message's io.EOF is returned as is: a cut connection
// is not a message end.
func fill(r io.Reader, buf []byte) (n int, done bool, err error) {
	n, err = pipeline.Fill(r, buf)
	if err == io.EOF {
		return n, true, nil
	}
	return n, false, err
}

var replyBufs = sync.Pool{New: func() any { b := make([]byte, 0, 512); return &b }}

// onMessageReply answers one message the way the tutorial's server does.
// A message up to bufSmall is read whole, so a text message is known to be
// valid before the reply; a longer one streams through, as the echo does.
func (h *Handler) onMessageReply(c *pipeline.Conn, typ pipeline.MessageType, r io.Reader) error {
	bp := replyBufs.Get().(*[]byte)
	defer replyBufs.Put(bp)
	b := append((*bp)[:0], "Received "...)
	limit := len(b) + bufSmall
	for {
		if len(b) == limit {
			*bp = b[:0]
			streamReply(c, typ, b, r)
			return nil
		}
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)]
		}
		n, err := r.Read(b[len(b):min(cap(b), limit)])
		b = b[:len(b)+n]
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil
		}
	}
	b = append(b, ". Thanks!"...)
	*bp = b
	c.WriteMessage(context.Background(), typ, b)
	return nil
}

// streamReply sends the reply to a long message: head (the start of the
// reply, already read), the rest of r, and the closing words.
func streamReply(c *pipeline.Conn, typ pipeline.MessageType, head []byte, r io.Reader) {
	w, err := c.NextWriter(context.Background(), typ)
	if err != nil {
		return // closing
	}
	if _, err := w.Write(head); err != nil {
		return
	}
	if _, err := io.Copy(w, r); err != nil {
		// The read failed and the connection is failing with the right
		// code: do not finish a reply to a message we could not read.
		return
	}
	if _, err := io.WriteString(w, ". Thanks!"); err != nil {
		return
	}
	w.Close()
}

func (h *Handler) onClose(c *pipeline.Conn, err error) {
	if l := h.debug(); l != nil {
		l.Debug("disconnected", "remote", c.UnderlyingConn().RemoteAddr().String(), "err", err)
	}
	h.mu.Lock()
	delete(h.conns, c)
	if h.idle != nil && len(h.conns) == 0 {
		close(h.idle)
		h.idle = nil
	}
	h.mu.Unlock()
}

// Shutdown closes every live connection with 1001 (going away), refuses
// new ones, and waits for them to end or for ctx to end.
func (h *Handler) Shutdown(ctx context.Context) error {
	h.mu.Lock()
	h.shutdown = true
	conns := make([]*pipeline.Conn, 0, len(h.conns))
	for c := range h.conns {
		conns = append(conns, c)
	}
	var idle chan struct{}
	if len(h.conns) > 0 {
		if h.idle == nil {
			h.idle = make(chan struct{})
		}
		idle = h.idle
	}
	h.mu.Unlock()
	for _, c := range conns {
		go c.Close(pipeline.CloseGoingAway, "server shutting down")
	}
	if idle == nil {
		return nil
	}
	select {
	case <-idle:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
