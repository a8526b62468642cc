//go:build linux

// Command wsload drives one WebSocket echo server over the loopback and
// measures it from outside: the same lean client for every server (raw
// sockets, hand-written handshake and frames, every payload masked, every
// reply checked byte for byte against its request), the server's CPU time
// from /proc/<pid>/stat over the measured window.
//
//	wsload -url ws://127.0.0.1:PORT/ -pid PID -mode echo -conns 64 -size 1024 -inflight 1
//	wsload -url ws://127.0.0.1:PORT/ -pid PID -mode idle -conns 10000 [-stats http://127.0.0.1:PORT]
//	wsload -url ws://127.0.0.1:PORT/ -pid PID -mode handshake -n 2000 -parallel 8
//
// A wrong reply fails the run with exit status 3; a missing or late one,
// or any other failure, with exit status 1. With
// -json the result is one JSON object on standard output. -tcp talks to a
// plain TCP echo instead: no handshake, no framing.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net/url"
	"os"
	"time"

	"github.com/wspipe/wspipe/bench/internal/load"
)

func main() {
	rawURL := flag.String("url", "", "server URL, ws://127.0.0.1:PORT/path")
	tcp := flag.Bool("tcp", false, "plain TCP echo: no handshake, no framing")
	pid := flag.Int("pid", 0, "server process id (for its CPU time and RSS)")
	mode := flag.String("mode", "echo", "echo, idle or handshake")
	conns := flag.Int("conns", 64, "connections (echo, idle)")
	size := flag.Int("size", 1024, "message size in bytes (echo)")
	inflight := flag.Int("inflight", 1, "messages in flight per connection (echo)")
	warmup := flag.Duration("warmup", time.Second, "unmeasured warm-up (echo)")
	duration := flag.Duration("duration", 3*time.Second, "measured window (echo)")
	n := flag.Int("n", 2000, "measured handshakes (handshake)")
	warm := flag.Int("warm", 200, "unmeasured handshakes first (handshake)")
	parallel := flag.Int("parallel", 8, "handshakes at a time (handshake)")
	dialers := flag.Int("dialers", 32, "concurrent dialers (idle)")
	stats := flag.String("stats", "", "server stats endpoint, http://host:port (idle; optional)")
	jsonOut := flag.Bool("json", false, "print the result as JSON")
	timeout := flag.Duration("timeout", 5*time.Minute, "give up after this long")
	flag.Parse()

	u, err := url.Parse(*rawURL)
	if err != nil || u.Host == "" {
		fatalf("-url %q: want ws://host:port/path", *rawURL)
	}
	if *pid <= 0 {
		fatalf("-pid is required: the server's process id")
	}
	t := load.Target{Addr: u.Host, Path: u.Path, TCP: *tcp, PID: *pid}
	if err := load.RaiseNoFile(uint64(*conns)+64, os.Stderr); err != nil {
		fatalf("%v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()

	var res any
	switch *mode {
	case "echo":
		res, err = load.Throughput(ctx, t, load.Scenario{
			Conns: *conns, Size: *size, InFlight: *inflight,
			Warmup: *warmup, Duration: *duration,
		})
	case "idle":
		res, err = load.Idle(ctx, t, *conns, *dialers, *stats)
	case "handshake":
		res, err = load.Handshakes(ctx, t, *n, *warm, *parallel)
	default:
		fatalf("unknown -mode %q (want echo, idle or handshake)", *mode)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "wsload: %s: %v\n", *mode, err)
		if errors.Is(err, load.ErrMismatch) {
			os.Exit(3)
		}
		os.Exit(1)
	}
	if *jsonOut {
		json.NewEncoder(os.Stdout).Encode(res)
		return
	}
	b, _ := json.MarshalIndent(res, "", "  ")
	fmt.Println(string(b))
}

func fatalf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "wsload: "+format+"\n", args...)
	os.Exit(1)
}
