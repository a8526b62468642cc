//go:build linux

package main

import (
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/wspipe/wspipe/bench/internal/report"
)

// table is a header row and body rows of cells.
type table struct {
	title string
	head  []string
	rows  [][]string
	foot  string
}

func (t table) write(w io.Writer, md bool) {
	if md {
		fmt.Fprintf(w, "**%s**\n\n", t.title)
		fmt.Fprintf(w, "| %s |\n", strings.Join(t.head, " | "))
		seps := make([]string, len(t.head))
		for i := range seps {
			seps[i] = "---:"
		}
		seps[0] = "---"
		fmt.Fprintf(w, "|%s|\n", strings.Join(seps, "|"))
		for _, r := range t.rows {
			fmt.Fprintf(w, "| %s |\n", strings.Join(r, " | "))
		}
		if t.foot != "" {
			fmt.Fprintf(w, "\n%s\n", t.foot)
		}
		fmt.Fprintln(w)
		return
	}
	fmt.Fprintf(w, "\n%s\n", t.title)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "%s\t\n", strings.Join(t.head, "\t"))
	for _, r := range t.rows {
		fmt.Fprintf(tw, "%s\t\n", strings.Join(r, "\t"))
	}
	tw.Flush()
	if t.foot != "" {
		fmt.Fprintln(w, t.foot)
	}
}

// anyFailed reports whether some run of the report failed.
func anyFailed(rep *report.Report) bool {
	for _, c := range rep.Cells {
		if c.Median.Failed > 0 {
			return true
		}
	}
	return false
}

// num formats a figure with three significant digits or so.
func num(v float64) string {
	switch a := math.Abs(v); {
	case math.IsNaN(v):
		return "n/a"
	case a >= 1e6:
		return fmt.Sprintf("%.2fM", v/1e6)
	case a >= 1e4:
		return fmt.Sprintf("%.1fk", v/1e3)
	case a >= 100:
		return fmt.Sprintf("%.0f", v)
	case a >= 10:
		return fmt.Sprintf("%.1f", v)
	default:
		return fmt.Sprintf("%.2f", v)
	}
}

func ratio(v float64) string {
	if math.IsNaN(v) || v == 0 {
		return "n/a"
	}
	return fmt.Sprintf("%.2f", v)
}

// cellText is a cell's value by get, or why there is none; "!" marks a
// cell where some runs failed.
func cellText(rep *report.Report, s report.Scenario, lib string, get func(report.Summary) string) string {
	c := rep.Cell(s.Name, lib)
	if c == nil {
		return "-"
	}
	if c.Median.OK == 0 {
		return "FAIL"
	}
	t := get(c.Median)
	if c.Median.Failed > 0 {
		t += "!"
	}
	return t
}

func printTables(w io.Writer, rep *report.Report, md bool) {
	var throughput, idle []report.Scenario
	for _, s := range rep.Scenarios {
		if s.Kind == report.KindIdle {
			idle = append(idle, s)
		} else {
			throughput = append(throughput, s)
		}
	}
	var peers []string
	for _, l := range rep.Libs {
		if report.IsPeer(l) {
			peers = append(peers, l)
		}
	}
	hasSubject := false
	var rawLibs []string // the raw TCP ceilings in this run besides tcp (go-epoll, the C servers)
	for _, l := range rep.Libs {
		hasSubject = hasSubject || l == report.Subject
		if report.IsCeiling(l) && l != report.Ceiling {
			rawLibs = append(rawLibs, l)
		}
	}
	median := ""
	if rep.Reps > 1 {
		median = fmt.Sprintf(", median of %d", rep.Reps)
	}

	// Messages per server CPU-second, with the best peer and the ratio.
	if len(throughput) > 0 {
		t := table{
			title: "Messages (handshakes) per server CPU-second" + median + "; higher is better",
			head:  append(append([]string{"scenario"}, rep.Libs...), "best peer", "wspipe/best"),
		}
		if anyFailed(rep) {
			t.foot = "! some runs failed (see the notes); FAIL: every run failed."
		}
		for _, s := range throughput {
			row := []string{s.Title}
			for _, l := range rep.Libs {
				row = append(row, cellText(rep, s, l, func(m report.Summary) string { return num(m.Score) }))
			}
			bl, bv, ok := rep.BestPeer(s)
			wv, wok := rep.Score(s.Name, report.Subject)
			if ok {
				row = append(row, bl)
			} else {
				row = append(row, "n/a")
			}
			if ok && wok {
				row = append(row, ratio(report.Advantage(s.Kind, wv, bv)))
			} else {
				row = append(row, "n/a")
			}
			t.rows = append(t.rows, row)
		}
		t.write(w, md)
	}

	// wspipe against each peer.
	if hasSubject && len(peers) > 0 {
		t := table{
			title: "wspipe's advantage over each peer (messages per CPU-second ratio; idle: memory ratio, peer/wspipe); the goal is ≥ 1.20 against the best",
			head:  append(append(append([]string{"scenario"}, peers...), "vs best peer", "vs tcp ceiling"), prefixed("vs ", rawLibs)...),
		}
		for _, s := range rep.Scenarios {
			row := []string{s.Title}
			wv, wok := rep.Score(s.Name, report.Subject)
			for _, p := range peers {
				pv, pok := rep.Score(s.Name, p)
				if wok && pok {
					row = append(row, ratio(report.Advantage(s.Kind, wv, pv)))
				} else {
					row = append(row, "n/a")
				}
			}
			_, bv, ok := rep.BestPeer(s)
			if ok && wok {
				r := report.Advantage(s.Kind, wv, bv)
				mark := ""
				if r < 1.2 {
					mark = " ✗"
				}
				row = append(row, ratio(r)+mark)
			} else {
				row = append(row, "n/a")
			}
			for _, c := range append([]string{report.Ceiling}, rawLibs...) {
				// No idle-memory ratio against these ceilings: a C
				// server's is the kernel's, which RSS does not show, and
				// go-epoll keeps as little (no WebSocket state).
				if c != report.Ceiling && s.Kind == report.KindIdle {
					row = append(row, "n/a")
					continue
				}
				if tv, tok := rep.Score(s.Name, c); tok && wok {
					row = append(row, ratio(report.Advantage(s.Kind, wv, tv)))
				} else {
					row = append(row, "n/a")
				}
			}
			t.rows = append(t.rows, row)
		}
		t.write(w, md)
	}

	// wspipe against itself at -wspipe-ref, round by round.
	for _, ref := range rep.Libs {
		if !report.IsRef(ref) || !hasSubject {
			continue
		}
		t := table{
			title: fmt.Sprintf("wspipe (working tree) against %s: messages (handshakes) per server CPU-second ratio, idle: memory ratio (%s ÷ wspipe); above 1 is better for the working tree", ref, ref),
			head:  []string{"scenario", "median over rounds", "rounds"},
			foot:  "Per-round ratios: both measured in the same repetition, the library order rotated between repetitions.",
		}
		for _, s := range rep.Scenarios {
			rs := rep.RoundAdvantages(s, report.Subject, ref)
			row := []string{s.Title, "n/a", ""}
			if len(rs) > 0 {
				row[1] = ratio(report.Median(rs))
				parts := make([]string, len(rs))
				for i, v := range rs {
					parts[i] = ratio(v)
				}
				row[2] = strings.Join(parts, " ")
			}
			t.rows = append(t.rows, row)
		}
		t.write(w, md)
	}

	// The raw TCP ceilings (and wspipe, and the best peer) against Go's
	// goroutine TCP echo, round by round.
	if len(rawLibs) > 0 && len(throughput) > 0 {
		var cols []string
		for _, l := range rep.Libs {
			if l != report.Ceiling && (report.IsCeiling(l) || l == report.Subject || report.IsRef(l)) {
				cols = append(cols, l)
			}
		}
		t := table{
			title: "Against the Go goroutine TCP echo (tcp = 1.00): messages (handshakes) per server CPU-second ratio, median over rounds",
			head:  append(append([]string{"scenario"}, cols...), "best peer"),
			foot: "Each cell is the median of the per-round ratios (both servers measured in the same repetition), " +
				"with their range when there are several rounds. c-epoll and c-uring: single-threaded C raw TCP echoes (internal/servers/c).",
		}
		for _, s := range throughput {
			row := []string{s.Title}
			for _, l := range cols {
				row = append(row, roundRatio(rep, s.Name, l, report.Ceiling))
			}
			if bl, _, ok := rep.BestPeer(s); ok {
				row = append(row, bl+" "+roundRatio(rep, s.Name, bl, report.Ceiling))
			} else {
				row = append(row, "n/a")
			}
			t.rows = append(t.rows, row)
		}
		t.write(w, md)
	}

	// Raw rates.
	if len(throughput) > 0 {
		t := table{
			title: "Messages (handshakes) per second" + median + " (bounded by whichever side is slower: compare per CPU-second above)",
			head:  append([]string{"scenario"}, rep.Libs...),
		}
		for _, s := range throughput {
			row := []string{s.Title}
			for _, l := range rep.Libs {
				row = append(row, cellText(rep, s, l, func(m report.Summary) string { return num(m.PerSec) }))
			}
			t.rows = append(t.rows, row)
		}
		t.write(w, md)

		t = table{
			title: "Latency p50 / p99 in µs" + median + " (echo: send to reply; handshake: connect to 101)",
			head:  append([]string{"scenario"}, rep.Libs...),
		}
		for _, s := range throughput {
			row := []string{s.Title}
			for _, l := range rep.Libs {
				row = append(row, cellText(rep, s, l, func(m report.Summary) string {
					return num(m.P50us) + " / " + num(m.P99us)
				}))
			}
			t.rows = append(t.rows, row)
		}
		t.write(w, md)
	}

	for _, s := range idle {
		t := table{
			title: fmt.Sprintf("%d idle connections: server cost per connection", s.Conns),
			head:  []string{"lib", "RSS KiB/conn", "Go heap+stacks KiB/conn", "of which stacks", "goroutines/conn"},
			foot: "RSS from /proc/<pid>/status; heap, stacks and goroutines from runtime.MemStats in the server (after a GC and debug.FreeOSMemory). wspipe: benchserver's in-process copy of cmd/echo." +
				" The C servers (if any) keep a connection's state in the kernel, which RSS does not count.",
		}
		for _, l := range rep.Libs {
			c := rep.Cell(s.Name, l)
			if c == nil {
				continue
			}
			if c.Median.OK == 0 {
				t.rows = append(t.rows, []string{l, "FAIL", "", "", ""})
				continue
			}
			if !c.Median.HasRuntime {
				t.rows = append(t.rows, []string{l, num(c.Median.RSSKiB), "n/a", "n/a", "n/a"})
				continue
			}
			t.rows = append(t.rows, []string{l, num(c.Median.RSSKiB), num(c.Median.HeapKiB), num(c.Median.StackKiB), num(c.Median.Goroutines)})
		}
		t.write(w, md)
	}

	if len(rep.Notes) > 0 {
		if md {
			fmt.Fprintln(w, "**Notes**")
			fmt.Fprintln(w)
			for _, n := range rep.Notes {
				fmt.Fprintf(w, "- %s\n", n)
			}
			fmt.Fprintln(w)
		} else {
			fmt.Fprintln(w, "\nNotes:")
			for _, n := range rep.Notes {
				fmt.Fprintf(w, "- %s\n", n)
			}
		}
	}
	m := rep.Machine
	fmt.Fprintf(w, "\nMachine: %d CPUs (%s), Linux %s, %s; commit %s; %s; GOMAXPROCS server %d, load generator %d; load average %s at start, %s at end; %s mode, %d repetition(s), %.0f s.\n",
		m.NProc, m.CPUModel, m.Kernel, m.GoVersion, m.Commit, m.Pinning, m.ServerGOMAXPROCS, m.ClientGOMAXPROCS,
		m.LoadAvgStart, m.LoadAvgEnd, rep.Mode, rep.Reps, rep.Elapsed)
}

// prefixed returns each of names with prefix in front.
func prefixed(prefix string, names []string) []string {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = prefix + n
	}
	return out
}

// roundRatio is the median of a's per-round ratios to b in scenario, with
// their range when there are several.
func roundRatio(rep *report.Report, scenario, a, b string) string {
	rs := rep.RoundRatios(scenario, a, b)
	switch len(rs) {
	case 0:
		return "n/a"
	case 1:
		return ratio(rs[0])
	}
	return fmt.Sprintf("%s (%s–%s)", ratio(report.Median(rs)), ratio(slices.Min(rs)), ratio(slices.Max(rs)))
}
