//go:build linux

// Command compare measures wspipe's echo server against gorilla/websocket,
// coder/websocket, gobwas/ws, lxzan/gws, lesismal/nbio and a plain TCP
// echo, side by side on one machine, and prints tables of the figures and
// of wspipe's ratio to the best peer. On request (-libs) it also runs the
// C ceiling baselines c-epoll and c-uring, raw TCP echoes like tcp.
//
//	cd bench && go run ./cmd/compare -quick   # about 2 minutes, one repetition
//	cd bench && go run ./cmd/compare -full    # repetitions, medians
//
// Each server runs as its own process (cmd/benchserver, or for wspipe the
// real cmd/echo binary), with GOMAXPROCS=1 and pinned with taskset to the
// last CPU; the load generator (cmd/wsload, the same client for every
// server) runs with GOMAXPROCS=1 pinned to CPU 0. Server CPU time comes
// from /proc/<pid>/stat over each measured window. See bench/README.md
// and docs/benchmarks.md.
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/wspipe/wspipe/bench/internal/load"
	"github.com/wspipe/wspipe/bench/internal/report"
	"github.com/wspipe/wspipe/bench/internal/servers"
)

// config is what the command line asks for.
type config struct {
	mode         string // quick or full
	reps         int
	libs         []string
	scenarios    []report.Scenario
	jsonOut      string
	mdOut        string
	wspipe       string // cmd or inproc
	wspipeRef    string // -wspipe-ref: a git revision to measure beside the working tree
	pin          bool
	serverProcs  int
	clientProcs  int
	profile      string
	profileOut   string
	timeout      time.Duration
	keepGoing    bool
	warmup       time.Duration
	measure      time.Duration
	idleConns    int
	idleReps     int
	handshakes   int
	handshakesSq int
}

func main() {
	cfg, err := parseFlags()
	if err != nil {
		fmt.Fprintln(os.Stderr, "compare:", err)
		os.Exit(2)
	}
	ctx, cancel := context.WithTimeout(context.Background(), cfg.timeout)
	defer cancel()
	status, err := run(ctx, cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, "compare:", err)
		os.Exit(1)
	}
	os.Exit(status)
}

func parseFlags() (config, error) {
	var c config
	quick := flag.Bool("quick", false, "quick mode: one repetition, short windows (about 2 minutes; the default)")
	full := flag.Bool("full", false, "full mode: repetitions (see -reps), longer windows, medians")
	flag.IntVar(&c.reps, "reps", 0, "repetitions (default 1 with -quick, 5 with -full)")
	libs := flag.String("libs", strings.Join(servers.AllLibs, ","), "comma-separated libraries; also "+strings.Join(servers.CLibs, ", ")+
		" (C raw TCP echoes, the ceiling baselines, built with gcc) and "+servers.GoEpoll+
		" (the same single-threaded epoll loop in Go, sockets out of Go's netpoller); not in the default list")
	scen := flag.String("scenarios", "", "comma-separated scenario names (default all: "+strings.Join(scenarioNames(), ",")+")")
	flag.StringVar(&c.jsonOut, "json", "", "write the results as JSON to this file (default results/<mode>.json)")
	flag.StringVar(&c.mdOut, "md", "", "also write the tables as Markdown to this file")
	flag.StringVar(&c.wspipe, "wspipe", "cmd", "wspipe server: cmd (wspipe's cmd/echo binary) or inproc (benchserver's in-process copy of it)")
	flag.StringVar(&c.wspipeRef, "wspipe-ref", "", "also measure wspipe at this git `revision` (built from git archive, as lib wspipe@<short hash>), for an A/B in one run")
	flag.BoolVar(&c.pin, "pin", true, "pin the server and the load generator to different CPUs with taskset")
	flag.IntVar(&c.serverProcs, "server-gomaxprocs", 1, "GOMAXPROCS of the servers")
	flag.IntVar(&c.clientProcs, "client-gomaxprocs", 1, "GOMAXPROCS of the load generator")
	flag.StringVar(&c.profile, "profile", "", "afterwards, CPU-profile the in-process wspipe server in this scenario (\"worst\": where its ratio is lowest) and print pprof's top 10")
	flag.StringVar(&c.profileOut, "profile-out", "", "where to keep the profile (default results/wspipe-<scenario>.pprof)")
	flag.DurationVar(&c.timeout, "timeout", 0, "give up after this long (default 10m quick, 90m full)")
	flag.BoolVar(&c.keepGoing, "k", true, "keep going after a failed run (the exit status still reports it)")
	flag.IntVar(&c.idleConns, "idle-conns", 10000, "connections in the idle scenario")
	flag.Parse()
	if flag.NArg() > 0 {
		return c, fmt.Errorf("unexpected argument %q", flag.Arg(0))
	}
	if *quick && *full {
		return c, errors.New("-quick and -full are exclusive")
	}
	c.mode = "quick"
	if *full {
		c.mode = "full"
	}
	if c.mode == "quick" {
		c.reps = cmpOr(c.reps, 1)
		c.warmup, c.measure = 250*time.Millisecond, time.Second
		c.idleReps = 1
		c.handshakes, c.handshakesSq = 3000, 1000
		c.timeout = cmpOr(c.timeout, 10*time.Minute)
	} else {
		c.reps = cmpOr(c.reps, 5)
		c.warmup, c.measure = time.Second, 4*time.Second
		c.idleReps = min(c.reps, 3)
		c.handshakes, c.handshakesSq = 10000, 3000
		c.timeout = cmpOr(c.timeout, 90*time.Minute)
	}
	if c.reps <= 0 || c.serverProcs <= 0 || c.clientProcs <= 0 || c.idleConns <= 0 {
		return c, errors.New("-reps, -server-gomaxprocs, -client-gomaxprocs and -idle-conns must be positive")
	}
	for _, l := range strings.Split(*libs, ",") {
		if !slices.Contains(servers.AllLibs, l) && !servers.IsC(l) && l != servers.GoEpoll {
			return c, fmt.Errorf("-libs: unknown library %q (want some of %v, %v, %s)", l, servers.AllLibs, servers.CLibs, servers.GoEpoll)
		}
		c.libs = append(c.libs, l)
	}
	all := scenarioList(c)
	if *scen == "" {
		c.scenarios = all
	} else {
		for _, name := range strings.Split(*scen, ",") {
			i := slices.IndexFunc(all, func(s report.Scenario) bool { return s.Name == name })
			if i < 0 {
				return c, fmt.Errorf("-scenarios: unknown scenario %q (want some of %v)", name, scenarioNames())
			}
			c.scenarios = append(c.scenarios, all[i])
		}
	}
	if c.wspipe != "cmd" && c.wspipe != "inproc" {
		return c, fmt.Errorf("-wspipe %q: want cmd or inproc", c.wspipe)
	}
	if c.jsonOut == "" {
		c.jsonOut = filepath.Join("results", c.mode+".json")
	}
	// Paths given are relative to the current directory; run changes to
	// the module's directory, where the defaults are.
	for _, p := range []*string{&c.jsonOut, &c.mdOut, &c.profileOut} {
		if *p != "" && (p != &c.jsonOut || flagSet("json")) {
			abs, err := filepath.Abs(*p)
			if err != nil {
				return c, err
			}
			*p = abs
		}
	}
	return c, nil
}

func flagSet(name string) bool {
	set := false
	flag.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}

func cmpOr[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}

// scenarioList is every scenario, timed for the mode.
func scenarioList(c config) []report.Scenario {
	w, m := int(c.warmup/time.Millisecond), int(c.measure/time.Millisecond)
	echo := func(name, title string, conns, size, inflight int) report.Scenario {
		return report.Scenario{Name: name, Title: title, Kind: report.KindEcho,
			Conns: conns, Size: size, InFlight: inflight, WarmupMS: w, MeasureMS: m}
	}
	return []report.Scenario{
		echo("rr-32", "64 conns, 32 B request/response", 64, 32, 1),
		echo("rr-1k", "64 conns, 1 KiB request/response", 64, 1<<10, 1),
		echo("pipe-1k", "64 conns × 16 in flight, 1 KiB", 64, 1<<10, 16),
		echo("one-64k", "1 conn, 64 KiB", 1, 64<<10, 1),
		echo("one-1m", "1 conn, 1 MiB", 1, 1<<20, 1),
		echo("many-1m", "64 conns, 1 MiB", 64, 1<<20, 1),
		{Name: "handshake", Title: "handshakes, 8 at a time", Kind: report.KindHandshake,
			N: c.handshakes, Warm: c.handshakes / 10, Parallel: 8},
		{Name: "handshake-seq", Title: "handshakes, one at a time", Kind: report.KindHandshake,
			N: c.handshakesSq, Warm: c.handshakesSq / 10, Parallel: 1},
		{Name: "idle", Title: fmt.Sprintf("%d idle conns (RSS KiB/conn)", c.idleConns), Kind: report.KindIdle,
			Conns: c.idleConns},
	}
}

func scenarioNames() []string {
	var names []string
	for _, s := range scenarioList(config{}) {
		names = append(names, s.Name)
	}
	return names
}

// env is the prepared environment of a run: binaries and CPU placement.
type env struct {
	cfg        config
	refLib     string // wspipe@<hash> with -wspipe-ref
	modDir     string // the bench module
	dir        string // binaries
	serverCPU  string // taskset CPU list, "" when not pinned
	clientCPU  string
	notes      []string
	failedRuns int // wspipe's runs failed for good: a wrong reply, or twice
}

func run(ctx context.Context, cfg config) (int, error) {
	start := time.Now()
	modDir, err := moduleDir()
	if err != nil {
		return 0, err
	}
	if err := os.Chdir(modDir); err != nil {
		return 0, err
	}
	dir, err := os.MkdirTemp("", "wspipe-compare-")
	if err != nil {
		return 0, err
	}
	defer os.RemoveAll(dir)
	e := &env{cfg: cfg, modDir: modDir, dir: dir}
	if cfg.wspipeRef != "" {
		if err := e.addRef(ctx); err != nil {
			return 0, fmt.Errorf("-wspipe-ref: %w", err)
		}
	}
	fmt.Fprintf(os.Stderr, "compare: building servers and load generator in %s\n", dir)
	if err := e.build(ctx); err != nil {
		return 0, err
	}
	// The idle scenario needs a descriptor per connection on each side.
	if err := load.RaiseNoFile(uint64(cfg.idleConns)+64, os.Stderr); err != nil {
		return 0, fmt.Errorf("idle scenario: %w", err)
	}
	e.placeCPUs()
	// A C server that cannot run here (no gcc, io_uring unavailable) is
	// left out, and the notes say why.
	e.probeC(ctx)
	cfg = e.cfg
	if len(cfg.libs) == 0 {
		return 0, fmt.Errorf("no library left to run: %s", strings.Join(e.notes, "; "))
	}

	rep := &report.Report{
		Mode:      cfg.mode,
		Reps:      cfg.reps,
		Started:   start.UTC(),
		Machine:   machine(cfg, e),
		Libs:      cfg.libs,
		Versions:  versions(ctx),
		Scenarios: cfg.scenarios,
		WspipeBin: map[string]string{"cmd": "wspipe's cmd/echo binary (idle: benchserver's in-process copy, for runtime stats)", "inproc": "benchserver's in-process copy of cmd/echo"}[cfg.wspipe],
	}
	if e.refLib != "" {
		rep.Versions[e.refLib] = "wspipe at " + cfg.wspipeRef + " (git archive)"
	}
	cells := map[[2]string]*report.Cell{}
	for _, s := range cfg.scenarios {
		for _, l := range cfg.libs {
			cells[[2]string{s.Name, l}] = &report.Cell{Scenario: s.Name, Lib: l}
		}
	}
	total := 0
	for _, s := range cfg.scenarios {
		total += repsFor(cfg, s) * len(cfg.libs)
	}
	done := 0
	for r := range cfg.reps {
		for _, s := range cfg.scenarios {
			if r >= repsFor(cfg, s) {
				continue
			}
			// Rotate the order from one repetition to the next, so no
			// library always runs right after the same one.
			libs := slices.Clone(cfg.libs)
			k := r % len(libs)
			libs = append(libs[k:], libs[:k]...)
			for _, l := range libs {
				if ctx.Err() != nil {
					return 0, ctx.Err()
				}
				done++
				run := e.runWithRetry(ctx, s, l, r)
				c := cells[[2]string{s.Name, l}]
				c.Runs = append(c.Runs, run)
				fmt.Fprintf(os.Stderr, "compare: [%d/%d] rep %d %-13s %-7s %s\n", done, total, r+1, s.Name, l, brief(s, run))
				if run.Err != "" && !cfg.keepGoing {
					return 1, fmt.Errorf("%s %s: %s", s.Name, l, run.Err)
				}
			}
		}
	}
	for _, s := range cfg.scenarios {
		for _, l := range cfg.libs {
			c := cells[[2]string{s.Name, l}]
			c.Median = report.Summarize(s.Kind, c.Runs)
			rep.Cells = append(rep.Cells, *c)
		}
	}
	rep.Machine.LoadAvgEnd = loadAvg()
	rep.Notes = append(rep.Notes, e.notes...)
	rep.Elapsed = time.Since(start).Seconds()

	printTables(os.Stdout, rep, false)
	if !filepath.IsAbs(cfg.jsonOut) {
		cfg.jsonOut = filepath.Join(modDir, cfg.jsonOut)
	}
	if err := writeJSON(cfg.jsonOut, rep); err != nil {
		return 0, err
	}
	fmt.Fprintf(os.Stderr, "compare: results in %s (%.0f s)\n", cfg.jsonOut, rep.Elapsed)
	if cfg.mdOut != "" {
		var b bytes.Buffer
		printTables(&b, rep, true)
		if err := os.WriteFile(cfg.mdOut, b.Bytes(), 0o644); err != nil {
			return 0, err
		}
	}
	if cfg.profile != "" {
		if err := e.profileWspipe(ctx, rep); err != nil {
			fmt.Fprintln(os.Stderr, "compare: profile:", err)
		}
	}
	status := 0
	if e.failedRuns > 0 {
		status = 1
	}
	return status, nil
}

func repsFor(cfg config, s report.Scenario) int {
	if s.Kind == report.KindIdle {
		return cfg.idleReps
	}
	return cfg.reps
}

func brief(s report.Scenario, r report.Run) string {
	switch {
	case r.Err != "":
		return "FAILED: " + r.Err
	case r.Echo != nil:
		return fmt.Sprintf("%9.0f msg/s %9.0f msg/CPU-s  p50 %6.0fµs p99 %6.0fµs  server CPU %.2fs client CPU %.2fs",
			r.Echo.MsgsPerSec, r.Echo.MsgsPerCPUSec, r.Echo.P50us, r.Echo.P99us, r.Echo.ServerCPU, r.Echo.ClientCPU)
	case r.Handshake != nil:
		return fmt.Sprintf("%9.0f hs/s  %9.0f hs/CPU-s", r.Handshake.PerSec, r.Handshake.PerCPUSec)
	case r.Idle != nil:
		return fmt.Sprintf("RSS %.2f KiB/conn heap %.2f KiB/conn goroutines %.2f/conn", r.Idle.RSSKiBPerConn, r.Idle.HeapKiBPerConn, r.Idle.GoroutinesPer)
	}
	return ""
}

// moduleDir returns the directory of the bench module, which must be the
// module of the current directory.
func moduleDir() (string, error) {
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Path}} {{.Dir}}").Output()
	if err != nil {
		return "", fmt.Errorf("go list -m: %w (run compare from the bench directory)", err)
	}
	path, dir, _ := strings.Cut(strings.TrimSpace(string(out)), " ")
	if path != "github.com/wspipe/wspipe/bench" {
		return "", fmt.Errorf("current module is %q: run compare from the bench directory", path)
	}
	return dir, nil
}

func (e *env) build(ctx context.Context) error {
	var libs []string
	for _, l := range e.cfg.libs {
		if !servers.IsC(l) {
			libs = append(libs, l)
			continue
		}
		if _, err := servers.BuildC(ctx, l, e.modDir, e.dir); err != nil {
			if !errors.Is(err, servers.ErrNoCompiler) {
				return err
			}
			e.notes = append(e.notes, fmt.Sprintf("%s skipped: %v", l, err))
			continue
		}
		libs = append(libs, l)
	}
	e.cfg.libs = libs
	if e.refLib != "" {
		if err := e.buildRef(ctx); err != nil {
			return err
		}
	}
	for _, b := range []struct{ out, pkg string }{
		{"benchserver", "./cmd/benchserver"},
		{"wsload", "./cmd/wsload"},
		{"echo", "github.com/wspipe/wspipe/cmd/echo"},
	} {
		cmd := exec.CommandContext(ctx, "go", "build", "-o", filepath.Join(e.dir, b.out), b.pkg)
		cmd.Stderr = os.Stderr
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("go build %s: %w", b.pkg, err)
		}
	}
	return nil
}

// addRef resolves -wspipe-ref and adds wspipe@<short hash> to the
// libraries, after wspipe (first if wspipe is not measured).
func (e *env) addRef(ctx context.Context) error {
	out, err := exec.CommandContext(ctx, "git", "-C", e.modDir, "rev-parse", "--short=7", e.cfg.wspipeRef+"^{commit}").Output()
	if err != nil {
		return fmt.Errorf("git rev-parse %s: %w", e.cfg.wspipeRef, err)
	}
	name := report.Subject + "@" + strings.TrimSpace(string(out))
	if slices.Contains(e.cfg.libs, name) {
		return nil
	}
	i := slices.Index(e.cfg.libs, report.Subject) + 1
	e.cfg.libs = slices.Insert(e.cfg.libs, i, name)
	e.refLib = name
	return nil
}

// buildRef extracts the revision's tree (git archive, so no worktree is
// made) and builds its cmd/echo and bench/cmd/benchserver, the latter
// for the idle scenario, as for the working tree.
func (e *env) buildRef(ctx context.Context) error {
	src := filepath.Join(e.dir, "ref")
	if err := os.MkdirAll(src, 0o755); err != nil {
		return err
	}
	top, err := exec.CommandContext(ctx, "git", "-C", e.modDir, "rev-parse", "--show-toplevel").Output()
	if err != nil {
		return fmt.Errorf("git rev-parse --show-toplevel: %w", err)
	}
	archive := exec.CommandContext(ctx, "git", "-C", strings.TrimSpace(string(top)), "archive", "--format=tar", e.cfg.wspipeRef)
	untar := exec.CommandContext(ctx, "tar", "-x", "-C", src)
	pipe, err := archive.StdoutPipe()
	if err != nil {
		return err
	}
	untar.Stdin = pipe
	archive.Stderr, untar.Stderr = os.Stderr, os.Stderr
	if err := archive.Start(); err != nil {
		return err
	}
	if err := untar.Run(); err != nil {
		archive.Wait()
		return fmt.Errorf("tar: %w", err)
	}
	if err := archive.Wait(); err != nil {
		return fmt.Errorf("git archive: %w", err)
	}
	for _, b := range []struct{ dir, out, pkg string }{
		{src, "echo-ref", "./cmd/echo"},
		{filepath.Join(src, "bench"), "benchserver-ref", "./cmd/benchserver"},
	} {
		cmd := exec.CommandContext(ctx, "go", "build", "-o", filepath.Join(e.dir, b.out), b.pkg)
		cmd.Dir, cmd.Stderr = b.dir, os.Stderr
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("go build %s at %s: %w", b.pkg, e.cfg.wspipeRef, err)
		}
	}
	return nil
}

// probeC starts each C server once and leaves out those that report they
// cannot run here (exit status servers.ExitSkip, within the 15 s
// startServer allows), with their reason in the notes.
func (e *env) probeC(ctx context.Context) {
	var libs []string
	for _, l := range e.cfg.libs {
		if servers.IsC(l) {
			srv, err := e.startServer(ctx, l, false)
			var skip *skipError
			if errors.As(err, &skip) {
				e.notes = append(e.notes, fmt.Sprintf("%s skipped: %s", l, skip.why))
				fmt.Fprintf(os.Stderr, "compare: %s skipped: %s\n", l, skip.why)
				continue
			}
			if err == nil {
				srv.stop()
			}
		}
		libs = append(libs, l)
	}
	e.cfg.libs = libs
}

// skipError is a server's report that it cannot run on this system.
type skipError struct{ why string }

func (s *skipError) Error() string { return "skipped: " + s.why }

// placeCPUs puts the servers on the last CPU and the load generator on
// CPU 0, when taskset exists and there are two CPUs or more.
func (e *env) placeCPUs() {
	n := nproc()
	_, err := exec.LookPath("taskset")
	switch {
	case !e.cfg.pin:
		e.notes = append(e.notes, "not pinned (-pin=false): server and load generator share the CPUs")
	case err != nil:
		e.notes = append(e.notes, "not pinned: taskset not found (apt-get install util-linux)")
	case n < 2:
		e.notes = append(e.notes, "not pinned: one CPU only")
	default:
		e.serverCPU, e.clientCPU = strconv.Itoa(n-1), "0"
	}
}

func (e *env) pinning() string {
	if e.serverCPU == "" {
		return "none"
	}
	return fmt.Sprintf("taskset: server on CPU %s, load generator on CPU %s", e.serverCPU, e.clientCPU)
}

// command builds a command pinned to cpus (if any) with GOMAXPROCS=procs.
func command(ctx context.Context, cpus string, procs int, bin string, args ...string) *exec.Cmd {
	var cmd *exec.Cmd
	if cpus != "" {
		cmd = exec.CommandContext(ctx, "taskset", append([]string{"-c", cpus, bin}, args...)...)
	} else {
		cmd = exec.CommandContext(ctx, bin, args...)
	}
	cmd.Env = append(os.Environ(), "GOMAXPROCS="+strconv.Itoa(procs))
	// Whatever happens to compare, its children die with it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	cmd.WaitDelay = 5 * time.Second
	return cmd
}

// server is a running server process.
type server struct {
	cmd    *exec.Cmd
	url    string
	stats  string
	stderr *tailBuffer
}

// startServer starts lib's server, with a stats endpoint if stats is set,
// and waits (up to 15 s) for its URL.
func (e *env) startServer(ctx context.Context, lib string, stats bool) (*server, error) {
	var cmd *exec.Cmd
	if servers.IsC(lib) {
		// Raw TCP in C: no stats endpoint, and GOMAXPROCS means nothing.
		stats = false
		cmd = command(ctx, e.serverCPU, e.cfg.serverProcs, filepath.Join(e.dir, lib), "-addr", "127.0.0.1:0")
	} else {
		// wspipe at -wspipe-ref runs from the binaries built at that
		// revision, the same way as the working tree's.
		echoBin, benchBin, name := "echo", "benchserver", lib
		if e.refLib != "" && lib == e.refLib {
			echoBin, benchBin, name = "echo-ref", "benchserver-ref", report.Subject
		}
		if name == report.Subject && e.cfg.wspipe == "cmd" && !stats {
			cmd = command(ctx, e.serverCPU, e.cfg.serverProcs, filepath.Join(e.dir, echoBin), "-addr", "127.0.0.1:0")
		} else {
			args := []string{"-lib", name, "-addr", "127.0.0.1:0", "-nofile", strconv.Itoa(e.cfg.idleConns + 64)}
			if stats {
				args = append(args, "-stats", "127.0.0.1:0")
			}
			cmd = command(ctx, e.serverCPU, e.cfg.serverProcs, filepath.Join(e.dir, benchBin), args...)
		}
	}
	s := &server{cmd: cmd, stderr: &tailBuffer{max: 16 << 10}}
	cmd.Stderr = s.stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	lines := make(chan string, 2)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			select {
			case lines <- sc.Text():
			default:
			}
		}
	}()
	want := 1
	if stats {
		want = 2
	}
	timer := time.NewTimer(15 * time.Second)
	defer timer.Stop()
	for range want {
		select {
		case l, ok := <-lines:
			if !ok {
				// Standard output ended: the server exited before it
				// printed what we wait for.
				err := cmd.Wait()
				var ee *exec.ExitError
				why := strings.TrimSpace(s.stderr.String())
				if errors.As(err, &ee) && ee.ExitCode() == servers.ExitSkip {
					return nil, &skipError{why: strings.TrimPrefix(lastLine(why), "skip: ")}
				}
				return nil, fmt.Errorf("%s server exited (%v): %s", lib, err, why)
			}
			if rest, ok := strings.CutPrefix(l, "stats "); ok {
				s.stats = rest
			} else if strings.HasPrefix(l, "ws://") {
				s.url = l
			}
		case <-timer.C:
			s.stop()
			return nil, fmt.Errorf("%s server did not start: %s", lib, s.stderr)
		}
	}
	if s.url == "" || (stats && s.stats == "") {
		s.stop()
		return nil, fmt.Errorf("%s server printed no URL: %s", lib, s.stderr)
	}
	return s, nil
}

func (s *server) stop() {
	s.cmd.Process.Kill()
	s.cmd.Wait()
}

// runWithRetry runs once and, if that fails for a reason other than a
// wrong reply, once more; every failure is kept in the notes. A wrong
// reply, or a second failure, is marked in the tables and notes; for
// wspipe it also makes compare's exit status 1 (a peer's failure is the
// peer's, and its cell says so).
func (e *env) runWithRetry(ctx context.Context, s report.Scenario, lib string, rep int) report.Run {
	r := e.runOnce(ctx, s, lib, rep)
	if r.Err == "" {
		return r
	}
	if r.Mismatch {
		e.failFor(lib)
		e.notes = append(e.notes, fmt.Sprintf("WRONG REPLY: %s, %s, repetition %d: %s", s.Name, lib, rep+1, r.Err))
		return r
	}
	e.notes = append(e.notes, fmt.Sprintf("failed, retried once: %s, %s, repetition %d: %s", s.Name, lib, rep+1, r.Err))
	r2 := e.runOnce(ctx, s, lib, rep)
	if r2.Err != "" {
		e.failFor(lib)
		what := "failed again"
		if r2.Mismatch {
			what = "WRONG REPLY on the retry"
		}
		e.notes = append(e.notes, fmt.Sprintf("%s: %s, %s, repetition %d: %s", what, s.Name, lib, rep+1, r2.Err))
	}
	return r2
}

// failFor counts a run of lib that failed for good, if lib is wspipe.
func (e *env) failFor(lib string) {
	if lib == report.Subject {
		e.failedRuns++
	}
}

// runOnce starts a fresh server, runs wsload against it and stops it.
func (e *env) runOnce(ctx context.Context, s report.Scenario, lib string, rep int) report.Run {
	run := report.Run{Rep: rep}
	srv, err := e.startServer(ctx, lib, s.Kind == report.KindIdle)
	if err != nil {
		run.Err = err.Error()
		return run
	}
	defer srv.stop()
	args := []string{"-url", srv.url, "-pid", strconv.Itoa(srv.cmd.Process.Pid), "-json"}
	if report.IsCeiling(lib) {
		args = append(args, "-tcp")
	}
	timeout := 2 * time.Minute
	switch s.Kind {
	case report.KindEcho:
		args = append(args, "-mode", "echo", "-conns", strconv.Itoa(s.Conns), "-size", strconv.Itoa(s.Size),
			"-inflight", strconv.Itoa(s.InFlight),
			"-warmup", (time.Duration(s.WarmupMS) * time.Millisecond).String(),
			"-duration", (time.Duration(s.MeasureMS) * time.Millisecond).String())
	case report.KindHandshake:
		args = append(args, "-mode", "handshake", "-n", strconv.Itoa(s.N), "-warm", strconv.Itoa(s.Warm),
			"-parallel", strconv.Itoa(s.Parallel))
	case report.KindIdle:
		args = append(args, "-mode", "idle", "-conns", strconv.Itoa(s.Conns))
		if srv.stats != "" {
			args = append(args, "-stats", srv.stats)
		}
	}
	args = append(args, "-timeout", timeout.String())
	rctx, cancel := context.WithTimeout(ctx, timeout+10*time.Second)
	defer cancel()
	cmd := command(rctx, e.clientCPU, e.cfg.clientProcs, filepath.Join(e.dir, "wsload"), args...)
	var stdout bytes.Buffer
	stderr := &tailBuffer{max: 8 << 10}
	cmd.Stdout, cmd.Stderr = &stdout, stderr
	err = cmd.Run()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) && ee.ExitCode() == 3 {
			run.Mismatch = true
		}
		msg := strings.TrimSpace(stderr.String())
		if msg == "" {
			msg = err.Error()
		}
		if tail := strings.TrimSpace(srv.stderr.String()); tail != "" && !strings.Contains(tail, "level=INFO") {
			msg += " (server stderr: " + lastLine(tail) + ")"
		}
		run.Err = msg
		return run
	}
	var dst any
	switch s.Kind {
	case report.KindEcho:
		run.Echo = new(load.Result)
		dst = run.Echo
	case report.KindHandshake:
		run.Handshake = new(load.HandshakeResult)
		dst = run.Handshake
	case report.KindIdle:
		run.Idle = new(load.IdleResult)
		dst = run.Idle
	}
	if err := json.Unmarshal(stdout.Bytes(), dst); err != nil {
		run.Err = fmt.Sprintf("wsload output: %v", err)
	}
	return run
}

func lastLine(s string) string {
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		return s[i+1:]
	}
	return s
}

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	max int
	b   []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.b = append(t.b, p...)
	if len(t.b) > t.max {
		t.b = append(t.b[:0], t.b[len(t.b)-t.max:]...)
	}
	return len(p), nil
}

func (t *tailBuffer) String() string { return string(t.b) }

func writeJSON(path string, rep *report.Report) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	b, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

// profileWspipe CPU-profiles benchserver's in-process wspipe under the
// chosen scenario and prints pprof's top 10.
func (e *env) profileWspipe(ctx context.Context, rep *report.Report) error {
	name := e.cfg.profile
	if name == "worst" {
		worst := 0.0
		name = ""
		for _, s := range rep.Scenarios {
			if s.Kind != report.KindEcho {
				continue
			}
			w, ok1 := rep.Score(s.Name, report.Subject)
			_, b, ok2 := rep.BestPeer(s)
			if ok1 && ok2 {
				if r := report.Advantage(s.Kind, w, b); name == "" || r < worst {
					name, worst = s.Name, r
				}
			}
		}
		if name == "" {
			return errors.New("no echo scenario with figures for wspipe and a peer")
		}
	}
	i := slices.IndexFunc(rep.Scenarios, func(s report.Scenario) bool { return s.Name == name })
	if i < 0 || rep.Scenarios[i].Kind != report.KindEcho {
		return fmt.Errorf("-profile %q: not an echo scenario of this run", name)
	}
	s := rep.Scenarios[i]
	out := e.cfg.profileOut
	if out == "" {
		out = filepath.Join("results", "wspipe-"+name+".pprof")
	}
	srv, err := e.startServer(ctx, report.Subject, true)
	if err != nil {
		return err
	}
	defer srv.stop()
	const secs = 8
	args := []string{"-url", srv.url, "-pid", strconv.Itoa(srv.cmd.Process.Pid), "-json", "-mode", "echo",
		"-conns", strconv.Itoa(s.Conns), "-size", strconv.Itoa(s.Size), "-inflight", strconv.Itoa(s.InFlight),
		"-warmup", "500ms", "-duration", (secs*time.Second + time.Second).String()}
	cmd := command(ctx, e.clientCPU, e.cfg.clientProcs, filepath.Join(e.dir, "wsload"), args...)
	cmd.Stdout, cmd.Stderr = io.Discard, os.Stderr
	if err := cmd.Start(); err != nil {
		return err
	}
	defer cmd.Wait()
	time.Sleep(time.Second)
	resp, err := http.Get(fmt.Sprintf("%s/debug/pprof/profile?seconds=%d", srv.stats, secs))
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	prof, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(out, prof, 0o644); err != nil {
		return err
	}
	fmt.Printf("\nCPU profile of the in-process wspipe server, scenario %s (%s), %d s: %s\n", name, s.Title, secs, out)
	top := exec.CommandContext(ctx, "go", "tool", "pprof", "-top", "-nodecount=10", out)
	top.Stdout, top.Stderr = os.Stdout, os.Stderr
	return top.Run()
}
