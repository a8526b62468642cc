//go:build linux

package main

import (
	"math"
	"strings"
	"testing"
)

func TestLeastSquares(t *testing.T) {
	// y = 300 + 5x exactly, then with noise that cancels.
	a, b, r2 := leastSquares([]float64{2000, 5000, 10000, 18500}, []float64{10300, 25300, 50300, 92800})
	if math.Abs(a-300) > 1e-6 || math.Abs(b-5) > 1e-9 || math.Abs(r2-1) > 1e-12 {
		t.Fatalf("exact line: a=%v b=%v r2=%v", a, b, r2)
	}
	a, b, _ = leastSquares([]float64{1, 2, 3, 4}, []float64{1, 3, 3, 5})
	if math.Abs(b-1.2) > 1e-9 || math.Abs(a-0) > 1e-9 {
		t.Fatalf("noisy line: a=%v b=%v, want 0 and 1.2", a, b)
	}
	if _, b, _ := leastSquares([]float64{5, 5}, []float64{1, 2}); !math.IsNaN(b) {
		t.Fatalf("one distinct x gave slope %v, want NaN", b)
	}
}

func TestParseCounts(t *testing.T) {
	ns, err := parseCounts("2000,5000,max", 20000)
	if err != nil || len(ns) != 3 || ns[2] != 18500 {
		t.Fatalf("got %v, %v; want [2000 5000 18500]", ns, err)
	}
	for _, bad := range []string{"", "0", "-5", "x", "max"} {
		if _, err := parseCounts(bad, 1000); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

// TestFitAndDraw fits made-up readings and draws them: one fit per
// library and figure, projections from the fit, one line and two circles
// per point in the chart.
func TestFitAndDraw(t *testing.T) {
	var rows []result
	for _, n := range []int{2000, 5000, 10000} {
		for lib, perConn := range map[string]uint64{"wspipe": 5 << 10, "nbio": 1 << 10} {
			r := result{lib: lib, conns: n, echoed: true}
			r.before = stats{RSS: 10 << 20, HeapInuse: 4 << 20}
			r.after = stats{RSS: r.before.RSS + uint64(n)*perConn, HeapInuse: r.before.HeapInuse + uint64(n)*perConn/2}
			r.afterEcho = r.after
			rows = append(rows, r)
		}
	}
	fits := fitAll([]string{"wspipe", "nbio"}, rows)
	if len(fits) != 6 {
		t.Fatalf("%d fits, want 6: %+v", len(fits), fits)
	}
	f, ok := findFit(fits, "wspipe", "rss")
	if !ok || math.Abs(f.SlopeKiB-5) > 1e-9 || math.Abs(f.MillionGiB-5e6/(1<<20)) > 1e-6 {
		t.Fatalf("wspipe rss fit %+v", f)
	}
	svg := drawSweep(newSweep(rows, fits, 20000, 0))
	if !strings.HasPrefix(svg, "<svg") || strings.Count(svg, "<circle") != 12 || !strings.Contains(svg, "5.00 KiB/conn") {
		t.Fatalf("unexpected chart:\n%s", svg)
	}
}
