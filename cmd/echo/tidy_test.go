package main

import (
	"context"
	"runtime"
	"runtime/metrics"
	"testing"
	"time"
)

// Every metric tidy reads exists in this runtime, as a count of bytes: a
// misspelt or retired name would read as zero and turn tidying off.
func TestTidyMetricsExist(t *testing.T) {
	samples := make([]metrics.Sample, len(memMetrics))
	for i, name := range memMetrics {
		samples[i].Name = name
	}
	runtime.GC() // live is counted by a collection
	metrics.Read(samples)
	for _, s := range samples {
		if s.Value.Kind() != metrics.KindUint64 {
			t.Errorf("%s: kind %v, want a uint64", s.Name, s.Value.Kind())
		}
	}
	m := readMem(samples)
	if m.total == 0 || m.objects == 0 || m.allocs == 0 || m.live == 0 {
		t.Errorf("sample %+v has zeros where a running program has bytes", m)
	}
}

func TestShouldTidy(t *testing.T) {
	const mib = 1 << 20
	base := memSample{free: 0, objects: 20 * mib, live: 20 * mib, total: 40 * mib, allocs: 100 * mib}
	with := func(f func(*memSample)) memSample { m := base; f(&m); return m }
	for _, tc := range []struct {
		name string
		cur  memSample
		want bool
	}{
		{"nothing to free", base, false},
		{"free pages, quiet", with(func(m *memSample) { m.free = 6 * mib }), true},
		{"garbage, quiet", with(func(m *memSample) { m.objects += 6 * mib; m.total += 6 * mib }), true},
		{"free pages and garbage together", with(func(m *memSample) { m.free = 3 * mib; m.objects += 3 * mib }), true},
		{"under 2 MiB", with(func(m *memSample) { m.free = mib + mib/2; m.total = 10 * mib }), false},
		{"under a sixteenth of the total", with(func(m *memSample) { m.free = 6 * mib; m.total = 100 * mib }), false},
		{"still allocating", with(func(m *memSample) { m.free = 6 * mib; m.allocs += 2 * mib }), false},
		{"allocating a little", with(func(m *memSample) { m.free = 6 * mib; m.allocs += mib / 2 }), true},
		{"live above objects (a sample between a sweep's steps)", with(func(m *memSample) { m.free = 6 * mib; m.live = m.objects + mib }), true},
	} {
		if got := shouldTidy(base, tc.cur); got != tc.want {
			t.Errorf("%s: shouldTidy = %v, want %v (reclaimable %d)", tc.name, got, tc.want, tc.cur.reclaimable())
		}
	}
}

// tidy frees once a burst is over, not while it goes on, and not again
// once the memory is returned; it ends with its context.
func TestTidyLoop(t *testing.T) {
	const mib = 1 << 20
	idle := memSample{objects: 20 * mib, live: 20 * mib, total: 40 * mib, allocs: 100 * mib}
	burst := idle
	burst.free, burst.allocs = 8*mib, 130*mib // allocating: not yet
	after := burst                            // the burst is over
	samples := []memSample{idle, burst, after, idle, idle}
	read := 0
	frees := 0
	readFn := func() memSample {
		m := samples[min(read, len(samples)-1)]
		read++
		return m
	}
	tick := make(chan time.Time)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		tidy(ctx, tick, readFn, func() { frees++ })
		close(done)
	}()
	for range 4 {
		tick <- time.Time{}
	}
	cancel()
	<-done
	// Reads: the first, burst (no), after (yes, then one more read,
	// idle), idle (no), idle (no).
	if frees != 1 {
		t.Errorf("freed %d times, want once", frees)
	}
	if read != 6 {
		t.Errorf("read %d samples, want 6", read)
	}
}
