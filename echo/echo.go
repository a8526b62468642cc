// Package echo is the WebSocket echo service behind cmd/echo: it sends
// every message back to its sender, streaming, or in the tutorial's reply
// mode answers "Received <msg>. Thanks!".
package echo

import (
	"context"
	"io"
	"log/slog"
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
	// Options configures each connection (limits, queue, heartbeat).
	Options pipeline.Options
	// Reply answers "Received <msg>. Thanks!" instead of echoing.
	Reply bool
	// Page, if set, serves plain GET requests that do not ask for an
	// upgrade, such as a browser console page.
	Page http.Handler
	// Logger receives connection events; nil means slog.Default().
	Logger *slog.Logger

	mu       sync.Mutex
	conns    map[*pipeline.Conn]struct{}
	shutdown bool
	wg       sync.WaitGroup
}

// ServeHTTP upgrades the request and echoes until the connection closes.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if h.Page != nil && !handshake.IsUpgradeRequest(r) {
		h.Page.ServeHTTP(w, r)
		return
	}
	log := h.Logger
	if log == nil {
		log = slog.Default()
	}
	if !h.track(nil) {
		http.Error(w, "server shutting down", http.StatusServiceUnavailable)
		return
	}
	c, err := pipeline.Accept(w, r, &h.Handshake, &h.Options)
	if err != nil {
		log.Debug("handshake refused", "remote", r.RemoteAddr, "err", err)
		h.wg.Done()
		return
	}
	if !h.track(c) {
		h.wg.Done()
		c.Close(pipeline.CloseGoingAway, "server shutting down")
		return
	}
	defer h.untrack(c)
	log.Debug("connected", "remote", r.RemoteAddr)
	err = h.Serve(context.Background(), c)
	log.Debug("disconnected", "remote", r.RemoteAddr, "err", err)
}

// track registers a connection (nil reserves a slot); false means the
// handler is shutting down.
func (h *Handler) track(c *pipeline.Conn) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.shutdown {
		return false
	}
	if c == nil {
		h.wg.Add(1)
		return true
	}
	if h.conns == nil {
		h.conns = make(map[*pipeline.Conn]struct{})
	}
	h.conns[c] = struct{}{}
	return true
}

func (h *Handler) untrack(c *pipeline.Conn) {
	h.mu.Lock()
	delete(h.conns, c)
	h.mu.Unlock()
	c.Close(pipeline.CloseNormal, "")
	h.wg.Done()
}

// Serve echoes messages on c until it closes, and returns why it closed.
func (h *Handler) Serve(ctx context.Context, c *pipeline.Conn) error {
	if h.Reply {
		return h.serveReply(ctx, c)
	}
	for {
		typ, r, err := c.NextReader(ctx)
		if err != nil {
			return err
		}
		w, err := c.NextWriter(ctx, typ)
		if err != nil {
			return err
		}
		if _, err := io.Copy(w, r); err != nil {
			// The read failed and the connection is closing: do not
			// finish a message we could not read.
			return err
		}
		if err := w.Close(); err != nil {
			return err
		}
	}
}

// serveReply answers each message the way the tutorial's server does.
func (h *Handler) serveReply(ctx context.Context, c *pipeline.Conn) error {
	var in, out []byte
	for {
		typ, msg, err := c.ReadMessage(ctx, in)
		if err != nil {
			return err
		}
		in = msg
		out = append(append(append(out[:0], "Received "...), msg...), ". Thanks!"...)
		if err := c.WriteMessage(ctx, typ, out); err != nil {
			return err
		}
	}
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
	h.mu.Unlock()
	for _, c := range conns {
		go c.Close(pipeline.CloseGoingAway, "server shutting down")
	}
	done := make(chan struct{})
	go func() { h.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
