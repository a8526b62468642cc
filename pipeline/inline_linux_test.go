package pipeline

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wspipe/wspipe/internal/sockio"
)

// onLoop reports whether the calling goroutine is one of the inline
// engine's loops.
func onLoop() bool {
	buf := make([]byte, 8<<10)
	return strings.Contains(string(buf[:runtime.Stack(buf, false)]), "sockio.(*loop).serve")
}

// engaged counts the connections of conns whose sockets are engaged in
// the inline engine.
func engaged(conns []*Conn) int {
	n := 0
	for _, c := range conns {
		if c.cr.Engaged() {
			n++
		}
	}
	return n
}

// inlineEcho is pushEcho served inline, whose handler counts the messages
// it served on a loop and on a reader goroutine.
func inlineEcho(onLoops, onReaders *atomic.Int64) *Options {
	opts := pushEcho()
	opts.Inline = true
	echo := opts.OnMessage
	opts.OnMessage = func(c *Conn, typ MessageType, r io.Reader) error {
		if onLoop() {
			onLoops.Add(1)
		} else {
			onReaders.Add(1)
		}
		return echo(c, typ, r)
	}
	return opts
}

// Once a connection has been used, every message that arrives whole is
// served on an inline loop, with no reader goroutine; a message longer
// than the read buffer goes to a reader goroutine and the socket comes
// back to the loop after it. Connections that end leave the engine.
func TestInlineServesOnLoop(t *testing.T) {
	var onLoops, onReaders atomic.Int64
	var closes atomic.Int32
	opts := inlineEcho(&onLoops, &onReaders)
	opts.OnClose = func(*Conn, error) { closes.Add(1) }
	clients, servers := dialPush(t, 12, opts)
	for i, c := range clients {
		if err := echoOnce(c, []byte("first")); err != nil {
			t.Fatalf("client %d: %v", i, err)
		}
	}
	// With no reader goroutine, an inline connection is engaged.
	waitFor(t, "the connections to engage", func() bool { return readers(servers) == 0 })
	loops0, readers0 := onLoops.Load(), onReaders.Load()
	for round := range 5 {
		for i, c := range clients {
			if err := echoOnce(c, []byte(fmt.Sprintf("round %d client %d", round, i))); err != nil {
				t.Fatalf("round %d client %d: %v", round, i, err)
			}
		}
	}
	// All of them, unless a serve was slow enough (a loaded machine, the
	// race detector) for the watchdog to take its connection off the loop.
	if got, want := onLoops.Load()-loops0, int64(5*len(clients)); got < want/2 {
		t.Fatalf("%d of %d small messages served on a loop, %d by readers", got, want, onReaders.Load()-readers0)
	}
	// 3000 bytes do not fit the 1024-byte read buffer.
	big := bytes.Repeat([]byte("0123456789"), 300)
	for i, c := range clients {
		if err := echoOnce(c, big); err != nil {
			t.Fatalf("client %d, large message: %v", i, err)
		}
		if err := echoOnce(c, []byte("after")); err != nil {
			t.Fatalf("client %d, after the large message: %v", i, err)
		}
	}
	if onReaders.Load() == readers0 {
		t.Fatal("no large message went to a reader goroutine")
	}
	waitFor(t, "the connections to go idle again", func() bool { return readers(servers) == 0 })
	if n := engaged(servers); n < len(servers)/2 {
		t.Fatalf("%d of %d idle connections engaged", n, len(servers))
	}
	for _, c := range clients {
		c.CloseNow()
	}
	for i, s := range servers {
		if err := s.Wait(); err == nil {
			t.Fatalf("server %d: Wait returned no error for a dropped connection", i)
		}
	}
	if n := closes.Load(); n != int32(len(servers)) {
		t.Fatalf("OnClose ran %d times for %d connections", n, len(servers))
	}
	if n := engaged(servers); n != 0 {
		t.Fatalf("%d ended connections still engaged", n)
	}
}

// A handler that blocks on a loop stops no other connection: the watchdog
// gives the loop to a fresh goroutine, the blocked connection is served by
// reader goroutines from then on, and its message is answered once the
// handler goes on.
func TestInlineStalledServeHandsOver(t *testing.T) {
	release := make(chan struct{})
	var blocked atomic.Int32
	opts := pushEcho()
	opts.Inline = true
	echo := opts.OnMessage
	opts.OnMessage = func(c *Conn, typ MessageType, r io.Reader) error {
		var b [5]byte
		n, _ := io.ReadFull(r, b[:])
		if string(b[:n]) == "block" {
			blocked.Add(1)
			<-release
		}
		return echo(c, typ, io.MultiReader(bytes.NewReader(b[:n]), r))
	}
	// More connections than loops, so that some share the blocked one's.
	n := 2*runtime.GOMAXPROCS(0) + 2
	clients, servers := dialPush(t, n, opts)
	for i, c := range clients {
		if err := echoOnce(c, []byte("first")); err != nil {
			t.Fatalf("client %d: %v", i, err)
		}
	}
	waitFor(t, "the connections to engage", func() bool { return readers(servers) == 0 })
	_, handed0 := sockio.InlineStats()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := clients[0].WriteMessage(ctx, Binary, []byte("block me")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the handler to block", func() bool { return blocked.Load() == 1 })
	for round := range 3 {
		for i, c := range clients[1:] {
			if err := echoOnce(c, []byte(fmt.Sprintf("round %d client %d", round, i+1))); err != nil {
				close(release)
				t.Fatalf("round %d client %d, beside a blocked handler: %v", round, i+1, err)
			}
		}
	}
	waitFor(t, "the watchdog to hand the loop over", func() bool {
		_, handed := sockio.InlineStats()
		return handed > handed0
	})
	close(release)
	if _, got, err := clients[0].ReadMessage(ctx, nil); err != nil || string(got) != "block me" {
		t.Fatalf("blocked client: %q, %v", got, err)
	}
	for k := range 3 {
		if err := echoOnce(clients[0], []byte(fmt.Sprintf("again %d", k))); err != nil {
			t.Fatalf("blocked client, message %d after: %v", k, err)
		}
	}
}

// A peer that sends without pause takes its turn on the loop and no more:
// the other connections on the loop are served meanwhile.
func TestInlineFloodIsFair(t *testing.T) {
	clients, servers := dialPush(t, 2*runtime.GOMAXPROCS(0)+2, inlineEcho(new(atomic.Int64), new(atomic.Int64)))
	for i, c := range clients {
		if err := echoOnce(c, []byte("first")); err != nil {
			t.Fatalf("client %d: %v", i, err)
		}
	}
	waitFor(t, "the connections to engage", func() bool { return readers(servers) == 0 })
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	flood := clients[0]
	go func() { // read the flood's echoes, or its socket fills and it waits
		for {
			if _, _, err := flood.ReadMessage(ctx, nil); err != nil {
				return
			}
		}
	}()
	sent := make(chan int, 1)
	go func() {
		msg := bytes.Repeat([]byte("f"), 100)
		k := 0
		for ctx.Err() == nil {
			if flood.WriteMessage(ctx, Binary, msg) != nil {
				break
			}
			k++
		}
		sent <- k
	}()
	for round := range 20 {
		for i, c := range clients[1:] {
			if err := echoOnce(c, []byte(fmt.Sprintf("round %d client %d", round, i+1))); err != nil {
				t.Fatalf("round %d client %d, beside a flood: %v", round, i+1, err)
			}
		}
	}
	cancel()
	t.Logf("the flood sent %d messages meanwhile", <-sent)
}
