package servers

import (
	"context"
	"net/http"
	"sync"

	"github.com/lxzan/gws"
)

// GWS is lxzan/gws's echo from its README ("Best Practice") and
// examples/echo: an Upgrader with an event handler whose OnMessage writes
// the message back and closes it, ReadLoop in its own goroutine so the
// HTTP handler returns. Options: ParallelEnabled false (messages of a
// connection handled in order, on the read goroutine), no compression, no
// Recovery, default buffer sizes (ReadBufferSize 4 KiB) and limits
// (16 MiB, above the largest message sent). OnPing answers with the ping's
// payload, as examples/echo does.
func GWS() Server {
	h := &gwsHandler{conns: make(map[*gws.Conn]struct{})}
	h.up = gws.NewUpgrader(h, &gws.ServerOption{ParallelEnabled: false})
	return h
}

type gwsHandler struct {
	gws.BuiltinEventHandler
	up    *gws.Upgrader
	mu    sync.Mutex
	conns map[*gws.Conn]struct{}
	wg    sync.WaitGroup
}

func (h *gwsHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	socket, err := h.up.Upgrade(w, r)
	if err != nil {
		return
	}
	h.mu.Lock()
	h.conns[socket] = struct{}{}
	h.wg.Add(1)
	h.mu.Unlock()
	go func() {
		defer h.wg.Done()
		socket.ReadLoop()
	}()
}

func (h *gwsHandler) OnClose(socket *gws.Conn, err error) {
	h.mu.Lock()
	delete(h.conns, socket)
	h.mu.Unlock()
}

func (h *gwsHandler) OnPing(socket *gws.Conn, payload []byte) {
	_ = socket.WritePong(payload)
}

func (h *gwsHandler) OnMessage(socket *gws.Conn, message *gws.Message) {
	defer message.Close()
	_ = socket.WriteMessage(message.Opcode, message.Bytes())
}

func (h *gwsHandler) Shutdown(ctx context.Context) error {
	h.mu.Lock()
	for c := range h.conns {
		c.NetConn().Close()
	}
	h.mu.Unlock()
	return waitGroup(ctx, &h.wg)
}
