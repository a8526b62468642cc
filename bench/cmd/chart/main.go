// Command chart draws the results of cmd/compare as an SVG bar chart: for
// every scenario, each library's figure relative to the best peer's (the
// best of gorilla, coder, gobwas, gws and nbio is 1.0), so wspipe's bar
// reads directly as the ratio the goal is about (1.2).
//
//	go run ./cmd/chart -in results/full.json -out ../docs/benchmarks.svg
//
// Throughput rows compare messages (handshakes) per server CPU-second;
// the idle row compares resident memory per connection, inverted so that
// longer is better there too. No dependencies beyond the standard library.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"html"
	"math"
	"os"
	"strings"

	"github.com/wspipe/wspipe/bench/internal/report"
)

var colors = report.Colors

// color is lib's colour; wspipe at another revision is a lighter red.
func color(lib string) string {
	if report.IsRef(lib) {
		return "#ff9896"
	}
	return colors[lib]
}

func main() {
	in := flag.String("in", "results/full.json", "cmd/compare's JSON results")
	out := flag.String("out", "../docs/benchmarks.svg", "SVG file to write")
	flag.Parse()
	b, err := os.ReadFile(*in)
	if err != nil {
		fatal(err)
	}
	var rep report.Report
	if err := json.Unmarshal(b, &rep); err != nil {
		fatal(fmt.Errorf("%s: %w", *in, err))
	}
	svg, err := draw(&rep)
	if err != nil {
		fatal(err)
	}
	if err := os.WriteFile(*out, []byte(svg), 0o644); err != nil {
		fatal(err)
	}
}

func fatal(err error) {
	fmt.Fprintln(os.Stderr, "chart:", err)
	os.Exit(1)
}

// Layout, in pixels.
const (
	width    = 960
	left     = 250 // scenario labels
	right    = 70  // room for value labels
	top      = 92
	barH     = 11
	barGap   = 2
	groupGap = 16
	maxAxis  = 3.0 // longer bars are clipped, their value still printed
)

func draw(rep *report.Report) (string, error) {
	if len(rep.Scenarios) == 0 || len(rep.Libs) == 0 {
		return "", fmt.Errorf("no results to draw")
	}
	// Scale: up to the largest value shown, at least 1.4, at most maxAxis.
	axis := 1.4
	for _, s := range rep.Scenarios {
		_, best, ok := rep.BestPeer(s)
		if !ok {
			continue
		}
		for _, l := range rep.Libs {
			if v, ok := rep.Score(s.Name, l); ok {
				axis = max(axis, report.Advantage(s.Kind, v, best))
			}
		}
	}
	axis = min(math.Ceil(axis*5)/5, maxAxis)
	plotW := float64(width - left - right)
	x := func(v float64) float64 { return left + plotW*min(v, axis)/axis }

	groupH := len(rep.Libs)*(barH+barGap) + groupGap
	height := top + len(rep.Scenarios)*groupH + 70
	var sb strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&sb, format, args...) }
	p(`<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="11">`+"\n", width, height, width, height)
	p(`<rect width="100%%" height="100%%" fill="white"/>` + "\n")
	reps := ""
	if rep.Reps > 1 {
		reps = fmt.Sprintf(", medians of %d runs", rep.Reps)
	}
	p(`<text x="%d" y="22" font-size="15" font-weight="bold">%s</text>`+"\n", 10,
		esc("Echo servers relative to the best peer (= 1.0): messages per server CPU-second"))
	p(`<text x="%d" y="40" fill="#444">%s</text>`+"\n", 10, esc(fmt.Sprintf(
		"%s mode%s; %d CPUs (%s), Linux %s, %s; idle row: memory per connection, inverted (longer is better)",
		rep.Mode, reps, rep.Machine.NProc, rep.Machine.CPUModel, rep.Machine.Kernel,
		strings.TrimPrefix(rep.Machine.GoVersion, "go version "))))

	// Grid lines every 0.2, labelled every 0.4 (and 1.0 and 1.2 marked).
	plotBottom := top + len(rep.Scenarios)*groupH - groupGap/2
	for v := 0.0; v <= axis+1e-9; v += 0.2 {
		xx := x(v)
		stroke, dash, w := "#e4e4e4", "", 1.0
		switch {
		case math.Abs(v-1) < 1e-9:
			stroke, w = "#333", 1.5
		case math.Abs(v-1.2) < 1e-9:
			stroke, dash, w = "#d62728", ` stroke-dasharray="5,3"`, 1.5
		}
		p(`<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="%s" stroke-width="%.1f"%s/>`+"\n", xx, top-8, xx, plotBottom, stroke, w, dash)
		p(`<text x="%.1f" y="%d" text-anchor="middle" fill="#555">%.1f</text>`+"\n", xx, plotBottom+14, v)
	}
	p(`<text x="%.1f" y="%d" text-anchor="middle" fill="#d62728">goal 1.2</text>`+"\n", x(1.2), top-12)
	p(`<text x="%.1f" y="%d" text-anchor="middle" fill="#333">best peer</text>`+"\n", x(1.0), top-24)

	for i, s := range rep.Scenarios {
		y0 := top + i*groupH
		bestLib, best, ok := rep.BestPeer(s)
		label := s.Title
		p(`<text x="%d" y="%d" text-anchor="end" font-weight="bold">%s</text>`+"\n", left-8, y0+barH, esc(label))
		if ok {
			p(`<text x="%d" y="%d" text-anchor="end" fill="#555">best peer: %s</text>`+"\n", left-8, y0+barH+14, esc(bestLib))
		}
		if ok {
			if w, wok := rep.Score(s.Name, report.Subject); wok {
				r := report.Advantage(s.Kind, w, best)
				col := "#2ca02c"
				if r < 1.2 {
					col = "#d62728"
				}
				p(`<text x="%d" y="%d" text-anchor="end" fill="%s">wspipe/best = %.2f</text>`+"\n", left-8, y0+barH+28, col, r)
			}
		}
		for j, l := range rep.Libs {
			y := y0 + j*(barH+barGap)
			v, has := rep.Score(s.Name, l)
			if !has || !ok {
				c := rep.Cell(s.Name, l)
				why := "no figure"
				if c != nil && c.Median.Failed > 0 && c.Median.OK == 0 {
					why = "FAILED"
				}
				p(`<text x="%d" y="%d" fill="#999">%s: %s</text>`+"\n", left+4, y+barH-2, esc(l), why)
				continue
			}
			r := report.Advantage(s.Kind, v, best)
			opacity := "0.85"
			if l == report.Subject {
				opacity = "1"
			}
			p(`<rect x="%d" y="%d" width="%.1f" height="%d" fill="%s" fill-opacity="%s"><title>%s: %.2f</title></rect>`+"\n",
				left, y, x(r)-left, barH, color(l), opacity, esc(l), r)
			weight := ""
			if l == report.Subject {
				weight = ` font-weight="bold"`
			}
			txt := fmt.Sprintf("%s %.2f", l, r)
			if r > axis {
				txt += " ▸"
			}
			p(`<text x="%.1f" y="%d"%s>%s</text>`+"\n", x(r)+3, y+barH-2, weight, esc(txt))
		}
	}
	// Legend.
	ly := plotBottom + 34
	lx := left
	for _, l := range rep.Libs {
		p(`<rect x="%d" y="%d" width="12" height="12" fill="%s"/>`+"\n", lx, ly-10, color(l))
		name := l
		if l == report.Ceiling {
			name = "tcp (plain TCP echo, ceiling)"
		}
		p(`<text x="%d" y="%d">%s</text>`+"\n", lx+16, ly, esc(name))
		lx += 30 + 7*len(name)
	}
	p("</svg>\n")
	return sb.String(), nil
}

func esc(s string) string { return html.EscapeString(s) }
