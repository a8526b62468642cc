// Package load is the load generator behind cmd/wsload: a lean WebSocket
// client (hand-written handshake and frames, every payload masked, every
// reply checked byte for byte) that drives one echo server and measures
// it from outside: messages per second, the server's CPU time from
// /proc/<pid>/stat, messages per server CPU-second, latency quantiles,
// resident memory of idle connections, handshakes per second.
//
// The same client talks to every server, so only the server differs.
package load

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// Scenario is a request/response or pipelined echo load.
type Scenario struct {
	// Conns is the number of connections, each driven by one goroutine.
	Conns int
	// Size is the payload size of every message, in bytes.
	Size int
	// InFlight is how many messages each connection keeps unanswered: 1
	// is request/response; more pipelines, sending a new message as each
	// reply arrives.
	InFlight int
	// Warmup runs the load unmeasured first; Duration is the measured
	// window.
	Warmup, Duration time.Duration
	// MaxPerConn bounds the messages a connection sends (0: 1<<30).
	MaxPerConn int64
}

// Result is what one scenario measured over its window.
type Result struct {
	Messages      int64   `json:"messages"`
	Seconds       float64 `json:"seconds"`
	MsgsPerSec    float64 `json:"msgs_per_sec"`
	ServerCPU     float64 `json:"server_cpu_s"`
	MsgsPerCPUSec float64 `json:"msgs_per_cpu_s"`
	ClientCPU     float64 `json:"client_cpu_s"`
	P50us         float64 `json:"p50_us"`
	P99us         float64 `json:"p99_us"`
	// Verified counts every reply checked byte for byte, warm-up and
	// drain included.
	Verified int64 `json:"verified"`
}

// patLen is the period of the payload pattern: odd, so that payloads of
// power-of-two sizes starting at different offsets all differ.
const patLen = 8191

// pattern holds 2*patLen random bytes, the same for a whole run.
var pattern = func() []byte {
	p := make([]byte, 2*patLen)
	rand.Read(p)
	return p
}()

// fill writes the payload of message seq of connection conn into p: the
// connection and sequence numbers, then the pattern from an offset both
// choose, so a reply sent to the wrong connection, or out of order, or
// from an earlier message, differs from what is expected.
func fill(p []byte, conn, seq uint64) {
	var hdr [16]byte
	binary.LittleEndian.PutUint64(hdr[:8], conn)
	binary.LittleEndian.PutUint64(hdr[8:], seq)
	i := copy(p, hdr[:])
	off := int((seq*7919 + conn*104729) % patLen)
	for i < len(p) {
		i += copy(p[i:], pattern[off:off+patLen])
		off = 0
	}
}

// Phases of a run.
const (
	phaseWarmup = iota
	phaseMeasure
	phaseDrain
)

// Throughput runs s against t and returns the measurement, or the first
// error of any connection: a reply that is missing, late past the end of
// the run, or differs from its request by a single byte fails the run.
func Throughput(ctx context.Context, t Target, s Scenario) (Result, error) {
	var res Result
	if s.Conns <= 0 || s.Size <= 0 || s.InFlight <= 0 || s.Duration <= 0 {
		return res, errors.New("scenario needs positive Conns, Size, InFlight and Duration")
	}
	maxPer := s.MaxPerConn
	if maxPer <= 0 {
		maxPer = 1 << 30
	}
	// Every connection's I/O must finish by this deadline.
	deadline := time.Now().Add(s.Warmup + s.Duration + 30*time.Second)
	ctx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()

	readBuf := min(max(s.Size+14, 4096), 64<<10)
	clients, err := dialAll(ctx, t, s.Conns, 16, readBuf)
	if err != nil {
		return res, err
	}

	var (
		phase    atomic.Int32
		measured atomic.Int64
		verified atomic.Int64
		errOnce  sync.Once
		firstErr error
		hists    = make([]hist, s.Conns)
		wg       sync.WaitGroup
	)
	fail := func(i int, err error) {
		errOnce.Do(func() { firstErr = fmt.Errorf("connection %d: %w", i, err) })
		phase.Store(phaseDrain)
		cancel()
	}
	stopAll := context.AfterFunc(ctx, func() {
		for _, cl := range clients {
			cl.c.SetDeadline(time.Now()) // unblock everything
		}
	})
	defer stopAll()

	for i, cl := range clients {
		cl.c.SetDeadline(deadline)
		wg.Go(func() {
			sent := make([][]byte, s.InFlight)
			times := make([]time.Time, s.InFlight)
			for j := range sent {
				sent[j] = make([]byte, s.Size)
			}
			buf := make([]byte, s.Size)
			h := &hists[i]
			var seq uint64
			next := func(slot int) error {
				fill(sent[slot], uint64(i), seq)
				seq++
				times[slot] = time.Now()
				return cl.send(sent[slot])
			}
			for slot := range sent {
				if err := next(slot); err != nil {
					fail(i, err)
					return
				}
			}
			outstanding, head := s.InFlight, 0
			sending := true
			for outstanding > 0 {
				if err := cl.receive(buf, sent[head]); err != nil {
					fail(i, err)
					return
				}
				outstanding--
				verified.Add(1)
				now := time.Now()
				ph := phase.Load()
				if ph == phaseMeasure {
					h.add(now.Sub(times[head]))
					measured.Add(1)
				}
				if sending && (ph == phaseDrain || int64(seq) >= maxPer) {
					sending = false
				}
				if sending {
					if err := next(head); err != nil {
						fail(i, err)
						return
					}
					outstanding++
				}
				head = (head + 1) % s.InFlight
			}
			// Every reply has arrived: end politely, within 2 s. How the
			// close goes is not part of the measurement.
			cl.c.SetDeadline(time.Now().Add(2 * time.Second))
			cl.closeHandshake()
		})
	}

	sleep(ctx, s.Warmup)
	cpu0, err0 := CPUSeconds(t.PID)
	self0, _ := CPUSeconds(os.Getpid())
	m0 := measured.Load()
	t0 := time.Now()
	phase.CompareAndSwap(phaseWarmup, phaseMeasure)
	sleep(ctx, s.Duration)
	phase.CompareAndSwap(phaseMeasure, phaseDrain)
	t1 := time.Now()
	m1 := measured.Load()
	cpu1, err1 := CPUSeconds(t.PID)
	self1, _ := CPUSeconds(os.Getpid())
	wg.Wait()
	if firstErr != nil {
		return res, firstErr
	}
	if err := errors.Join(err0, err1); err != nil {
		return res, fmt.Errorf("server CPU time: %w", err)
	}
	var all hist
	for i := range hists {
		all.merge(&hists[i])
	}
	res = Result{
		Messages:  m1 - m0,
		Seconds:   t1.Sub(t0).Seconds(),
		ServerCPU: cpu1 - cpu0,
		ClientCPU: self1 - self0,
		P50us:     float64(all.quantile(0.50)) / 1e3,
		P99us:     float64(all.quantile(0.99)) / 1e3,
		Verified:  verified.Load(),
	}
	if res.Messages == 0 {
		return res, errors.New("no reply in the measured window")
	}
	res.MsgsPerSec = float64(res.Messages) / res.Seconds
	if res.ServerCPU > 0 {
		res.MsgsPerCPUSec = float64(res.Messages) / res.ServerCPU
	}
	return res, nil
}

func sleep(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}

// dialAll opens n connections with up to dialers at a time.
func dialAll(ctx context.Context, t Target, n, dialers, readBuf int) ([]*client, error) {
	clients := make([]*client, n)
	var next atomic.Int64
	var wg sync.WaitGroup
	var once sync.Once
	var firstErr error
	for range max(1, min(dialers, n)) {
		wg.Go(func() {
			var d net.Dialer
			for {
				i := int(next.Add(1)) - 1
				if i >= n || ctx.Err() != nil {
					return
				}
				hctx, cancel := context.WithTimeout(ctx, 10*time.Second)
				cl, err := dial(hctx, &d, t, readBuf)
				cancel()
				if err != nil {
					once.Do(func() { firstErr = fmt.Errorf("connection %d: %w", i, err) })
					next.Store(int64(n))
					return
				}
				clients[i] = cl
			}
		})
	}
	wg.Wait()
	if firstErr == nil {
		firstErr = ctx.Err()
	}
	if firstErr != nil {
		for _, cl := range clients {
			if cl != nil {
				cl.c.Close()
			}
		}
		return nil, firstErr
	}
	return clients, nil
}
