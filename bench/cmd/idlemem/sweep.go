//go:build linux

package main

import (
	"encoding/json"
	"fmt"
	"html"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/wspipe/wspipe/bench/internal/report"
)

// million is the connection count the fits are projected to.
const million = 1_000_000

// goalKiB is issue 17's goal for an idle connection's RSS, drawn on the
// chart.
const goalKiB = 2.0

// fit is memory = Intercept + Slope × connections, least squares over one
// library's counts, in KiB.
type fit struct {
	Lib          string  `json:"lib"`
	Of           string  `json:"of"` // "rss", "heap" (Go heap+stacks) or "rss_after_echo"
	Points       int     `json:"points"`
	SlopeKiB     float64 `json:"slope_kib_per_conn"`
	InterceptKiB float64 `json:"intercept_kib"`
	R2           float64 `json:"r2"`
	// MillionGiB is the projection to a million connections.
	MillionGiB float64 `json:"million_conns_gib"`
}

// leastSquares fits y = a + b·x; r2 is the coefficient of determination
// (1 when every point is on the line, NaN when y does not vary).
func leastSquares(xs, ys []float64) (a, b, r2 float64) {
	n := float64(len(xs))
	if len(xs) < 2 || len(xs) != len(ys) {
		return math.NaN(), math.NaN(), math.NaN()
	}
	var sx, sy float64
	for i := range xs {
		sx += xs[i]
		sy += ys[i]
	}
	mx, my := sx/n, sy/n
	var sxx, sxy, syy float64
	for i := range xs {
		dx, dy := xs[i]-mx, ys[i]-my
		sxx += dx * dx
		sxy += dx * dy
		syy += dy * dy
	}
	if sxx == 0 {
		return math.NaN(), math.NaN(), math.NaN()
	}
	b = sxy / sxx
	a = my - b*mx
	r2 = math.NaN()
	if syy > 0 {
		r2 = sxy * sxy / (sxx * syy)
	}
	return a, b, r2
}

// point is one (library, count) measurement as written to JSON: totals
// are the after-minus-before differences in KiB, per-connection figures
// those divided by the count.
type point struct {
	Lib               string     `json:"lib"`
	Conns             int        `json:"conns"`
	DialSeconds       float64    `json:"dial_s"`
	RSSKiB            float64    `json:"rss_kib"`
	HeapKiB           float64    `json:"heap_kib"`
	RSSKiBPerConn     float64    `json:"rss_kib_per_conn"`
	HeapKiBPerConn    float64    `json:"heap_kib_per_conn"` // HeapInuse+StackInuse
	StackKiBPerConn   float64    `json:"stack_kib_per_conn"`
	LiveKiBPerConn    float64    `json:"live_heap_kib_per_conn"`
	GoroutinesPerConn float64    `json:"goroutines_per_conn"`
	AfterEcho         *afterEcho `json:"after_echo,omitempty"`
}

type afterEcho struct {
	RSSKiB            float64 `json:"rss_kib"`
	RSSKiBPerConn     float64 `json:"rss_kib_per_conn"`
	HeapKiBPerConn    float64 `json:"heap_kib_per_conn"`
	GoroutinesPerConn float64 `json:"goroutines_per_conn"`
}

// sweep is idlemem's JSON output, and what the chart is drawn from.
type sweep struct {
	Started    time.Time `json:"started"`
	ElapsedS   float64   `json:"elapsed_s"`
	Machine    string    `json:"machine"`
	Commit     string    `json:"commit"`
	HardNoFile uint64    `json:"hard_nofile"`
	ThenEcho   int       `json:"then_echo_bytes,omitempty"`
	ThenWaitS  float64   `json:"then_wait_s,omitempty"`
	Libs       []string  `json:"libs"`
	Points     []point   `json:"points"`
	Fits       []fit     `json:"fits"`
}

func toPoint(r result) point {
	p := r.per()
	kib := func(a, b uint64) float64 { return (float64(a) - float64(b)) / 1024 }
	pt := point{
		Lib: r.lib, Conns: r.conns, DialSeconds: r.dialElapsed.Seconds(),
		RSSKiB:            kib(r.after.RSS, r.before.RSS),
		HeapKiB:           kib(r.after.HeapInuse+r.after.StackInuse, r.before.HeapInuse+r.before.StackInuse),
		RSSKiBPerConn:     p.rss,
		HeapKiBPerConn:    p.heap,
		StackKiBPerConn:   p.stack,
		LiveKiBPerConn:    p.live,
		GoroutinesPerConn: p.g,
	}
	if r.echoed {
		e := r.perEcho()
		pt.AfterEcho = &afterEcho{
			RSSKiB:        kib(r.afterEcho.RSS, r.before.RSS),
			RSSKiBPerConn: e.rss, HeapKiBPerConn: e.heap, GoroutinesPerConn: e.g,
		}
	}
	return pt
}

// fitAll fits RSS, Go heap+stacks and (if measured) RSS after an echo
// against the count, for every library measured at two counts or more.
func fitAll(libs []string, rows []result) []fit {
	var fits []fit
	for _, lib := range libs {
		var xs, rss, heap, echo []float64
		for _, r := range rows {
			if r.lib != lib {
				continue
			}
			pt := toPoint(r)
			xs = append(xs, float64(r.conns))
			rss = append(rss, pt.RSSKiB)
			heap = append(heap, pt.HeapKiB)
			if pt.AfterEcho != nil {
				echo = append(echo, pt.AfterEcho.RSSKiB)
			}
		}
		if len(slices.Compact(slices.Sorted(slices.Values(xs)))) < 2 {
			continue
		}
		add := func(of string, ys []float64) {
			if len(ys) != len(xs) {
				return
			}
			a, b, r2 := leastSquares(xs, ys)
			fits = append(fits, fit{Lib: lib, Of: of, Points: len(xs), SlopeKiB: b, InterceptKiB: a, R2: r2,
				MillionGiB: (a + b*million) / (1 << 20)})
		}
		add("rss", rss)
		add("heap", heap)
		add("rss_after_echo", echo)
	}
	return fits
}

func findFit(fits []fit, lib, of string) (fit, bool) {
	i := slices.IndexFunc(fits, func(f fit) bool { return f.Lib == lib && f.Of == of })
	if i < 0 {
		return fit{}, false
	}
	return fits[i], true
}

func printFits(w io.Writer, fits []fit) {
	fmt.Fprintln(w, "\nLeast-squares fit, memory = intercept + slope × connections (server process only):")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "lib\tof\tpoints\tslope KiB/conn\tintercept MiB\tR²\tat 1,000,000 conns GiB\t")
	for _, f := range fits {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%.2f\t%.1f\t%.4f\t%.2f\t\n", f.Lib, f.Of, f.Points, f.SlopeKiB, f.InterceptKiB/1024, f.R2, f.MillionGiB)
	}
	tw.Flush()
}

func newSweep(rows []result, fits []fit, hard uint64, elapsed time.Duration) *sweep {
	sw := &sweep{
		Started:    time.Now().Add(-elapsed).UTC(),
		ElapsedS:   elapsed.Seconds(),
		Machine:    machineLine(),
		Commit:     commit(),
		HardNoFile: hard,
		Fits:       fits,
	}
	if thenEcho > 0 {
		sw.ThenEcho, sw.ThenWaitS = thenEcho, thenWait.Seconds()
	}
	for _, r := range rows {
		if !slices.Contains(sw.Libs, r.lib) {
			sw.Libs = append(sw.Libs, r.lib)
		}
		sw.Points = append(sw.Points, toPoint(r))
	}
	return sw
}

func writeJSON(path string, v any) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

// machineLine describes the machine as the chart's subtitle does.
func machineLine() string {
	cpus, model := 0, "unknown CPU"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for line := range strings.Lines(string(b)) {
			k, v, _ := strings.Cut(line, ":")
			switch strings.TrimSpace(k) {
			case "processor":
				cpus++
			case "model name":
				model = strings.TrimSpace(v)
			}
		}
	}
	kernel := "?"
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		kernel = strings.TrimSpace(string(b))
	}
	return fmt.Sprintf("%d CPUs (%s), Linux %s, %s", cpus, model, kernel, runtime.Version())
}

func commit() string {
	out, err := exec.Command("git", "rev-parse", "--short", "HEAD").Output()
	if err != nil {
		return "unknown"
	}
	c := strings.TrimSpace(string(out))
	if st, err := exec.Command("git", "status", "--porcelain", "--untracked-files=no").Output(); err == nil && len(st) > 0 {
		c += " (working tree with uncommitted changes)"
	}
	return c
}

// Chart layout, in pixels (the style of cmd/chart's docs/benchmarks.svg).
const (
	chartW      = 960
	chartH      = 520
	plotLeft    = 80
	plotRight   = 300 // the legend is to the right of the plot
	plotTop     = 84
	plotBottom  = 60
	chartLegend = chartW - plotRight + 20
)

// drawSweep draws the server's RSS increase against the connection count:
// for each library its measured points (filled: idle; hollow: after one
// message echoed on every connection) and its least-squares line, with the
// slope and the projection to a million connections in the legend.
func drawSweep(sw *sweep) string {
	maxN, maxY := 0.0, 0.0
	for _, p := range sw.Points {
		maxN = max(maxN, float64(p.Conns))
		maxY = max(maxY, p.RSSKiB/1024)
		if p.AfterEcho != nil {
			maxY = max(maxY, p.AfterEcho.RSSKiB/1024)
		}
	}
	xMax := niceCeil(maxN)
	yMax := niceCeil(maxY * 1.05)
	pw := float64(chartW - plotLeft - plotRight)
	ph := float64(chartH - plotTop - plotBottom)
	x := func(n float64) float64 { return plotLeft + pw*n/xMax }
	y := func(mib float64) float64 { return plotTop + ph*(1-max(0, min(mib, yMax))/yMax) }

	var sb strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&sb, format, args...) }
	p(`<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="11">`+"\n", chartW, chartH, chartW, chartH)
	p(`<rect width="100%%" height="100%%" fill="white"/>` + "\n")
	p(`<text x="10" y="22" font-size="15" font-weight="bold">%s</text>`+"\n",
		esc("Idle WebSocket connections: server memory (RSS increase) against connection count"))
	p(`<text x="10" y="40" fill="#444">%s</text>`+"\n", esc(fmt.Sprintf("%s; commit %s; server process only, client in another", sw.Machine, sw.Commit)))
	sub := "lines: least-squares fits; filled dots: idle after the handshake"
	if sw.ThenEcho > 0 {
		sub += fmt.Sprintf("; circles: after one %d B message echoed on every connection, %.0f s idle and two GCs", sw.ThenEcho, sw.ThenWaitS)
	}
	p(`<text x="10" y="56" fill="#444">%s</text>`+"\n", esc(sub))

	// Grid and axes.
	for i := 0; i <= 5; i++ {
		v := yMax * float64(i) / 5
		yy := y(v)
		p(`<line x1="%d" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#e4e4e4"/>`+"\n", plotLeft, yy, x(xMax), yy)
		p(`<text x="%d" y="%.1f" text-anchor="end" fill="#555">%s</text>`+"\n", plotLeft-6, yy+4, trimFloat(v))
	}
	for i := 0; i <= 5; i++ {
		v := xMax * float64(i) / 5
		xx := x(v)
		p(`<line x1="%.1f" y1="%d" x2="%.1f" y2="%.1f" stroke="#e4e4e4"/>`+"\n", xx, plotTop, xx, y(0))
		p(`<text x="%.1f" y="%.1f" text-anchor="middle" fill="#555">%s</text>`+"\n", xx, y(0)+16, trimFloat(v))
	}
	p(`<line x1="%d" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#333"/>`+"\n", plotLeft, y(0), x(xMax), y(0))
	p(`<line x1="%d" y1="%d" x2="%d" y2="%.1f" stroke="#333"/>`+"\n", plotLeft, plotTop, plotLeft, y(0))
	p(`<text x="%.1f" y="%d" text-anchor="middle">connections</text>`+"\n", x(xMax/2), chartH-18)
	p(`<text x="18" y="%.1f" text-anchor="middle" transform="rotate(-90 18 %.1f)">server RSS increase, MiB</text>`+"\n", y(yMax/2), y(yMax/2))

	// Issue 17's goal, at most 2 KiB per connection, as cmd/chart marks
	// its goal: a dashed red line.
	gy := y(goalKiB * xMax / 1024)
	if goalKiB*xMax/1024 > yMax {
		gy = y(yMax)
	}
	gx := x(min(xMax, yMax*1024/goalKiB))
	p(`<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#d62728" stroke-width="1.5" stroke-dasharray="5,3"/>`+"\n", x(0), y(0), gx, gy)
	p(`<text x="%.1f" y="%.1f" text-anchor="end" fill="#d62728">goal: 2 KiB/conn</text>`+"\n", gx-4, gy-6)

	ly := plotTop + 6
	for _, lib := range sw.Libs {
		col := report.Colors[lib]
		if col == "" {
			col = "#000"
		}
		if f, ok := findFit(sw.Fits, lib, "rss"); ok {
			x0, x1 := 0.0, xMax
			p(`<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="%s" stroke-width="1.5"/>`+"\n",
				x(x0), y((f.InterceptKiB+f.SlopeKiB*x0)/1024), x(x1), y((f.InterceptKiB+f.SlopeKiB*x1)/1024), col)
		}
		for _, pt := range sw.Points {
			if pt.Lib != lib {
				continue
			}
			p(`<circle cx="%.1f" cy="%.1f" r="4" fill="%s"><title>%s, %d connections: %.2f KiB/conn</title></circle>`+"\n",
				x(float64(pt.Conns)), y(pt.RSSKiB/1024), col, esc(lib), pt.Conns, pt.RSSKiBPerConn)
			if pt.AfterEcho != nil {
				p(`<circle cx="%.1f" cy="%.1f" r="6" fill="none" stroke="%s" stroke-width="1.5"><title>%s, %d connections, after one echo each: %.2f KiB/conn</title></circle>`+"\n",
					x(float64(pt.Conns)), y(pt.AfterEcho.RSSKiB/1024), col, esc(lib), pt.Conns, pt.AfterEcho.RSSKiBPerConn)
			}
		}
		// Legend: name, slope, projection.
		p(`<rect x="%d" y="%d" width="12" height="12" fill="%s"/>`+"\n", chartLegend, ly-10, col)
		weight := ""
		if lib == report.Subject {
			weight = ` font-weight="bold"`
		}
		p(`<text x="%d" y="%d"%s>%s</text>`+"\n", chartLegend+16, ly, weight, esc(lib))
		if f, ok := findFit(sw.Fits, lib, "rss"); ok {
			p(`<text x="%d" y="%d" fill="#333">%s</text>`+"\n", chartLegend+16, ly+14,
				esc(fmt.Sprintf("%.2f KiB/conn; %.2f GiB at 1M conns", f.SlopeKiB, f.MillionGiB)))
			if e, ok := findFit(sw.Fits, lib, "rss_after_echo"); ok {
				p(`<text x="%d" y="%d" fill="#666">%s</text>`+"\n", chartLegend+16, ly+28,
					esc(fmt.Sprintf("after one echo each: %.2f KiB/conn", e.SlopeKiB)))
			}
		}
		ly += 50
	}
	p("</svg>\n")
	return sb.String()
}

// niceCeil rounds v up to 1, 2, 2.5 or 5 times a power of ten.
func niceCeil(v float64) float64 {
	if v <= 0 {
		return 1
	}
	exp := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 2.5, 5, 10} {
		if m*exp >= v {
			return m * exp
		}
	}
	return 10 * exp
}

func trimFloat(v float64) string {
	return strings.TrimSuffix(strings.TrimRight(fmt.Sprintf("%.2f", v), "0"), ".")
}

func esc(s string) string { return html.EscapeString(s) }
