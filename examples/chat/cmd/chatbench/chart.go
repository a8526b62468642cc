package main

import (
	"encoding/json"
	"fmt"
	"html"
	"math"
	"os"
	"slices"
	"strings"
)

// drawChart draws the results in the JSON file in as an SVG in out: three
// panels (delivered messages per second; latency p50 and p99; chat node
// CPU per delivered message), each with a group of bars per room size and
// a bar per chat node count. With several offered loads, the lowest is
// drawn: the one the machine carries, whose latencies mean something.
func drawChart(in, out string) error {
	b, err := os.ReadFile(in)
	if err != nil {
		return err
	}
	var rep Report
	if err := json.Unmarshal(b, &rep); err != nil {
		return fmt.Errorf("%s: %w", in, err)
	}
	load := math.Inf(1)
	for _, r := range rep.Results {
		load = min(load, r.Offered)
	}
	var rs []Result
	var sizes, nodes []int
	for _, r := range rep.Results {
		if r.Offered != load {
			continue
		}
		rs = append(rs, r)
		if !slices.Contains(sizes, r.RoomSize) {
			sizes = append(sizes, r.RoomSize)
		}
		if !slices.Contains(nodes, r.Nodes) {
			nodes = append(nodes, r.Nodes)
		}
	}
	if len(rs) == 0 {
		return fmt.Errorf("%s: no results", in)
	}
	slices.Sort(sizes)
	slices.Sort(nodes)
	find := func(size, n int) *Result {
		for i := range rs {
			if rs[i].RoomSize == size && rs[i].Nodes == n {
				return &rs[i]
			}
		}
		return nil
	}
	colors := []string{"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd"}

	const (
		width, height = 960, 380
		panelW        = 290
		top, bottom   = 92, 60
		plotH         = height - top - bottom
	)
	var s strings.Builder
	fmt.Fprintf(&s, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="12">`+"\n", width, height, width, height)
	fmt.Fprintf(&s, `<rect width="%d" height="%d" fill="white"/>`+"\n", width, height)
	fmt.Fprintf(&s, `<text x="%d" y="22" font-size="15" font-weight="bold" text-anchor="middle">%s</text>`+"\n", width/2,
		html.EscapeString(fmt.Sprintf("examples/chat on NATS: %d members, %.0f deliveries/s offered, 1 to %d chat nodes", rs[0].Members, load, nodes[len(nodes)-1])))
	fmt.Fprintf(&s, `<text x="%d" y="40" fill="#555" text-anchor="middle">%s</text>`+"\n", width/2,
		html.EscapeString(fmt.Sprintf("%s; %s, everything on one machine; bars: chat node count per room size", rep.Machine, rep.Date)))
	// Legend.
	for i, n := range nodes {
		x := width/2 - len(nodes)*45 + i*90
		fmt.Fprintf(&s, `<rect x="%d" y="50" width="12" height="12" fill="%s"/><text x="%d" y="61">%d node%s</text>`+"\n",
			x, colors[i%len(colors)], x+16, n, map[bool]string{true: "", false: "s"}[n == 1])
	}

	type panel struct {
		title string
		value func(r *Result) float64
		mark  func(r *Result) float64 // a tick on the bar (p50 on the latency bars), or nil
		unit  string
	}
	panels := []panel{
		{"delivered messages/s", func(r *Result) float64 { return r.Delivered }, nil, ""},
		{"latency p99 (tick: p50), ms", func(r *Result) float64 { return r.P99us / 1000 }, func(r *Result) float64 { return r.P50us / 1000 }, ""},
		{"chat node CPU µs per delivery", func(r *Result) float64 { return r.ChatUSPerD }, nil, ""},
	}
	for pi, p := range panels {
		x0 := 40 + pi*(panelW+25)
		var top1 float64
		for i := range rs {
			top1 = max(top1, p.value(&rs[i]))
		}
		top1 = niceCeil(top1)
		fmt.Fprintf(&s, `<text x="%d" y="%d" font-weight="bold" text-anchor="middle">%s</text>`+"\n", x0+panelW/2, top-8, html.EscapeString(p.title))
		fmt.Fprintf(&s, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="#999"/>`+"\n", x0, top+plotH, x0+panelW, top+plotH)
		for k := 0; k <= 4; k++ {
			v := top1 * float64(k) / 4
			y := top + plotH - int(float64(plotH)*float64(k)/4)
			fmt.Fprintf(&s, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="#eee"/><text x="%d" y="%d" fill="#555" font-size="10" text-anchor="end">%s</text>`+"\n",
				x0, y, x0+panelW, y, x0-3, y+3, short(v))
		}
		groupW := panelW / len(sizes)
		barW := (groupW - 14) / len(nodes)
		for gi, size := range sizes {
			gx := x0 + gi*groupW + 7
			for ni, n := range nodes {
				r := find(size, n)
				if r == nil {
					continue
				}
				v := p.value(r)
				h := int(float64(plotH) * v / top1)
				x := gx + ni*barW
				fmt.Fprintf(&s, `<rect x="%d" y="%d" width="%d" height="%d" fill="%s"><title>%s</title></rect>`+"\n",
					x, top+plotH-h, barW-2, h, colors[ni%len(colors)], html.EscapeString(fmt.Sprintf("%d nodes, rooms of %d: %s", n, size, short(v))))
				if p.mark != nil {
					y := top + plotH - int(float64(plotH)*p.mark(r)/top1)
					fmt.Fprintf(&s, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="black" stroke-width="2"/>`+"\n", x, y, x+barW-2, y)
				}
			}
			fmt.Fprintf(&s, `<text x="%d" y="%d" text-anchor="middle">%s</text>`+"\n", gx+(groupW-14)/2, top+plotH+16, html.EscapeString(fmt.Sprintf("rooms of %d", size)))
		}
	}
	s.WriteString("</svg>\n")
	return os.WriteFile(out, []byte(s.String()), 0o644)
}

// niceCeil rounds v up to 1, 2 or 5 times a power of ten.
func niceCeil(v float64) float64 {
	if v <= 0 {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 5, 10} {
		if v <= m*p {
			return m * p
		}
	}
	return 10 * p
}

// short formats v for an axis label.
func short(v float64) string {
	switch {
	case v >= 1e6:
		return fmt.Sprintf("%.3gM", v/1e6)
	case v >= 1e3:
		return fmt.Sprintf("%.3gk", v/1e3)
	default:
		return fmt.Sprintf("%.3g", v)
	}
}
