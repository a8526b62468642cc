// Package servers holds the echo servers the benchmarks compare, each
// written the way its library's documentation shows.
package servers

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"sync"

	gorilla "github.com/gorilla/websocket"

	"github.com/wspipe/wspipe/echo"
	"github.com/wspipe/wspipe/handshake"
)

// Libs are the names New accepts, in the order results are printed: the
// libraries whose servers are net/http handlers. Start serves these and
// the others (gobwas, nbio, tcp), which own their listener.
var Libs = []string{"wspipe", "gorilla", "coder", "gws"}

// Server is an echo server as an http.Handler with a way to end its
// connections.
type Server interface {
	http.Handler
	// Shutdown closes the connections still open and waits, within ctx,
	// for their handlers to return.
	Shutdown(ctx context.Context) error
}

// New returns the echo server of lib, one of Libs.
func New(lib string) (Server, error) {
	switch lib {
	case "wspipe":
		return Wspipe(), nil
	case "gorilla":
		return Gorilla(), nil
	case "coder":
		return Coder(), nil
	case "gws":
		return GWS(), nil
	}
	return nil, fmt.Errorf("unknown library %q (want one of %v)", lib, Libs)
}

// Wspipe is wspipe's echo service, echo.Handler, with the default options.
// Benchmark clients send no Origin header, so the origin policy does not
// matter; any origin is allowed, as in the gorilla server below.
func Wspipe() Server {
	return &echo.Handler{Handshake: handshake.Server{DangerouslyAllowAnyOrigin: true}}
}

// Gorilla is gorilla/websocket's echo loop from its package documentation:
// the zero Upgrader (which reuses the HTTP server's 4 KiB buffers, as in
// its examples/echo) and NextReader/NextWriter with io.Copy, the streaming
// form echo.Handler also uses.
func Gorilla() Server {
	return &gorillaEcho{
		up:    gorilla.Upgrader{CheckOrigin: func(*http.Request) bool { return true }},
		conns: make(map[*gorilla.Conn]struct{}),
	}
}

type gorillaEcho struct {
	up    gorilla.Upgrader
	mu    sync.Mutex
	conns map[*gorilla.Conn]struct{}
	wg    sync.WaitGroup
}

func (g *gorillaEcho) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	c, err := g.up.Upgrade(w, r, nil)
	if err != nil {
		return
	}
	g.mu.Lock()
	g.conns[c] = struct{}{}
	g.wg.Add(1)
	g.mu.Unlock()
	defer func() {
		g.mu.Lock()
		delete(g.conns, c)
		g.mu.Unlock()
		c.Close()
		g.wg.Done()
	}()
	for {
		typ, rd, err := c.NextReader()
		if err != nil {
			return
		}
		wr, err := c.NextWriter(typ)
		if err != nil {
			return
		}
		if _, err := io.Copy(wr, rd); err != nil {
			return
		}
		if err := wr.Close(); err != nil {
			return
		}
	}
}

func (g *gorillaEcho) Shutdown(ctx context.Context) error {
	g.mu.Lock()
	for c := range g.conns {
		c.Close()
	}
	g.mu.Unlock()
	done := make(chan struct{})
	go func() { g.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
