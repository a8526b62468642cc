// Package report holds the results of a cmd/compare run, as written to
// its JSON file and read back by cmd/chart, and the ratios drawn from
// them.
package report

import (
	"math"
	"slices"
	"strings"
	"time"

	"github.com/wspipe/wspipe/bench/internal/load"
)

// Kinds of scenario.
const (
	KindEcho      = "echo"
	KindIdle      = "idle"
	KindHandshake = "handshake"
)

// Scenario describes one row of the tables.
type Scenario struct {
	Name  string `json:"name"`
	Title string `json:"title"`
	Kind  string `json:"kind"`
	// Echo and idle: connections; echo: message size and messages in
	// flight per connection; handshake: measured handshakes and how many
	// at a time.
	Conns     int `json:"conns,omitempty"`
	Size      int `json:"size,omitempty"`
	InFlight  int `json:"inflight,omitempty"`
	N         int `json:"n,omitempty"`
	Warm      int `json:"warm,omitempty"`
	Parallel  int `json:"parallel,omitempty"`
	WarmupMS  int `json:"warmup_ms,omitempty"`
	MeasureMS int `json:"measure_ms,omitempty"`
}

// Run is one measurement of one library in one scenario.
type Run struct {
	Rep       int                   `json:"rep"`
	Echo      *load.Result          `json:"echo,omitempty"`
	Idle      *load.IdleResult      `json:"idle,omitempty"`
	Handshake *load.HandshakeResult `json:"handshake,omitempty"`
	// Err is why the run failed; Mismatch marks a wrong reply (as
	// opposed to a missing one or another failure).
	Err      string `json:"err,omitempty"`
	Mismatch bool   `json:"mismatch,omitempty"`
}

// Cell is every run of one library in one scenario, and their medians.
type Cell struct {
	Scenario string  `json:"scenario"`
	Lib      string  `json:"lib"`
	Runs     []Run   `json:"runs"`
	Median   Summary `json:"median"`
}

// Summary holds the medians over a cell's successful runs. Score is the
// figure the ratios compare: messages (or handshakes) per server
// CPU-second for echo and handshake scenarios, higher is better; resident
// KiB per connection for the idle one, lower is better.
type Summary struct {
	OK          int     `json:"ok"`
	Failed      int     `json:"failed"`
	Score       float64 `json:"score"`
	PerSec      float64 `json:"per_sec,omitempty"`
	ServerCPU   float64 `json:"server_cpu_s,omitempty"`
	P50us       float64 `json:"p50_us,omitempty"`
	P99us       float64 `json:"p99_us,omitempty"`
	RSSKiB      float64 `json:"rss_kib_per_conn,omitempty"`
	HeapKiB     float64 `json:"heap_kib_per_conn,omitempty"`
	StackKiB    float64 `json:"stack_kib_per_conn,omitempty"`
	Goroutines  float64 `json:"goroutines_per_conn,omitempty"`
	ClientCPU   float64 `json:"client_cpu_s,omitempty"`
	Spread      float64 `json:"spread,omitempty"` // (max-min)/median of Score
	HasRuntime  bool    `json:"has_runtime,omitempty"`
	Unavailable string  `json:"unavailable,omitempty"`
}

// Machine is where the run happened.
type Machine struct {
	NProc            int    `json:"nproc"`
	CPUModel         string `json:"cpu_model"`
	Kernel           string `json:"kernel"`
	GoVersion        string `json:"go_version"`
	Commit           string `json:"commit"`
	Pinning          string `json:"pinning"`
	ServerGOMAXPROCS int    `json:"server_gomaxprocs"`
	ClientGOMAXPROCS int    `json:"client_gomaxprocs"`
	LoadAvgStart     string `json:"loadavg_start"`
	LoadAvgEnd       string `json:"loadavg_end"`
}

// Report is a whole cmd/compare run.
type Report struct {
	Mode      string            `json:"mode"`
	Reps      int               `json:"reps"`
	Started   time.Time         `json:"started"`
	Elapsed   float64           `json:"elapsed_s"`
	Machine   Machine           `json:"machine"`
	Libs      []string          `json:"libs"`
	Versions  map[string]string `json:"versions"`
	WspipeBin string            `json:"wspipe_server"`
	Scenarios []Scenario        `json:"scenarios"`
	Cells     []Cell            `json:"cells"`
	Notes     []string          `json:"notes,omitempty"`
}

// Subject is the library measured against the others; Ceiling is the
// plain TCP echo, which is no peer.
const (
	Subject = "wspipe"
	Ceiling = "tcp"
)

// Colors are the libraries' colours in the charts (cmd/chart,
// cmd/idlemem).
var Colors = map[string]string{
	"wspipe":   "#d62728",
	"gorilla":  "#1f77b4",
	"coder":    "#ff7f0e",
	"gobwas":   "#2ca02c",
	"gws":      "#9467bd",
	"nbio":     "#8c564b",
	"tcp":      "#b0b0b0",
	"go-epoll": "#909090",
	"c-epoll":  "#7f7f7f",
	"c-uring":  "#404040",
}

// IsCeiling reports whether lib is a raw TCP echo baseline rather than a
// WebSocket library: the Go TCP echo, the Go epoll loop (go-epoll), or
// one of the C servers (c-epoll, c-uring).
func IsCeiling(lib string) bool {
	return lib == Ceiling || lib == "go-epoll" || strings.HasPrefix(lib, "c-")
}

// IsRef reports whether lib is the subject at another revision
// ("wspipe@<hash>", compare's -wspipe-ref).
func IsRef(lib string) bool { return strings.HasPrefix(lib, Subject+"@") }

// IsPeer reports whether lib competes with the subject.
func IsPeer(lib string) bool { return lib != Subject && !IsCeiling(lib) && !IsRef(lib) }

// RunScore is the figure Score compares for one run, and whether the run
// has one.
func RunScore(r Run) (float64, bool) {
	switch {
	case r.Err != "":
		return 0, false
	case r.Echo != nil:
		return r.Echo.MsgsPerCPUSec, r.Echo.MsgsPerCPUSec > 0
	case r.Handshake != nil:
		return r.Handshake.PerCPUSec, r.Handshake.PerCPUSec > 0
	case r.Idle != nil:
		return r.Idle.RSSKiBPerConn, r.Idle.RSSKiBPerConn > 0
	}
	return 0, false
}

// RoundAdvantages is RoundRatios as Advantage puts it: a's score over
// b's, or b's over a's where lower is better (memory).
func (r *Report) RoundAdvantages(s Scenario, a, b string) []float64 {
	rs := r.RoundRatios(s.Name, a, b)
	if LowerIsBetter(s.Kind) {
		for i, v := range rs {
			rs[i] = 1 / v
		}
	}
	return rs
}

// RoundRatios returns, for every repetition in which both a and b have a
// figure in scenario, a's score divided by b's: the ratio within one
// round, where both ran close together in time.
func (r *Report) RoundRatios(scenario, a, b string) []float64 {
	ca, cb := r.Cell(scenario, a), r.Cell(scenario, b)
	if ca == nil || cb == nil {
		return nil
	}
	var out []float64
	for _, ra := range ca.Runs {
		va, ok := RunScore(ra)
		if !ok {
			continue
		}
		for _, rb := range cb.Runs {
			if vb, ok := RunScore(rb); ok && rb.Rep == ra.Rep {
				out = append(out, va/vb)
				break
			}
		}
	}
	return out
}

// LowerIsBetter reports whether a smaller Score is better in scenario kind.
func LowerIsBetter(kind string) bool { return kind == KindIdle }

// Cell returns the cell of lib in scenario, or nil.
func (r *Report) Cell(scenario, lib string) *Cell {
	for i := range r.Cells {
		if r.Cells[i].Scenario == scenario && r.Cells[i].Lib == lib {
			return &r.Cells[i]
		}
	}
	return nil
}

// Score returns lib's median score in scenario and whether there is one.
func (r *Report) Score(scenario, lib string) (float64, bool) {
	c := r.Cell(scenario, lib)
	if c == nil || c.Median.OK == 0 || c.Median.Score <= 0 {
		return 0, false
	}
	return c.Median.Score, true
}

// BestPeer returns the peer with the best median score in s.
func (r *Report) BestPeer(s Scenario) (lib string, score float64, ok bool) {
	for _, l := range r.Libs {
		if !IsPeer(l) {
			continue
		}
		v, has := r.Score(s.Name, l)
		if !has {
			continue
		}
		if !ok || better(s.Kind, v, score) {
			lib, score, ok = l, v, true
		}
	}
	return lib, score, ok
}

func better(kind string, a, b float64) bool {
	if LowerIsBetter(kind) {
		return a < b
	}
	return a > b
}

// Advantage is how much better a is than b in s, as a factor above 1 when
// a is better: a/b for throughput, b/a for memory.
func Advantage(kind string, a, b float64) float64 {
	if a <= 0 || b <= 0 {
		return math.NaN()
	}
	if LowerIsBetter(kind) {
		return b / a
	}
	return a / b
}

// Summarize computes a cell's medians from its successful runs.
func Summarize(kind string, runs []Run) Summary {
	var s Summary
	var score, perSec, cpu, p50, p99, rss, heap, stack, gor, ccpu []float64
	for _, r := range runs {
		if r.Err != "" {
			s.Failed++
			continue
		}
		s.OK++
		switch {
		case r.Echo != nil:
			score = append(score, r.Echo.MsgsPerCPUSec)
			perSec = append(perSec, r.Echo.MsgsPerSec)
			cpu = append(cpu, r.Echo.ServerCPU)
			p50 = append(p50, r.Echo.P50us)
			p99 = append(p99, r.Echo.P99us)
			ccpu = append(ccpu, r.Echo.ClientCPU)
		case r.Handshake != nil:
			score = append(score, r.Handshake.PerCPUSec)
			perSec = append(perSec, r.Handshake.PerSec)
			cpu = append(cpu, r.Handshake.ServerCPU)
			p50 = append(p50, r.Handshake.P50us)
			p99 = append(p99, r.Handshake.P99us)
			ccpu = append(ccpu, r.Handshake.ClientCPU)
		case r.Idle != nil:
			score = append(score, r.Idle.RSSKiBPerConn)
			rss = append(rss, r.Idle.RSSKiBPerConn)
			heap = append(heap, r.Idle.HeapKiBPerConn)
			stack = append(stack, r.Idle.StackKiBPerConn)
			gor = append(gor, r.Idle.GoroutinesPer)
			s.HasRuntime = r.Idle.HasRuntime
		}
	}
	s.Score = Median(score)
	s.PerSec = Median(perSec)
	s.ServerCPU = Median(cpu)
	s.P50us = Median(p50)
	s.P99us = Median(p99)
	s.RSSKiB = Median(rss)
	s.HeapKiB = Median(heap)
	s.StackKiB = Median(stack)
	s.Goroutines = Median(gor)
	s.ClientCPU = Median(ccpu)
	if len(score) > 1 && s.Score > 0 {
		s.Spread = (slices.Max(score) - slices.Min(score)) / s.Score
	}
	return s
}

// Median of xs (0 if empty).
func Median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}
