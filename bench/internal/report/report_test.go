package report

import (
	"slices"
	"testing"

	"github.com/wspipe/wspipe/bench/internal/load"
)

// TestRoundRatios pairs runs by repetition and leaves out failed ones.
func TestRoundRatios(t *testing.T) {
	echo := func(rep int, v float64) Run { return Run{Rep: rep, Echo: &load.Result{MsgsPerCPUSec: v}} }
	r := &Report{Cells: []Cell{
		{Scenario: "s", Lib: "c-epoll", Runs: []Run{echo(0, 300), echo(1, 240), {Rep: 2, Err: "x"}}},
		{Scenario: "s", Lib: "tcp", Runs: []Run{echo(0, 200), echo(1, 200), echo(2, 100)}},
	}}
	if got := r.RoundRatios("s", "c-epoll", "tcp"); !slices.Equal(got, []float64{1.5, 1.2}) {
		t.Fatalf("got %v, want [1.5 1.2]", got)
	}
	if !IsCeiling("c-uring") || IsPeer("c-epoll") || !IsPeer("nbio") || IsPeer("tcp") {
		t.Fatal("IsCeiling/IsPeer disagree with the lib kinds")
	}
}
