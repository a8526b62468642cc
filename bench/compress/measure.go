package compress

import (
	"context"
	"fmt"
	"runtime"
	"sort"
	"sync"
	"time"
)

// EchoResult is one measured window of round trips against one server.
type EchoResult struct {
	Server  string
	Size    int
	N       int           // round trips measured
	Elapsed time.Duration // wall time of the N round trips
	// Per round trip (one message each way):
	NsPerRT     float64 // wall nanoseconds
	MBps        float64 // Size bytes per round trip, in MB/s (10^6)
	SrvAllocs   float64 // server heap objects allocated
	SrvBytes    float64 // server heap bytes allocated
	SrvCPUNs    float64 // server CPU nanoseconds (user + system)
	CliAllocs   float64 // client heap objects allocated (this process)
	CliCPUNs    float64 // client CPU nanoseconds (this process, user + system)
	WireDown    float64 // TCP payload bytes server -> client (the server's compression)
	WireUp      float64 // TCP payload bytes client -> server
	Extensions  string  // the server's answer
	WarmupTrips int
}

// EchoWarmup is the number of round trips before a window, to fill pools
// and windows.
const EchoWarmup = 64

// RunEcho opens one connection to ch's server, warms it up, then does
// round trips with messages of size bytes (cycling Messages(size)) for dur
// or maxN round trips, whichever ends first, and reports per round trip
// figures. Every echo is checked byte for byte.
func RunEcho(ctx context.Context, ch *Child, size int, dur time.Duration, maxN int) (EchoResult, error) {
	res := EchoResult{Server: ch.Server.Name, Size: size, WarmupTrips: EchoWarmup}
	msgs := Messages(size)
	c, err := Dial(ctx, ch.URL, ch.Server)
	if err != nil {
		return res, err
	}
	defer c.Close()
	res.Extensions = c.Extensions
	i := 0
	for ; i < EchoWarmup; i++ {
		if err := c.RoundTrip(ctx, msgs[i%len(msgs)]); err != nil {
			return res, fmt.Errorf("%s: warm-up: %w", ch.Server.Name, err)
		}
	}
	before, err := ch.Stats(false)
	if err != nil {
		return res, err
	}
	down0, up0, err := c.WireBytes()
	if err != nil {
		return res, err
	}
	var m0, m1 runtime.MemStats
	runtime.ReadMemStats(&m0)
	cpu0 := cpuTime()
	start := time.Now()
	n := 0
	for n < maxN && (n&15 != 0 || time.Since(start) < dur) {
		if err := c.RoundTrip(ctx, msgs[i%len(msgs)]); err != nil {
			return res, fmt.Errorf("%s: round trip %d: %w", ch.Server.Name, n, err)
		}
		i++
		n++
	}
	res.Elapsed = time.Since(start)
	cpu1 := cpuTime()
	runtime.ReadMemStats(&m1)
	down1, up1, err := c.WireBytes()
	if err != nil {
		return res, err
	}
	after, err := ch.Stats(false)
	if err != nil {
		return res, err
	}
	mallocs, bytes := ch.AllocDelta(before, after)
	fn := float64(n)
	res.N = n
	res.NsPerRT = float64(res.Elapsed.Nanoseconds()) / fn
	res.MBps = float64(size) * fn / res.Elapsed.Seconds() / 1e6
	res.SrvAllocs = float64(mallocs) / fn
	res.SrvBytes = float64(bytes) / fn
	res.SrvCPUNs = float64((after.CPU - before.CPU).Nanoseconds()) / fn
	res.CliAllocs = float64(m1.Mallocs-m0.Mallocs) / fn
	res.CliCPUNs = float64((cpu1 - cpu0).Nanoseconds()) / fn
	res.WireDown = float64(down1-down0) / fn
	res.WireUp = float64(up1-up0) / fn
	return res, nil
}

// IdleResult is the memory an idle server holds per connection.
type IdleResult struct {
	Server     string
	Conns      int
	HeapPerCx  float64 // HeapInuse growth per connection, after GC
	StackPerCx float64 // goroutine stack growth per connection
	RSSPerCx   float64 // RSS growth per connection, after GC and FreeOSMemory
	Goroutines float64 // goroutine growth per connection
	WireDown   float64 // mean TCP bytes per burst message, server -> client
	Base       Stats   // the child before the connections
	Loaded     Stats   // and with them, idle
	Extensions string
}

// Burst is the traffic each connection exchanges before going idle.
const (
	BurstMessages = 10
	BurstSize     = 4 << 10
)

// RunIdle starts a fresh child for srv, warms it with one connection that
// exchanges a burst and closes, reads its heap and RSS after GC, then opens
// conns connections, each exchanging BurstMessages messages of BurstSize
// bytes each way (so windows and compressors are populated), lets them go
// idle, and reads the heap and RSS again. The child is stopped afterwards.
func RunIdle(ctx context.Context, srv Server, conns int) (IdleResult, error) {
	res := IdleResult{Server: srv.Name, Conns: conns}
	ch, err := StartChild(srv)
	if err != nil {
		return res, err
	}
	defer ch.Stop()
	msgs := Messages(BurstSize)
	burst := func(c *Client, k int) error {
		for j := range BurstMessages {
			if err := c.RoundTrip(ctx, msgs[(k+j)%len(msgs)]); err != nil {
				return err
			}
		}
		return nil
	}
	warm, err := Dial(ctx, ch.URL, srv)
	if err != nil {
		return res, err
	}
	err = burst(warm, 0)
	warm.Close()
	if err != nil {
		return res, err
	}
	if err := settle(ch); err != nil {
		return res, err
	}
	if res.Base, err = ch.Stats(true); err != nil {
		return res, err
	}
	clients := make([]*Client, 0, conns)
	defer func() {
		for _, c := range clients {
			c.Abort()
		}
	}()
	var down uint64
	for k := range conns {
		c, err := Dial(ctx, ch.URL, srv)
		if err != nil {
			return res, fmt.Errorf("connection %d: %w", k, err)
		}
		clients = append(clients, c)
		res.Extensions = c.Extensions
		d0, _, _ := c.WireBytes()
		if err := burst(c, k); err != nil {
			return res, fmt.Errorf("%s: connection %d: %w", srv.Name, k, err)
		}
		d1, _, _ := c.WireBytes()
		down += d1 - d0
	}
	if err := settle(ch); err != nil {
		return res, err
	}
	if res.Loaded, err = ch.Stats(true); err != nil {
		return res, err
	}
	n := float64(conns)
	res.HeapPerCx = (float64(res.Loaded.HeapInuse) - float64(res.Base.HeapInuse)) / n
	res.StackPerCx = (float64(res.Loaded.StackInuse) - float64(res.Base.StackInuse)) / n
	res.RSSPerCx = (float64(res.Loaded.RSS) - float64(res.Base.RSS)) / n
	res.Goroutines = float64(res.Loaded.Goroutines-res.Base.Goroutines) / n
	res.WireDown = float64(down) / (n * BurstMessages)
	return res, nil
}

// settle waits (at most 5 s) until the child's goroutine count stops
// moving, then a little more, so connections are idle when measured.
func settle(ch *Child) error {
	last := -1
	for range 50 {
		st, err := ch.Stats(false)
		if err != nil {
			return err
		}
		if st.Goroutines == last {
			break
		}
		last = st.Goroutines
		time.Sleep(100 * time.Millisecond)
	}
	time.Sleep(300 * time.Millisecond)
	return nil
}

// Median returns the median of xs (the mean of the middle two for an even
// count), or 0 for none.
func Median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// Children starts a child for each server, in parallel, and returns them
// by name; on error the ones started are stopped.
func Children(srvs []Server) (map[string]*Child, error) {
	var mu sync.Mutex
	out := make(map[string]*Child, len(srvs))
	var firstErr error
	var wg sync.WaitGroup
	for _, s := range srvs {
		wg.Go(func() {
			ch, err := StartChild(s)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				firstErr = err
				return
			}
			out[s.Name] = ch
		})
	}
	wg.Wait()
	if firstErr != nil {
		for _, ch := range out {
			ch.Stop()
		}
		return nil, firstErr
	}
	return out, nil
}
