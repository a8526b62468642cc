package load

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"time"
)

// RuntimeStats is what a benchserver's /stats endpoint reports, after a GC
// and returning free memory to the OS.
type RuntimeStats struct {
	HeapInuse  uint64 `json:"heap_inuse"`
	StackInuse uint64 `json:"stack_inuse"`
	HeapAlloc  uint64 `json:"heap_alloc"`
	Goroutines int    `json:"goroutines"`
	RSS        uint64 `json:"rss"`
}

// FetchStats asks a benchserver's stats endpoint (http://host:port).
func FetchStats(ctx context.Context, statsURL string) (RuntimeStats, error) {
	var s RuntimeStats
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, "GET", statsURL+"/stats", nil)
	if err != nil {
		return s, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return s, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return s, fmt.Errorf("stats: %s", resp.Status)
	}
	return s, json.NewDecoder(resp.Body).Decode(&s)
}

// IdleResult is the server's cost of idle connections: per-connection
// figures are after-minus-before differences divided by Conns.
type IdleResult struct {
	Conns           int     `json:"conns"`
	DialSeconds     float64 `json:"dial_s"`
	RSSKiBPerConn   float64 `json:"rss_kib_per_conn"`
	HeapKiBPerConn  float64 `json:"heap_kib_per_conn,omitempty"` // HeapInuse+StackInuse
	StackKiBPerConn float64 `json:"stack_kib_per_conn,omitempty"`
	GoroutinesPer   float64 `json:"goroutines_per_conn"`
	HasRuntime      bool    `json:"has_runtime"`
}

// Idle opens n connections (dialers at a time) and leaves them idle, then
// waits for the server to settle and reports what they cost it: RSS from
// /proc/<pid>/status, and, when statsURL is not empty, the Go heap, stacks
// and goroutines from the server's stats endpoint (which also runs a GC
// and returns free memory to the OS before each reading, so RSS is read
// right after it).
func Idle(ctx context.Context, t Target, n, dialers int, statsURL string) (IdleResult, error) {
	res := IdleResult{Conns: n, HasRuntime: statsURL != ""}
	read := func() (RuntimeStats, error) {
		var s RuntimeStats
		if statsURL != "" {
			var err error
			if s, err = FetchStats(ctx, statsURL); err != nil {
				return s, err
			}
		}
		rss, err := RSSBytes(t.PID)
		s.RSS = rss
		return s, err
	}
	before, err := read()
	if err != nil {
		return res, err
	}
	start := time.Now()
	clients, err := dialAll(ctx, t, n, dialers, 512)
	if err != nil {
		return res, err
	}
	defer func() {
		for _, cl := range clients {
			cl.c.Close()
		}
	}()
	res.DialSeconds = time.Since(start).Seconds()

	// Every client has its 101 (or, for TCP, is connected): wait until the
	// server's goroutines and RSS stop moving, at most 100 readings.
	var after RuntimeStats
	prev := RuntimeStats{Goroutines: -1}
	for i := 0; ; i++ {
		s, err := read()
		if err != nil {
			return res, err
		}
		if i >= 2 && s.Goroutines == prev.Goroutines &&
			absDiff(s.RSS, prev.RSS) <= prev.RSS/100 {
			after = s
			break
		}
		if i >= 100 || ctx.Err() != nil {
			return res, fmt.Errorf("server did not settle: %d goroutines, RSS %d KiB", s.Goroutines, s.RSS>>10)
		}
		prev = s
		sleep(ctx, 300*time.Millisecond)
	}
	per := func(a, b uint64) float64 { return (float64(a) - float64(b)) / float64(n) / 1024 }
	res.RSSKiBPerConn = per(after.RSS, before.RSS)
	if statsURL != "" {
		res.HeapKiBPerConn = per(after.HeapInuse+after.StackInuse, before.HeapInuse+before.StackInuse)
		res.StackKiBPerConn = per(after.StackInuse, before.StackInuse)
		res.GoroutinesPer = float64(after.Goroutines-before.Goroutines) / float64(n)
	}
	return res, nil
}

func absDiff(a, b uint64) uint64 {
	if a > b {
		return a - b
	}
	return b - a
}
