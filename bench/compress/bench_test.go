package compress

import (
	"context"
	"flag"
	"fmt"
	"runtime"
	"sync"
	"testing"
	"time"
)

var benchConns = flag.Int("conns", 1000, "connections per server for BenchmarkIdleMemory")

var (
	benchMu       sync.Mutex
	benchChildren = map[string]*Child{}
)

// benchChild returns the child serving srv, starting it on first use; it
// lives until the test binary ends.
func benchChild(b *testing.B, srv Server) *Child {
	benchMu.Lock()
	defer benchMu.Unlock()
	if ch := benchChildren[srv.Name]; ch != nil {
		return ch
	}
	ch, err := StartChild(srv)
	if err != nil {
		b.Fatal(err)
	}
	benchChildren[srv.Name] = ch
	return ch
}

func stopBenchChildren() {
	benchMu.Lock()
	defer benchMu.Unlock()
	for name, ch := range benchChildren {
		ch.Stop()
		delete(benchChildren, name)
	}
}

// BenchmarkEcho measures compressed echo round trips against each server,
// which runs in its own process: ns/op is one round trip, MB/s counts the
// message once, B/op and allocs/op are the client's (the same client for
// every server); srv-allocs/op, srv-B/op and srv-cpu-ns/op are the
// server's own, from its /stats; wire-B/op is what the server's echo took
// on the wire.
func BenchmarkEcho(b *testing.B) {
	for _, size := range []int{1 << 10, 64 << 10} {
		for _, srv := range Servers {
			b.Run(fmt.Sprintf("%dKiB/%s", size>>10, srv.Name), func(b *testing.B) {
				ch := benchChild(b, srv)
				ctx := context.Background()
				msgs := Messages(size)
				c, err := Dial(ctx, ch.URL, srv)
				if err != nil {
					b.Fatal(err)
				}
				defer c.Close()
				i := 0
				for ; i < EchoWarmup; i++ {
					if err := c.RoundTrip(ctx, msgs[i%len(msgs)]); err != nil {
						b.Fatal(err)
					}
				}
				before, err := ch.Stats(false)
				if err != nil {
					b.Fatal(err)
				}
				down0, _, _ := c.WireBytes()
				n := 0
				b.SetBytes(int64(size))
				b.ReportAllocs()
				for b.Loop() {
					if err := c.RoundTrip(ctx, msgs[i%len(msgs)]); err != nil {
						b.Fatal(err)
					}
					i++
					n++
				}
				b.StopTimer()
				down1, _, _ := c.WireBytes()
				after, err := ch.Stats(false)
				if err != nil {
					b.Fatal(err)
				}
				mallocs, bytes := ch.AllocDelta(before, after)
				b.ReportMetric(float64(mallocs)/float64(n), "srv-allocs/op")
				b.ReportMetric(float64(bytes)/float64(n), "srv-B/op")
				b.ReportMetric(float64((after.CPU-before.CPU).Nanoseconds())/float64(n), "srv-cpu-ns/op")
				b.ReportMetric(float64(down1-down0)/float64(n), "wire-B/op")
			})
		}
	}
}

// BenchmarkIdleMemory opens -conns connections (default 1000) to a fresh
// child per server, exchanges a burst on each, and reports the server's
// heap, stack and RSS growth per idle connection. One iteration is
// several seconds: run it with -benchtime=1x.
func BenchmarkIdleMemory(b *testing.B) {
	for _, srv := range Servers {
		b.Run(srv.Name, func(b *testing.B) {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
			defer cancel()
			for b.Loop() {
				res, err := RunIdle(ctx, srv, *benchConns)
				if err != nil {
					b.Fatal(err)
				}
				b.ReportMetric(res.HeapPerCx, "heap-B/conn")
				b.ReportMetric(res.StackPerCx, "stack-B/conn")
				b.ReportMetric(res.RSSPerCx, "rss-B/conn")
			}
			runtime.GC()
		})
	}
}
