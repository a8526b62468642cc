package pipeline

import (
	"context"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestLatch(t *testing.T) {
	var l latch
	if l.fired() {
		t.Fatal("zero latch has fired")
	}
	early := l.C() // made before the latch fires
	select {
	case <-early:
		t.Fatal("channel closed before fire")
	default:
	}
	if !l.fire() {
		t.Fatal("first fire reported false")
	}
	if l.fire() {
		t.Fatal("second fire reported true")
	}
	if !l.fired() {
		t.Fatal("fired latch reports not fired")
	}
	for _, ch := range []<-chan struct{}{early, l.C()} {
		select {
		case <-ch:
		default:
			t.Fatal("channel open after fire")
		}
	}

	var never latch // fired without ever being waited on
	never.fire()
	select {
	case <-never.C():
	default:
		t.Fatal("channel of a latch fired before C is open")
	}
}

// Racing waiters and firers: every waiter wakes and exactly one fire wins.
func TestLatchRace(t *testing.T) {
	for range 200 {
		var l latch
		var wg sync.WaitGroup
		var mu sync.Mutex
		wins := 0
		for i := range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if i%2 == 0 {
					<-l.C()
					return
				}
				if l.fire() {
					mu.Lock()
					wins++
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		if wins != 1 {
			t.Fatalf("%d fires won", wins)
		}
	}
}

// A connection that shook hands and idles makes none of its lazy
// channels; using and closing it makes them as needed, and Err follows Done.
func TestIdleConnMakesNoChannels(t *testing.T) {
	addr, conns := echoServer(t, pushEcho())
	cl := dialRaw(t, addr, nil)
	srv := <-conns
	time.Sleep(20 * time.Millisecond) // let the reader goroutine settle
	unmade := func(c *Conn) []string {
		var s []string
		for name, made := range map[string]bool{
			"dead": c.dead.p.Load() != nil, "readDone": c.readDone.p.Load() != nil,
			"dropping": c.dropping.p.Load() != nil, "closeWrote": c.closeWrote.p.Load() != nil,
			"msgTok": c.msgTok.p.Load() != nil && c.msgTok.p.Load() != tokenHeld,
		} {
			if !made {
				s = append(s, name)
			}
		}
		return s
	}
	if got := unmade(srv); len(got) != 5 {
		t.Fatalf("idle server conn made channels; unmade only %v", got)
	}
	if srv.Err() != nil {
		t.Fatalf("Err on a live conn: %v", srv.Err())
	}
	ctx := context.Background()
	if err := cl.WriteMessage(ctx, Text, []byte("hi")); err != nil {
		t.Fatal(err)
	}
	if _, p, err := cl.ReadMessage(ctx, nil); err != nil || string(p) != "hi" {
		t.Fatalf("echo: %q %v", p, err)
	}
	// One writer at a time takes the token with no channel, and waits on
	// no latch.
	if got := unmade(srv); len(got) != 5 {
		t.Fatalf("an echo made channels; unmade only %v", got)
	}
	done := srv.Done()
	if err := cl.Close(CloseNormal, ""); err != nil {
		t.Fatal(err)
	}
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("server conn not done after the client closed")
	}
	if srv.Err() == nil {
		t.Fatal("Err nil after Done")
	}
	if got := unmade(cl); len(got) == 5 {
		t.Fatal("closed client made no channels")
	}
}

// The token goes to one holder at a time; a waiter wakes when it is
// released, and gives up when its done or dead channel closes.
func TestToken(t *testing.T) {
	var tok token
	if !tok.tryTake() || tok.tryTake() {
		t.Fatal("tryTake: want the free token once")
	}
	done := make(chan struct{})
	close(done)
	if tok.take(done, nil) {
		t.Fatal("take returned true with the token held and done closed")
	}
	dead := make(chan struct{})
	close(dead)
	if tok.take(nil, dead) {
		t.Fatal("take returned true with the token held and dead closed")
	}
	tok.release()

	// Many goroutines, one holder at a time.
	const workers, rounds = 8, 200
	var inside, most atomic.Int32
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range rounds {
				if !tok.take(nil, nil) {
					t.Error("take failed with nothing to give up on")
					return
				}
				n := inside.Add(1)
				if n > most.Load() {
					most.Store(n)
				}
				runtime.Gosched()
				inside.Add(-1)
				tok.release()
			}
		}()
	}
	wg.Wait()
	if most.Load() != 1 {
		t.Fatalf("%d holders at once", most.Load())
	}
	if !tok.tryTake() {
		t.Fatal("token not free after every holder released it")
	}
}
