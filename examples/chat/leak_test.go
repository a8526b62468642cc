package main

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"
)

// TestNoGoroutineLeak: a server with its own embedded NATS server, after
// members joined, talked, resumed and were closed by Shutdown, leaves no
// goroutine behind.
func TestNoGoroutineLeak(t *testing.T) {
	before := runtime.NumGoroutine()
	func() {
		s, err := newServer(options{Logger: slog.New(slog.DiscardHandler), Rate: -1})
		if err != nil {
			t.Fatal(err)
		}
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		hs := &http.Server{Handler: s.Handler()}
		served := make(chan struct{})
		go func() { defer close(served); hs.Serve(ln) }()
		addr := ln.Addr().String()
		a, b := dial(t, addr, "a"), dial(t, addr, "b")
		a.join("room", "ann")
		last := b.join("room", "bob").Seq
		b.c.CloseNow()
		b.closed()
		a.expect(typeJoined, "bob", "")
		a.expect(typeLeft, "bob", "")
		a.say("while bob was away")
		a.expect(typeMessage, "ann", "")
		b = dial(t, addr, "b again")
		b.resumeFrom("room", "bob", last)
		ctx, cancel := context.WithTimeout(context.Background(), wait)
		defer cancel()
		if err := s.Shutdown(ctx); err != nil {
			t.Fatal(err)
		}
		hs.Shutdown(ctx)
		<-served
		a.closed()
		b.closed()
	}()
	var after int
	for range 200 { // up to 10 s for goroutines on their way out
		if after = runtime.NumGoroutine(); after <= before {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	buf := make([]byte, 1<<20)
	n := runtime.Stack(buf, true)
	t.Fatalf("%d goroutines before, %d after:\n%s", before, after, strings.TrimSpace(string(buf[:n])))
}
