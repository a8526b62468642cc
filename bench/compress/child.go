package compress

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"os/exec"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// ChildEnv, set to a server's name, makes RunChildIfRequested serve that
// server instead of returning.
const ChildEnv = "WSPIPE_COMPRESS_CHILD"

// childLifetime bounds a child's life even if its parent never closes
// its stdin.
const childLifetime = 2 * time.Hour

// RunChildIfRequested serves the server named by ChildEnv, if set, and
// exits when stdin closes (the parent ended or stopped it); otherwise it
// returns at once. Call it first thing from main and TestMain.
func RunChildIfRequested() {
	name := os.Getenv(ChildEnv)
	if name == "" {
		return
	}
	if err := runChild(name); err != nil {
		fmt.Fprintln(os.Stderr, "compress child:", err)
		os.Exit(2)
	}
	os.Exit(0)
}

func runChild(name string) error {
	srv, err := Lookup(name)
	if err != nil {
		return err
	}
	raiseNoFile()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	mux.Handle("/", srv.New())
	mux.HandleFunc("/stats", serveStats)
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go hs.Serve(ln)
	fmt.Printf("READY %s\n", ln.Addr())
	done := make(chan struct{})
	go func() {
		io.Copy(io.Discard, os.Stdin)
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(childLifetime):
	}
	return nil
}

// Stats is what a child reports about itself.
type Stats struct {
	Mallocs    uint64        // cumulative heap objects allocated
	TotalAlloc uint64        // cumulative heap bytes allocated
	HeapInuse  uint64        // bytes in in-use heap spans
	HeapAlloc  uint64        // bytes of live (and not yet swept) objects
	StackInuse uint64        // goroutine stacks
	RSS        uint64        // resident set size, bytes (VmRSS)
	Goroutines int           //
	CPU        time.Duration // user + system CPU time of the process
}

// serveStats answers /stats; with ?gc=1 it first collects garbage twice
// and returns freed memory to the OS, for heap and RSS readings.
func serveStats(w http.ResponseWriter, r *http.Request) {
	if r.URL.Query().Get("gc") == "1" {
		runtime.GC()
		runtime.GC()
		debug.FreeOSMemory()
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	st := Stats{
		Mallocs: ms.Mallocs, TotalAlloc: ms.TotalAlloc,
		HeapInuse: ms.HeapInuse, HeapAlloc: ms.HeapAlloc, StackInuse: ms.StackInuse,
		RSS: rss(), Goroutines: runtime.NumGoroutine(), CPU: cpuTime(),
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(st)
}

// rss reads VmRSS from /proc/self/status.
func rss() uint64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb << 10
		}
	}
	return 0
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// raiseNoFile lifts the soft open-files limit to the hard one (Go does so
// at start-up too; this makes it explicit and checked).
func raiseNoFile() {
	var rl syscall.Rlimit
	if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl) == nil && rl.Cur < rl.Max {
		rl.Cur = rl.Max
		syscall.Setrlimit(syscall.RLIMIT_NOFILE, &rl)
	}
}

// NoFileLimit returns the soft open-files limit.
func NoFileLimit() uint64 {
	raiseNoFile()
	var rl syscall.Rlimit
	syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl)
	return rl.Cur
}

// Child is a server running in a child process.
type Child struct {
	Server Server
	URL    string // ws:// URL of the echo server
	base   string // http:// base for /stats and /debug/pprof
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	hc     *http.Client
	// statsOverhead is what one /stats call allocates in the child
	// (objects, bytes), subtracted from deltas between two calls.
	statsMallocs, statsBytes uint64
	stopOnce                 sync.Once
}

// StartChild re-executes this binary with ChildEnv set to srv's name and
// waits for it to listen.
func StartChild(srv Server) (*Child, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(exe, "-test.run=^$", "-test.bench=^$")
	cmd.Env = append(os.Environ(), ChildEnv+"="+srv.Name)
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	ch := &Child{Server: srv, cmd: cmd, stdin: stdin,
		hc: &http.Client{Timeout: 60 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 1}}}
	line := make(chan string, 1)
	go func() {
		s, _ := bufio.NewReader(stdout).ReadString('\n')
		line <- s
		io.Copy(io.Discard, stdout)
	}()
	var addr string
	select {
	case s := <-line:
		var ok bool
		if addr, ok = strings.CutPrefix(strings.TrimSpace(s), "READY "); !ok {
			ch.Stop()
			return nil, fmt.Errorf("%s: child did not start (%q)", srv.Name, s)
		}
	case <-time.After(30 * time.Second):
		ch.Stop()
		return nil, fmt.Errorf("%s: child did not start in 30 s", srv.Name)
	}
	ch.URL = "ws://" + addr + "/"
	ch.base = "http://" + addr
	if err := ch.calibrate(); err != nil {
		ch.Stop()
		return nil, err
	}
	return ch, nil
}

// calibrate measures what a /stats call allocates in the child: the least
// of a few deltas between back-to-back calls.
func (c *Child) calibrate() error {
	prev, err := c.Stats(false)
	if err != nil {
		return err
	}
	c.statsMallocs, c.statsBytes = ^uint64(0), ^uint64(0)
	for range 5 {
		st, err := c.Stats(false)
		if err != nil {
			return err
		}
		c.statsMallocs = min(c.statsMallocs, st.Mallocs-prev.Mallocs)
		c.statsBytes = min(c.statsBytes, st.TotalAlloc-prev.TotalAlloc)
		prev = st
	}
	return nil
}

// Stats asks the child for its stats, after a GC if gc.
func (c *Child) Stats(gc bool) (Stats, error) {
	u := c.base + "/stats"
	if gc {
		u += "?gc=1"
	}
	var st Stats
	resp, err := c.hc.Get(u)
	if err != nil {
		return st, fmt.Errorf("%s: stats: %w", c.Server.Name, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return st, fmt.Errorf("%s: stats: %s", c.Server.Name, resp.Status)
	}
	return st, json.NewDecoder(resp.Body).Decode(&st)
}

// AllocDelta returns the objects and bytes the child allocated between
// two Stats readings, less what the readings themselves allocated.
func (c *Child) AllocDelta(before, after Stats) (mallocs, bytes uint64) {
	mallocs = after.Mallocs - before.Mallocs
	bytes = after.TotalAlloc - before.TotalAlloc
	mallocs -= min(mallocs, c.statsMallocs)
	bytes -= min(bytes, c.statsBytes)
	return mallocs, bytes
}

// Profile fetches a pprof profile (kind "profile" for CPU, or "allocs",
// "heap") covering the next seconds, into w.
func (c *Child) Profile(kind string, seconds int, w io.Writer) error {
	resp, err := c.hc.Get(fmt.Sprintf("%s/debug/pprof/%s?seconds=%d", c.base, kind, seconds))
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return fmt.Errorf("pprof %s: %s: %s", kind, resp.Status, b)
	}
	_, err = io.Copy(w, resp.Body)
	return err
}

// Stop ends the child and waits for it.
func (c *Child) Stop() error {
	var err error
	c.stopOnce.Do(func() {
		c.stdin.Close()
		done := make(chan error, 1)
		go func() { done <- c.cmd.Wait() }()
		select {
		case err = <-done:
		case <-time.After(10 * time.Second):
			c.cmd.Process.Kill()
			err = errors.Join(errors.New("child killed after 10 s"), <-done)
		}
	})
	return err
}
