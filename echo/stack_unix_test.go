//go:build unix

package echo

import (
	"net"
	"syscall"
	"testing"
	"time"
)

// BenchmarkServeConnShortLived measures what the stack budget is worth:
// each op is a connection upgraded by ServeConn on a fresh goroutine, as
// cmd/echo serves, and closed at once by the client, so both goroutines
// that the budget covers (the handshake's and the reader) run their whole
// lives. cpu-ns/op is the process's CPU time (client and server) per
// connection; compare builds with and without the budget's directives.
func BenchmarkServeConnShortLived(b *testing.B) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	h := &Handler{}
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go h.ServeConn(conn, "/", nil)
		}
	}()
	addr := ln.Addr().String()
	start := cpuTime()
	b.ResetTimer()
	for range b.N {
		if err := handshakeAndClose(addr); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(cpuTime()-start)/float64(b.N), "cpu-ns/op")
}

// cpuTime returns the process's user and system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
