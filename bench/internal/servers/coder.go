package servers

import (
	"context"
	"io"
	"net/http"
	"sync"

	"github.com/coder/websocket"
)

// maxMessage is the largest message every server accepts: wspipe's
// default (32 MiB), set explicitly where a library's default is lower.
const maxMessage = 32 << 20

// Coder is coder/websocket's echo from its examples (internal/examples/echo):
// websocket.Accept, then per message Reader, Writer of the same type,
// io.Copy and Close. Its default read limit (32 KiB) is raised to
// maxMessage so the 64 KiB and 1 MiB messages fit; the example's rate
// limiter and its 10 s per-message timeout are left out (the first would
// measure the limiter, the second would end idle connections).
// InsecureSkipVerify is its option for accepting any Origin.
func Coder() Server {
	return &coderEcho{conns: make(map[*websocket.Conn]struct{})}
}

type coderEcho struct {
	mu    sync.Mutex
	conns map[*websocket.Conn]struct{}
	wg    sync.WaitGroup
}

func (s *coderEcho) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	c, err := websocket.Accept(w, r, &websocket.AcceptOptions{InsecureSkipVerify: true})
	if err != nil {
		return
	}
	c.SetReadLimit(maxMessage)
	s.mu.Lock()
	s.conns[c] = struct{}{}
	s.wg.Add(1)
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.conns, c)
		s.mu.Unlock()
		c.CloseNow()
		s.wg.Done()
	}()
	ctx := context.Background()
	for {
		typ, rd, err := c.Reader(ctx)
		if err != nil {
			return
		}
		wr, err := c.Writer(ctx, typ)
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

func (s *coderEcho) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	for c := range s.conns {
		c.CloseNow()
	}
	s.mu.Unlock()
	return waitGroup(ctx, &s.wg)
}

// waitGroup waits for wg within ctx.
func waitGroup(ctx context.Context, wg *sync.WaitGroup) error {
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
