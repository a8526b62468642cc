//go:build linux

// Command idlemem measures what an idle WebSocket connection costs a
// server: Go heap and stacks, resident memory and goroutines per
// connection, for wspipe and the other libraries of internal/servers.
//
// The server runs in a child process (this program re-executed, or with
// -cmd a server program started as a user starts it, measured from
// outside with no collection forced), so the client side never counts. The parent opens -n connections over 127.0.0.1
// with raw sockets and a hand-written handshake, identical for every
// library, and leaves them idle. The child reports its numbers, after two
// GCs and returning free memory to the OS, before and after.
//
//	go run ./cmd/idlemem -n 10000 -lib wspipe,gorilla
//	go run ./cmd/idlemem -sweep    # the idle-memory sweep of docs/benchmarks.md
//
// -n takes a list of counts ("max" is the most this machine's hard
// RLIMIT_NOFILE lets each process hold, less 1500 for the rest); with two
// counts or more it fits memory = intercept + slope × connections per
// library (least squares), prints the slope in KiB per connection and the
// projection to a million connections, and with -svg draws memory against
// connections. -then-echo N measures again after one N-byte message was
// echoed on every connection, a wait (-then-wait) and the GCs: whether a
// connection that was used goes back to its idle cost.
package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha1"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/wspipe/wspipe/bench/internal/load"
	"github.com/wspipe/wspipe/bench/internal/servers"
)

// childEnv, when set, makes the program the server child for that library.
const childEnv = "IDLEMEM_SERVER_LIB"

// classesEnv, when set, has the child print its memory classes (-classes).
const classesEnv = "IDLEMEM_CLASSES"

func main() {
	if lib := os.Getenv(childEnv); lib != "" {
		if err := child(lib); err != nil {
			fmt.Fprintln(os.Stderr, "idlemem server:", err)
			os.Exit(1)
		}
		return
	}
	counts := flag.String("n", "10000", "idle connections to open: a comma-separated list of counts; \"max\" is the most RLIMIT_NOFILE's hard limit allows")
	libs := flag.String("lib", "wspipe", "comma-separated libraries to measure: "+strings.Join(idleLibs(), ", "))
	timeout := flag.Duration("timeout", 120*time.Second, "give up on a library at one count after this long")
	dialers := flag.Int("dialers", 32, "concurrent dialing goroutines")
	heapProfile := flag.String("heapprofile", "", "write each server's heap profile with all connections open to `prefix`-<lib>.pprof (with -then-echo also prefix-<lib>-after-echo.pprof)")
	flag.IntVar(&echoFirst, "echo", 0, "have each connection echo one binary message of this many bytes (at most 65535) before it idles: what a connection keeps after it was used")
	flag.DurationVar(&settle, "settle", 0, "wait this long after the last connection is open before measuring (a server may tidy idle connections after a while)")
	flag.BoolVar(&pingFirst, "ping", false, "with -echo (at most 125): send a ping instead and read its pong")
	flag.IntVar(&thenEcho, "then-echo", 0, "after the idle reading, echo one binary message of this many bytes (1 to 65535) on every connection, wait -then-wait, and measure again")
	flag.DurationVar(&thenWait, "then-wait", 3*time.Second, "with -then-echo: how long connections idle again before the second reading (wspipe replaces a reader that handled frames after 1 s idle)")
	sweep := flag.Bool("sweep", false, "the idle-memory sweep: defaults to -lib "+sweepLibs+" -n "+sweepCounts+" -then-echo 32 -json results/idle-sweep.json -svg ../docs/idle-memory.svg (flags given override)")
	jsonOut := flag.String("json", "", "write the measurements and fits as JSON to this file")
	svgOut := flag.String("svg", "", "draw memory against connections (RSS, one line per library) to this SVG file (needs two counts or more)")
	cmdLine := flag.String("cmd", "", "measure this server `program` instead of -lib, as a user runs it: its command line (split at spaces), to which idlemem adds -addr 127.0.0.1:0 and whose first line of standard output is its URL, as cmd/echo's is; its RSS is read from /proc with no collection forced, and it has no heap or goroutine figures")
	classes := flag.Bool("classes", false, "have each server child print the runtime's memory classes (runtime/metrics /memory/classes/...) and its RSS at every reading, as CLASS lines on stderr: where RSS goes beyond the Go heap")
	flag.Parse()
	if *classes {
		os.Setenv(classesEnv, "1") // the children inherit it
	}
	if flag.NArg() > 0 {
		fatalf("unexpected argument %q", flag.Arg(0))
	}
	if *sweep {
		set := map[string]bool{}
		flag.Visit(func(f *flag.Flag) { set[f.Name] = true })
		def := func(name string, p *string, v string) {
			if !set[name] {
				*p = v
			}
		}
		def("lib", libs, sweepLibs)
		def("n", counts, sweepCounts)
		def("json", jsonOut, "results/idle-sweep.json")
		def("svg", svgOut, "../docs/idle-memory.svg")
		if !set["then-echo"] {
			thenEcho = 32
		}
	}
	if echoFirst < 0 || echoFirst > 0xFFFF || pingFirst && echoFirst > 125 {
		fatalf("-echo must be 0 to 65535, and at most 125 with -ping")
	}
	if thenEcho < 0 || thenEcho > 0xFFFF {
		fatalf("-then-echo must be 0 to 65535")
	}
	hard, err := hardNoFile()
	if err != nil {
		fatalf("%v", err)
	}
	ns, err := parseCounts(*counts, hard)
	if err != nil {
		fatalf("-n: %v", err)
	}
	libList := strings.Split(*libs, ",")
	for _, lib := range libList {
		if !slices.Contains(idleLibs(), lib) {
			fatalf("-lib: unknown library %q (want some of %v)", lib, idleLibs())
		}
	}
	if *cmdLine != "" {
		cmdArgs = strings.Fields(*cmdLine)
		libList = []string{"cmd:" + filepath.Base(cmdArgs[0])}
	}
	// Each process holds one side of every connection, so the same need
	// applies to the child, which inherits the limit.
	if err := load.RaiseNoFile(uint64(slices.Max(ns))+64, os.Stderr); err != nil {
		fatalf("%v", err)
	}

	start := time.Now()
	var rows []result
	// Counts in the outer loop, libraries inner, so no library always
	// meets the machine at its busiest.
	for _, n := range ns {
		for _, lib := range libList {
			ctx, cancel := context.WithTimeout(context.Background(), *timeout)
			prof := ""
			if *heapProfile != "" {
				prof = fmt.Sprintf("%s-%s-%d.pprof", *heapProfile, lib, n)
				if len(ns) == 1 {
					prof = *heapProfile + "-" + lib + ".pprof"
				}
			}
			r, err := measure(ctx, lib, n, *dialers, prof)
			cancel()
			if err != nil {
				fatalf("%s at %d connections: %v", lib, n, err)
			}
			fmt.Fprintf(os.Stderr, "idlemem: %-7s %6d conns: RSS %.2f KiB/conn, heap+stacks %.2f KiB/conn, %.2f goroutines/conn%s\n",
				lib, n, r.per().rss, r.per().heap, r.per().g, r.echoBrief())
			rows = append(rows, r)
		}
	}
	printTable(os.Stdout, rows)
	fits := fitAll(libList, rows)
	if len(ns) > 1 {
		printFits(os.Stdout, fits)
	}
	sw := newSweep(rows, fits, hard, time.Since(start))
	if *jsonOut != "" {
		if err := writeJSON(*jsonOut, sw); err != nil {
			fatalf("%v", err)
		}
		fmt.Fprintln(os.Stderr, "idlemem: wrote", *jsonOut)
	}
	if *svgOut != "" {
		if len(ns) < 2 {
			fatalf("-svg needs two counts or more in -n")
		}
		if err := os.WriteFile(*svgOut, []byte(drawSweep(sw)), 0o644); err != nil {
			fatalf("%v", err)
		}
		fmt.Fprintln(os.Stderr, "idlemem: wrote", *svgOut)
	}
}

// The sweep's defaults (-sweep).
const (
	sweepLibs   = "wspipe,nbio,gobwas,gorilla"
	sweepCounts = "2000,5000,10000,max"
)

// noFileMargin is what "max" leaves of the hard RLIMIT_NOFILE for the
// descriptors a process has besides the connections (listeners, pipes,
// epoll, the runtime's).
const noFileMargin = 1500

// idleLibs are the libraries idlemem can measure: every WebSocket server
// of internal/servers (not the raw TCP echo: the client speaks WebSocket).
func idleLibs() []string {
	var libs []string
	for _, l := range servers.AllLibs {
		if l != "tcp" {
			libs = append(libs, l)
		}
	}
	return libs
}

// parseCounts reads -n: positive counts or "max", the most the hard limit
// of open files allows (less noFileMargin, rounded down to 500).
func parseCounts(s string, hard uint64) ([]int, error) {
	var ns []int
	for _, f := range strings.Split(s, ",") {
		if f == "max" {
			if hard < noFileMargin+500 {
				return nil, fmt.Errorf("max: the hard RLIMIT_NOFILE is only %d", hard)
			}
			ns = append(ns, int(min(hard-noFileMargin, 1<<22)/500*500))
			continue
		}
		n, err := strconv.Atoi(f)
		if err != nil || n <= 0 {
			return nil, fmt.Errorf("%q is not a positive count or max", f)
		}
		ns = append(ns, n)
	}
	return ns, nil
}

func hardNoFile() (uint64, error) {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return 0, fmt.Errorf("getrlimit: %w", err)
	}
	return lim.Max, nil
}

func fatalf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "idlemem: "+format+"\n", args...)
	os.Exit(1)
}

// stats is the child's report.
type stats struct {
	HeapInuse  uint64
	StackInuse uint64
	HeapAlloc  uint64
	Goroutines int
	RSS        uint64 // VmRSS in bytes
}

type result struct {
	lib         string
	conns       int
	before      stats
	after       stats
	dialElapsed time.Duration
	// echoed is true when -then-echo ran: afterEcho is the reading once
	// every connection echoed one message and idled -then-wait again.
	echoed    bool
	afterEcho stats
}

// measure starts lib's server child (or, for a lib named "cmd:...", the
// -cmd program), reads its baseline, opens n idle connections, waits for
// the server to settle and reads its stats again. If profile is not empty,
// the child writes its heap profile there.
func measure(ctx context.Context, lib string, n, dialers int, profile string) (result, error) {
	res := result{lib: lib, conns: n}
	var srv *server
	var err error
	if strings.HasPrefix(lib, "cmd:") {
		srv, err = startCommand(ctx, cmdArgs)
	} else {
		srv, err = startChild(ctx, lib)
	}
	if err != nil {
		return res, err
	}
	defer srv.stop()
	if res.before, err = srv.stats(); err != nil {
		return res, err
	}

	start := time.Now()
	conns, err := openIdle(ctx, srv.addr, n, dialers)
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	if err != nil {
		return res, err
	}
	res.dialElapsed = time.Since(start)

	// Every client has its 101; after -settle, wait until the server's
	// goroutine count and RSS stop moving, so each connection has reached
	// its idle read (a library without a goroutine per connection, nbio,
	// adds none).
	select {
	case <-time.After(settle):
	case <-ctx.Done():
		return res, ctx.Err()
	}
	if res.after, err = settled(ctx, srv.stats); err != nil {
		return res, err
	}
	if profile != "" {
		if err := srv.heapProfile(profile); err != nil {
			return res, err
		}
	}
	if thenEcho > 0 {
		if err := echoAll(ctx, conns, thenEcho, dialers); err != nil {
			return res, fmt.Errorf("-then-echo: %w", err)
		}
		select {
		case <-time.After(thenWait):
		case <-ctx.Done():
			return res, ctx.Err()
		}
		if res.afterEcho, err = settled(ctx, srv.stats); err != nil {
			return res, err
		}
		res.echoed = true
		if profile != "" {
			if err := srv.heapProfile(strings.TrimSuffix(profile, ".pprof") + "-after-echo.pprof"); err != nil {
				return res, err
			}
		}
	}
	return res, nil
}

// settled reads the child's stats every 300 ms until two readings in a
// row have the same goroutine count and RSS within 1 % (at most 100
// readings, and within ctx), and returns the last.
func settled(ctx context.Context, getStats func() (stats, error)) (stats, error) {
	prev := stats{Goroutines: -1}
	for i := 0; ; i++ {
		s, err := getStats()
		if err != nil {
			return s, err
		}
		if s.Goroutines == prev.Goroutines && max(s.RSS, prev.RSS)-min(s.RSS, prev.RSS) <= prev.RSS/100 {
			return s, nil
		}
		if i >= 100 {
			return s, fmt.Errorf("server did not settle in 100 readings (%d goroutines, RSS %d KiB)", s.Goroutines, s.RSS>>10)
		}
		prev = s
		select {
		case <-ctx.Done():
			return s, fmt.Errorf("server did not settle (%d goroutines): %w", s.Goroutines, ctx.Err())
		case <-time.After(300 * time.Millisecond):
		}
	}
}

// echoAll echoes one binary message of size bytes on every connection,
// workers at a time, each checked byte for byte, within ctx.
func echoAll(ctx context.Context, conns []net.Conn, size, workers int) error {
	var next atomic.Int64
	var wg sync.WaitGroup
	var once sync.Once
	var firstErr error
	deadline, _ := ctx.Deadline()
	for range max(workers, 1) {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= len(conns) || ctx.Err() != nil {
					return
				}
				c := conns[i]
				c.SetDeadline(deadline)
				err := echoOnceOp(c, size, false)
				c.SetDeadline(time.Time{})
				if err != nil {
					once.Do(func() { firstErr = fmt.Errorf("connection %d: %w", i, err) })
					next.Store(int64(len(conns)))
					return
				}
			}
		})
	}
	wg.Wait()
	if firstErr == nil {
		firstErr = ctx.Err()
	}
	return firstErr
}

// openIdle opens n WebSocket connections to addr with a minimal hand-written
// handshake and returns them, idle.
func openIdle(ctx context.Context, addr string, n, dialers int) ([]net.Conn, error) {
	conns := make([]net.Conn, n)
	var next atomic.Int64
	var wg sync.WaitGroup
	var once sync.Once
	var firstErr error
	for range max(dialers, 1) {
		wg.Go(func() {
			var d net.Dialer
			for {
				i := int(next.Add(1)) - 1
				if i >= n || ctx.Err() != nil {
					return
				}
				c, err := handshake(ctx, &d, addr)
				if err != nil {
					once.Do(func() { firstErr = fmt.Errorf("connection %d: %w", i, err) })
					next.Store(int64(n))
					return
				}
				conns[i] = c
			}
		})
	}
	wg.Wait()
	if firstErr == nil && ctx.Err() != nil {
		firstErr = ctx.Err()
	}
	if firstErr != nil {
		var open []net.Conn
		for _, c := range conns {
			if c != nil {
				open = append(open, c)
			}
		}
		return open, firstErr
	}
	return conns, nil
}

// handshake dials addr and performs the client side of the opening
// handshake by hand, checking the status and Sec-WebSocket-Accept.
func handshake(ctx context.Context, d *net.Dialer, addr string) (net.Conn, error) {
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	deadline, _ := ctx.Deadline()
	c.SetDeadline(deadline)
	var k [16]byte
	rand.Read(k[:])
	key := base64.StdEncoding.EncodeToString(k[:])
	req := "GET / HTTP/1.1\r\nHost: " + addr + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: " + key + "\r\nSec-WebSocket-Version: 13\r\n\r\n"
	if _, err := io.WriteString(c, req); err != nil {
		c.Close()
		return nil, err
	}
	// The server sends nothing after its response until we speak, so
	// reading up to the blank line consumes exactly the response.
	var buf [1024]byte
	got := 0
	for !bytes.Contains(buf[:got], []byte("\r\n\r\n")) {
		if got == len(buf) {
			c.Close()
			return nil, errors.New("handshake response too long")
		}
		k, err := c.Read(buf[got:])
		got += k
		if err != nil {
			c.Close()
			return nil, fmt.Errorf("reading handshake response: %w", err)
		}
	}
	resp := string(buf[:got])
	sum := sha1.Sum([]byte(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
	accept := base64.StdEncoding.EncodeToString(sum[:])
	if !strings.HasPrefix(resp, "HTTP/1.1 101 ") ||
		!strings.Contains(strings.ToLower(resp), "\r\nsec-websocket-accept: "+strings.ToLower(accept)+"\r\n") {
		c.Close()
		return nil, fmt.Errorf("bad handshake response %q", resp)
	}
	if echoFirst > 0 {
		if err := echoOnceOp(c, echoFirst, pingFirst); err != nil {
			c.Close()
			return nil, err
		}
	}
	c.SetDeadline(time.Time{})
	return c, nil
}

// echoFirst is -echo: bytes of the one message each connection echoes;
// pingFirst (-ping) makes it a ping, answered by a pong.
var (
	echoFirst int
	pingFirst bool
	settle    time.Duration // -settle
	thenEcho  int           // -then-echo
	thenWait  time.Duration // -then-wait
)

// echoOnceOp sends one masked binary message of n bytes (126 < n < 65536
// or smaller), or a ping if ping, and reads back its echo (its pong),
// checking it byte for byte.
func echoOnceOp(c net.Conn, n int, pingFirst bool) error {
	msg := make([]byte, n)
	rand.Read(msg)
	op := byte(0x82)
	if pingFirst {
		op = 0x89
	}
	frame := []byte{op}
	if n < 126 {
		frame = append(frame, 0x80|byte(n))
	} else {
		frame = append(frame, 0x80|126, byte(n>>8), byte(n))
	}
	var key [4]byte
	rand.Read(key[:])
	frame = append(frame, key[:]...)
	for i, b := range msg {
		frame = append(frame, b^key[i&3])
	}
	if _, err := c.Write(frame); err != nil {
		return err
	}
	want := []byte{0x82}
	if pingFirst {
		want[0] = 0x8A
	}
	if n < 126 {
		want = append(want, byte(n))
	} else {
		want = append(want, 126, byte(n>>8), byte(n))
	}
	want = append(want, msg...)
	got := make([]byte, len(want))
	if _, err := io.ReadFull(c, got); err != nil {
		return fmt.Errorf("reading the echo: %w", err)
	}
	if !bytes.Equal(got, want) {
		return errors.New("wrong echo")
	}
	return nil
}

// child is the server process: it serves lib's echo server on 127.0.0.1
// and answers "addr", "stats" and "heapprofile PATH" lines on stdin until
// stdin ends.
//
// The server is servers.Start's, as benchserver serves it for cmd/compare
// (wspipe: echo.Handler configured as cmd/echo configures it).
func child(lib string) error {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	if _, err := servers.Start(lib, ln, os.Stderr); err != nil {
		ln.Close()
		return err
	}
	in := bufio.NewScanner(os.Stdin)
	out := json.NewEncoder(os.Stdout)
	for in.Scan() {
		if path, ok := strings.CutPrefix(in.Text(), "heapprofile "); ok {
			if err := writeHeapProfile(path); err != nil {
				return err
			}
			fmt.Println("ok")
			continue
		}
		switch in.Text() {
		case "addr":
			fmt.Println(ln.Addr().String())
		case "stats":
			s, err := readStats()
			if err != nil {
				return err
			}
			if err := out.Encode(s); err != nil {
				return err
			}
		default:
			return fmt.Errorf("unknown command %q", in.Text())
		}
	}
	return in.Err()
}

func writeHeapProfile(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	runtime.GC()
	if err := pprof.Lookup("heap").WriteTo(f, 0); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// readStats collects garbage, returns free memory to the OS, and reads
// the runtime's and the kernel's view of this process. It runs two
// collections, as a server that idles for a few minutes would (the
// runtime forces one every two): what sync.Pools hold survives one
// collection, in their victim caches, and goes at the next.
func readStats() (stats, error) {
	runtime.GC()
	debug.FreeOSMemory()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	s := stats{
		HeapInuse:  ms.HeapInuse,
		StackInuse: ms.StackInuse,
		HeapAlloc:  ms.HeapAlloc,
		Goroutines: runtime.NumGoroutine(),
	}
	rss, err := load.RSSBytes(0)
	if err != nil {
		return s, err
	}
	s.RSS = rss
	if os.Getenv(classesEnv) != "" {
		descs := metrics.All()
		var samples []metrics.Sample
		for _, d := range descs {
			if strings.HasPrefix(d.Name, "/memory/classes/") {
				samples = append(samples, metrics.Sample{Name: d.Name})
			}
		}
		metrics.Read(samples)
		for _, m := range samples {
			fmt.Fprintf(os.Stderr, "CLASS %s %d\n", m.Name, m.Value.Uint64())
		}
		fmt.Fprintf(os.Stderr, "CLASS rss %d\n", s.RSS)
	}
	return s, nil
}

// perConn is a result's per-connection figures, in KiB (goroutines: a
// count): after-minus-before differences divided by the connections.
type perConn struct{ heap, rss, g, stack, live float64 }

func perConnOf(before, after stats, n int) perConn {
	d := func(a, b uint64) float64 {
		return (float64(a) - float64(b)) / float64(n) / 1024
	}
	return perConn{
		heap:  d(after.HeapInuse+after.StackInuse, before.HeapInuse+before.StackInuse),
		rss:   d(after.RSS, before.RSS),
		g:     float64(after.Goroutines-before.Goroutines) / float64(n),
		stack: d(after.StackInuse, before.StackInuse),
		live:  d(after.HeapAlloc, before.HeapAlloc),
	}
}

func (r result) per() perConn { return perConnOf(r.before, r.after, r.conns) }

// perEcho is per() for the reading after -then-echo.
func (r result) perEcho() perConn { return perConnOf(r.before, r.afterEcho, r.conns) }

func (r result) echoBrief() string {
	if !r.echoed {
		return ""
	}
	p := r.perEcho()
	return fmt.Sprintf("; after one echo each: RSS %.2f KiB/conn, heap+stacks %.2f, %.2f goroutines/conn", p.rss, p.heap, p.g)
}

// printTable prints one row per library and count and, when both wspipe
// and gorilla were measured at one count only, their ratios. "heap" is
// HeapInuse+StackInuse; the next two columns split out the stacks and the
// live heap objects; with -then-echo the last three are the same reading
// after one message was echoed on every connection.
func printTable(w io.Writer, rows []result) {
	echoed := slices.ContainsFunc(rows, func(r result) bool { return r.echoed })
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	head := "lib\tconns\theap KiB/conn\tRSS KiB/conn\tgoroutines/conn\t(stack KiB/conn)\t(live heap KiB/conn)\t"
	if echoed {
		head += "after echo: RSS KiB/conn\theap KiB/conn\tgoroutines/conn\t"
	}
	fmt.Fprintln(tw, head)
	byLib := map[string]perConn{}
	for _, r := range rows {
		p := r.per()
		byLib[r.lib] = p
		fmt.Fprintf(tw, "%s\t%d\t%.2f\t%.2f\t%.2f\t%.2f\t%.2f\t", r.lib, r.conns, p.heap, p.rss, p.g, p.stack, p.live)
		if r.echoed {
			e := r.perEcho()
			fmt.Fprintf(tw, "%.2f\t%.2f\t%.2f\t", e.rss, e.heap, e.g)
		}
		fmt.Fprintln(tw)
	}
	a, okA := byLib["wspipe"]
	b, okB := byLib["gorilla"]
	if okA && okB && len(rows) == len(byLib) {
		fmt.Fprintf(tw, "wspipe/gorilla\t\t%.2f\t%.2f\t%.2f\t%.2f\t%.2f\t\n",
			a.heap/b.heap, a.rss/b.rss, a.g/b.g, a.stack/b.stack, a.live/b.live)
	}
	tw.Flush()
}
