// Command compare runs the permessage-deflate comparison and prints its
// tables in Markdown: round trips per server with compression on (time,
// server CPU, server allocations, bytes on the wire), interleaved and
// repeated, and the memory an idle server holds per connection with
// context takeover, each server in its own child process.
//
//	go run ./cmd/compare                  # everything, defaults (about 4 min)
//	go run ./cmd/compare -mem=false       # round trips only
//	go run ./cmd/compare -echo=false      # memory only
//	go run ./cmd/compare -profile wspipe:65536 -profile-out /tmp/prof
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/wspipe/wspipe/bench/compress"
)

func main() {
	compress.RunChildIfRequested()
	var (
		reps       = flag.Int("reps", 5, "repetitions of every round-trip window (servers interleaved, order rotated each time)")
		dur        = flag.Duration("dur", time.Second, "length of one round-trip window")
		maxN       = flag.Int("maxn", 1_000_000, "most round trips in one window")
		sizes      = flag.String("sizes", "1024,65536", "message sizes, comma-separated")
		doEcho     = flag.Bool("echo", true, "run the round-trip scenarios")
		doMem      = flag.Bool("mem", true, "run the idle-memory scenario")
		conns      = flag.Int("conns", 1000, "connections per server in the memory scenario")
		memReps    = flag.Int("mem-reps", 3, "repetitions of the memory scenario (servers interleaved)")
		only       = flag.String("servers", "", "comma-separated server names (default all)")
		jsonOut    = flag.String("json", "", "write raw results as JSON to this file")
		profile    = flag.String("profile", "", "instead of the tables, profile one server: name:size")
		profSecs   = flag.Int("profile-secs", 10, "seconds of load per profile")
		profileOut = flag.String("profile-out", ".", "directory for the profiles")
	)
	flag.Parse()
	srvs, err := pick(*only)
	if err != nil {
		fatal(err)
	}
	ctx := context.Background()
	if *profile != "" {
		if err := runProfile(ctx, *profile, *profSecs, *profileOut); err != nil {
			fatal(err)
		}
		return
	}
	var sz []int
	for _, s := range strings.Split(*sizes, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n <= 0 {
			fatal(fmt.Errorf("bad size %q", s))
		}
		sz = append(sz, n)
	}
	fmt.Println(machine())
	fmt.Printf("\nLoad average at the start: %s\n", loadavg())
	fmt.Printf("\nCommand: `go run ./cmd/compare %s`\n", strings.Join(os.Args[1:], " "))
	out := results{Machine: machine(), Args: os.Args[1:]}
	if *doEcho {
		out.Echo, err = runEcho(ctx, srvs, sz, *reps, *dur, *maxN)
		if err != nil {
			fatal(err)
		}
		printEcho(srvs, sz, out.Echo)
	}
	if *doMem {
		fmt.Fprintf(os.Stderr, "open-files limit: %d\n", compress.NoFileLimit())
		out.Idle, err = runIdle(ctx, srvs, *conns, *memReps)
		if err != nil {
			fatal(err)
		}
		printIdle(srvs, *conns, out.Idle)
	}
	fmt.Printf("\nLoad average at the end: %s\n", loadavg())
	if *jsonOut != "" {
		b, _ := json.MarshalIndent(out, "", "  ")
		if err := os.WriteFile(*jsonOut, append(b, '\n'), 0o644); err != nil {
			fatal(err)
		}
	}
}

type results struct {
	Machine string
	Args    []string
	Echo    [][]compress.EchoResult // [rep][...]
	Idle    [][]compress.IdleResult // [rep][...]
}

func fatal(err error) {
	fmt.Fprintln(os.Stderr, "compare:", err)
	os.Exit(1)
}

func pick(only string) ([]compress.Server, error) {
	if only == "" {
		return compress.Servers, nil
	}
	var out []compress.Server
	for _, name := range strings.Split(only, ",") {
		s, err := compress.Lookup(strings.TrimSpace(name))
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, nil
}

// rotate returns srvs starting at index k (mod len).
func rotate[T any](xs []T, k int) []T {
	k %= len(xs)
	return append(append([]T(nil), xs[k:]...), xs[:k]...)
}

func runEcho(ctx context.Context, srvs []compress.Server, sizes []int, reps int, dur time.Duration, maxN int) ([][]compress.EchoResult, error) {
	children, err := compress.Children(srvs)
	if err != nil {
		return nil, err
	}
	defer func() {
		for _, ch := range children {
			ch.Stop()
		}
	}()
	all := make([][]compress.EchoResult, reps)
	for rep := range reps {
		for _, size := range sizes {
			for _, s := range rotate(srvs, rep) {
				wctx, cancel := context.WithTimeout(ctx, dur+time.Minute)
				r, err := compress.RunEcho(wctx, children[s.Name], size, dur, maxN)
				cancel()
				if err != nil {
					return nil, err
				}
				fmt.Fprintf(os.Stderr, "rep %d %6d B %-15s %9.0f ns/rt %6.1f allocs/msg (server)\n", rep+1, size, s.Name, r.NsPerRT, r.SrvAllocs)
				all[rep] = append(all[rep], r)
			}
		}
	}
	return all, nil
}

func runIdle(ctx context.Context, srvs []compress.Server, conns, reps int) ([][]compress.IdleResult, error) {
	all := make([][]compress.IdleResult, reps)
	for rep := range reps {
		for _, s := range rotate(srvs, rep) {
			ictx, cancel := context.WithTimeout(ctx, 5*time.Minute)
			r, err := compress.RunIdle(ictx, s, conns)
			cancel()
			if err != nil {
				return nil, err
			}
			fmt.Fprintf(os.Stderr, "rep %d %-15s heap %8.0f B/conn, rss %8.0f B/conn\n", rep+1, s.Name, r.HeapPerCx, r.RSSPerCx)
			all[rep] = append(all[rep], r)
		}
	}
	return all, nil
}

// echoOf returns the result for name and size in one repetition.
func echoOf(rep []compress.EchoResult, name string, size int) (compress.EchoResult, bool) {
	for _, r := range rep {
		if r.Server == name && r.Size == size {
			return r, true
		}
	}
	return compress.EchoResult{}, false
}

func idleOf(rep []compress.IdleResult, name string) (compress.IdleResult, bool) {
	for _, r := range rep {
		if r.Server == name {
			return r, true
		}
	}
	return compress.IdleResult{}, false
}

// medEcho is the median over repetitions of f for name and size.
func medEcho(all [][]compress.EchoResult, name string, size int, f func(compress.EchoResult) float64) float64 {
	var xs []float64
	for _, rep := range all {
		if r, ok := echoOf(rep, name, size); ok {
			xs = append(xs, f(r))
		}
	}
	return compress.Median(xs)
}

// ratioEcho is the median over repetitions of f(a)/f(b), each pair from
// the same repetition (measured close together in time). NaN when b's
// value is 0 in any repetition.
func ratioEcho(all [][]compress.EchoResult, a, b string, size int, f func(compress.EchoResult) float64) float64 {
	var xs []float64
	for _, rep := range all {
		ra, oka := echoOf(rep, a, size)
		rb, okb := echoOf(rep, b, size)
		if !oka || !okb {
			continue
		}
		if f(rb) == 0 {
			return math.NaN()
		}
		xs = append(xs, f(ra)/f(rb))
	}
	if len(xs) == 0 {
		return math.NaN()
	}
	return compress.Median(xs)
}

func ratioIdle(all [][]compress.IdleResult, a, b string, f func(compress.IdleResult) float64) float64 {
	var xs []float64
	for _, rep := range all {
		ra, oka := idleOf(rep, a)
		rb, okb := idleOf(rep, b)
		if !oka || !okb || f(rb) <= 0 {
			continue
		}
		xs = append(xs, f(ra)/f(rb))
	}
	if len(xs) == 0 {
		return math.NaN()
	}
	return compress.Median(xs)
}

func medIdle(all [][]compress.IdleResult, name string, f func(compress.IdleResult) float64) float64 {
	var xs []float64
	for _, rep := range all {
		if r, ok := idleOf(rep, name); ok {
			xs = append(xs, f(r))
		}
	}
	return compress.Median(xs)
}

func fmtRatio(x float64) string {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return "—"
	}
	return fmt.Sprintf("%.2f×", x)
}

func peerOf(s compress.Server) string {
	if s.Peer != "" {
		return s.Peer
	}
	return s.Name
}

func has(srvs []compress.Server, name string) bool {
	for _, s := range srvs {
		if s.Name == name {
			return true
		}
	}
	return false
}

var (
	fNs     = func(r compress.EchoResult) float64 { return r.NsPerRT }
	fCPU    = func(r compress.EchoResult) float64 { return r.SrvCPUNs }
	fAllocs = func(r compress.EchoResult) float64 { return r.SrvAllocs }
	fBytes  = func(r compress.EchoResult) float64 { return r.SrvBytes }
	fWire   = func(r compress.EchoResult) float64 { return r.WireDown }
)

func printEcho(srvs []compress.Server, sizes []int, all [][]compress.EchoResult) {
	fmt.Printf("\n## Round trips with compression (%d repetitions, medians)\n", len(all))
	for _, size := range sizes {
		fmt.Printf("\n### %s messages\n\n", human(size))
		fmt.Println("| server | ns / round trip | MB/s | server CPU µs / msg | client CPU µs / msg | server allocs / msg | server B / msg | echo bytes on the wire |")
		fmt.Println("|---|---:|---:|---:|---:|---:|---:|---:|")
		for _, s := range srvs {
			ns := medEcho(all, s.Name, size, fNs)
			fmt.Printf("| %s | %.0f | %.1f | %.1f | %.1f | %.2f | %.0f | %.0f |\n", s.Name, ns,
				medEcho(all, s.Name, size, func(r compress.EchoResult) float64 { return r.MBps }),
				medEcho(all, s.Name, size, fCPU)/1e3,
				medEcho(all, s.Name, size, func(r compress.EchoResult) float64 { return r.CliCPUNs })/1e3,
				medEcho(all, s.Name, size, fAllocs),
				medEcho(all, s.Name, size, fBytes),
				medEcho(all, s.Name, size, fWire))
		}
		fmt.Printf("\nRatios wspipe ÷ peer (below 1: wspipe lower/better; for wire bytes, below 1: wspipe compresses better), %s:\n\n", human(size))
		fmt.Println("| peer | wspipe config | time / round trip | server CPU / msg | server allocs / msg | server B / msg | wire bytes | default wspipe: time | default wspipe: CPU |")
		fmt.Println("|---|---|---:|---:|---:|---:|---:|---:|---:|")
		for _, s := range srvs {
			if s.Lib == "wspipe" || !has(srvs, peerOf(s)) {
				continue
			}
			w := peerOf(s)
			fmt.Printf("| %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", s.Name, w,
				fmtRatio(ratioEcho(all, w, s.Name, size, fNs)),
				fmtRatio(ratioEcho(all, w, s.Name, size, fCPU)),
				fmtRatio(ratioEcho(all, w, s.Name, size, fAllocs)),
				fmtRatio(ratioEcho(all, w, s.Name, size, fBytes)),
				fmtRatio(ratioEcho(all, w, s.Name, size, fWire)),
				fmtRatio(ratioEcho(all, "wspipe", s.Name, size, fNs)),
				fmtRatio(ratioEcho(all, "wspipe", s.Name, size, fCPU)))
		}
	}
}

func printIdle(srvs []compress.Server, conns int, all [][]compress.IdleResult) {
	fmt.Printf("\n## Idle memory per connection, %d connections, after %d messages of %s each way (%d repetitions, medians)\n\n",
		conns, compress.BurstMessages, human(compress.BurstSize), len(all))
	fHeap := func(r compress.IdleResult) float64 { return r.HeapPerCx }
	fStack := func(r compress.IdleResult) float64 { return r.StackPerCx }
	fRSS := func(r compress.IdleResult) float64 { return r.RSSPerCx }
	fHS := func(r compress.IdleResult) float64 { return r.HeapPerCx + r.StackPerCx }
	fmt.Println("| server | context takeover | heap B / conn | stack B / conn | RSS B / conn | goroutines / conn | burst echo bytes on the wire |")
	fmt.Println("|---|---|---:|---:|---:|---:|---:|")
	for _, s := range srvs {
		fmt.Printf("| %s | %v | %.0f | %.0f | %.0f | %.1f | %.0f |\n", s.Name, s.Takeover,
			medIdle(all, s.Name, fHeap), medIdle(all, s.Name, fStack), medIdle(all, s.Name, fRSS),
			medIdle(all, s.Name, func(r compress.IdleResult) float64 { return r.Goroutines }),
			medIdle(all, s.Name, func(r compress.IdleResult) float64 { return r.WireDown }))
	}
	fmt.Println("\nRatios wspipe ÷ peer (below 1: wspipe holds less):")
	fmt.Println()
	fmt.Println("| peer | wspipe config | heap | heap + stacks | RSS | default wspipe: heap | default wspipe: RSS |")
	fmt.Println("|---|---|---:|---:|---:|---:|---:|")
	for _, s := range srvs {
		if s.Lib == "wspipe" || !has(srvs, peerOf(s)) {
			continue
		}
		w := peerOf(s)
		fmt.Printf("| %s | %s | %s | %s | %s | %s | %s |\n", s.Name, w,
			fmtRatio(ratioIdle(all, w, s.Name, fHeap)),
			fmtRatio(ratioIdle(all, w, s.Name, fHS)),
			fmtRatio(ratioIdle(all, w, s.Name, fRSS)),
			fmtRatio(ratioIdle(all, "wspipe", s.Name, fHeap)),
			fmtRatio(ratioIdle(all, "wspipe", s.Name, fRSS)))
	}
}

func human(n int) string {
	if n%1024 == 0 {
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d B", n)
}

// loadavg returns the 1, 5 and 15 minute load averages.
func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}

// machine describes where the run happened.
func machine() string {
	cpu := "unknown CPU"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for line := range strings.SplitSeq(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "model name"); ok {
				cpu = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(v), ":"))
				break
			}
		}
	}
	kernel := ""
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		kernel = ", Linux " + strings.TrimSpace(string(b))
	}
	return fmt.Sprintf("Machine: %s, %d cores, %s %s/%s%s, %s", cpu, runtime.NumCPU(), runtime.Version(),
		runtime.GOOS, runtime.GOARCH, kernel, time.Now().UTC().Format("2006-01-02"))
}

// runProfile loads one server with round trips while taking a CPU and then
// an allocation profile of it.
func runProfile(ctx context.Context, spec string, secs int, dir string) error {
	name, sizeStr, ok := strings.Cut(spec, ":")
	size, err := strconv.Atoi(sizeStr)
	if !ok || err != nil {
		return fmt.Errorf("-profile wants name:size, not %q", spec)
	}
	srv, err := compress.Lookup(name)
	if err != nil {
		return err
	}
	ch, err := compress.StartChild(srv)
	if err != nil {
		return err
	}
	defer ch.Stop()
	for _, kind := range []string{"profile", "allocs"} {
		path := filepath.Join(dir, fmt.Sprintf("%s-%d-%s.pprof", name, size, map[string]string{"profile": "cpu", "allocs": "allocs"}[kind]))
		f, err := os.Create(path)
		if err != nil {
			return err
		}
		load := make(chan error, 1)
		go func() {
			_, err := compress.RunEcho(ctx, ch, size, time.Duration(secs+2)*time.Second, math.MaxInt)
			load <- err
		}()
		time.Sleep(time.Second)
		perr := ch.Profile(kind, secs, f)
		f.Close()
		if err := <-load; err != nil {
			return err
		}
		if perr != nil {
			return perr
		}
		fmt.Fprintln(io.Writer(os.Stdout), "wrote", path)
	}
	return nil
}
