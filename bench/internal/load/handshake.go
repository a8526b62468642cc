package load

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// HandshakeResult measures complete connection lifecycles: TCP connect,
// opening handshake, close handshake.
type HandshakeResult struct {
	Handshakes int64   `json:"handshakes"`
	Parallel   int     `json:"parallel"`
	Seconds    float64 `json:"seconds"`
	PerSec     float64 `json:"per_sec"`
	ServerCPU  float64 `json:"server_cpu_s"`
	PerCPUSec  float64 `json:"per_cpu_s"`
	ClientCPU  float64 `json:"client_cpu_s"`
	P50us      float64 `json:"p50_us"` // connect to 101 received
	P99us      float64 `json:"p99_us"`
}

// Handshakes runs warm unmeasured lifecycles, then n measured ones,
// parallel at a time. Each lifecycle dials, upgrades (checking the 101
// and Sec-WebSocket-Accept), sends a close frame and waits for the
// server's close frame or the end of the connection. For a plain TCP
// target it dials, sends the upgrade request and reads the same bytes
// back. Any failure fails the run.
func Handshakes(ctx context.Context, t Target, n, warm, parallel int) (HandshakeResult, error) {
	res := HandshakeResult{Parallel: parallel}
	if n <= 0 || parallel <= 0 {
		return res, errors.New("handshakes: n and parallel must be positive")
	}
	run := func(count int, h *hist) error {
		var next atomic.Int64
		var wg sync.WaitGroup
		var mu sync.Mutex
		var firstErr error
		for range min(parallel, count) {
			wg.Go(func() {
				var d net.Dialer
				var local hist
				defer func() {
					mu.Lock()
					h.merge(&local)
					mu.Unlock()
				}()
				for {
					i := next.Add(1) - 1
					if i >= int64(count) || ctx.Err() != nil {
						return
					}
					if err := lifecycle(ctx, &d, t, &local); err != nil {
						mu.Lock()
						if firstErr == nil {
							firstErr = fmt.Errorf("handshake %d: %w", i, err)
						}
						mu.Unlock()
						next.Store(int64(count))
						return
					}
				}
			})
		}
		wg.Wait()
		if firstErr == nil {
			firstErr = ctx.Err()
		}
		return firstErr
	}
	var h hist
	if warm > 0 {
		if err := run(warm, &h); err != nil {
			return res, err
		}
	}
	h = hist{}
	cpu0, err0 := CPUSeconds(t.PID)
	self0, _ := CPUSeconds(os.Getpid())
	t0 := time.Now()
	if err := run(n, &h); err != nil {
		return res, err
	}
	res.Seconds = time.Since(t0).Seconds()
	cpu1, err1 := CPUSeconds(t.PID)
	self1, _ := CPUSeconds(os.Getpid())
	if err := errors.Join(err0, err1); err != nil {
		return res, err
	}
	res.Handshakes = int64(n)
	res.PerSec = float64(n) / res.Seconds
	res.ServerCPU = cpu1 - cpu0
	res.ClientCPU = self1 - self0
	if res.ServerCPU > 0 {
		res.PerCPUSec = float64(n) / res.ServerCPU
	}
	res.P50us = float64(h.quantile(0.5)) / 1e3
	res.P99us = float64(h.quantile(0.99)) / 1e3
	return res, nil
}

// lifecycle is one measured connection, bounded by 10 s.
func lifecycle(ctx context.Context, d *net.Dialer, t Target, h *hist) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	start := time.Now()
	if t.TCP {
		cl, err := dial(ctx, d, t, 512)
		if err != nil {
			return err
		}
		defer cl.c.Close()
		dl, _ := ctx.Deadline()
		cl.c.SetDeadline(dl)
		req, _ := t.upgradeRequest()
		if err := cl.send(req); err != nil {
			return err
		}
		buf := make([]byte, len(req))
		if err := cl.receive(buf, req); err != nil {
			return err
		}
		h.add(time.Since(start))
		return nil
	}
	cl, err := dial(ctx, d, t, 512)
	if err != nil {
		return err
	}
	h.add(time.Since(start))
	dl, _ := ctx.Deadline()
	cl.c.SetDeadline(dl)
	return cl.closeHandshake()
}
