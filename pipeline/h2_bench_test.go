//go:build unix

package pipeline

import (
	"bytes"
	"context"
	"fmt"
	"syscall"
	"testing"
	"time"

	"github.com/wspipe/wspipe/handshake"
)

// cpuTime is the process's user and system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// reportCPU reports what per CPU-second: b.N of them took the process's
// CPU (client and server both, in this process) since start.
func reportCPU(b *testing.B, start time.Duration, what string) {
	if cpu := cpuTime() - start; cpu > 0 {
		b.ReportMetric(float64(b.N)/cpu.Seconds(), what+"/cpu-s")
	}
}

// BenchmarkH2Echo measures round trips (the client sends a message, the
// server echoes it) over HTTP/1.1 (a TCP connection of its own) and over
// HTTP/2 (a stream of an h2c connection) side by side: the same server
// handler, the same client, cleartext both, so the difference is what
// HTTP/2 costs. The metric msgs/cpu-s counts round trips per CPU-second
// of the whole process (client and server).
//
//	go test -run '^$' -bench H2Echo -benchtime 2s ./pipeline
func BenchmarkH2Echo(b *testing.B) {
	s := newH2Server(b, echoHandler(b, nil, nil))
	for _, size := range []int{1 << 10, 64 << 10} {
		for _, proto := range []string{"http1", "http2"} {
			b.Run(fmt.Sprintf("%s/%dKiB", proto, size>>10), func(b *testing.B) {
				mode := handshake.HTTP2Off
				if proto == "http2" {
					mode = handshake.HTTP2Require
				}
				hc := h2Client(s, mode)
				defer hc.CloseIdleConnections()
				ctx := context.Background()
				c, _, err := Dial(ctx, s.ws("/"), hc, nil)
				if err != nil {
					b.Fatal(err)
				}
				defer c.Close(CloseNormal, "")
				msg := bytes.Repeat([]byte{'x'}, size)
				buf := make([]byte, 0, size)
				b.SetBytes(int64(size))
				b.ReportAllocs()
				start := cpuTime()
				b.ResetTimer()
				for range b.N {
					if err := c.WriteMessage(ctx, Binary, msg); err != nil {
						b.Fatal(err)
					}
					if _, buf, err = c.ReadMessage(ctx, buf[:0]); err != nil {
						b.Fatal(err)
					}
				}
				b.StopTimer()
				reportCPU(b, start, "msgs")
			})
		}
	}
}

// BenchmarkH2Handshake measures opening and closing a WebSocket: over a
// new TCP connection each time (HTTP/1.1), and as a new stream of one
// shared HTTP/2 connection, cleartext and TLS. handshakes/cpu-s counts
// per CPU-second of the whole process.
//
//	go test -run '^$' -bench H2Handshake -benchtime 2s ./pipeline
func BenchmarkH2Handshake(b *testing.B) {
	s := newH2Server(b, echoHandler(b, nil, nil))
	for _, tc := range []struct {
		name string
		mode handshake.HTTP2Mode
		tls  bool
	}{
		{"http1-new-tcp", handshake.HTTP2Off, false},
		{"http2-shared", handshake.HTTP2Require, false},
		{"http1-new-tls", handshake.HTTP2Off, true},
		{"http2-shared-tls", handshake.HTTP2Require, true},
	} {
		b.Run(tc.name, func(b *testing.B) {
			hc := h2Client(s, tc.mode)
			defer hc.CloseIdleConnections()
			url := s.ws("/")
			if tc.tls {
				url = s.wss("/")
			}
			ctx := context.Background()
			b.ReportAllocs()
			start := cpuTime()
			t0 := time.Now()
			b.ResetTimer()
			for range b.N {
				c, _, err := Dial(ctx, url, hc, nil)
				if err != nil {
					b.Fatal(err)
				}
				c.Close(CloseNormal, "")
			}
			b.StopTimer()
			b.ReportMetric(float64(b.N)/time.Since(t0).Seconds(), "handshakes/s")
			reportCPU(b, start, "handshakes")
		})
	}
}
