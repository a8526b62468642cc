package pipeline

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/wspipe/wspipe/handshake"
)

// hub is a broadcast server: it keeps every accepted Conn.
type hub struct {
	mu    sync.Mutex
	conns []*Conn
	added chan struct{}
}

func startHub(t testing.TB, opts *Options) (string, *hub) {
	h := &hub{added: make(chan struct{}, 4096)}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		o := *opts
		o.OnMessage = func(*Conn, MessageType, io.Reader) error { return nil }
		c, err := Accept(w, r, &handshake.Server{}, &o)
		if err != nil {
			return
		}
		h.mu.Lock()
		h.conns = append(h.conns, c)
		h.mu.Unlock()
		h.added <- struct{}{}
	}))
	t.Cleanup(srv.Close)
	return srv.Listener.Addr().String(), h
}

func TestBroadcastStalledReaderDoesNotBlockOthers(t *testing.T) {
	addr, h := startHub(t, &Options{SendQueue: 8})
	const n = 20
	clients := make([]*Conn, n)
	for i := range clients {
		clients[i] = dialRaw(t, addr, nil)
		defer clients[i].Close(CloseNormal, "")
	}
	stalled, _ := rawClient(t, addr) // never reads
	if tc, ok := stalled.(*net.TCPConn); ok {
		tc.SetReadBuffer(4096)
	}
	for range n + 1 {
		<-h.added
	}
	const msgs = 300
	payload := make([]byte, 16<<10)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	// Each reading client acknowledges every message; a round ends when all
	// have, so the readers set the pace and the stalled one must not.
	acks := make(chan int, n*4)
	for _, c := range clients {
		go func() {
			buf := make([]byte, 0, len(payload))
			for i := range msgs {
				_, msg, err := c.ReadMessage(ctx, buf)
				if err != nil || string(msg[:len(fmt.Sprint(i))]) != fmt.Sprint(i) {
					acks <- -1
					return
				}
				acks <- i
			}
		}()
	}
	var full int
	for i := range msgs {
		copy(payload, fmt.Sprint(i))
		pm := NewPreparedMessage(Binary, append([]byte(nil), payload...))
		h.mu.Lock()
		conns := append([]*Conn(nil), h.conns...)
		h.mu.Unlock()
		for _, c := range conns {
			err := c.WritePrepared(ctx, pm)
			if errors.Is(err, ErrQueueFull) {
				full++
				continue
			}
			if err != nil {
				t.Fatalf("broadcast %d: %v", i, err)
			}
		}
		for range n {
			select {
			case got := <-acks:
				if got != i {
					t.Fatalf("round %d: a reader reported %d", i, got)
				}
			case <-ctx.Done():
				t.Fatalf("round %d: readers stalled behind the stalled peer", i)
			}
		}
	}
	if full == 0 {
		t.Fatal("the stalled reader's queue never filled: the test did not stall it")
	}
}

func BenchmarkBroadcast1000(b *testing.B) {
	addr, h := startHub(b, &Options{SendQueue: 1024})
	const n = 1000
	for range n {
		nc, br := rawClient(b, addr)
		go io.Copy(io.Discard, br) // drain; ends when the conn closes
		_ = nc
	}
	for range n {
		<-h.added
	}
	pm := NewPreparedMessage(Binary, make([]byte, 1024))
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		for _, c := range h.conns {
			for c.WritePrepared(ctx, pm) != nil {
				time.Sleep(time.Millisecond) // queue full: let the writers drain
			}
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/recipient")
}
