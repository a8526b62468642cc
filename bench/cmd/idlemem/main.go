//go:build linux

// Command idlemem measures what an idle WebSocket connection costs a
// server: Go heap and stacks, resident memory and goroutines per
// connection, for wspipe and gorilla/websocket.
//
// The server runs in a child process (this program re-executed), so the
// client side never counts. The parent opens -n connections over 127.0.0.1
// with raw sockets and a hand-written handshake, identical for every
// library, and leaves them idle. The child reports its numbers, after a
// GC and returning free memory to the OS, before and after.
//
//	go run ./cmd/idlemem -n 10000 -lib wspipe,gorilla
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
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/wspipe/wspipe/bench/internal/servers"
)

// childEnv, when set, makes the program the server child for that library.
const childEnv = "IDLEMEM_SERVER_LIB"

func main() {
	if lib := os.Getenv(childEnv); lib != "" {
		if err := child(lib); err != nil {
			fmt.Fprintln(os.Stderr, "idlemem server:", err)
			os.Exit(1)
		}
		return
	}
	n := flag.Int("n", 10000, "idle connections to open")
	libs := flag.String("lib", "wspipe", "comma-separated libraries to measure: "+strings.Join(servers.Libs, ", "))
	timeout := flag.Duration("timeout", 60*time.Second, "give up on a library after this long")
	dialers := flag.Int("dialers", 32, "concurrent dialing goroutines")
	heapProfile := flag.String("heapprofile", "", "write each server's heap profile with all connections open to `prefix`-<lib>.pprof")
	flag.IntVar(&echoFirst, "echo", 0, "have each connection echo one binary message of this many bytes (at most 65535) before it idles: what a connection keeps after it was used")
	flag.DurationVar(&settle, "settle", 0, "wait this long after the last connection is open before measuring (a server may tidy idle connections after a while)")
	flag.BoolVar(&pingFirst, "ping", false, "with -echo (at most 125): send a ping instead and read its pong")
	flag.Parse()
	if echoFirst < 0 || echoFirst > 0xFFFF || pingFirst && echoFirst > 125 {
		fatalf("-echo must be 0 to 65535, and at most 125 with -ping")
	}
	if *n <= 0 {
		fatalf("-n must be positive")
	}
	need := uint64(*n) + 64
	if err := raiseNoFile(need); err != nil {
		fatalf("%v", err)
	}

	var rows []result
	for _, lib := range strings.Split(*libs, ",") {
		if _, err := servers.New(lib); err != nil {
			fatalf("%v", err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), *timeout)
		prof := ""
		if *heapProfile != "" {
			prof = *heapProfile + "-" + lib + ".pprof"
		}
		r, err := measure(ctx, lib, *n, *dialers, prof)
		cancel()
		if err != nil {
			fatalf("%s: %v", lib, err)
		}
		rows = append(rows, r)
	}
	printTable(os.Stdout, rows)
}

func fatalf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "idlemem: "+format+"\n", args...)
	os.Exit(1)
}

// raiseNoFile raises the soft RLIMIT_NOFILE towards the hard limit and
// fails if that stays below need (each process holds one side of every
// connection, so the same need applies to the child, which inherits it).
func raiseNoFile(need uint64) error {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return fmt.Errorf("getrlimit: %w", err)
	}
	if lim.Cur < need {
		old := lim.Cur
		lim.Cur = min(need, lim.Max)
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
			return fmt.Errorf("setrlimit(RLIMIT_NOFILE, %d): %w", lim.Cur, err)
		}
		fmt.Fprintf(os.Stderr, "idlemem: raised RLIMIT_NOFILE from %d to %d\n", old, lim.Cur)
	}
	if lim.Cur < need {
		return fmt.Errorf("RLIMIT_NOFILE hard limit is %d, need %d open files: "+
			"lower -n or raise the hard limit (ulimit -Hn, as root)", lim.Max, need)
	}
	return nil
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
}

// measure starts lib's server child, reads its baseline, opens n idle
// connections, waits for the server to settle and reads its stats again.
// If profile is not empty, the child writes its heap profile there.
func measure(ctx context.Context, lib string, n, dialers int, profile string) (result, error) {
	res := result{lib: lib, conns: n}
	self, err := os.Executable()
	if err != nil {
		return res, err
	}
	cmd := exec.CommandContext(ctx, self)
	cmd.Env = append(os.Environ(), childEnv+"="+lib)
	cmd.Stderr = os.Stderr
	// The child dies with us, whatever happens.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	toChild, err := cmd.StdinPipe()
	if err != nil {
		return res, err
	}
	fromChild, err := cmd.StdoutPipe()
	if err != nil {
		return res, err
	}
	if err := cmd.Start(); err != nil {
		return res, err
	}
	defer func() {
		toChild.Close() // the child exits when its stdin ends
		if err := cmd.Wait(); err != nil && ctx.Err() == nil {
			fmt.Fprintf(os.Stderr, "idlemem: %s server: %v\n", lib, err)
		}
	}()
	lines := bufio.NewScanner(fromChild)
	ask := func(cmd string) (string, error) {
		if _, err := io.WriteString(toChild, cmd+"\n"); err != nil {
			return "", err
		}
		if !lines.Scan() {
			if ctx.Err() != nil {
				return "", ctx.Err()
			}
			return "", fmt.Errorf("server child ended: %v", lines.Err())
		}
		return lines.Text(), nil
	}
	getStats := func() (stats, error) {
		var s stats
		line, err := ask("stats")
		if err != nil {
			return s, err
		}
		return s, json.Unmarshal([]byte(line), &s)
	}

	addr, err := ask("addr")
	if err != nil {
		return res, err
	}
	if res.before, err = getStats(); err != nil {
		return res, err
	}

	start := time.Now()
	conns, err := openIdle(ctx, addr, n, dialers)
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
	// goroutine count stops moving, so each connection has reached its
	// idle read.
	select {
	case <-time.After(settle):
	case <-ctx.Done():
		return res, ctx.Err()
	}
	prev := -1
	for {
		s, err := getStats()
		if err != nil {
			return res, err
		}
		if s.Goroutines == prev && s.Goroutines >= res.before.Goroutines+n {
			res.after = s
			if profile != "" {
				if _, err := ask("heapprofile " + profile); err != nil {
					return res, err
				}
			}
			break
		}
		prev = s.Goroutines
		select {
		case <-ctx.Done():
			return res, fmt.Errorf("server did not settle (%d goroutines): %w", s.Goroutines, ctx.Err())
		case <-time.After(300 * time.Millisecond):
		}
	}
	return res, nil
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
		if err := echoOnce(c, echoFirst); err != nil {
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
)

// echoOnce sends one masked binary message of n bytes (126 < n < 65536 or
// smaller) and reads back its echo, checking it byte for byte.
func echoOnce(c net.Conn, n int) error {
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
func child(lib string) error {
	h, err := servers.New(lib)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
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
// the runtime's and the kernel's view of this process.
func readStats() (stats, error) {
	debug.FreeOSMemory()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	s := stats{
		HeapInuse:  ms.HeapInuse,
		StackInuse: ms.StackInuse,
		HeapAlloc:  ms.HeapAlloc,
		Goroutines: runtime.NumGoroutine(),
	}
	status, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return s, err
	}
	for line := range strings.Lines(string(status)) {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			f := strings.Fields(rest) // "123456 kB"
			if len(f) != 2 || f[1] != "kB" {
				return s, fmt.Errorf("unexpected VmRSS line %q", line)
			}
			kb, err := strconv.ParseUint(f[0], 10, 64)
			if err != nil {
				return s, err
			}
			s.RSS = kb << 10
		}
	}
	if s.RSS == 0 {
		return s, errors.New("no VmRSS in /proc/self/status")
	}
	return s, nil
}

// printTable prints one row per library and, when both wspipe and
// gorilla were measured, their ratios. "heap" is HeapInuse+StackInuse;
// the last two columns split out the stacks and the live heap objects.
func printTable(w io.Writer, rows []result) {
	type perConn struct{ heap, rss, g, stack, live float64 }
	per := func(r result) perConn {
		d := func(after, before uint64) float64 {
			return (float64(after) - float64(before)) / float64(r.conns) / 1024
		}
		return perConn{
			heap:  d(r.after.HeapInuse+r.after.StackInuse, r.before.HeapInuse+r.before.StackInuse),
			rss:   d(r.after.RSS, r.before.RSS),
			g:     float64(r.after.Goroutines-r.before.Goroutines) / float64(r.conns),
			stack: d(r.after.StackInuse, r.before.StackInuse),
			live:  d(r.after.HeapAlloc, r.before.HeapAlloc),
		}
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "lib\tconns\theap KiB/conn\tRSS KiB/conn\tgoroutines/conn\t(stack KiB/conn)\t(live heap KiB/conn)\t")
	byLib := map[string]perConn{}
	for _, r := range rows {
		p := per(r)
		byLib[r.lib] = p
		fmt.Fprintf(tw, "%s\t%d\t%.2f\t%.2f\t%.2f\t%.2f\t%.2f\t\n", r.lib, r.conns, p.heap, p.rss, p.g, p.stack, p.live)
	}
	a, okA := byLib["wspipe"]
	b, okB := byLib["gorilla"]
	if okA && okB {
		fmt.Fprintf(tw, "wspipe/gorilla\t\t%.2f\t%.2f\t%.2f\t%.2f\t%.2f\t\n",
			a.heap/b.heap, a.rss/b.rss, a.g/b.g, a.stack/b.stack, a.live/b.live)
	}
	tw.Flush()
}
